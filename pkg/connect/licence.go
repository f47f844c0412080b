package connect

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Licence parameter values a host adds to iframe URLs (the lic parameter)
// when the descriptor sets enableLicensing.
const (
	LicParamActive = "active" // a paid subscription or an evaluation
	LicParamNone   = "none"   // no licence, or one that has ended
)

// LicenceChecker learns whether the app's licence on a Connect site is
// active, from the site's licence endpoint
// (GET /rest/atlassian-connect/1/addons/{appKey}, license.active), called
// as the app. The lic parameter of a module URL is the host's word too, but
// only as of that page load; the endpoint is asked and its answer cached.
//
// Answers are cached per site for TTL; concurrent checks of one site share
// one call. A hint that disagrees with the cached answer (a site that has
// just bought a licence, then reloads the page) asks again, at most once per
// HintRefresh. When the host cannot answer, the last answer is used (for up
// to a day), then the hint, and with neither the licence counts as active:
// a site is never refused writes for an outage of ours or Atlassian's.
//
// A LicenceChecker is safe for concurrent use.
type LicenceChecker struct {
	// Client makes the calls; nil means a client with a 10 s timeout that
	// follows no redirects.
	Client *http.Client
	// TTL is how long an answer is used without asking again; 0 means
	// 5 min, the time a host caches its own licence checks.
	TTL time.Duration
	// HintRefresh is the least time between two calls a disagreeing hint
	// makes; 0 means 30 s.
	HintRefresh time.Duration
	// Wait bounds one call to the host; 0 means 3 s.
	Wait time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	cache    map[string]licenceAnswer
	inflight map[string]*licenceCall
	calls    int64 // calls made to hosts, for tests
}

type licenceAnswer struct {
	active  bool
	fetched time.Time
}

type licenceCall struct {
	done   chan struct{}
	active bool
	err    error
}

const (
	maxLicenceCache = 10_000
	// licenceStale is how long a cached answer may stand in for a host
	// that cannot answer.
	licenceStale = 24 * time.Hour
)

// Active reports whether the app's licence on h's site is active. hint is
// the lic parameter of the request that opened the page ("" when it had
// none). A non-nil error says the host could not confirm it and the answer
// is the fallback described on LicenceChecker; callers log it and go on.
func (l *LicenceChecker) Active(ctx context.Context, h Host, hint string) (bool, error) {
	now := clock(l.Now)()
	key := fmt.Sprintf("%d:%s%d:%s%s", len(h.ClientKey), h.ClientKey, len(h.BaseURL), h.BaseURL, h.AppKey)
	l.mu.Lock()
	ans, cached := l.cache[key]
	if cached && l.fresh(ans, hint, now) {
		l.mu.Unlock()
		return ans.active, nil
	}
	c, ok := l.inflight[key]
	if !ok {
		if l.inflight == nil {
			l.inflight = map[string]*licenceCall{}
		}
		c = &licenceCall{done: make(chan struct{})}
		l.inflight[key] = c
		l.calls++
		go l.ask(context.WithoutCancel(ctx), h, key, now, c)
	}
	l.mu.Unlock()

	var err error
	select {
	case <-c.done:
		if c.err == nil {
			return c.active, nil
		}
		err = c.err
	case <-ctx.Done():
		err = fmt.Errorf("%w: %w", ErrHostUnavailable, ctx.Err())
	}
	switch {
	case cached && now.Sub(ans.fetched) < licenceStale:
		return ans.active, err
	case hint == LicParamActive || hint == LicParamNone:
		return hint == LicParamActive, err
	}
	return true, err
}

// fresh reports whether a cached answer may be used as it is.
func (l *LicenceChecker) fresh(ans licenceAnswer, hint string, now time.Time) bool {
	ttl, refresh := l.TTL, l.HintRefresh
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	if refresh <= 0 {
		refresh = 30 * time.Second
	}
	age := now.Sub(ans.fetched)
	if age >= ttl {
		return false
	}
	disagrees := (hint == LicParamActive && !ans.active) || (hint == LicParamNone && ans.active)
	return !disagrees || age < refresh
}

// ask calls the host and publishes the answer to c and to the cache.
// Failures are never cached.
func (l *LicenceChecker) ask(ctx context.Context, h Host, key string, now time.Time, c *licenceCall) {
	wait := l.Wait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	active, err := l.fetch(ctx, h, now)
	l.mu.Lock()
	delete(l.inflight, key)
	if err == nil {
		if l.cache == nil || len(l.cache) >= maxLicenceCache {
			l.cache = map[string]licenceAnswer{}
		}
		l.cache[key] = licenceAnswer{active: active, fetched: now}
	}
	l.mu.Unlock()
	c.active, c.err = active, err
	close(c.done)
}

// fetch asks the site's licence endpoint. Its license object is present
// for paid apps only; with licensing enabled, a site without one has no
// licence (Atlassian: "included for paid apps only").
func (l *LicenceChecker) fetch(ctx context.Context, h Host, now time.Time) (bool, error) {
	var res struct {
		License *struct {
			Active bool `json:"active"`
		} `json:"license"`
	}
	path := "/rest/atlassian-connect/1/addons/" + url.PathEscape(h.AppKey)
	if _, err := callHost(ctx, hostClient(l.Client), h, http.MethodGet, path, nil, nil, now, &res); err != nil {
		return false, err
	}
	return res.License != nil && res.License.Active, nil
}

// Calls reports how many calls the checker has made to hosts.
func (l *LicenceChecker) Calls() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}
