package server_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/forge/platform"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/golang-jwt/jwt/v5"
)

// ---- the forgery matrix -------------------------------------------------------

// forgery turns the claims of a good FIT into a forged token.
type forgery func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string

// signed signs the (mutated) claims with the platform's key: a FIT that is
// Atlassian-signed but says something we must refuse.
func signed(mutate func(jwt.MapClaims)) forgery {
	return func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string {
		mutate(c)
		tok, err := f.signer.Sign(c)
		if err != nil {
			tb.Fatal(err)
		}
		return tok
	}
}

func appClaim(c jwt.MapClaims) map[string]any { return c["app"].(map[string]any) }

// assertForgeryRefused sends forged tokens to every kind of /forge/ route:
// against a fresh installation (which must not come into being) and against
// an installed one (whose state must not change). Every call must be a 401
// with a JSON error, and the product API must never be asked.
func assertForgeryRefused(t *testing.T, forge_ forgery) {
	t.Helper()
	f := newForgeHarness(t)
	a := f.jiraInstall()
	if r := f.call("POST", "/forge/lifecycle", f.mint(a, endpoint(lifecycleKey)), "", map[string]any{"eventType": "avi:forge:installed:app"}); r.status != http.StatusNoContent {
		t.Fatalf("valid lifecycle: %d %s", r.status, r.raw)
	}
	before := f.tenants()
	b := f.install(forge.ProductJira, "99999999-9999-4999-8999-999999999999", forgeCloud)

	for _, tc := range []struct {
		name, method, path string
		in                 platform.Install
		inv                platform.Invocation
		body               any
	}{
		{"list (new install)", "GET", "/forge/api/secrets", b, panel(alice, "10001"), nil},
		{"create (new install)", "POST", "/forge/api/secrets", b, panel(alice, "10001"), map[string]any{"title": "t", "content": "c", "password": "correct horse battery"}},
		{"lifecycle (new install)", "POST", "/forge/lifecycle", b, endpoint(lifecycleKey), map[string]any{"eventType": "avi:forge:installed:app"}},
		{"admin (new install)", "GET", "/forge/api/admin/policy", b, adminPage(alice), nil},
		{"create (installed)", "POST", "/forge/api/secrets", a, panel(alice, "10001"), map[string]any{"title": "t", "content": "c", "password": "correct horse battery"}},
		{"pre-uninstall (installed)", "POST", "/forge/pre-uninstall", a, endpoint(uninstallKey), map[string]any{}},
		{"admin policy change (installed)", "PUT", "/forge/api/admin/policy", a, adminPage(alice), map[string]any{"minPasswordLength": 8}},
	} {
		claims := tc.in.Claims(tc.inv)
		tok := forge_(t, f, claims)
		r := f.call(tc.method, tc.path, tok, tc.inv.Principal, tc.body)
		if r.status != http.StatusUnauthorized || r.code() != "unauthorized" {
			t.Errorf("%s: %d %s, want 401 unauthorized", tc.name, r.status, r.raw)
		}
	}
	after := f.tenants()
	if len(after) != len(before) || len(after) != 1 || after[0].ClientKey != tenantKeyOf(a) || after[0].State != secrets.StateInstalled {
		t.Errorf("tenants changed: before %v, after %v", keys(before), keys(after))
	}
	if n := f.product.TotalCalls(); n != 0 {
		t.Errorf("the product API was called %d times for forged tokens", n)
	}
	list := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil)
	if list.status != 200 || len(list.body["secrets"].([]any)) != 0 {
		t.Errorf("secrets after forgeries: %d %s", list.status, list.raw)
	}
}

func keys(l []*secrets.Installation) []string {
	var out []string
	for _, i := range l {
		out = append(out, i.ClientKey+"="+string(i.State))
	}
	return out
}

func TestForgeFITUnsigned(t *testing.T) {
	assertForgeryRefused(t, func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string {
		tok, _ := f.signer.Sign(c)
		return tok[:strings.LastIndex(tok, ".")+1] // header.payload. — no signature
	})
}

func TestForgeFITAlgNone(t *testing.T) {
	assertForgeryRefused(t, func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string {
		return signWith(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, forgeKID, c)
	})
}

func TestForgeFITHS256WithPublicKey(t *testing.T) {
	assertForgeryRefused(t, func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string {
		der, err := x509.MarshalPKIXPublicKey(&f.signer.Key().PublicKey)
		if err != nil {
			tb.Fatal(err)
		}
		// The classic confusion: the public key, as published, used as an
		// HMAC secret; the JWKS n value too.
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		tok := signWith(tb, jwt.SigningMethodHS256, pemKey, forgeKID, c)
		if strings.Contains(tok, "RS256") {
			tb.Fatal("not an HS256 token")
		}
		return tok
	})
}

