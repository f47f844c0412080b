package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/golang-jwt/jwt/v5"
)

func TestSignedInstall(t *testing.T) {
	h := newHarness(t)
	tn := jiraTenant("acme")
	h.install(tn)
	got := h.stored(tn.clientKey)
	if got == nil || got.SharedSecret != tn.secret || got.BaseURL != tn.baseURL || got.State != secrets.StateInstalled || got.Product != secrets.ProductJira {
		t.Fatalf("stored %+v", got)
	}

	// installed repeats (upgrade, secret rotation): the latest signed payload wins.
	rotated := tn
	rotated.secret = "rotated-shared-secret-0123456789abcdef"
	h.install(rotated)
	if got := h.stored(tn.clientKey); got.SharedSecret != rotated.secret {
		t.Fatal("a newer signed install did not replace the shared secret")
	}
	// The key was fetched once and cached by kid.
	if n := h.keyHits.Load(); n != 1 {
		t.Errorf("key server hit %d times, want 1", n)
	}
}

// TestInstallRefused: each forged or broken install is refused and changes
// nothing that is stored.
func TestInstallRefused(t *testing.T) {
	_, otherKey := rsaKeys(t)
	victim := jiraTenant("victim")
	attacker := victim
	attacker.secret = "attacker-chosen-secret-0123456789abcdef"
	attacker.baseURL = "https://victim.atlassian.net"

	cases := []struct {
		name       string
		opts       installOpts
		payload    func(map[string]any)
		wantStatus int
	}{
		{name: "unsigned", opts: installOpts{noAuth: true}, wantStatus: 401},
		{name: "HS256 with the shared secret", opts: installOpts{method: jwt.SigningMethodHS256, key: []byte(attacker.secret)}, wantStatus: 401},
		{name: "alg none", opts: installOpts{method: jwt.SigningMethodNone, key: jwt.UnsafeAllowNoneSignatureType}, wantStatus: 401},
		{name: "RS512", opts: installOpts{method: jwt.SigningMethodRS512}, wantStatus: 401},
		{name: "signed by another key", opts: installOpts{key: otherKey}, wantStatus: 401},
		{name: "wrong aud", opts: installOpts{aud: "https://evil.example.com"}, wantStatus: 401},
		{name: "iss is not the body's clientKey", opts: installOpts{iss: "client-someone-else"}, wantStatus: 401},
		{name: "kid not a UUID", opts: installOpts{kid: "../../etc/passwd"}, wantStatus: 401},
		{name: "no kid", opts: installOpts{noKid: true}, wantStatus: 401},
		{name: "unknown kid", opts: installOpts{kid: "11111111-2222-4333-8444-555555555555"}, wantStatus: 401},
		{name: "expired", opts: installOpts{exp: time.Now().Add(-2 * time.Minute)}, wantStatus: 401},
		{name: "qsh of another request", opts: installOpts{qsh: "0000000000000000000000000000000000000000000000000000000000000000"}, wantStatus: 401},
		{name: "token in the query", opts: installOpts{inQuery: true}, wantStatus: 401},
		{name: "host not allowed", payload: func(p map[string]any) { p["baseUrl"] = "https://victim.atlassian.net.evil.com" }, wantStatus: 403},
		{name: "display host not allowed", payload: func(p map[string]any) { p["displayUrl"] = "https://evil.example.com" }, wantStatus: 403},
		{name: "plain http site", payload: func(p map[string]any) { p["baseUrl"] = "http://victim.atlassian.net" }, wantStatus: 400},
		{name: "another app's key", payload: func(p map[string]any) { p["key"] = "com.evil.app" }, wantStatus: 400},
		{name: "wrong event type", payload: func(p map[string]any) { p["eventType"] = "enabled" }, wantStatus: 400},
		{name: "no shared secret", payload: func(p map[string]any) { delete(p, "sharedSecret") }, wantStatus: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.install(victim)
			before := h.stored(victim.clientKey)
			p := attacker.payload("installed")
			if tc.payload != nil {
				tc.payload(p)
			}
			res := h.lifecycle(attacker, "installed", p, tc.opts)
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.wantStatus, readBody(res))
			}
			after := h.stored(victim.clientKey)
			if after.SharedSecret != before.SharedSecret || after.BaseURL != before.BaseURL || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Error("a refused install changed the stored tenant")
			}
			// And a fresh tenant cannot be created that way either.
			fresh := jiraTenant("fresh-" + tc.name)
			fresh.clientKey = "client-fresh"
			fp := fresh.payload("installed")
			if tc.payload != nil {
				tc.payload(fp)
			}
			o := tc.opts
			if o.iss != "" {
				o.iss = "client-not-fresh"
			}
			h.lifecycle(fresh, "installed", fp, o)
			if h.stored("client-fresh") != nil {
				t.Error("a refused install created a tenant")
			}
		})
	}
}

