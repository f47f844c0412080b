package connect_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/golang-jwt/jwt/v5"
)

// licenceHost is a Confluence site's licence endpoint whose answer the
// test sets; it checks the app's token as a host would.
type licenceHost struct {
	*httptest.Server
	calls  atomic.Int64
	state  atomic.Value // "active", "inactive", "none" (no license object) or "down"
	gate   chan struct{}
	secret []byte
}

func newLicenceHost(t *testing.T) *licenceHost {
	h := &licenceHost{secret: []byte("shared-secret-0123456789abcdef0123")}
	h.state.Store("active")
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		if h.gate != nil {
			<-h.gate
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "JWT ")
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return h.secret, nil },
			jwt.WithValidMethods([]string{"HS256"})); err != nil || claims["iss"] != "com.example.app" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		want, _ := connect.QSH("GET", r.URL.EscapedPath(), r.URL.RawQuery, "/wiki")
		if r.URL.Path != "/wiki/rest/atlassian-connect/1/addons/com.example.app" || claims["qsh"] != want {
			http.NotFound(w, r)
			return
		}
		switch h.state.Load() {
		case "down":
			http.Error(w, "down", http.StatusBadGateway)
		case "none":
			w.Write([]byte(`{"key":"com.example.app","state":"ENABLED"}`))
		case "inactive":
			w.Write([]byte(`{"key":"com.example.app","license":{"active":false}}`))
		default:
			w.Write([]byte(`{"key":"com.example.app","license":{"active":true,"type":"COMMERCIAL"}}`))
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *licenceHost) host() connect.Host {
	return connect.Host{ClientKey: "ck", Product: connect.ProductConfluence, BaseURL: h.URL + "/wiki", AppKey: "com.example.app", SharedSecret: h.secret}
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLicenceChecker(t *testing.T) {
	ctx := context.Background()
	h := newLicenceHost(t)
	clk := &testClock{t: time.Now()}
	l := &connect.LicenceChecker{Now: clk.now}
	check := func(hint string, want bool, wantErr bool) {
		t.Helper()
		got, err := l.Active(ctx, h.host(), hint)
		if got != want || (err != nil) != wantErr {
			t.Fatalf("Active(hint %q) = %v, %v; want %v, error %v", hint, got, err, want, wantErr)
		}
	}

	check("active", true, false)
	check("", true, false)
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("host asked %d times, want once (cached)", n)
	}

	// The licence lapses: the cached answer stands until the TTL, unless a
	// disagreeing hint asks again, which it may do only after HintRefresh.
	h.state.Store("inactive")
	check("", true, false)
	check("none", true, false) // the answer is seconds old
	clk.add(31 * time.Second)
	check("none", false, false)
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("host asked %d times, want 2", n)
	}
	clk.add(5 * time.Minute)
	h.state.Store("none") // no license object at all: no licence
	check("active", false, false)

	// The host is down: the last answer, then the hint, then active.
	h.state.Store("down")
	clk.add(5 * time.Minute)
	check("active", false, true)
	clk.add(25 * time.Hour)
	check("none", false, true)
	check("active", true, true)
	check("", true, true)
	fresh := &connect.LicenceChecker{Now: clk.now}
	if got, err := fresh.Active(ctx, h.host(), "none"); got || !errors.Is(err, connect.ErrHostUnavailable) {
		t.Fatalf("fresh checker, host down, hint none: %v %v", got, err)
	}
}

// TestLicenceCheckerCoalesces: a burst of page loads of one site makes one
// call to its host.
func TestLicenceCheckerCoalesces(t *testing.T) {
	h := newLicenceHost(t)
	h.gate = make(chan struct{})
	l := &connect.LicenceChecker{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := l.Active(context.Background(), h.host(), ""); !ok || err != nil {
				t.Errorf("Active = %v, %v", ok, err)
			}
		}()
	}
	for l.Calls() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(h.gate)
	wg.Wait()
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("host asked %d times, want 1", n)
	}
}