func TestForgeFITHS256WithJWKModulus(t *testing.T) {
	assertForgeryRefused(t, func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string {
		n := base64.RawURLEncoding.EncodeToString(f.signer.Key().PublicKey.N.Bytes())
		return signWith(tb, jwt.SigningMethodHS256, []byte(n), forgeKID, c)
	})
}

func TestForgeFITOtherAppAudience(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) {
		c["aud"] = forgeOtherApp
		appClaim(c)["id"] = forgeOtherApp
	}))
}

func TestForgeFITAudienceNotAppID(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) { appClaim(c)["id"] = forgeConfApp }))
}

func TestForgeFITWrongIssuer(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) { c["iss"] = "forge/other-token" }))
}

func TestForgeFITExpired(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) {
		past := time.Now().Add(-2 * time.Minute)
		c["iat"], c["nbf"], c["exp"] = past.Unix(), past.Unix(), past.Add(25*time.Second).Unix()
	}))
}

func TestForgeFITNotBeforeInFuture(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Minute).Unix() }))
}

func TestForgeFITUnknownKid(t *testing.T) {
	assertForgeryRefused(t, func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string {
		_, other := rsaKeys(tb)
		return signWith(tb, jwt.SigningMethodRS256, other, "forge/invocation-token/wf-"+platform.NewUUID(), c)
	})
}

func TestForgeFITKnownKidOtherKey(t *testing.T) {
	assertForgeryRefused(t, func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string {
		_, other := rsaKeys(tb)
		return signWith(tb, jwt.SigningMethodRS256, other, forgeKID, c)
	})
}

func TestForgeFITOtherEnvironment(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) {
		appClaim(c)["environment"] = map[string]any{"type": "PRODUCTION", "id": "00000000-0000-4000-8000-000000000000"}
	}))
}

func TestForgeFITInstallationIDMismatch(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) {
		appClaim(c)["installation"].(map[string]any)["id"] = "ari:cloud:ecosystem::installation/" + platform.NewUUID()
	}))
}

func TestForgeFITAPIBaseURLOfAnotherCloud(t *testing.T) {
	assertForgeryRefused(t, func(tb testing.TB, f *forgeHarness, c jwt.MapClaims) string {
		// Everything else names forgeCloud; only apiBaseUrl points elsewhere.
		appClaim(c)["apiBaseUrl"] = f.api.URL + "/ex/jira/" + forgeCloudB
		tok, _ := f.signer.Sign(c)
		return tok
	})
}

func TestForgeFITAPIBaseURLOtherHost(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) {
		app := appClaim(c)
		app["apiBaseUrl"] = "https://attacker.example/ex/jira/" + forgeCloud
		app["installation"].(map[string]any)["contexts"] = []any{}
	}))
}

func TestForgeFITICLabel(t *testing.T) {
	assertForgeryRefused(t, signed(func(c jwt.MapClaims) { c["icLabel"] = "isolated-cloud-1" }))
}

func TestForgeFITMissing(t *testing.T) {
	assertForgeryRefused(t, func(testing.TB, *forgeHarness, jwt.MapClaims) string { return "" })
}

func TestForgeFITGarbage(t *testing.T) {
	assertForgeryRefused(t, func(testing.TB, *forgeHarness, jwt.MapClaims) string { return "not.a.token" })
}

// ---- route authorisation -----------------------------------------------------

func TestForgeUIFITOnLifecycleRoutesRefused(t *testing.T) {
	f := newForgeHarness(t)
	for _, path := range []string{"/forge/lifecycle", "/forge/pre-uninstall"} {
		for name, inv := range map[string]platform.Invocation{
			"panel":                panel(alice, "10001"),
			"admin page":           adminPage(alice),
			"endpoint with a user": {ModuleType: forge.ModuleTypeEndpoint, ModuleKey: strings.TrimPrefix(path, "/forge/"), Principal: alice},
			"the other endpoint":   endpoint(map[string]string{"/forge/lifecycle": uninstallKey, "/forge/pre-uninstall": lifecycleKey}[path]),
			"endpoint-typed panel": {ModuleType: forge.ModuleTypeEndpoint, ModuleKey: panelKey},
		} {
			r := f.call("POST", path, f.mint(f.jiraInstall(), inv), inv.Principal, map[string]any{})
			if r.status != http.StatusForbidden || r.code() != "forbidden" {
				t.Errorf("%s on %s: %d %s, want 403", name, path, r.status, r.raw)
			}
		}
	}
	if l := f.tenants(); len(l) != 0 {
		t.Errorf("tenants created: %v", keys(l))
	}
}

