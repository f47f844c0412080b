package server_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"strings"
	"testing"
)

func (h *harness) adminSession(tn tenant, sub string) string {
	return h.session(tn, "/"+string(tn.product)+"/admin", hostParams, sub)
}

// TestAdminSeesAndManages: a site admin lists every secret of the site,
// reads the audit log, resets a lockout and deletes without the password —
// on Jira and on Confluence — and never sees content.
func TestAdminSeesAndManages(t *testing.T) {
	h := newHarness(t)
	jira, conf := jiraTenant("acme"), confluenceTenant("wiki")
	h.install(jira)
	h.install(conf)
	for _, tc := range []struct {
		tn   tenant
		user func(n string) string
	}{
		{jira, func(n string) string { return h.issueSession(jira, n, "alice") }},
		{conf, func(n string) string { return h.macroSession(conf, n, "macro-"+n, "alice") }},
	} {
		t.Run(string(tc.tn.product), func(t *testing.T) {
			s1, s2 := tc.user("1"), tc.user("2")
			id1 := h.newSecret(s1, "first", "CONTENT-MARKER-1", "password-1")
			id2 := h.newSecret(s2, "second", "CONTENT-MARKER-2", "password-1")
			for range 5 {
				h.api("POST", "/api/secrets/"+id1+"/unlock", s1, map[string]string{"password": "wrong-password"})
			}
			wantAPI(t, h.api("POST", "/api/secrets/"+id1+"/unlock", s1, map[string]string{"password": "password-1"}), 429, "locked")

			admin := h.adminSession(tc.tn, "admin-1")
			r := h.api("GET", "/api/admin/secrets", admin, nil)
			wantAPI(t, r, 200, "")
			if strings.Contains(r.raw, "CONTENT-MARKER") {
				t.Fatal("admin list reveals content")
			}
			if r.body["total"] != float64(2) || !strings.Contains(r.raw, id1) || !strings.Contains(r.raw, id2) {
				t.Fatalf("admin list: %s", r.raw)
			}
			if !strings.Contains(r.raw, `"locked":true`) || !strings.Contains(r.raw, `"failedAttempts":5`) {
				t.Errorf("lockout not shown: %s", r.raw)
			}
			if r := h.api("GET", "/api/admin/secrets?q=SECOND", admin, nil); r.body["total"] != float64(1) {
				t.Errorf("search: %s", r.raw)
			}

			wantAPI(t, h.api("POST", "/api/admin/secrets/"+id1+"/reset-lockout", admin, nil), 204, "")
			h.unlock(s1, id1, "password-1")

			wantAPI(t, h.api("DELETE", "/api/admin/secrets/"+id2, admin, nil), 204, "")
			wantAPI(t, h.api("POST", "/api/secrets/"+id2+"/unlock", s2, map[string]string{"password": "password-1"}), 404, "not_found")

			r = h.api("GET", "/api/admin/audit", admin, nil)
			wantAPI(t, r, 200, "")
			for _, ev := range []string{"created", "unlock_failed", "locked_out", "lockout_reset", "unlocked", "admin_deleted"} {
				if !strings.Contains(r.raw, `"type":"`+ev+`"`) {
					t.Errorf("audit lacks %s: %s", ev, r.raw)
				}
			}
			if strings.Contains(r.raw, "CONTENT-MARKER") || strings.Contains(r.raw, "password-1") {
				t.Fatal("audit reveals content or a password")
			}
			if r := h.api("GET", "/api/admin/audit?type=admin_deleted", admin, nil); strings.Count(r.raw, `"seq"`) != 1 {
				t.Errorf("filtered audit: %s", r.raw)
			}
			if r := h.api("GET", "/api/admin/audit?limit=2", admin, nil); strings.Count(r.raw, `"seq"`) != 2 || r.body["next"] == nil {
				t.Errorf("paged audit: %s", r.raw)
			}

			req, _ := http.NewRequest("GET", h.baseURL+"/api/admin/audit.csv", nil)
			req.Header.Set("Authorization", "JWT "+admin)
			res := h.do(req)
			rows, err := csv.NewReader(res.Body).ReadAll()
			if err != nil || res.StatusCode != 200 || len(rows) < 8 || rows[0][2] != "type" {
				t.Fatalf("csv: %d %v %v", res.StatusCode, err, rows)
			}

			for _, c := range h.host.recorded() {
				if !c.qshMatched || (c.issuer != jiraKey && c.issuer != confluenceKey) {
					t.Errorf("outgoing call %s %s: qsh matched %v, iss %q", c.method, c.path, c.qshMatched, c.issuer)
				}
			}
		})
	}
	if len(h.host.recorded()) == 0 {
		t.Fatal("the server never asked the host")
	}
	var sawJira, sawConfluence bool
	for _, c := range h.host.recorded() {
		sawJira = sawJira || c.path == "/rest/api/3/permissions/check" && c.issuer == jiraKey
		sawConfluence = sawConfluence || c.path == "/wiki/rest/api/user" && c.issuer == confluenceKey
	}
	if !sawJira || !sawConfluence {
		t.Errorf("admin checks: jira %v confluence %v", sawJira, sawConfluence)
	}
}

