package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/forge/platform"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

// The Forge apps of the tests, and the platform around them.
const (
	forgeJiraApp  = "ari:cloud:ecosystem::app/aaaaaaaa-1111-4111-8111-111111111111"
	forgeConfApp  = "ari:cloud:ecosystem::app/bbbbbbbb-2222-4222-8222-222222222222"
	forgeOtherApp = "ari:cloud:ecosystem::app/cccccccc-3333-4333-8333-333333333333"
	forgeEnv      = "dddddddd-4444-4444-8444-444444444444"
	forgeKID      = "forge/invocation-token/wf-11111111-2222-4333-8444-555555555555"
	forgeCloud    = "eeeeeeee-5555-4555-8555-555555555555"
	forgeCloudB   = "ffffffff-6666-4666-8666-666666666666"

	panelKey     = "secrets-issue-panel"
	macroKey     = "secrets-macro"
	forgeAdmin   = "secrets-admin"
	lifecycleKey = "lifecycle"
	uninstallKey = "pre-uninstall"

	alice = "557058:alice" // admin; browses issue 10001, reads page 123
	bob   = "557058:bob"   // browses 10001, reads 123; not an admin
	carol = "557058:carol" // may browse nothing, read nothing
)

// forgeHarness is a harness with the Forge front door, a local JWKS and a
// fake product API on loopback.
type forgeHarness struct {
	*harness
	signer   *platform.Signer
	jwks     *httptest.Server
	jwksHits atomic.Int64
	jwksDown atomic.Bool
	product  *platform.ProductAPI
	api      *httptest.Server
	block    chan struct{} // non-nil: product calls wait on it
}

func newForgeHarness(t testing.TB, opts ...func(*forge.ProductsConfig)) *forgeHarness {
	t.Helper()
	return buildForgeHarness(t, zerolog.Nop(), nil, opts...)
}

// newForgeHarnessLogging is newForgeHarness with debug logs written to w.
func newForgeHarnessLogging(t testing.TB, w io.Writer) *forgeHarness {
	t.Helper()
	return buildForgeHarness(t, zerolog.New(w).Level(zerolog.DebugLevel), nil)
}

// buildForgeHarness starts the harness; deps, when set, adjusts the
// server's dependencies once the Forge front door is among them.
func buildForgeHarness(t testing.TB, log zerolog.Logger, deps func(*server.Deps), opts ...func(*forge.ProductsConfig)) *forgeHarness {
	t.Helper()
	priv, _ := rsaKeys(t)
	s, err := platform.NewSignerFromKey(priv, forgeKID)
	if err != nil {
		t.Fatal(err)
	}
	f := &forgeHarness{signer: s, product: platform.NewProductAPI()}
	f.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		if f.jwksDown.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(f.jwks.Close)
	f.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.block != nil {
			select {
			case <-f.block:
			case <-r.Context().Done():
				return
			}
		}
		f.product.ServeHTTP(w, r)
	}))
	t.Cleanup(f.api.Close)
	for _, u := range []platform.ProductUser{
		{AccountID: alice, Admin: true, Issues: map[string]bool{"10001": true, "10002": true}, Pages: map[string]bool{"123": true}},
		{AccountID: bob, Issues: map[string]bool{"10001": true, "10002": true}, Pages: map[string]bool{"123": true}},
		{AccountID: carol},
	} {
		f.product.SetUser(u)
	}
	f.product.SetPage("123", platform.MacroADF("bbbbbbbb-2222-4222-8222-222222222222", forgeEnv, macroKey, "macro-a", "macro-b"))

	verifier, err := forge.NewVerifier(forge.VerifierConfig{
		Apps: []forge.App{
			{Product: forge.ProductJira, ID: forgeJiraApp, UIModules: []string{panelKey}, AdminModules: []string{forgeAdmin}},
			{Product: forge.ProductConfluence, ID: forgeConfApp, UIModules: []string{macroKey}, AdminModules: []string{forgeAdmin}, MacroKey: macroKey},
		},
		Environments: []string{forgeEnv},
		APIBase:      f.api.URL,
		Keys:         forge.NewKeySet(forge.KeySetConfig{URL: f.jwks.URL}),
	})
	if err != nil {
		t.Fatal(err)
	}
	pc := forge.ProductsConfig{Timeout: 2 * time.Second}
	for _, o := range opts {
		o(&pc)
	}
	f.harness = newHarness(t, func(h *harness, d *server.Deps) {
		d.Forge = &server.Forge{Verifier: verifier, Products: forge.NewProducts(pc), SystemTokens: h.installs}
		if deps != nil {
			deps(d)
		}
		d.Logger = log
	})
	return f
}