func TestForgePanelFITOnAdminRouteRefused(t *testing.T) {
	f := newForgeHarness(t)
	for _, path := range []string{"/forge/api/admin/secrets", "/forge/api/admin/policy", "/forge/api/admin/audit"} {
		r := f.ui("GET", path, panel(alice, "10001"), nil)
		if r.status != http.StatusForbidden {
			t.Errorf("panel FIT on %s: %d %s, want 403", path, r.status, r.raw)
		}
	}
	if n := f.product.Calls()["POST permissions/check"]; n != 0 {
		t.Errorf("admin check made for a panel FIT: %d calls", n)
	}
}

func TestForgeAdminAndEndpointFITsOnUIRoutesRefused(t *testing.T) {
	f := newForgeHarness(t)
	for name, inv := range map[string]platform.Invocation{
		"admin page": adminPage(alice),
		"lifecycle":  endpoint(lifecycleKey),
		"panel without a user": {ModuleType: "jira:issuePanel", ModuleKey: panelKey,
			Context: panel(alice, "10001").Context},
		"another module": {ModuleType: "jira:issueGlance", ModuleKey: "someone-elses-glance", Principal: alice,
			Context: panel(alice, "10001").Context},
	} {
		r := f.call("GET", "/forge/api/secrets", f.mint(f.jiraInstall(), inv), inv.Principal, nil)
		if r.status != http.StatusForbidden {
			t.Errorf("%s on the secrets API: %d %s, want 403", name, r.status, r.raw)
		}
	}
}

// ---- lifecycle -------------------------------------------------------------------

func TestForgeLifecycleCreatesTenantIdempotently(t *testing.T) {
	f := newForgeHarness(t)
	in := f.jiraInstall()
	for i := range 3 {
		r := f.call("POST", "/forge/lifecycle", f.mint(in, endpoint(lifecycleKey)), "", map[string]any{"eventType": "avi:forge:installed:app"})
		if r.status != http.StatusNoContent {
			t.Fatalf("call %d: %d %s", i, r.status, r.raw)
		}
	}
	l := f.tenants()
	if len(l) != 1 {
		t.Fatalf("tenants: %v", keys(l))
	}
	got := l[0]
	if got.ClientKey != tenantKeyOf(in) || got.Product != secrets.ProductJira || got.CloudID != forgeCloud ||
		got.State != secrets.StateInstalled || got.AppKey != forgeJiraApp || got.SharedSecret != "" {
		t.Errorf("installation = %+v", got)
	}
}

func TestForgeTenantCreatedLazilyByFirstCall(t *testing.T) {
	f := newForgeHarness(t)
	r := f.ui("GET", "/forge/api/secrets", macro(bob, "123", "macro-a"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("first call: %d %s", r.status, r.raw)
	}
	inst := f.stored(tenantKeyOf(f.confInstall()))
	if inst == nil || inst.CloudID != forgeCloud || inst.Product != secrets.ProductConfluence || !inst.State.Active() {
		t.Fatalf("installation = %+v", inst)
	}
}

func TestForgePreUninstallKeepsDataAndStopsService(t *testing.T) {
	f := newForgeHarness(t)
	in := f.jiraInstall()
	created := f.ui("POST", "/forge/api/secrets", panel(alice, "10001"), map[string]any{"title": "db", "content": "pw", "password": "correct horse battery"})
	if created.status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	for range 2 { // idempotent
		if r := f.call("POST", "/forge/pre-uninstall", f.mint(in, endpoint(uninstallKey)), "", map[string]any{}); r.status != http.StatusNoContent {
			t.Fatalf("pre-uninstall: %d %s", r.status, r.raw)
		}
	}
	if st := f.stored(tenantKeyOf(in)); st == nil || st.State != secrets.StateUninstalled || st.UninstalledAt.IsZero() {
		t.Fatalf("after pre-uninstall: %+v", st)
	}
	if r := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil); r.status != http.StatusForbidden {
		t.Errorf("UI call after pre-uninstall: %d %s, want 403", r.status, r.raw)
	}
	// The platform's installed trigger brings it back, data intact.
	if r := f.call("POST", "/forge/lifecycle", f.mint(in, endpoint(lifecycleKey)), "", map[string]any{}); r.status != http.StatusNoContent {
		t.Fatalf("lifecycle: %d %s", r.status, r.raw)
	}
	list := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil)
	if list.status != http.StatusOK || len(list.body["secrets"].([]any)) != 1 {
		t.Errorf("after re-install: %d %s", list.status, list.raw)
	}
	// An unknown installation's pre-uninstall is fine too.
	other := f.install(forge.ProductJira, platform.NewUUID(), forgeCloud)
	if r := f.call("POST", "/forge/pre-uninstall", f.mint(other, endpoint(uninstallKey)), "", nil); r.status != http.StatusNoContent {
		t.Errorf("unknown pre-uninstall: %d %s", r.status, r.raw)
	}
}

// ---- the secrets API through Forge -----------------------------------------------

const pw = "correct horse battery"

