package forge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/golang-jwt/jwt/v5"
)

// forgedWithKid signs a valid-looking FIT with another key under kid.
func forgedWithKid(t testing.TB, kid string) string {
	t.Helper()
	c := jiraInstall().Claims(panelInvocation(time.Now()))
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(otherKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestThousandFreshKidsFetchAHandful(t *testing.T) {
	s := signer(t)
	j := newJWKSServer(t, s)
	clk := &clock{t: time.Now()}
	ks := forge.NewKeySet(forge.KeySetConfig{URL: j.URL, Now: clk.Now})
	v := newVerifier(t, ks, nil)
	good, _ := s.Mint(jiraInstall(), panelInvocation(time.Now()))
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), forgedWithKid(t, fmt.Sprintf("forge/invocation-token/wf-forged-%d", i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, forge.ErrInvalidToken) {
			t.Fatalf("forged token: %v, want ErrInvalidToken", err)
		}
	}
	// One fetch at start, at most one refetch for the first unknown kid
	// (the cooldown has not passed since the start fetch in clock time).
	if got := j.hits.Load(); got > 2 {
		t.Errorf("JWKS fetched %d times for 1,000 forged kids, want ≤ 2", got)
	}
	t.Logf("JWKS fetches for 1 good + 1,000 forged kids: %d", j.hits.Load())
	// After the cooldown, one more unknown kid may cause one more fetch.
	clk.Add(2 * time.Minute)
	for i := range 100 {
		v.Verify(context.Background(), forgedWithKid(t, fmt.Sprintf("late-%d", i)))
	}
	if got := j.hits.Load(); got > 3 {
		t.Errorf("JWKS fetched %d times after the cooldown, want ≤ 3", got)
	}
	if ks.Fetches() != j.hits.Load() {
		t.Errorf("Fetches() = %d, server saw %d", ks.Fetches(), j.hits.Load())
	}
}

func TestJWKSOutageKeepsCachedSet(t *testing.T) {
	s := signer(t)
	j := newJWKSServer(t, s)
	clk := &clock{t: time.Now()}
	ks := forge.NewKeySet(forge.KeySetConfig{URL: j.URL, Now: clk.Now})
	v := newVerifier(t, ks, nil) // token times use the real clock
	verify := func() error {
		tok, _ := s.Mint(jiraInstall(), panelInvocation(time.Now()))
		_, err := v.Verify(context.Background(), tok)
		return err
	}
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	j.down.Store(true)
	clk.Add(25 * time.Hour) // past any TTL: a refetch is due and fails
	for range 10 {
		if err := verify(); err != nil {
			t.Fatalf("during the outage: %v", err)
		}
	}
	if got := j.hits.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2 (start, one failed refetch within the cooldown)", got)
	}
	j.down.Store(false)
	clk.Add(2 * time.Minute)
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	if got := j.hits.Load(); got != 3 {
		t.Errorf("fetches = %d, want 3 after recovery", got)
	}
}

func TestJWKSCacheControlClamped(t *testing.T) {
	s := signer(t)
	for _, tc := range []struct {
		header    string
		fresh     time.Duration // still cached after this
		refetched time.Duration // refetched after this
	}{
		{"max-age=10", 4 * time.Minute, 6 * time.Minute},             // clamped up to 5 min
		{"public, max-age=3600", 59 * time.Minute, 61 * time.Minute}, // honoured
		{"max-age=31536000", 23 * time.Hour, 25 * time.Hour},         // clamped down to 24 h
		{"", 4 * time.Minute, 6 * time.Minute},                       // none: 5 min
	} {
		t.Run(tc.header, func(t *testing.T) {
			var hits int
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hits++
				mu.Unlock()
				w.Header().Set("Cache-Control", tc.header)
				w.Write(s.JWKS())
			}))
			defer srv.Close()
			clk := &clock{t: time.Now()}
			v := newVerifier(t, forge.NewKeySet(forge.KeySetConfig{URL: srv.URL, Now: clk.Now}), nil)
			verify := func() {
				tok, _ := s.Mint(jiraInstall(), panelInvocation(time.Now()))
				if _, err := v.Verify(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
			}
			verify()
			clk.Add(tc.fresh)
			verify()
			if hits != 1 {
				t.Errorf("after %v: %d fetches, want 1", tc.fresh, hits)
			}
			clk.Add(tc.refetched - tc.fresh)
			verify()
			if hits != 2 {
				t.Errorf("after %v: %d fetches, want 2", tc.refetched, hits)
			}
		})
	}
}

// TestJWKSConcurrentFirstFetchShared: many first requests at once share one
// fetch.
func TestJWKSConcurrentFirstFetchShared(t *testing.T) {
	s := signer(t)
	release := make(chan struct{})
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		<-release
		w.Write(s.JWKS())
	}))
	defer srv.Close()
	v := newVerifier(t, forge.NewKeySet(forge.KeySetConfig{URL: srv.URL}), nil)
	tok, _ := s.Mint(jiraInstall(), panelInvocation(time.Now()))
	var wg sync.WaitGroup
	var started sync.WaitGroup
	for range 50 {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Error(err)
			}
		}()
	}
	started.Wait()
	close(release)
	wg.Wait()
	if hits > 2 {
		t.Errorf("%d fetches for 50 concurrent first calls", hits)
	}
}

func TestJWKSBadDocuments(t *testing.T) {
	for name, body := range map[string]string{
		"not json":  "<html>",
		"no keys":   `{"keys":[]}`,
		"hmac only": `{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
			defer srv.Close()
			ks := forge.NewKeySet(forge.KeySetConfig{URL: srv.URL})
			if err := ks.Prefetch(context.Background()); err == nil {
				t.Error("Prefetch accepted a bad document")
			}
		})
	}
}
