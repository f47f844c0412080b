package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
)

// onPostgres puts the server's engine on PostgreSQL ($SECRETS_TEST_POSTGRES;
// without it the test fails, never skips) instead of the harness's bbolt.
func onPostgres(t *testing.T) func(*harness, *server.Deps) {
	return func(h *harness, d *server.Deps) {
		kr, err := seal.ParseKeyring([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"))
		if err != nil {
			t.Fatal(err)
		}
		kdf, err := seal.NewKDF(4*int64(seal.MinKDFParams.Memory)*1024, seal.MinKDFParams)
		if err != nil {
			t.Fatal(err)
		}
		e := engine.New(pgtest.MustOpenTest(t), kr, kdf, secrets.DefaultPolicy())
		h.installs, h.secretSvc = e, e
		d.Installations, d.Secrets, d.Admin = e, e, e
	}
}

// secretExpiry reads a secret's self-destruct time from the list, as every
// viewer of the container sees it; zero when it has none.
func (h *harness) secretExpiry(t *testing.T, token, id string) time.Time {
	t.Helper()
	r := h.api("GET", "/api/secrets", token, nil)
	wantAPI(t, r, 200, "")
	for _, m := range r.body["secrets"].([]any) {
		m := m.(map[string]any)
		if m["id"] != id {
			continue
		}
		s, _ := m["expiresAt"].(string)
		if s == "" {
			return time.Time{}
		}
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatalf("expiresAt %q: %v", s, err)
		}
		return at
	}
	t.Fatalf("secret %s not listed: %s", id, r.raw)
	return time.Time{}
}

// TestUpdateExpiry: an edit may set a secret's expiry to a time within the
// site's choices or, where the site has no default expiry, remove it; an
// edit without expiresAt keeps it; a past, too distant or malformed expiry,
// or "never" under a default expiry, is a 400 that changes nothing (title,
// content, version and expiry stay as they were).
func TestUpdateExpiry(t *testing.T) {
	stores := map[string][]func(*harness, *server.Deps){"bolt": nil, "postgres": {onPostgres(t)}}
	for name, opts := range stores {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, opts...)
			jira := jiraTenant("acme")
			h.install(jira)
			tok := h.issueSession(jira, "1", "alice")
			id := h.newSecret(tok, "Prod DB", "hunter2", "password-1")
			ut := h.unlock(tok, id, "password-1").str("unlockToken")
			put := func(body map[string]any) apiResult {
				return h.api("PUT", "/api/secrets/"+id, tok, body, "X-Unlock-Token", ut)
			}
			version := 1
			edit := func(expiresAt any, set bool) apiResult {
				b := map[string]any{"title": "Prod DB", "content": "hunter2", "version": version}
				if set {
					b["expiresAt"] = expiresAt
				}
				r := put(b)
				if r.status == http.StatusOK {
					version++
					ut = r.str("unlockToken")
				}
				return r
			}

			in7 := time.Now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Second)
			r := edit(in7.Format(time.RFC3339), true)
			wantAPI(t, r, 200, "")
			if got := r.str("secretExpiresAt"); got != in7.Format(time.RFC3339) {
				t.Errorf("answer's secretExpiresAt %q, want %s", got, in7.Format(time.RFC3339))
			}
			if got := h.secretExpiry(t, tok, id); !got.Equal(in7) {
				t.Fatalf("listed expiry %v, want %v", got, in7)
			}

			// Absent: unchanged.
			wantAPI(t, edit(nil, false), 200, "")
			if got := h.secretExpiry(t, tok, id); !got.Equal(in7) {
				t.Errorf("an edit without expiresAt changed the expiry to %v", got)
			}

			// Refused, and nothing changes: not the expiry, nor the title
			// and content sent along, nor the version.
			bad := map[string]any{
				"past":           time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
				"beyond choices": time.Now().Add(2 * 365 * 24 * time.Hour).UTC().Format(time.RFC3339),
				"not a time":     "next tuesday",
				"a number":       86400,
				"no zone":        "2030-01-01T00:00:00",
			}
			for what, v := range bad {
				r := put(map[string]any{"title": "Changed", "content": "changed", "version": version, "expiresAt": v})
				if r.status != 400 || r.code() != "invalid" {
					t.Errorf("%s expiry: %d %s, want 400 invalid", what, r.status, r.raw)
				}
			}
			if got := h.secretExpiry(t, tok, id); !got.Equal(in7) {
				t.Errorf("a refused edit changed the expiry to %v", got)
			}
			open := h.unlock(tok, id, "password-1")
			if open.str("title") != "Prod DB" || open.str("content") != "hunter2" || open.body["version"] != float64(version) {
				t.Errorf("a refused edit changed the secret: %s", open.raw)
			}

			// Without a default expiry, null and "never" remove it.
			for _, never := range []any{nil, "never"} {
				wantAPI(t, edit(in7.Format(time.RFC3339), true), 200, "")
				r := edit(never, true)
				wantAPI(t, r, 200, "")
				if _, ok := r.body["secretExpiresAt"]; ok {
					t.Errorf("expiresAt %v: answer still names an expiry: %s", never, r.raw)
				}
				if got := h.secretExpiry(t, tok, id); !got.IsZero() {
					t.Errorf("expiresAt %v: listed expiry %v, want none", never, got)
				}
			}

			// Under a 2-day default every secret must expire: "never" is
			// refused, a choice within the policy is not.
			admin := h.adminSession(jira, "admin-1")
			policy := map[string]int{"minPasswordLength": 8, "lockoutThreshold": 5, "lockoutSeconds": 60, "lockoutMaxSeconds": 3600, "unlockTtlSeconds": 600, "defaultExpirySeconds": 2 * 86400}
			wantAPI(t, h.api("PUT", "/api/admin/policy", admin, policy), 200, "")
			for _, never := range []any{nil, "never"} {
				r := put(map[string]any{"title": "Prod DB", "content": "hunter2", "version": version, "expiresAt": never})
				if r.status != 400 || r.code() != "invalid" {
					t.Errorf("expiresAt %v under a default expiry: %d %s, want 400 invalid", never, r.status, r.raw)
				}
			}
			if got := h.secretExpiry(t, tok, id); !got.IsZero() {
				t.Errorf("a refused never changed the expiry to %v", got)
			}
			in1 := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
			wantAPI(t, edit(in1.Format(time.RFC3339), true), 200, "")
			if got := h.secretExpiry(t, tok, id); !got.Equal(in1) {
				t.Errorf("listed expiry %v, want %v", got, in1)
			}

			// Another user's session cannot use alice's unlock to change it.
			bob := h.issueSession(jira, "1", "bob")
			r = h.api("PUT", "/api/secrets/"+id, bob, map[string]any{"title": "Prod DB", "content": "hunter2", "version": version, "expiresAt": in7.Format(time.RFC3339)}, "X-Unlock-Token", ut)
			if r.status < 400 || r.status >= 500 {
				t.Errorf("bob with alice's unlock token: %d %s, want a 4xx", r.status, r.raw)
			}
			if got := h.secretExpiry(t, tok, id); !got.Equal(in1) {
				t.Errorf("bob's refused edit changed the expiry to %v", got)
			}
		})
	}
}