func TestForgeSecretsFlow(t *testing.T) {
	f := newForgeHarness(t)
	for _, tc := range []struct {
		name      string
		as, other platform.Invocation
		elsewhere platform.Invocation // same user, another container
	}{
		{"jira", panel(alice, "10001"), panel(bob, "10001"), panel(alice, "10002")},
		{"confluence", macro(alice, "123", "macro-a"), macro(bob, "123", "macro-a"), macro(alice, "123", "macro-b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.ui("POST", "/forge/api/secrets", tc.as, map[string]any{"title": "Staging DB", "content": "hunter2", "password": pw})
			if c.status != http.StatusCreated {
				t.Fatalf("create: %d %s", c.status, c.raw)
			}
			id := c.str("id")
			base := "/forge/api/secrets/" + id
			if l := f.ui("GET", "/forge/api/secrets", tc.other, nil); l.status != 200 || !strings.Contains(l.raw, "Staging DB") || strings.Contains(l.raw, "hunter2") {
				t.Errorf("other user's list: %d %s", l.status, l.raw)
			}
			if l := f.ui("GET", "/forge/api/secrets", tc.elsewhere, nil); l.status != 200 || strings.Contains(l.raw, id) {
				t.Errorf("another container lists it: %s", l.raw)
			}
			if r := f.ui("POST", base+"/unlock", tc.as, map[string]any{"password": "wrong password!"}); r.status != http.StatusForbidden || r.code() != "wrong_password" {
				t.Errorf("wrong password: %d %s", r.status, r.raw)
			}
			u := f.ui("POST", base+"/unlock", tc.as, map[string]any{"password": pw})
			if u.status != 200 || u.str("content") != "hunter2" || u.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("unlock: %d %s", u.status, u.raw)
			}
			tok := u.str("unlockToken")
			if r := f.ui("PUT", base, tc.other, map[string]any{"title": "x", "content": "y", "version": 1}, "X-Unlock-Token", tok); r.status != http.StatusForbidden {
				t.Errorf("other user's edit with my unlock token: %d %s", r.status, r.raw)
			}
			if r := f.ui("POST", base+"/unlock", tc.elsewhere, map[string]any{"password": pw}); r.status != http.StatusNotFound {
				t.Errorf("unlock from another container: %d %s", r.status, r.raw)
			}
			e := f.ui("PUT", base, tc.as, map[string]any{"title": "Staging DB", "content": "hunter3", "version": 1}, "X-Unlock-Token", tok)
			if e.status != 200 {
				t.Fatalf("edit: %d %s", e.status, e.raw)
			}
			tok = e.str("unlockToken")
			if r := f.ui("PUT", base+"/password", tc.as, map[string]any{"password": "a brand new passphrase"}, "X-Unlock-Token", tok); r.status != http.StatusOK || r.str("unlockToken") == "" {
				t.Fatalf("change password: %d %s", r.status, r.raw)
			}
			u = f.ui("POST", base+"/unlock", tc.as, map[string]any{"password": "a brand new passphrase"})
			if u.status != 200 || u.str("content") != "hunter3" {
				t.Fatalf("unlock with new password: %d %s", u.status, u.raw)
			}
			tok = u.str("unlockToken")
			if r := f.ui("POST", base+"/lock", tc.as, nil, "X-Unlock-Token", tok); r.status != http.StatusNoContent {
				t.Fatalf("lock: %d %s", r.status, r.raw)
			}
			if r := f.ui("DELETE", base, tc.as, nil, "X-Unlock-Token", tok); r.status != http.StatusForbidden || r.code() != "unlock_required" {
				t.Errorf("delete with a locked token: %d %s", r.status, r.raw)
			}
			tok = f.ui("POST", base+"/unlock", tc.as, map[string]any{"password": "a brand new passphrase"}).str("unlockToken")
			if r := f.ui("DELETE", base, tc.as, nil, "X-Unlock-Token", tok); r.status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", r.status, r.raw)
			}
			if l := f.ui("GET", "/forge/api/secrets", tc.as, nil); strings.Contains(l.raw, id) {
				t.Errorf("deleted secret still listed")
			}
		})
	}
}

// ---- container binding ---------------------------------------------------------

