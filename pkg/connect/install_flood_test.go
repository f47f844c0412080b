package connect_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/connect-secrets/secrets/pkg/connect"
)

func freshKid(i int) string { return fmt.Sprintf("6a1f0000-0000-4000-8000-%012d", i) }

// TestInstallKeysForgedKidFlood: 300 tokens naming fresh, unknown kids cost
// a bounded handful of fetches (the fetch budget), a kid the key server
// refused is not asked about again, and the real, cached key keeps working
// throughout.
func TestInstallKeysForgedKidFlood(t *testing.T) {
	a, _ := rsaKeys(t)
	ks := newKeyServer(t)
	ks.keys[installKid] = publicPEM(t, &a.PublicKey)
	k := connect.NewInstallKeys(ks.URL, ks.Client())
	if _, err := k.Key(context.Background(), installKid); err != nil {
		t.Fatal(err)
	}
	const forged = 300
	for i := range forged {
		_, err := k.Key(context.Background(), freshKid(i))
		if !errors.Is(err, connect.ErrInvalidToken) && !errors.Is(err, connect.ErrKeyUnavailable) {
			t.Fatalf("forged kid %d: %v", i, err)
		}
		if _, err := k.Key(context.Background(), installKid); err != nil {
			t.Fatalf("the real key failed during the flood: %v", err)
		}
	}
	fetched := ks.total.Load() - 1
	t.Logf("%d forged kids made %d fetches", forged, fetched)
	if fetched > 10 {
		t.Errorf("%d forged kids made %d fetches, want at most 10", forged, fetched)
	}
	// The ones that were fetched are remembered as unknown.
	before := ks.total.Load()
	for i := range forged {
		k.Key(context.Background(), freshKid(i))
	}
	if got := ks.total.Load(); got != before {
		t.Errorf("repeating the forged kids made %d more fetches", got-before)
	}
}

// TestInstallKeysConcurrentFetchCap: 500 forged kids at once never make more
// than MaxConcurrentFetches requests to the key server at a time.
func TestInstallKeysConcurrentFetchCap(t *testing.T) {
	var cur, peak, total atomic.Int64
	gate := make(chan struct{})
	arrived := make(chan struct{}, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		total.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-gate
		http.NotFound(w, r)
	}))
	defer srv.Close()
	k := connect.NewInstallKeys(srv.URL, srv.Client())
	k.FetchBurst = 1000 // the budget is another test's subject: here every kid is fetched
	const callers = 500
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { k.Key(context.Background(), freshKid(i)) })
	}
	// The first fetches reach the server and are held there; once every
	// other caller's fetch waits for a slot, nothing more may have arrived.
	for range 4 {
		<-arrived
	}
	waitFor(func() bool { st := k.FetchStats(); return st.Waiting == callers-4 && st.Running == 4 })
	if n := cur.Load(); n != 4 {
		t.Errorf("%d fetches at the key server with every slot taken, want 4", n)
	}
	close(gate)
	wg.Wait()
	t.Logf("%d callers: %d fetches, at most %d at once", callers, total.Load(), peak.Load())
	if p := peak.Load(); p > 4 {
		t.Errorf("%d fetches ran at once, want at most 4", p)
	}
	if total.Load() != callers {
		t.Errorf("%d fetches, want %d", total.Load(), callers)
	}
}

// waitFor yields until cond holds; the test binary's -timeout reports a hang.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}
