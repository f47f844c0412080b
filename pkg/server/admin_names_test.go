package server_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestAdminAuditNamesSecretsAndPlaces: every audit event names the secret
// by its title (kept after the secret is deleted), links to the issue or
// page it lives on, and the CSV carries the same; the log filters by
// secret and by user.
func TestAdminAuditNamesSecretsAndPlaces(t *testing.T) {
	h := newHarness(t)
	jira, conf := jiraTenant("acme"), confluenceTenant("wiki")
	h.install(jira)
	h.install(conf)
	for _, tc := range []struct {
		tn       tenant
		session  func(sub string) string
		wantLink string
	}{
		{jira, func(sub string) string { return h.issueSession(jira, "7", sub) }, "https://acme.atlassian.net/browse/DEV-7"},
		{conf, func(sub string) string { return h.macroSession(conf, "123", "m1", sub) }, "https://wiki.atlassian.net/wiki/pages/viewpage.action?pageId=123"},
	} {
		t.Run(string(tc.tn.product), func(t *testing.T) {
			alice, bob := tc.session("alice"), tc.session("bob")
			kept := h.newSecret(alice, "Deploy key", "c", "password-1")
			gone := h.newSecret(bob, "Old token", "c", "password-1")
			admin := h.adminSession(tc.tn, "admin-1")
			wantAPI(t, h.api("DELETE", "/api/admin/secrets/"+gone, admin, nil), 204, "")

			r := h.api("GET", "/api/admin/audit", admin, nil)
			wantAPI(t, r, 200, "")
			events := r.body["events"].([]any)
			byType := map[string]map[string]any{}
			for _, e := range events {
				ev := e.(map[string]any)
				byType[ev["type"].(string)+":"+ev["secretId"].(string)] = ev
			}
			if ev := byType["created:"+kept]; ev == nil || ev["title"] != "Deploy key" || ev["link"] != tc.wantLink || ev["accountId"] != "alice" {
				t.Errorf("created event of a kept secret: %v", ev)
			}
			if ev := byType["admin_deleted:"+gone]; ev == nil || ev["title"] != "Old token" || ev["accountId"] != "admin-1" {
				t.Errorf("the admin's delete does not name the deleted secret: %v", ev)
			}

			if r := h.api("GET", "/api/admin/audit?secret="+kept, admin, nil); strings.Count(r.raw, `"seq"`) != 1 || !strings.Contains(r.raw, kept) {
				t.Errorf("filter by secret: %s", r.raw)
			}
			r = h.api("GET", "/api/admin/audit?account=bob", admin, nil)
			if strings.Count(r.raw, `"seq"`) != 1 || !strings.Contains(r.raw, `"title":"Old token"`) {
				t.Errorf("filter by user: %s", r.raw)
			}

			req, _ := http.NewRequest("GET", h.baseURL+"/api/admin/audit.csv?secret="+kept, nil)
			req.Header.Set("Authorization", "JWT "+admin)
			res := h.do(req)
			rows, err := csv.NewReader(res.Body).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("csv: %v %v", err, rows)
			}
			col := func(name string) string { return rows[1][slices.Index(rows[0], name)] }
			if col("secret_title") != "Deploy key" || col("link") != tc.wantLink || col("account_id") != "alice" {
				t.Errorf("csv row %v (header %v)", rows[1], rows[0])
			}
		})
	}
}

// TestAdminLockoutsPerUser: the admin sees who is locked out of a secret
// and until when, resets one user, and the other stays locked out. Bad
// requests change nothing.
func TestAdminLockoutsPerUser(t *testing.T) {
	h := newHarness(t)
	jira := jiraTenant("acme")
	h.install(jira)
	alice, bob := h.issueSession(jira, "1", "alice"), h.issueSession(jira, "1", "bob")
	id := h.newSecret(alice, "Shared", "c", "password-1")
	for _, s := range []string{alice, bob} {
		for range 5 {
			h.api("POST", "/api/secrets/"+id+"/unlock", s, map[string]string{"password": "wrong-password"})
		}
	}
	admin := h.adminSession(jira, "admin-1")
	lockouts := func() map[string]map[string]any {
		t.Helper()
		r := h.api("GET", "/api/admin/secrets/"+id+"/lockouts", admin, nil)
		wantAPI(t, r, 200, "")
		out := map[string]map[string]any{}
		for _, l := range r.body["lockouts"].([]any) {
			m := l.(map[string]any)
			acc, _ := m["accountId"].(string)
			out[acc] = m
		}
		return out
	}
	got := lockouts()
	for _, who := range []string{"alice", "bob"} {
		if l := got[who]; l == nil || l["failures"] != float64(5) || l["lockedUntil"] == nil {
			t.Errorf("%s's lockout: %v (all: %v)", who, l, got)
		}
	}

	for name, tc := range map[string]struct {
		path, body string
		status     int
		code       string
	}{
		"no account":       {"/api/admin/secrets/" + id + "/lockouts/reset", `{}`, 400, "invalid"},
		"empty account":    {"/api/admin/secrets/" + id + "/lockouts/reset", `{"accountId":""}`, 400, "invalid"},
		"not json":         {"/api/admin/secrets/" + id + "/lockouts/reset", `accountId=alice`, 400, "invalid"},
		"unknown secret":   {"/api/admin/secrets/AAAAAAAAAAAAAAAAAAAAAA/lockouts/reset", `{"accountId":"alice"}`, 404, "not_found"},
		"account too long": {"/api/admin/secrets/" + id + "/lockouts/reset", `{"accountId":"` + strings.Repeat("a", 300) + `"}`, 400, "invalid"},
	} {
		t.Run(name, func(t *testing.T) {
			r := h.api("POST", tc.path, admin, tc.body)
			if r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
		})
	}
	if got := lockouts(); len(got) != 2 {
		t.Fatalf("a refused reset changed the lockouts: %v", got)
	}
	// A regular user cannot see or reset lockouts, even with an admin-page session.
	wantAPI(t, h.api("GET", "/api/admin/secrets/"+id+"/lockouts", h.adminSession(jira, "alice"), nil), 403, "forbidden")
	wantAPI(t, h.api("POST", "/api/admin/secrets/"+id+"/lockouts/reset", h.adminSession(jira, "alice"), map[string]string{"accountId": "alice"}), 403, "forbidden")

	wantAPI(t, h.api("POST", "/api/admin/secrets/"+id+"/lockouts/reset", admin, map[string]string{"accountId": "alice"}), 204, "")
	got = lockouts()
	if got["alice"] != nil || got["bob"] == nil {
		t.Errorf("after resetting alice: %v", got)
	}
	h.unlock(alice, id, "password-1")
	wantAPI(t, h.api("POST", "/api/secrets/"+id+"/unlock", bob, map[string]string{"password": "password-1"}), 429, "locked")

	r := h.api("GET", "/api/admin/audit?type=lockout_reset", admin, nil)
	if !strings.Contains(r.raw, `"subject":"alice"`) || !strings.Contains(r.raw, `"accountId":"admin-1"`) {
		t.Errorf("the reset is not audited with its subject: %s", r.raw)
	}
}