// assertContainerDenied checks that every secrets operation by inv is 404
// and changes nothing, for a secret that exists in the container.
func assertContainerDenied(t *testing.T, f *forgeHarness, owner, inv platform.Invocation) {
	t.Helper()
	c := f.ui("POST", "/forge/api/secrets", owner, map[string]any{"title": "visible to the owner", "content": "body", "password": pw})
	if c.status != http.StatusCreated {
		t.Fatalf("owner create: %d %s", c.status, c.raw)
	}
	id := c.str("id")
	tok := f.ui("POST", "/forge/api/secrets/"+id+"/unlock", owner, map[string]any{"password": pw}).str("unlockToken")
	base := "/forge/api/secrets/" + id
	for _, op := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/forge/api/secrets", nil},
		{"POST", "/forge/api/secrets", map[string]any{"title": "planted", "content": "x", "password": pw}},
		{"POST", base + "/unlock", map[string]any{"password": pw}},
		{"PUT", base, map[string]any{"title": "changed", "content": "changed", "version": 1}},
		{"PUT", base + "/password", map[string]any{"password": "another passphrase"}},
		{"POST", base + "/lock", nil},
		{"DELETE", base, nil},
	} {
		r := f.ui(op.method, op.path, inv, op.body, "X-Unlock-Token", tok)
		if r.status != http.StatusNotFound || r.code() != "not_found" {
			t.Errorf("%s %s: %d %s, want 404 not_found", op.method, op.path, r.status, r.raw)
		}
	}
	// Nothing changed: the owner still sees the one secret, at version 1,
	// under the old password.
	l := f.ui("GET", "/forge/api/secrets", owner, nil)
	if n := len(l.body["secrets"].([]any)); n != 1 || strings.Contains(l.raw, "planted") || strings.Contains(l.raw, "changed") {
		t.Errorf("the container changed: %s", l.raw)
	}
	if u := f.ui("POST", base+"/unlock", owner, map[string]any{"password": pw}); u.status != 200 || u.str("content") != "body" {
		t.Errorf("owner unlock after the refused calls: %d %s", u.status, u.raw)
	}
}

func TestForgeUserWhoCannotBrowseIssueGets404(t *testing.T) {
	f := newForgeHarness(t)
	assertContainerDenied(t, f, panel(alice, "10001"), panel(carol, "10001"))
}

func TestForgeUserWhoCannotReadPageGets404(t *testing.T) {
	f := newForgeHarness(t)
	assertContainerDenied(t, f, macro(alice, "123", "macro-a"), macro(carol, "123", "macro-a"))
}

func TestForgePageWithoutTheMacroGets404(t *testing.T) {
	f := newForgeHarness(t)
	owner := macro(alice, "123", "macro-a")
	c := f.ui("POST", "/forge/api/secrets", owner, map[string]any{"title": "t", "content": "c", "password": pw})
	if c.status != http.StatusCreated {
		t.Fatal(c.raw)
	}
	// The macro is removed from the page: its localId is no longer there.
	f.product.SetPage("123", platform.MacroADF("bbbbbbbb-2222-4222-8222-222222222222", forgeEnv, macroKey, "macro-b"))
	// A fresh harness has no cached yes; this one cached alice's. Bob, who
	// can read the page, never asked before.
	for _, op := range []string{"/forge/api/secrets", "/forge/api/secrets/" + c.str("id") + "/unlock"} {
		method := map[bool]string{true: "GET", false: "POST"}[op == "/forge/api/secrets"]
		r := f.ui(method, op, macro(bob, "123", "macro-a"), map[string]any{"password": pw})
		if method == "GET" {
			r = f.ui("GET", op, macro(bob, "123", "macro-a"), nil)
		}
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s on a page without the macro: %d %s", method, op, r.status, r.raw)
		}
	}
	// Another app's macro with the same localId does not count either.
	f.product.SetPage("123", platform.MacroADF("bbbbbbbb-2222-4222-8222-222222222222", forgeEnv, "other-macro", "macro-c"))
	if r := f.ui("GET", "/forge/api/secrets", macro(bob, "123", "macro-c"), nil); r.status != http.StatusNotFound {
		t.Errorf("another macro's localId: %d %s", r.status, r.raw)
	}
}

func TestForgeMacroLocalIDNotOnPageDeniesEveryOperation(t *testing.T) {
	f := newForgeHarness(t)
	// macro-z is not on page 123 at all.
	assertContainerDeniedNoOwner(t, f, macro(alice, "123", "macro-z"))
}

// assertContainerDeniedNoOwner checks every operation is 404 in a container
// nobody can confirm.
func assertContainerDeniedNoOwner(t *testing.T, f *forgeHarness, inv platform.Invocation) {
	t.Helper()
	for _, op := range []struct{ method, path string }{
		{"GET", "/forge/api/secrets"}, {"POST", "/forge/api/secrets"}, {"POST", "/forge/api/secrets/x/unlock"},
		{"PUT", "/forge/api/secrets/x"}, {"PUT", "/forge/api/secrets/x/password"}, {"POST", "/forge/api/secrets/x/lock"},
		{"DELETE", "/forge/api/secrets/x"},
	} {
		if r := f.ui(op.method, op.path, inv, map[string]any{"title": "t", "content": "c", "password": pw}); r.status != http.StatusNotFound {
			t.Errorf("%s %s: %d %s", op.method, op.path, r.status, r.raw)
		}
	}
}

