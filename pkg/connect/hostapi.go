package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrHostUnavailable means the host's REST API could not answer; callers
// answer 503 rather than guess.
var ErrHostUnavailable = errors.New("connect: host API unavailable")

// Host is what the app needs to call one installation's REST API as itself.
type Host struct {
	ClientKey    string
	Product      string // ProductJira or ProductConfluence
	BaseURL      string // the site's baseUrl from the signed install, e.g. https://acme.atlassian.net/wiki
	AppKey       string // our descriptor key: the iss of our tokens
	SharedSecret []byte
}

// AdminChecker asks hosts whether an account is a site admin, and remembers
// the answer briefly. UI conditions such as user_is_admin only hide things;
// the server must ask.
//
// Concurrent checks of the same account on the same site share one call to
// the host (a page load fires several admin requests at once), and no check
// waits for a host longer than Wait: a hung site turns into
// ErrHostUnavailable within seconds, and the caller refuses.
//
// An AdminChecker is safe for concurrent use.
type AdminChecker struct {
	// Client makes the calls; nil means a client with a 10 s timeout. It
	// must not follow redirects (a host never redirects these calls, and a
	// redirect would carry our token elsewhere).
	Client *http.Client
	// TTL is how long an answer is remembered; 0 means 60 s.
	TTL time.Duration
	// Wait bounds one call to the host, whatever Client's timeout; 0 means
	// 3 s.
	Wait time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	cache    map[string]adminAnswer
	inflight map[string]*adminCall
	calls    int64 // calls made to hosts, for tests
}

// adminCall is one question to a host, shared by every check of the same
// account that arrives while it runs. done is closed once admin and err are
// set.
type adminCall struct {
	done    chan struct{}
	admin   bool
	err     error
	waiters int // checks sharing this call, for tests
}

type adminAnswer struct {
	admin   bool
	expires time.Time
}

const maxAdminCache = 10_000

// IsAdmin reports whether accountID administers the site of h: Jira's
// ADMINISTER global permission, or Confluence's administer operation on the
// application. Errors wrap ErrHostUnavailable.
func (a *AdminChecker) IsAdmin(ctx context.Context, h Host, accountID string) (bool, error) {
	if h.Product != ProductJira && h.Product != ProductConfluence {
		return false, fmt.Errorf("connect: unknown product %q", h.Product)
	}
	now := clock(a.Now)()
	key := adminKey(h, accountID)
	a.mu.Lock()
	if ans, ok := a.cache[key]; ok && now.Before(ans.expires) {
		a.mu.Unlock()
		return ans.admin, nil
	}
	c, ok := a.inflight[key]
	if !ok {
		if a.inflight == nil {
			a.inflight = map[string]*adminCall{}
		}
		c = &adminCall{done: make(chan struct{})}
		a.inflight[key] = c
		a.calls++
		// Detached from this caller's cancellation, since others may join
		// it, but bounded by Wait.
		go a.ask(context.WithoutCancel(ctx), h, accountID, key, now, c)
	}
	c.waiters++
	a.mu.Unlock()

	select {
	case <-c.done:
		return c.admin, c.err
	case <-ctx.Done():
		return false, fmt.Errorf("%w: %w", ErrHostUnavailable, ctx.Err())
	}
}

// adminKey names one question: the site (as installed) and the account,
// length-prefixed so no two questions share a key.
func adminKey(h Host, accountID string) string {
	return fmt.Sprintf("%d:%s%d:%s%d:%s%s", len(h.ClientKey), h.ClientKey, len(h.Product), h.Product, len(h.BaseURL), h.BaseURL, accountID)
}

