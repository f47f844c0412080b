package connect_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
)

// adminHost is a Jira site whose permission check is held at a gate, so
// tests decide when it answers.
type adminHost struct {
	*httptest.Server
	calls atomic.Int64
	gate  chan struct{}
	admin bool
	fail  bool
}

func newAdminHost(t *testing.T) *adminHost {
	h := &adminHost{gate: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		// Read the body first: only then does the server notice a client
		// that gave up.
		io.Copy(io.Discard, r.Body)
		select {
		case <-h.gate:
		case <-r.Context().Done():
			return
		}
		if h.fail {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if h.admin {
			w.Write([]byte(`{"globalPermissions":["ADMINISTER"]}`))
		} else {
			w.Write([]byte(`{"globalPermissions":[]}`))
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *adminHost) host() connect.Host {
	return connect.Host{ClientKey: "ck", Product: connect.ProductJira, BaseURL: h.URL, AppKey: "app", SharedSecret: []byte("0123456789abcdef0123456789abcdef")}
}

// TestAdminCheckCoalesces: 20 concurrent checks of one account make one call
// to the host, and all get its answer.
func TestAdminCheckCoalesces(t *testing.T) {
	h := newAdminHost(t)
	h.admin = true
	a := &connect.AdminChecker{Client: h.Client()}
	const n = 20
	var wg sync.WaitGroup
	var admins atomic.Int64
	for range n {
		wg.Go(func() {
			ok, err := a.IsAdmin(context.Background(), h.host(), "alice")
			if err != nil {
				t.Error(err)
			}
			if ok {
				admins.Add(1)
			}
		})
	}
	waitFor(func() bool { _, w := a.AdminCallStats(h.host(), "alice"); return w == n })
	close(h.gate)
	wg.Wait()
	calls, _ := a.AdminCallStats(h.host(), "alice")
	t.Logf("%d parallel checks: %d outbound calls", n, h.calls.Load())
	if h.calls.Load() != 1 || calls != 1 {
		t.Errorf("%d parallel checks made %d calls to the host, want 1", n, h.calls.Load())
	}
	if admins.Load() != n {
		t.Errorf("%d of %d checks said admin", admins.Load(), n)
	}
	// Another account is another question.
	if ok, err := a.IsAdmin(context.Background(), h.host(), "bob"); err != nil || !ok {
		t.Errorf("bob: %v %v", ok, err)
	}
	if h.calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", h.calls.Load())
	}
}

// TestAdminCheckHungHost: a site that never answers is ErrHostUnavailable
// after Wait, not after the client's timeout, and is not remembered.
func TestAdminCheckHungHost(t *testing.T) {
	h := newAdminHost(t) // the gate stays shut
	a := &connect.AdminChecker{Client: &http.Client{Timeout: time.Hour}, Wait: 50 * time.Millisecond}
	ok, err := a.IsAdmin(context.Background(), h.host(), "alice")
	if ok || !errors.Is(err, connect.ErrHostUnavailable) {
		t.Fatalf("IsAdmin on a hung host = %v, %v; want false, ErrHostUnavailable", ok, err)
	}
	// A caller's own deadline also ends its wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := a.IsAdmin(ctx, h.host(), "carol"); ok || !errors.Is(err, connect.ErrHostUnavailable) {
		t.Fatalf("IsAdmin with a done context = %v, %v", ok, err)
	}
}

// TestAdminCheckRefusesOnError: an error answer is "not an admin" with
// ErrHostUnavailable, shared by everyone waiting, and never cached.
func TestAdminCheckRefusesOnError(t *testing.T) {
	h := newAdminHost(t)
	h.admin, h.fail = true, true
	close(h.gate)
	a := &connect.AdminChecker{Client: h.Client()}
	for range 2 {
		ok, err := a.IsAdmin(context.Background(), h.host(), "alice")
		if ok || !errors.Is(err, connect.ErrHostUnavailable) {
			t.Fatalf("IsAdmin with a failing host = %v, %v", ok, err)
		}
	}
	if h.calls.Load() != 2 {
		t.Errorf("an error was cached: %d calls, want 2", h.calls.Load())
	}
}