// install is an installation of one of the test apps.
func (f *forgeHarness) install(product, installID, cloud string) platform.Install {
	app := forgeJiraApp
	if product == forge.ProductConfluence {
		app = forgeConfApp
	}
	return platform.Install{AppID: app, EnvironmentID: forgeEnv, InstallationID: "ari:cloud:ecosystem::installation/" + installID,
		CloudID: cloud, APIBase: f.api.URL, Product: product}
}

func (f *forgeHarness) jiraInstall() platform.Install {
	return f.install(forge.ProductJira, "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa", forgeCloud)
}

func (f *forgeHarness) confInstall() platform.Install {
	return f.install(forge.ProductConfluence, "22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb", forgeCloud)
}

func tenantKeyOf(in platform.Install) string {
	return "forge:" + strings.TrimPrefix(in.AppID, "ari:cloud:ecosystem::app/") + ":" + in.EnvironmentID + ":" +
		strings.TrimPrefix(in.InstallationID, "ari:cloud:ecosystem::installation/")
}

// panel is an issue panel invocation by user on issue.
func panel(user, issueID string) platform.Invocation {
	return platform.Invocation{ModuleType: "jira:issuePanel", ModuleKey: panelKey, Principal: user,
		Context: &forge.Context{CloudID: forgeCloud, LocalID: "panel-" + issueID, ModuleKey: panelKey,
			Extension: forge.Extension{Type: "jira:issuePanel", Issue: &forge.Ref{ID: forge.ID(issueID), Key: "DEV-" + issueID[len(issueID)-1:]},
				Project: &forge.Ref{ID: "10000", Key: "DEV"}}}}
}

// macro is a macro invocation by user of macro localID on page.
func macro(user, pageID, localID string) platform.Invocation {
	return platform.Invocation{ModuleType: "xen:macro", ModuleKey: macroKey, Principal: user,
		Context: &forge.Context{CloudID: forgeCloud, LocalID: localID, ModuleKey: macroKey,
			Extension: forge.Extension{Type: "macro", Content: &forge.Ref{ID: forge.ID(pageID), Type: "page"}, Space: &forge.Ref{ID: "98", Key: "DEV"}}}}
}

func adminPage(user string) platform.Invocation {
	return platform.Invocation{ModuleType: "jira:adminPage", ModuleKey: forgeAdmin, Principal: user,
		Context: &forge.Context{CloudID: forgeCloud, ModuleKey: forgeAdmin}}
}

func endpoint(key string) platform.Invocation {
	return platform.Invocation{ModuleType: forge.ModuleTypeEndpoint, ModuleKey: key}
}

func (f *forgeHarness) mint(in platform.Install, inv platform.Invocation) string {
	f.t.Helper()
	tok, err := f.signer.Mint(in, inv)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// call invokes a /forge/ route with a FIT, the user token of the FIT's
// principal, and extra headers, as the platform forwards invokeRemote.
func (f *forgeHarness) call(method, path, fit, principal string, body any, headers ...string) apiResult {
	f.t.Helper()
	hs := []string{"Authorization", "Bearer " + fit, "X-B3-TraceId", "0123456789abcdef"}
	if principal != "" {
		hs = append(hs, "X-Forge-Oauth-User", f.product.IssueUserToken(principal))
	}
	return f.raw(method, path, body, append(hs, headers...)...)
}

// raw sends a request with exactly these headers.
func (f *forgeHarness) raw(method, path string, body any, headers ...string) apiResult {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.baseURL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res := f.do(req)
	raw := readBody(res)
	r := apiResult{status: res.StatusCode, header: res.Header, raw: raw}
	if raw != "" && json.Unmarshal([]byte(raw), &r.body) != nil {
		f.t.Fatalf("%s %s: %d, body is not JSON: %q", method, path, res.StatusCode, raw)
	}
	return r
}

// ui calls a secrets route as user from the issue panel of issue.
func (f *forgeHarness) ui(method, path string, inv platform.Invocation, body any, headers ...string) apiResult {
	f.t.Helper()
	in := f.jiraInstall()
	if inv.ModuleKey == macroKey {
		in = f.confInstall()
	}
	return f.call(method, path, f.mint(in, inv), inv.Principal, body, headers...)
}

func (f *forgeHarness) tenants() []*secrets.Installation {
	f.t.Helper()
	list, err := f.installs.ListInstallations(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

// signWith signs claims with any method and key, kid included, for
// forgeries.
func signWith(tb testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (h *harness) tenantsList() []*secrets.Installation {
	l, err := h.installs.ListInstallations(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