// ask asks the host, publishes the answer to c and, if there is one, to the
// cache. Errors are never cached: the next check asks again.
func (a *AdminChecker) ask(ctx context.Context, h Host, accountID, key string, now time.Time, c *adminCall) {
	wait := a.Wait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var admin bool
	var err error
	if h.Product == ProductJira {
		admin, err = a.jiraAdmin(ctx, h, accountID, now)
	} else {
		admin, err = a.confluenceAdmin(ctx, h, accountID, now)
	}
	ttl := a.TTL
	if ttl <= 0 {
		ttl = time.Minute
	}
	a.mu.Lock()
	delete(a.inflight, key)
	if err == nil {
		if a.cache == nil || len(a.cache) >= maxAdminCache {
			// Dropping everything is crude but bounded, and answers are
			// cheap to ask again.
			a.cache = map[string]adminAnswer{}
		}
		a.cache[key] = adminAnswer{admin: admin, expires: now.Add(ttl)}
	}
	a.mu.Unlock()
	c.admin, c.err = admin, err
	if err != nil {
		c.admin = false // refuse on error, whatever was decoded
	}
	close(c.done)
}

func (a *AdminChecker) jiraAdmin(ctx context.Context, h Host, accountID string, now time.Time) (bool, error) {
	body, _ := json.Marshal(map[string]any{"accountId": accountID, "globalPermissions": []string{"ADMINISTER"}})
	var res struct {
		GlobalPermissions []string `json:"globalPermissions"`
	}
	if _, err := a.call(ctx, h, http.MethodPost, "/rest/api/3/permissions/check", nil, body, now, &res); err != nil {
		return false, err
	}
	for _, p := range res.GlobalPermissions {
		if p == "ADMINISTER" {
			return true, nil
		}
	}
	return false, nil
}

func (a *AdminChecker) confluenceAdmin(ctx context.Context, h Host, accountID string, now time.Time) (bool, error) {
	q := url.Values{"accountId": {accountID}, "expand": {"operations"}}
	var res struct {
		Operations []struct {
			Operation  string `json:"operation"`
			TargetType string `json:"targetType"`
		} `json:"operations"`
	}
	status, err := a.call(ctx, h, http.MethodGet, "/rest/api/user", q, nil, now, &res)
	if status == http.StatusNotFound {
		return false, nil // no such user: certainly not an admin
	}
	if err != nil {
		return false, err
	}
	for _, op := range res.Operations {
		if op.Operation == "administer" && op.TargetType == "application" {
			return true, nil
		}
	}
	return false, nil
}

// call makes one signed REST call to the host and decodes its JSON answer.
func (a *AdminChecker) call(ctx context.Context, h Host, method, path string, q url.Values, body []byte, now time.Time, out any) (int, error) {
	return callHost(ctx, a.client(), h, method, path, q, body, now, out)
}

// callHost makes one REST call to h's site as the app (a JWT signed with
// the shared secret, qsh over the site-relative path) and decodes its JSON
// answer into out. Every failure wraps ErrHostUnavailable; the status is
// returned when the host answered at all.
func callHost(ctx context.Context, client *http.Client, h Host, method, path string, q url.Values, body []byte, now time.Time, out any) (int, error) {
	base, err := url.Parse(strings.TrimSuffix(h.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return 0, fmt.Errorf("%w: bad base URL", ErrHostUnavailable)
	}
	u := *base
	u.Path = base.Path + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	auth, err := SignHostRequest(h.AppKey, h.SharedSecret, method, &u, base.EscapedPath(), now)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %s: %w", ErrHostUnavailable, method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return res.StatusCode, fmt.Errorf("%w: %s %s answered %d", ErrHostUnavailable, method, path, res.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(out); err != nil {
		return res.StatusCode, fmt.Errorf("%w: %s %s: undecodable answer", ErrHostUnavailable, method, path)
	}
	return res.StatusCode, nil
}

func (a *AdminChecker) client() *http.Client { return hostClient(a.Client) }

// hostClient is c, or when nil the client calls to hosts default to: a
// 10 s timeout and no redirects (a host never redirects these calls, and a
// redirect would carry our token elsewhere).
func hostClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
