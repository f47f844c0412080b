package server_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
)

// clock is a settable time for the limiters.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestAPIRateLimitsWrites: creates and password changes beyond a user's (or
// a tenant's) rate are refused early with 429 rate_limited and Retry-After,
// store nothing, and leave other users and tenants alone; time refills them.
func TestAPIRateLimitsWrites(t *testing.T) {
	clk := &clock{t: time.Now()}
	h := newHarness(t, func(h *harness, d *server.Deps) {
		d.Now = clk.now
		h.configure = func(c *server.Config) {
			c.Limits.WritesPerUser = server.Rate{PerSecond: 1, Burst: 3}
			c.Limits.WritesPerTenant = server.Rate{PerSecond: 1, Burst: 5}
		}
	})
	a, b := jiraTenant("acme"), jiraTenant("other")
	h.install(a)
	h.install(b)
	alice, bob, carol := h.issueSession(a, "1", "alice"), h.issueSession(a, "1", "bob"), h.issueSession(a, "1", "carol")
	victim := h.issueSession(b, "1", "victim")
	create := func(tok string) apiResult {
		return h.api("POST", "/api/secrets", tok, map[string]string{"title": "t", "content": "c", "password": "password-1"})
	}
	for range 3 {
		wantAPI(t, create(alice), 201, "")
	}
	r := create(alice)
	wantAPI(t, r, 429, "rate_limited")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// A password change is a write too.
	id := h.newSecret(bob, "b", "c", "password-1")
	ut := h.unlock(bob, id, "password-1").str("unlockToken")
	wantAPI(t, h.api("PUT", "/api/secrets/"+id+"/password", bob, map[string]string{"password": "password-2"}, "X-Unlock-Token", ut), 200, "")
	// Tenant acme has used its 5; carol, fresh, is refused by the tenant limit.
	wantAPI(t, create(carol), 429, "rate_limited")
	// Another tenant is untouched.
	wantAPI(t, create(victim), 201, "")
	// Only the admitted writes stored anything.
	if n := len(h.api("GET", "/api/secrets", alice, nil).body["secrets"].([]any)); n != 4 {
		t.Errorf("%d secrets in the issue, want 4", n)
	}
	clk.add(2 * time.Second)
	wantAPI(t, create(alice), 201, "")
}

// TestActorContextReachesService: the context an API request runs with comes
// from Deps.ActorContext with the verified actor, so key derivations know
// whom they are for.
func TestActorContextReachesService(t *testing.T) {
	type key struct{}
	var mu sync.Mutex
	var seen []string
	h := newHarness(t, func(h *harness, d *server.Deps) {
		d.ActorContext = func(ctx context.Context, a secrets.Actor) context.Context {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s/%s", a.ClientKey, a.AccountID))
			mu.Unlock()
			return context.WithValue(ctx, key{}, a)
		}
	})
	a := jiraTenant("acme")
	h.install(a)
	h.newSecret(h.issueSession(a, "1", "alice"), "t", "c", "password-1")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "client-acme/alice" {
		t.Errorf("ActorContext saw %v", seen)
	}
}