func TestInstallKeyServerDown(t *testing.T) {
	h := newHarness(t)
	h.keysDown.Store(true)
	tn := jiraTenant("acme")
	res := h.lifecycle(tn, "installed", tn.payload("installed"), installOpts{})
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 so the host retries", res.StatusCode)
	}
	if h.stored(tn.clientKey) != nil {
		t.Fatal("stored a tenant without a verified signature")
	}
	h.keysDown.Store(false)
	h.install(tn)
}

func TestReplayedOlderInstall(t *testing.T) {
	h := newHarness(t)
	tn := jiraTenant("acme")
	h.install(tn)
	// Forge nothing: re-send a validly signed install whose iat is older than
	// the stored one (a captured install replayed after a secret rotation).
	priv, _ := rsaKeys(t)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": tn.clientKey, "aud": h.baseURL, "qsh": mustQSH(t, "POST", "/jira/installed", ""),
		"iat": time.Now().Add(-time.Hour).Unix(), "exp": time.Now().Add(time.Minute).Unix(),
	})
	tok.Header["kid"] = installKID
	signed, _ := tok.SignedString(priv)
	old := tn
	old.secret = "old-captured-secret-0123456789abcdef"
	req := jsonRequest(t, "POST", h.baseURL+"/jira/installed", old.payload("installed"))
	req.Header.Set("Authorization", "JWT "+signed)
	if res := h.do(req); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed older install: %d", res.StatusCode)
	}
	if h.stored(tn.clientKey).SharedSecret != tn.secret {
		t.Fatal("an older install replaced the shared secret")
	}
}

func TestEnabledDisabledUninstalled(t *testing.T) {
	h := newHarness(t)
	tn := confluenceTenant("wiki")
	h.install(tn)
	token := h.macroSession(tn, "1", "m1", "user-1")

	send := func(event string, secret string, iss string) int {
		t.Helper()
		path := "/confluence/" + event
		tok := hostToken(t, secret, jwt.MapClaims{
			"iss": iss, "qsh": mustQSH(t, "POST", path, ""),
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
		})
		req := jsonRequest(t, "POST", h.baseURL+path, tn.payload(event))
		req.Header.Set("Authorization", "JWT "+tok)
		return h.do(req).StatusCode
	}
	if got := send("disabled", "wrong-secret-0123456789abcdef0123", tn.clientKey); got != 401 {
		t.Fatalf("disabled with the wrong secret: %d", got)
	}
	if got := send("disabled", tn.secret, "client-other"); got != 401 {
		t.Fatalf("disabled by another issuer: %d", got)
	}
	if got := send("disabled", tn.secret, tn.clientKey); got != 204 {
		t.Fatalf("disabled: %d", got)
	}
	if r := h.api("GET", "/api/secrets", token, nil); r.status != 401 {
		t.Fatalf("API of a disabled tenant: %d", r.status)
	}
	if got := send("enabled", tn.secret, tn.clientKey); got != 204 {
		t.Fatalf("enabled: %d", got)
	}
	if r := h.api("GET", "/api/secrets", token, nil); r.status != 200 {
		t.Fatalf("API of a re-enabled tenant: %d", r.status)
	}
	res := h.lifecycle(tn, "uninstalled", tn.payload("uninstalled"), installOpts{})
	if res.StatusCode != 204 {
		t.Fatalf("uninstalled: %d", res.StatusCode)
	}
	// A late `disabled` does not resurrect the tenant's state.
	if got := send("disabled", tn.secret, tn.clientKey); got != 204 {
		t.Fatalf("late disabled: %d", got)
	}
	if st := h.stored(tn.clientKey).State; st != secrets.StateUninstalled {
		t.Fatalf("state %q after late disabled", st)
	}
	if r := h.api("GET", "/api/secrets", token, nil); r.status != 401 {
		t.Fatalf("API of an uninstalled tenant: %d", r.status)
	}
	// Unsigned uninstall of someone else's tenant is refused.
	h.install(tn)
	if res := h.lifecycle(tn, "uninstalled", tn.payload("uninstalled"), installOpts{noAuth: true}); res.StatusCode != 401 {
		t.Fatalf("unsigned uninstall: %d", res.StatusCode)
	}
	if st := h.stored(tn.clientKey).State; st != secrets.StateInstalled {
		t.Fatalf("state %q after an unsigned uninstall", st)
	}
}