func TestForgeBodyQueryOrHeaderNamingAnotherIssueChangesNothing(t *testing.T) {
	f := newForgeHarness(t)
	as := panel(bob, "10001")
	// Extra headers and query parameters naming issue 10002 are ignored.
	c := f.ui("POST", "/forge/api/secrets?issueId=10002&issue.id=10002&container=jira:issue:10002", as,
		map[string]any{"title": "lands in 10001", "content": "c", "password": pw},
		"X-Issue-Id", "10002", "X-Forge-Context", `{"extension":{"issue":{"id":"10002"}}}`, "X-Container", "jira:issue:10002")
	if c.status != http.StatusCreated {
		t.Fatalf("create: %d %s", c.status, c.raw)
	}
	// A body field naming the container is refused outright.
	if r := f.ui("POST", "/forge/api/secrets", as, map[string]any{"title": "t", "content": "c", "password": pw, "issueId": "10002"}); r.status != http.StatusBadRequest {
		t.Errorf("body with issueId: %d %s", r.status, r.raw)
	}
	if l := f.ui("GET", "/forge/api/secrets", panel(bob, "10002"), nil); strings.Contains(l.raw, "lands in 10001") {
		t.Errorf("the secret landed in 10002: %s", l.raw)
	}
	if l := f.ui("GET", "/forge/api/secrets", as, nil); !strings.Contains(l.raw, "lands in 10001") {
		t.Errorf("the secret is not in 10001: %s", l.raw)
	}
	// carol cannot browse 10001 and headers naming a browsable issue do not
	// help her.
	if r := f.ui("GET", "/forge/api/secrets?issueId=10002", panel(carol, "10001"), nil, "X-Issue-Id", "10002"); r.status != http.StatusNotFound {
		t.Errorf("carol with headers: %d %s", r.status, r.raw)
	}
}

func TestForgeProduct5xxRefuses(t *testing.T) {
	for _, status := range []int{500, 502, 503, 429} {
		f := newForgeHarness(t)
		f.product.Fail(status)
		for _, inv := range []platform.Invocation{panel(alice, "10001"), macro(alice, "123", "macro-a")} {
			r := f.ui("GET", "/forge/api/secrets", inv, nil)
			if r.status != http.StatusServiceUnavailable || r.code() != "unavailable" {
				t.Errorf("product %d, %s: %d %s, want 503", status, inv.ModuleKey, r.status, r.raw)
			}
			r = f.ui("POST", "/forge/api/secrets", inv, map[string]any{"title": "t", "content": "c", "password": pw})
			if r.status != http.StatusServiceUnavailable {
				t.Errorf("product %d, create: %d", status, r.status)
			}
		}
		if r := f.ui("GET", "/forge/api/admin/policy", adminPage(alice), nil); r.status != http.StatusServiceUnavailable {
			t.Errorf("product %d, admin: %d %s", status, r.status, r.raw)
		}
		f.product.Fail(0)
		if l := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil); len(l.body["secrets"].([]any)) != 0 {
			t.Errorf("a refused create stored something: %s", l.raw)
		}
	}
}

func TestForgeProductTimeoutRefuses(t *testing.T) {
	f := newForgeHarness(t, func(c *forge.ProductsConfig) { c.Timeout = 100 * time.Millisecond })
	f.block = make(chan struct{})
	defer close(f.block)
	r := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil)
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("product timeout: %d %s, want 503", r.status, r.raw)
	}
	r = f.ui("GET", "/forge/api/admin/secrets", adminPage(alice), nil)
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("admin check timeout: %d %s, want 503", r.status, r.raw)
	}
}

func TestForgeMissingUserTokenRefuses(t *testing.T) {
	f := newForgeHarness(t)
	fit := f.mint(f.jiraInstall(), panel(alice, "10001"))
	if r := f.call("GET", "/forge/api/secrets", fit, "", nil); r.status != http.StatusNotFound {
		t.Errorf("no user token: %d %s", r.status, r.raw)
	}
	// Another user's token does not stand in for the FIT's principal:
	// carol's token is asked about carol.
	r := f.raw("GET", "/forge/api/secrets", nil, "Authorization", "Bearer "+f.mint(f.jiraInstall(), panel(carol, "10001")),
		"X-Forge-Oauth-User", f.product.IssueUserToken(carol))
	if r.status != http.StatusNotFound {
		t.Errorf("carol: %d %s", r.status, r.raw)
	}
}

// ---- admin --------------------------------------------------------------------

