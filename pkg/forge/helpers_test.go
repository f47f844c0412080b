package forge_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/forge/platform"
)

const (
	jiraAppID = "ari:cloud:ecosystem::app/11111111-1111-4111-8111-111111111111"
	confAppID = "ari:cloud:ecosystem::app/22222222-2222-4222-8222-222222222222"
	envID     = "33333333-3333-4333-8333-333333333333"
	installID = "ari:cloud:ecosystem::installation/44444444-4444-4444-8444-444444444444"
	cloudID   = "55555555-5555-4555-8555-555555555555"
	apiBase   = "https://api.example.test"
	accountID = "557058:test-user"
	panelKey  = "secrets-issue-panel"
	adminKey  = "secrets-admin"
	macroKey  = "secrets-macro"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func sharedKey() *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if testKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return testKey
}

func signer(tb testing.TB) *platform.Signer {
	tb.Helper()
	s, err := platform.NewSignerFromKey(sharedKey(), "forge/invocation-token/wf-test")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// jwksServer serves s's JWKS and counts fetches; down makes it fail.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64
	down atomic.Bool
}

func newJWKSServer(tb testing.TB, s *platform.Signer) *jwksServer {
	j := &jwksServer{}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.hits.Add(1)
		if j.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		s.ServeHTTP(w, r)
	}))
	tb.Cleanup(j.Close)
	return j
}

// clock is a settable time source; tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func jiraInstall() platform.Install {
	return platform.Install{AppID: jiraAppID, EnvironmentID: envID, InstallationID: installID,
		CloudID: cloudID, APIBase: apiBase, Product: forge.ProductJira}
}

func apps() []forge.App {
	return []forge.App{
		{Product: forge.ProductJira, ID: jiraAppID, UIModules: []string{panelKey}, AdminModules: []string{adminKey}},
		{Product: forge.ProductConfluence, ID: confAppID, UIModules: []string{macroKey}, AdminModules: []string{adminKey}, MacroKey: macroKey},
	}
}

func newVerifier(tb testing.TB, ks *forge.KeySet, now func() time.Time) *forge.Verifier {
	tb.Helper()
	v, err := forge.NewVerifier(forge.VerifierConfig{
		Apps: apps(), Environments: []string{envID}, APIBase: apiBase, Keys: ks, Now: now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func panelInvocation(now time.Time) platform.Invocation {
	return platform.Invocation{ModuleType: "jira:issuePanel", ModuleKey: panelKey, Principal: accountID, Now: now,
		Context: &forge.Context{CloudID: cloudID, LocalID: "local-1", Extension: forge.Extension{
			Issue: &forge.Ref{ID: "10001", Key: "DEV-1"}}}}
}

var (
	otherOnce sync.Once
	other     *rsa.PrivateKey
)

// otherKey is a key the platform never published.
func otherKey() *rsa.PrivateKey {
	otherOnce.Do(func() {
		var err error
		if other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return other
}