// TestUpdateExpiryForge: the Forge remote's edit route takes the same
// expiresAt, and refuses a past one the same way.
func TestUpdateExpiryForge(t *testing.T) {
	f := newForgeHarness(t)
	as := panel(alice, "10001")
	c := f.ui("POST", "/forge/api/secrets", as, map[string]any{"title": "t", "content": "c", "password": "correct horse battery"})
	if c.status != http.StatusCreated {
		t.Fatalf("create: %d %s", c.status, c.raw)
	}
	base := "/forge/api/secrets/" + c.str("id")
	u := f.ui("POST", base+"/unlock", as, map[string]any{"password": "correct horse battery"})
	if u.status != http.StatusOK {
		t.Fatalf("unlock: %d %s", u.status, u.raw)
	}
	tok := u.str("unlockToken")
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if r := f.ui("PUT", base, as, map[string]any{"title": "t", "content": "c", "version": 1, "expiresAt": past}, "X-Unlock-Token", tok); r.status != 400 || r.code() != "invalid" {
		t.Errorf("past expiry over Forge: %d %s, want 400 invalid", r.status, r.raw)
	}
	in30 := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	r := f.ui("PUT", base, as, map[string]any{"title": "t", "content": "c", "version": 1, "expiresAt": in30}, "X-Unlock-Token", tok)
	if r.status != http.StatusOK || r.str("secretExpiresAt") != in30 {
		t.Fatalf("expiry over Forge: %d %s, want secretExpiresAt %s", r.status, r.raw, in30)
	}
	list := f.ui("GET", "/forge/api/secrets", as, nil)
	if got := list.body["secrets"].([]any)[0].(map[string]any)["expiresAt"]; got != in30 {
		t.Errorf("Forge list expiry %v, want %s", got, in30)
	}
}