func TestForgeAdmin(t *testing.T) {
	f := newForgeHarness(t)
	for _, in := range []platform.Install{f.jiraInstall(), f.confInstall()} {
		admin := adminPage(alice)
		user := adminPage(bob)
		if in.Product == forge.ProductConfluence {
			admin.ModuleType, user.ModuleType = "confluence:globalSettings", "confluence:globalSettings"
		}
		r := f.call("GET", "/forge/api/admin/policy", f.mint(in, admin), alice, nil)
		if r.status != 200 || r.body["minPasswordLength"] == nil {
			t.Errorf("%s admin: %d %s", in.Product, r.status, r.raw)
		}
		r = f.call("GET", "/forge/api/admin/secrets", f.mint(in, admin), alice, nil)
		if r.status != 200 {
			t.Errorf("%s admin list: %d %s", in.Product, r.status, r.raw)
		}
		r = f.call("GET", "/forge/api/admin/policy", f.mint(in, user), bob, nil)
		if r.status != http.StatusForbidden {
			t.Errorf("%s regular user: %d %s, want 403", in.Product, r.status, r.raw)
		}
	}
	calls := f.product.Calls()
	if calls["POST permissions/check"] == 0 || calls["GET user/current"] == 0 {
		t.Errorf("admin checks were not asked of the products: %v", calls)
	}
}

func TestForgeAdminSeesForgeSecrets(t *testing.T) {
	f := newForgeHarness(t)
	c := f.ui("POST", "/forge/api/secrets", panel(bob, "10001"), map[string]any{"title": "bob's", "content": "c", "password": pw})
	if c.status != http.StatusCreated {
		t.Fatal(c.raw)
	}
	r := f.call("GET", "/forge/api/admin/secrets", f.mint(f.jiraInstall(), adminPage(alice)), alice, nil)
	if r.status != 200 || !strings.Contains(r.raw, "bob's") || !strings.Contains(r.raw, "jira:issue:10001") {
		t.Errorf("admin list: %d %s", r.status, r.raw)
	}
	d := f.call("DELETE", "/forge/api/admin/secrets/"+c.str("id"), f.mint(f.jiraInstall(), adminPage(alice)), alice, nil)
	if d.status != http.StatusNoContent {
		t.Errorf("admin delete: %d %s", d.status, d.raw)
	}
}

// ---- tenants, keys ---------------------------------------------------------------

func TestForgeInstallationsAreSeparateTenants(t *testing.T) {
	f := newForgeHarness(t)
	other := f.install(forge.ProductJira, "33333333-cccc-4ccc-8ccc-cccccccccccc", forgeCloud)
	c := f.ui("POST", "/forge/api/secrets", panel(alice, "10001"), map[string]any{"title": "site A", "content": "c", "password": pw})
	if c.status != http.StatusCreated {
		t.Fatal(c.raw)
	}
	l := f.call("GET", "/forge/api/secrets", f.mint(other, panel(alice, "10001")), alice, nil)
	if l.status != 200 || strings.Contains(l.raw, "site A") {
		t.Errorf("another installation sees it: %d %s", l.status, l.raw)
	}
	if got := keys(f.tenants()); len(got) != 2 {
		t.Errorf("tenants: %v", got)
	}
	for _, inst := range f.tenants() {
		if !strings.HasPrefix(inst.ClientKey, "forge:aaaaaaaa-1111-4111-8111-111111111111:"+forgeEnv+":") {
			t.Errorf("tenant key %q", inst.ClientKey)
		}
	}
}

func TestForgeKeysUnavailableIs503(t *testing.T) {
	f := newForgeHarness(t)
	f.jwksDown.Store(true)
	r := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil)
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("no JWKS: %d %s, want 503", r.status, r.raw)
	}
	if len(f.tenants()) != 0 {
		t.Error("a tenant was created without a verified FIT")
	}
}

func TestForgeJWKSOutageWithCachedSetKeepsServing(t *testing.T) {
	f := newForgeHarness(t)
	if r := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil); r.status != 200 {
		t.Fatal(r.raw)
	}
	f.jwksDown.Store(true)
	for range 5 {
		if r := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil); r.status != 200 {
			t.Fatalf("during the outage: %d %s", r.status, r.raw)
		}
	}
	if n := f.jwksHits.Load(); n != 1 {
		t.Errorf("JWKS fetches = %d, want 1", n)
	}
}

func TestForgeThousandForgedKidsFetchJWKSAHandfulOfTimes(t *testing.T) {
	f := newForgeHarness(t)
	if r := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil); r.status != 200 {
		t.Fatal(r.raw)
	}
	_, other := rsaKeys(t)
	claims := f.jiraInstall().Claims(panel(alice, "10001"))
	for i := range 1000 {
		tok := signWith(t, jwt.SigningMethodRS256, other, "forge/invocation-token/wf-"+platform.NewUUID(), claims)
		if r := f.call("GET", "/forge/api/secrets", tok, alice, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("forged token %d: %d %s", i, r.status, r.raw)
		}
	}
	n := f.jwksHits.Load()
	t.Logf("JWKS fetches for 1 good + 1,000 forged kids over HTTP: %d", n)
	if n > 3 {
		t.Errorf("JWKS fetched %d times", n)
	}
}