// TestAdminRoutesRefuseNonAdmins: a valid admin-page session of a user the
// host says is not an admin gets 403 on every admin route; so does a panel
// session of an admin.
func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	h := newHarness(t)
	jira, conf := jiraTenant("acme"), confluenceTenant("wiki")
	h.install(jira)
	h.install(conf)
	id := h.newSecret(h.issueSession(jira, "1", "alice"), "t", "c", "password-1")
	routes := []struct{ method, path, body string }{
		{"GET", "/api/admin/secrets", ""},
		{"DELETE", "/api/admin/secrets/" + id, ""},
		{"POST", "/api/admin/secrets/" + id + "/reset-lockout", ""},
		{"GET", "/api/admin/policy", ""},
		{"PUT", "/api/admin/policy", `{"minPasswordLength":8,"lockoutThreshold":5,"lockoutSeconds":60,"lockoutMaxSeconds":3600,"unlockTtlSeconds":600,"defaultExpirySeconds":0}`},
		{"GET", "/api/admin/audit", ""},
		{"GET", "/api/admin/audit.csv", ""},
	}
	for name, tok := range map[string]string{
		"jira non-admin on the admin page":       h.adminSession(jira, "alice"),
		"confluence non-admin on the admin page": h.adminSession(conf, "alice"),
		"admin with a panel session":             h.issueSession(jira, "1", "admin-1"),
	} {
		for _, rt := range routes {
			t.Run(name+" "+rt.method+" "+rt.path, func(t *testing.T) {
				var body any
				if rt.body != "" {
					body = rt.body
				}
				wantAPI(t, h.api(rt.method, rt.path, tok, body), 403, "forbidden")
			})
		}
	}
	// Nothing changed.
	if r := h.api("GET", "/api/admin/secrets", h.adminSession(jira, "admin-1"), nil); r.body["total"] != float64(1) {
		t.Fatalf("after refused calls: %s", r.raw)
	}
}

// TestPolicyTakesEffect: a longer minimum refuses shorter passwords; a lower
// lockout threshold locks sooner.
func TestPolicyTakesEffect(t *testing.T) {
	h := newHarness(t)
	jira := jiraTenant("acme")
	h.install(jira)
	admin := h.adminSession(jira, "admin-1")
	r := h.api("GET", "/api/admin/policy", admin, nil)
	wantAPI(t, r, 200, "")
	if r.body["minPasswordLength"] != float64(8) || r.body["lockoutThreshold"] != float64(5) {
		t.Fatalf("default policy: %s", r.raw)
	}
	policy := map[string]int{"minPasswordLength": 12, "lockoutThreshold": 2, "lockoutSeconds": 120, "lockoutMaxSeconds": 3600, "unlockTtlSeconds": 300, "defaultExpirySeconds": 0}
	wantAPI(t, h.api("PUT", "/api/admin/policy", admin, policy), 200, "")

	user := h.issueSession(jira, "1", "alice")
	wantAPI(t, h.api("POST", "/api/secrets", user, map[string]string{"title": "t", "content": "c", "password": "elevenchars"}), 400, "invalid")
	id := h.newSecret(user, "t", "c", "twelve-chars")
	wantAPI(t, h.api("POST", "/api/secrets/"+id+"/unlock", user, map[string]string{"password": "wrong-password"}), 403, "wrong_password")
	wantAPI(t, h.api("POST", "/api/secrets/"+id+"/unlock", user, map[string]string{"password": "wrong-password"}), 403, "wrong_password")
	r = h.api("POST", "/api/secrets/"+id+"/unlock", user, map[string]string{"password": "twelve-chars"})
	wantAPI(t, r, 429, "locked")
	if ra := r.header.Get("Retry-After"); ra != "120" {
		t.Errorf("Retry-After %q, want 120", ra)
	}

	for name, bad := range map[string]map[string]int{
		"minimum below 8":  {"minPasswordLength": 4, "lockoutThreshold": 2, "lockoutSeconds": 120, "lockoutMaxSeconds": 3600, "unlockTtlSeconds": 300, "defaultExpirySeconds": 0},
		"no lockout":       {"minPasswordLength": 8, "lockoutThreshold": 0, "lockoutSeconds": 120, "lockoutMaxSeconds": 3600, "unlockTtlSeconds": 300, "defaultExpirySeconds": 0},
		"max below base":   {"minPasswordLength": 8, "lockoutThreshold": 5, "lockoutSeconds": 120, "lockoutMaxSeconds": 60, "unlockTtlSeconds": 300, "defaultExpirySeconds": 0},
		"missing field":    {"minPasswordLength": 8},
		"negative seconds": {"minPasswordLength": 8, "lockoutThreshold": 5, "lockoutSeconds": -1, "lockoutMaxSeconds": 60, "unlockTtlSeconds": 300, "defaultExpirySeconds": 0},
	} {
		t.Run(name, func(t *testing.T) {
			wantAPI(t, h.api("PUT", "/api/admin/policy", admin, bad), 400, "invalid")
		})
	}
	if r := h.api("GET", "/api/admin/policy", admin, nil); r.body["minPasswordLength"] != float64(12) {
		t.Fatalf("a refused policy changed the stored one: %s", r.raw)
	}
}

func TestCSVCellsDefused(t *testing.T) {
	h := newHarness(t)
	jira := jiraTenant("acme")
	h.install(jira)
	// The issue key is the secret's location label; a hostile one must not
	// become a spreadsheet formula.
	user := h.session(jira, "/jira/panel", "issueId=1&issueKey=%3DHYPERLINK(1)&projectId=1&projectKey=P&"+hostParams, "alice")
	h.newSecret(user, "t", "c", "password-1")
	req, _ := http.NewRequest("GET", h.baseURL+"/api/admin/audit.csv", nil)
	req.Header.Set("Authorization", "JWT "+h.adminSession(jira, "admin-1"))
	b, _ := io.ReadAll(h.do(req).Body)
	if !strings.Contains(string(b), "'=HYPERLINK(1)") {
		t.Fatalf("formula not defused:\n%s", b)
	}
}
