package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// identity is a user of a dev site looking at one container: the sandbox page
// that frames the app, as that user, and the frame's DOM id. The two dev
// sites are two tenants; each has an admin and a regular user.
type identity struct {
	name  string // for messages: site/user
	page  string // sandbox page path, with ?as=
	frame string // id of the app iframe on that page
}

var (
	jiraAdmin       = identity{"jira/admin", "/dev/jira/browse/DEV-1?as=admin", "secrets-panel"}
	jiraUser        = identity{"jira/user", "/dev/jira/browse/DEV-2?as=user", "secrets-panel"}
	confluenceAdmin = identity{"confluence/admin", "/dev/confluence/wiki/spaces/DEV/pages/123?as=admin", "secrets-macro-a"}
	confluenceUser  = identity{"confluence/user", "/dev/confluence/wiki/spaces/DEV/pages/123?as=user", "secrets-macro-b"}
)

// newHTTPClient is a client whose connection pool holds as many idle
// connections as the checks run clients, so a flood reuses connections
// instead of opening (and leaving in TIME_WAIT) one per request.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 512, 512
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

var (
	iframeTag = regexp.MustCompile(`<iframe[^>]*>`)
	attrID    = regexp.MustCompile(`\sid="([^"]*)"`)
	attrSrc   = regexp.MustCompile(`\ssrc="([^"]*)"`)
	metaToken = regexp.MustCompile(`<meta name="token" content="([^"]+)"`)
)

// session is an identity's session token on one secretsd, taken as a browser
// takes it: load the sandbox page, follow its signed iframe URL, and read the
// token the module page carries.
type session struct {
	c     *http.Client
	base  string
	token string
}

// login takes id's session token on the secretsd at base. Every secretsd
// start re-installs the dev sites with fresh shared secrets, so a session is
// good for one run of the server only.
func login(ctx context.Context, c *http.Client, base string, id identity) (*session, error) {
	// The dev sites are installed just after the server listens, and the
	// sandbox signs each iframe URL with the shared secret it holds when it
	// renders the page. A page rendered before the install finished carries a
	// URL the server will never accept, so every retry starts from the page.
	var status int
	var err error
	for i := 0; ; i++ {
		var token string
		token, status, err = tryLogin(ctx, c, base, id)
		if token != "" {
			return &session{c: c, base: base, token: token}, nil
		}
		if i >= 100 {
			if err != nil {
				return nil, fmt.Errorf("%s: %w", id.name, err)
			}
			return nil, fmt.Errorf("%s: the module page answers %d", id.name, status)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// tryLogin makes one attempt at id's session token: the sandbox page, then
// the module page its iframe points at. It returns the token, or the status
// and error of the step that failed.
func tryLogin(ctx context.Context, c *http.Client, base string, id identity) (string, int, error) {
	status, page, err := get(ctx, c, base+id.page)
	if err != nil || status != http.StatusOK {
		return "", status, fmt.Errorf("the sandbox page answers %d %v", status, err)
	}
	var src string
	for _, tag := range iframeTag.FindAllString(page, -1) {
		if m := attrID.FindStringSubmatch(tag); m != nil && m[1] == id.frame {
			if s := attrSrc.FindStringSubmatch(tag); s != nil {
				src = html.UnescapeString(s[1])
			}
		}
	}
	if src == "" {
		return "", status, fmt.Errorf("no iframe %q on the sandbox page", id.frame)
	}
	if strings.HasPrefix(src, "/") {
		src = base + src
	}
	status, page, err = get(ctx, c, src)
	if err != nil {
		return "", status, err
	}
	if m := metaToken.FindStringSubmatch(page); status == http.StatusOK && m != nil {
		return m[1], status, nil
	}
	return "", status, nil
}

func get(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// The API's JSON shapes, as far as the checks read them (pkg/server/api.go).
type (
	secretMeta struct {
		ID      string `json:"id"`
		Title   string `json:"title"`
		Version int    `json:"version"`
	}
	unlocked struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Version     int    `json:"version"`
		Content     string `json:"content"`
		UnlockToken string `json:"unlockToken"`
	}
)

// answer is the server's answer to an API request: its status and, for an
// error, the error code of its JSON body (pkg/server/errors.go).
type answer struct {
	status     int
	code       string
	retryAfter time.Duration // from a Retry-After header
}

func (a answer) ok() bool { return a.status/100 == 2 }

func (a answer) String() string {
	if a.code == "" {
		return fmt.Sprint(a.status)
	}
	return fmt.Sprintf("%d %s", a.status, a.code)
}

// call sends a JSON API request and decodes a 2xx answer into out (when not
// nil). The error is the transport's: any status, 2xx or not, is an answer.
func (s *session) call(ctx context.Context, method, path, unlockToken string, body, out any) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "JWT "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if unlockToken != "" {
		req.Header.Set("X-Unlock-Token", unlockToken)
	}
	res, err := s.c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode}
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil {
		a.retryAfter = time.Duration(secs) * time.Second
	}
	if a.ok() {
		if out != nil {
			if err := json.NewDecoder(res.Body).Decode(out); err != nil {
				// A 2xx whose body did not arrive whole is not an answer.
				return answer{}, fmt.Errorf("%s %s: %d with an unreadable body: %w", method, path, res.StatusCode, err)
			}
		}
	} else {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.NewDecoder(res.Body).Decode(&e) == nil {
			a.code = e.Error.Code
		}
	}
	_, _ = io.Copy(io.Discard, res.Body) // keep the connection reusable
	return a, nil
}

func (s *session) create(ctx context.Context, title, content, password string) (secretMeta, answer, error) {
	var m secretMeta
	a, err := s.call(ctx, http.MethodPost, "/api/secrets", "",
		map[string]string{"title": title, "content": content, "password": password}, &m)
	return m, a, err
}

func (s *session) unlock(ctx context.Context, id, password string) (unlocked, answer, error) {
	var u unlocked
	a, err := s.call(ctx, http.MethodPost, "/api/secrets/"+id+"/unlock", "", map[string]string{"password": password}, &u)
	return u, a, err
}

func (s *session) update(ctx context.Context, id, unlockToken, title, content string, version int) (unlocked, answer, error) {
	var u unlocked
	a, err := s.call(ctx, http.MethodPut, "/api/secrets/"+id, unlockToken,
		map[string]any{"title": title, "content": content, "version": version}, &u)
	return u, a, err
}

func (s *session) list(ctx context.Context) ([]secretMeta, answer, error) {
	var l struct {
		Secrets []secretMeta `json:"secrets"`
	}
	a, err := s.call(ctx, http.MethodGet, "/api/secrets", "", nil, &l)
	return l.Secrets, a, err
}

// tally counts answers by kind ("429 rate_limited"), "no answer" for
// transport errors.
type tally map[string]int

func (t tally) add(a answer, err error) {
	if err != nil {
		t["no answer"]++
		return
	}
	t[a.String()]++
}

func (t tally) String() string {
	if len(t) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(t))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d×%s", t[k], k)
	}
	return strings.Join(parts, ", ")
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
