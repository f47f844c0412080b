package server_test

import (
	"fmt"
	"testing"
)

// The forms learn the site's password and expiry rules from GET
// /api/policy, which every module user may read but nobody without a
// session.
func TestPanelPolicy(t *testing.T) {
	h := newHarness(t)
	jira := jiraTenant("acme")
	h.install(jira)
	user := h.issueSession(jira, "1", "alice")

	r := h.api("GET", "/api/policy", user, nil)
	wantAPI(t, r, 200, "")
	if r.body["minPasswordLength"] != float64(8) || r.body["defaultExpirySeconds"] != float64(0) {
		t.Fatalf("default policy: %s", r.raw)
	}
	if got := fmt.Sprint(r.body["expiryChoicesSeconds"]); got != "[0 86400 604800 2.592e+06 7.776e+06 3.1536e+07]" {
		t.Errorf("choices without a default expiry %s, want never first", got)
	}

	admin := h.adminSession(jira, "admin-1")
	policy := map[string]int{"minPasswordLength": 14, "lockoutThreshold": 5, "lockoutSeconds": 60, "lockoutMaxSeconds": 3600, "unlockTtlSeconds": 600, "defaultExpirySeconds": 2 * 86400}
	wantAPI(t, h.api("PUT", "/api/admin/policy", admin, policy), 200, "")
	r = h.api("GET", "/api/policy", user, nil)
	wantAPI(t, r, 200, "")
	if r.body["minPasswordLength"] != float64(14) || r.body["defaultExpirySeconds"] != float64(172800) {
		t.Fatalf("site policy: %s", r.raw)
	}
	// With a default, "never" is not offered (the engine would give the
	// default anyway) and the default is among the choices, in order.
	if got := fmt.Sprint(r.body["expiryChoicesSeconds"]); got != "[86400 172800 604800 2.592e+06 7.776e+06 3.1536e+07]" {
		t.Errorf("choices with a 2-day default %s", got)
	}
	// The body carries nothing of the lockout rules.
	if _, ok := r.body["lockoutThreshold"]; ok {
		t.Errorf("panel policy reveals lockout rules: %s", r.raw)
	}

	wantAPI(t, h.api("GET", "/api/policy", "", nil), 401, "unauthorized")
	wantAPI(t, h.api("GET", "/api/policy", "not-a-token", nil), 401, "unauthorized")
}

// The Forge Custom UI reads the same rules through its remote, from a
// panel but not from the admin page's module (which has its own route).
func TestPanelPolicyForge(t *testing.T) {
	f := newForgeHarness(t)
	r := f.ui("GET", "/forge/api/policy", panel(alice, "10001"), nil)
	if r.status != 200 || r.body["minPasswordLength"] != float64(8) {
		t.Fatalf("forge panel policy: %d %s", r.status, r.raw)
	}
	if r := f.ui("GET", "/forge/api/policy", adminPage(alice), nil); r.status != 403 {
		t.Errorf("admin module on a UI route: %d %s", r.status, r.raw)
	}
}