func TestForgeRoutesNotServedWithoutForge(t *testing.T) {
	h := newHarness(t)
	res := h.api("GET", "/forge/api/secrets", "", nil)
	if res.status != http.StatusNotFound {
		t.Errorf("without Forge: %d", res.status)
	}
}

func TestConnectInstallStoresCloudID(t *testing.T) {
	h := newHarness(t)
	tn := jiraTenant("acme")
	p := tn.payload("installed")
	p["cloudId"] = "0f1e2d3c-4b5a-4697-8877-665544332211"
	if r := h.lifecycle(tn, "installed", p, installOpts{}); r.StatusCode != http.StatusNoContent {
		t.Fatalf("install: %d %s", r.StatusCode, readBody(r))
	}
	if got := h.stored(tn.clientKey).CloudID; got != "0f1e2d3c-4b5a-4697-8877-665544332211" {
		t.Errorf("CloudID = %q", got)
	}
	// Without one, nothing changes.
	tn2 := jiraTenant("beta")
	h.install(tn2)
	if got := h.stored(tn2.clientKey).CloudID; got != "" {
		t.Errorf("CloudID = %q", got)
	}
}

func TestConnectClientKeyInForgeNamespaceRefused(t *testing.T) {
	h := newHarness(t)
	tn := jiraTenant("acme")
	tn.clientKey = "forge:aaaaaaaa-1111-4111-8111-111111111111:env:inst"
	if r := h.lifecycle(tn, "installed", tn.payload("installed"), installOpts{}); r.StatusCode == http.StatusNoContent {
		t.Fatal("a Connect install took a Forge tenant key")
	}
	if slices.ContainsFunc(h.tenantsList(), func(i *secrets.Installation) bool { return strings.HasPrefix(i.ClientKey, "forge:") }) {
		t.Error("forge: tenant created by Connect")
	}
}

func TestConnectHostTokenForForgeTenantRefused(t *testing.T) {
	f := newForgeHarness(t)
	in := f.jiraInstall()
	if r := f.call("POST", "/forge/lifecycle", f.mint(in, endpoint(lifecycleKey)), "", nil); r.status != http.StatusNoContent {
		t.Fatal(r.raw)
	}
	// A Forge tenant has no shared secret; an HS256 token naming it, signed
	// with the empty secret or anything else, opens no module page.
	for _, secret := range []string{"", "x"} {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": tenantKeyOf(in), "sub": alice, "qsh": mustQSH(t, "GET", "/jira/panel", issuePanelQuery("10001")),
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
		})
		signed, _ := tok.SignedString([]byte(secret))
		res := f.get(f.baseURL + "/jira/panel?" + issuePanelQuery("10001") + "&jwt=" + signed)
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("host token for a Forge tenant (secret %q): %d", secret, res.StatusCode)
		}
	}
}

func TestForgeTokensNeverLogged(t *testing.T) {
	var logs syncBuffer
	f := newForgeHarnessLogging(t, &logs)
	fit := f.mint(f.jiraInstall(), panel(alice, "10001"))
	userTok := f.product.IssueUserToken(alice)
	calls := []apiResult{
		f.raw("POST", "/forge/api/secrets", map[string]any{"title": "t", "content": "c", "password": pw},
			"Authorization", "Bearer "+fit, "X-Forge-Oauth-User", userTok, "X-B3-TraceId", "0123456789abcdef"),
		f.raw("GET", "/forge/api/admin/policy", nil, "Authorization", "Bearer "+fit, "X-Forge-Oauth-User", userTok), // 403
		f.raw("GET", "/forge/api/secrets", nil, "Authorization", "Bearer "+fit+"x", "X-Forge-Oauth-User", userTok),  // 401
	}
	f.product.Fail(503)
	calls = append(calls, f.raw("GET", "/forge/api/secrets", nil, "Authorization", "Bearer "+f.mint(f.jiraInstall(), panel(bob, "10001")), "X-Forge-Oauth-User", userTok))
	if calls[0].status != 201 || calls[1].status != 403 || calls[2].status != 401 || calls[3].status != 503 {
		t.Fatalf("statuses: %d %d %d %d", calls[0].status, calls[1].status, calls[2].status, calls[3].status)
	}
	out := logs.String()
	sig := fit[strings.LastIndex(fit, ".")+1:]
	for name, secret := range map[string]string{"FIT": fit, "FIT signature": sig, "user token": userTok, "password": pw} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
	if !strings.Contains(out, "forge invocation token refused") || !strings.Contains(out, "0123456789abcdef") {
		t.Errorf("the log lacks the refusal or the trace id:\n%s", out)
	}
}
