package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// newSecret creates a secret through the API and returns its id.
func (h *harness) newSecret(token, title, content, password string) string {
	h.t.Helper()
	r := h.api("POST", "/api/secrets", token, map[string]string{"title": title, "content": content, "password": password})
	if r.status != http.StatusCreated {
		h.t.Fatalf("create: %d %s", r.status, r.raw)
	}
	return r.str("id")
}

// unlock unlocks a secret through the API and returns its unlock token.
func (h *harness) unlock(token, id, password string) apiResult {
	h.t.Helper()
	r := h.api("POST", "/api/secrets/"+id+"/unlock", token, map[string]string{"password": password})
	if r.status != http.StatusOK {
		h.t.Fatalf("unlock: %d %s", r.status, r.raw)
	}
	return r
}

func wantAPI(t *testing.T, r apiResult, status int, code string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), status, code, r.raw)
	}
}

// TestListPaging: the list comes in pages of `limit`, each naming the next,
// until all are shown once, oldest first.
func TestListPaging(t *testing.T) {
	h := newHarness(t)
	a := jiraTenant("acme")
	h.install(a)
	tok := h.issueSession(a, "1", "alice")
	var want []string
	for i := range 5 {
		want = append(want, h.newSecret(tok, "secret "+string(rune('a'+i)), "c", "password-1"))
	}
	var got []string
	pages := 0
	for path := "/api/secrets?limit=2"; path != ""; pages++ {
		r := h.api("GET", path, tok, nil)
		wantAPI(t, r, 200, "")
		for _, m := range r.body["secrets"].([]any) {
			got = append(got, m.(map[string]any)["id"].(string))
		}
		path = ""
		if next := r.str("next"); next != "" {
			path = "/api/secrets?limit=2&after=" + next
		}
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%d pages gave %v, want 3 pages of %v", pages, got, want)
	}
	if r := h.api("GET", "/api/secrets", tok, nil); r.body["next"] != nil || len(r.body["secrets"].([]any)) != 5 {
		t.Fatalf("default page: %s", r.raw)
	}
}

// TestAPIFlow walks a user through every operation, in a Jira issue and in
// a Confluence macro.
func TestAPIFlow(t *testing.T) {
	h := newHarness(t)
	jira, conf := jiraTenant("acme"), confluenceTenant("wiki")
	h.install(jira)
	h.install(conf)
	for name, token := range map[string]string{
		"jira issue":       h.issueSession(jira, "10001", "alice"),
		"confluence macro": h.macroSession(conf, "555", "macro-1", "alice"),
	} {
		t.Run(name, func(t *testing.T) {
			r := h.api("POST", "/api/secrets", token, map[string]string{"title": "Prod DB", "content": "s3cr3t-body", "password": "correct horse"})
			wantAPI(t, r, 201, "")
			id := r.str("id")
			if r.body["version"] != float64(1) || r.str("createdBy") != "alice" || r.body["content"] != nil {
				t.Fatalf("created %s", r.raw)
			}

			r = h.api("GET", "/api/secrets", token, nil)
			wantAPI(t, r, 200, "")
			if !strings.Contains(r.raw, "Prod DB") || strings.Contains(r.raw, "s3cr3t-body") {
				t.Fatalf("list shows %s", r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Error("API response is cacheable")
			}

			wantAPI(t, h.api("POST", "/api/secrets/"+id+"/unlock", token, map[string]string{"password": "wrong horse"}), 403, "wrong_password")

			u := h.unlock(token, id, "correct horse")
			if u.str("content") != "s3cr3t-body" || u.str("unlockToken") == "" || u.str("expiresAt") == "" {
				t.Fatalf("unlock: %s", u.raw)
			}
			if u.header.Get("Cache-Control") != "no-store" {
				t.Error("unlocked content is cacheable")
			}
			ut := u.str("unlockToken")

			r = h.api("PUT", "/api/secrets/"+id, token, map[string]any{"title": "Prod DB", "content": "new body", "version": 1}, "X-Unlock-Token", ut)
			wantAPI(t, r, 200, "")
			if r.body["version"] != float64(2) || r.str("unlockToken") == "" {
				t.Fatalf("edit: %s", r.raw)
			}
			ut2 := r.str("unlockToken")
			wantAPI(t, h.api("PUT", "/api/secrets/"+id, token, map[string]any{"title": "x", "content": "stale", "version": 1}, "X-Unlock-Token", ut2), 409, "conflict")

			wantAPI(t, h.api("PUT", "/api/secrets/"+id+"/password", token, map[string]string{"password": "short"}, "X-Unlock-Token", ut2), 400, "invalid")
			r = h.api("PUT", "/api/secrets/"+id+"/password", token, map[string]string{"password": "battery staple"}, "X-Unlock-Token", ut2)
			wantAPI(t, r, 200, "")
			// The change hands back a token for the new password; the old
			// password's token (the caller's included) is dead.
			if r.str("unlockToken") == "" || r.str("unlockToken") == ut2 {
				t.Fatalf("password change: %s", r.raw)
			}
			wantAPI(t, h.api("PUT", "/api/secrets/"+id, token, map[string]any{"title": "x", "content": "y", "version": 2}, "X-Unlock-Token", ut2), 403, "unlock_required")
			wantAPI(t, h.api("POST", "/api/secrets/"+id+"/unlock", token, map[string]string{"password": "correct horse"}), 403, "wrong_password")
			u = h.unlock(token, id, "battery staple")
			if u.str("content") != "new body" {
				t.Fatalf("after password change: %s", u.raw)
			}
			ut3 := u.str("unlockToken")

			wantAPI(t, h.api("POST", "/api/secrets/"+id+"/lock", token, nil, "X-Unlock-Token", ut3), 204, "")
			wantAPI(t, h.api("DELETE", "/api/secrets/"+id, token, nil, "X-Unlock-Token", ut3), 403, "unlock_required")

			ut4 := h.unlock(token, id, "battery staple").str("unlockToken")
			wantAPI(t, h.api("DELETE", "/api/secrets/"+id, token, nil, "X-Unlock-Token", ut4), 204, "")
			wantAPI(t, h.api("POST", "/api/secrets/"+id+"/unlock", token, map[string]string{"password": "battery staple"}), 404, "not_found")
		})
	}
}

func TestAPIIsolation(t *testing.T) {
	h := newHarness(t)
	a, b, c := jiraTenant("tenant-a"), jiraTenant("tenant-b"), confluenceTenant("wiki")
	h.install(a)
	h.install(b)
	h.install(c)
	alice := h.issueSession(a, "1", "alice")
	id := h.newSecret(alice, "t", "c", "password-1")
	ut := h.unlock(alice, id, "password-1").str("unlockToken")

	t.Run("another user cannot use the unlock token", func(t *testing.T) {
		bob := h.issueSession(a, "1", "bob")
		wantAPI(t, h.api("PUT", "/api/secrets/"+id, bob, map[string]any{"title": "x", "content": "y", "version": 1}, "X-Unlock-Token", ut), 403, "unlock_required")
		wantAPI(t, h.api("PUT", "/api/secrets/"+id+"/password", bob, map[string]string{"password": "password-2"}, "X-Unlock-Token", ut), 403, "unlock_required")
		wantAPI(t, h.api("DELETE", "/api/secrets/"+id, bob, nil, "X-Unlock-Token", ut), 403, "unlock_required")
	})
	for name, token := range map[string]string{
		"tenant B":      h.issueSession(b, "1", "alice"),
		"issue Y":       h.issueSession(a, "2", "alice"),
		"a macro":       h.macroSession(c, "1", "m", "alice"),
		"an admin page": h.session(a, "/jira/admin", hostParams, "alice"),
	} {
		t.Run("secret is 404 through "+name, func(t *testing.T) {
			wantAPI(t, h.api("POST", "/api/secrets/"+id+"/unlock", token, map[string]string{"password": "password-1"}), 404, "not_found")
			wantAPI(t, h.api("DELETE", "/api/secrets/"+id, token, nil, "X-Unlock-Token", ut), 404, "not_found")
			if r := h.api("GET", "/api/secrets", token, nil); strings.Contains(r.raw, id) {
				t.Errorf("listed: %s", r.raw)
			}
		})
	}
	t.Run("two macros on one page", func(t *testing.T) {
		m1 := h.macroSession(c, "9", "m1", "alice")
		m2 := h.macroSession(c, "9", "m2", "alice")
		id1 := h.newSecret(m1, "in m1", "c", "password-1")
		if r := h.api("GET", "/api/secrets", m2, nil); strings.Contains(r.raw, id1) {
			t.Errorf("macro 2 lists macro 1's secret: %s", r.raw)
		}
		wantAPI(t, h.api("POST", "/api/secrets/"+id1+"/unlock", m2, map[string]string{"password": "password-1"}), 404, "not_found")
	})
}

func TestAPIBruteForce(t *testing.T) {
	h := newHarness(t)
	a := jiraTenant("acme")
	h.install(a)
	alice := h.issueSession(a, "1", "alice")
	bob := h.issueSession(a, "1", "bob")
	id := h.newSecret(alice, "t", "c", "right-password")
	for i := range 5 {
		r := h.api("POST", "/api/secrets/"+id+"/unlock", alice, map[string]string{"password": "wrong-password"})
		wantAPI(t, r, 403, "wrong_password")
		if left := r.body["error"].(map[string]any)["attemptsLeft"]; left != float64(4-i) {
			t.Errorf("attempt %d: attemptsLeft %v", i+1, left)
		}
	}
	r := h.api("POST", "/api/secrets/"+id+"/unlock", alice, map[string]string{"password": "right-password"})
	wantAPI(t, r, 429, "locked")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	h.unlock(bob, id, "right-password")
}

func TestAPIAuth(t *testing.T) {
	h := newHarness(t)
	a := jiraTenant("acme")
	h.install(a)
	session := h.issueSession(a, "1", "alice")
	hostTok := strings.TrimPrefix(strings.SplitN(h.moduleURL(a, "GET", "/api/secrets", "", "alice"), "jwt=", 2)[1], "")
	for name, auth := range map[string]string{
		"no token":           "",
		"host token":         hostTok,
		"garbage":            "not.a.token",
		"tampered session":   session[:len(session)-2] + "xx",
		"session as Bearer":  "",
		"host context token": hostToken(t, a.secret, map[string]any{"iss": a.clientKey, "sub": "alice", "qsh": "context-qsh", "exp": 9999999999, "context": map[string]any{"jira": map[string]any{"issue": map[string]any{"id": "1"}}}}),
	} {
		t.Run(name, func(t *testing.T) {
			r := h.api("GET", "/api/secrets", auth, nil)
			if name == "session as Bearer" {
				r = h.api("GET", "/api/secrets", "", nil, "Authorization", "Bearer "+session)
			}
			wantAPI(t, r, 401, "unauthorized")
		})
	}
}

// TestAPIBadInput: malformed requests are 4xx JSON errors and store nothing.
func TestAPIBadInput(t *testing.T) {
	h := newHarness(t)
	a := jiraTenant("acme")
	h.install(a)
	tok := h.issueSession(a, "1", "alice")
	id := h.newSecret(tok, "existing", "c", "password-1")
	huge := strings.Repeat("x", 1<<20)
	cases := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		code               string
	}{
		{"malformed JSON", "POST", "/api/secrets", `{"title":`, nil, 400, "invalid"},
		{"not an object", "POST", "/api/secrets", `[1,2]`, nil, 400, "invalid"},
		{"two objects", "POST", "/api/secrets", `{"title":"a","content":"b","password":"password-1"}{}`, nil, 400, "invalid"},
		{"wrong type", "POST", "/api/secrets", `{"title":5,"content":"b","password":"password-1"}`, nil, 400, "invalid"},
		{"unknown field", "POST", "/api/secrets", `{"title":"a","content":"b","password":"password-1","admin":true}`, nil, 400, "invalid"},
		{"missing password", "POST", "/api/secrets", `{"title":"a","content":"b"}`, nil, 400, "invalid"},
		{"null title", "POST", "/api/secrets", `{"title":null,"content":"b","password":"password-1"}`, nil, 400, "invalid"},
		{"empty title", "POST", "/api/secrets", map[string]string{"title": "", "content": "b", "password": "password-1"}, nil, 400, "invalid"},
		{"huge title", "POST", "/api/secrets", map[string]string{"title": strings.Repeat("t", 201), "content": "b", "password": "password-1"}, nil, 400, "invalid"},
		{"content over 128 KiB", "POST", "/api/secrets", map[string]string{"title": "t", "content": strings.Repeat("c", 128<<10+1), "password": "password-1"}, nil, 400, "invalid"},
		{"oversize body", "POST", "/api/secrets", `{"title":"t","content":"` + huge + `","password":"password-1"}`, nil, 413, "too_large"},
		{"short password", "POST", "/api/secrets", map[string]string{"title": "t", "content": "c", "password": "short"}, nil, 400, "invalid"},
		{"bad expiry", "POST", "/api/secrets", `{"title":"t","content":"c","password":"password-1","expiresAt":"tomorrow"}`, nil, 400, "invalid"},
		{"wrong content type", "POST", "/api/secrets", `{"title":"t","content":"c","password":"password-1"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"form content type", "POST", "/api/secrets", `title=t`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"invalid id", "POST", "/api/secrets/..%2F..%2Fetc/unlock", map[string]string{"password": "password-1"}, nil, 404, "not_found"},
		{"unknown id", "POST", "/api/secrets/AAAAAAAAAAAAAAAAAAAAAA/unlock", map[string]string{"password": "password-1"}, nil, 404, "not_found"},
		{"unlock without body", "POST", "/api/secrets/" + id + "/unlock", "", nil, 400, "invalid"},
		{"unlock huge password", "POST", "/api/secrets/" + id + "/unlock", map[string]string{"password": strings.Repeat("p", 2000)}, nil, 400, "invalid"},
		{"unlock oversize body", "POST", "/api/secrets/" + id + "/unlock", map[string]string{"password": strings.Repeat("p", 20000)}, nil, 413, "too_large"},
		{"edit without unlock", "PUT", "/api/secrets/" + id, map[string]any{"title": "t", "content": "c", "version": 1}, nil, 403, "unlock_required"},
		{"edit version as string", "PUT", "/api/secrets/" + id, `{"title":"t","content":"c","version":"1"}`, []string{"X-Unlock-Token", "x"}, 400, "invalid"},
		{"password without unlock", "PUT", "/api/secrets/" + id + "/password", map[string]string{"password": "password-2"}, nil, 403, "unlock_required"},
		{"delete without unlock", "DELETE", "/api/secrets/" + id, nil, nil, 403, "unlock_required"},
		{"delete with a made-up token", "DELETE", "/api/secrets/" + id, nil, []string{"X-Unlock-Token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, 403, "unlock_required"},
		{"list limit zero", "GET", "/api/secrets?limit=0", nil, nil, 400, "invalid"},
		{"list limit too big", "GET", "/api/secrets?limit=501", nil, nil, 400, "invalid"},
		{"list limit not a number", "GET", "/api/secrets?limit=ten", nil, nil, 400, "invalid"},
		{"list made-up cursor", "GET", "/api/secrets?after=bm90LWEtY3Vyc29y", nil, nil, 400, "invalid"},
		{"unknown route", "GET", "/api/nothing", nil, nil, 404, "not_found"},
		{"wrong method", "PATCH", "/api/secrets", nil, nil, 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.api(tc.method, tc.path, tok, tc.body, tc.headers...)
			wantAPI(t, r, tc.status, tc.code)
			if msg, _ := r.body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Error("error without a message")
			}
		})
	}
	r := h.api("GET", "/api/secrets", tok, nil)
	if n := len(r.body["secrets"].([]any)); n != 1 {
		t.Errorf("bad input stored something: %d secrets", n)
	}
	// The secret is untouched.
	if u := h.unlock(tok, id, "password-1"); u.str("content") != "c" || u.body["version"] != float64(1) {
		t.Errorf("after bad input: %s", u.raw)
	}
}

func TestSessionRefresh(t *testing.T) {
	h := newHarness(t)
	a := jiraTenant("acme")
	h.install(a)
	tok := h.issueSession(a, "1", "alice")
	r := h.api("POST", "/api/session/refresh", tok, nil)
	wantAPI(t, r, 200, "")
	fresh := r.str("token")
	if fresh == "" || r.str("expiresAt") == "" {
		t.Fatalf("refresh: %s", r.raw)
	}
	// The fresh token carries the same container.
	id := h.newSecret(tok, "t", "c", "password-1")
	if lr := h.api("GET", "/api/secrets", fresh, nil); !strings.Contains(lr.raw, id) {
		t.Errorf("refreshed session lost its container: %s", lr.raw)
	}
	// Once the site uninstalls the app, a session can no longer be renewed.
	if res := h.lifecycle(a, "uninstalled", a.payload("uninstalled"), installOpts{}); res.StatusCode != 204 {
		t.Fatalf("uninstalled: %d", res.StatusCode)
	}
	wantAPI(t, h.api("POST", "/api/session/refresh", fresh, nil), 401, "unauthorized")
}

// TestListCompression: a client that asks for gzip gets the same list
// compressed, with its length and Vary; one that refuses gzip (q=0) or does
// not ask gets plain JSON; and the page kept between requests follows an
// edit in both forms.
func TestListCompression(t *testing.T) {
	h := newHarness(t)
	a := jiraTenant("acme")
	h.install(a)
	tok := h.issueSession(a, "1", "alice")
	for i := range 15 { // within one user's write burst, with one to add later
		h.newSecret(tok, fmt.Sprintf("Production database %d", i), "c", "password-1")
	}
	get := func(acceptEncoding string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", h.baseURL+"/api/secrets", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "JWT "+tok)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		res := h.do(req)
		body, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("list: %d %v", res.StatusCode, err)
		}
		if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
			t.Errorf("Content-Length %q for %d bytes", cl, len(body))
		}
		if !slices.Contains(res.Header.Values("Vary"), "Accept-Encoding") {
			t.Errorf("Vary = %q, want Accept-Encoding", res.Header.Values("Vary"))
		}
		return res, body
	}
	gunzip := func(b []byte) string {
		t.Helper()
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	res, plain := get("identity")
	if res.Header.Get("Content-Encoding") != "" || !json.Valid(plain) {
		t.Fatalf("identity: Content-Encoding %q, body %q", res.Header.Get("Content-Encoding"), plain)
	}
	for _, ae := range []string{"gzip", "gzip, deflate, br", "br;q=1.0, GZIP;q=0.5", "x-gzip"} {
		res, body := get(ae)
		if res.Header.Get("Content-Encoding") != "gzip" || gunzip(body) != string(plain) || len(body) >= len(plain)/2 {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, %d bytes for %d plain", ae, res.Header.Get("Content-Encoding"), len(body), len(plain))
		}
	}
	for _, ae := range []string{"gzip;q=0", "gzip; q=0.000", "deflate", "*"} {
		if res, body := get(ae); res.Header.Get("Content-Encoding") != "" || string(body) != string(plain) {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q", ae, res.Header.Get("Content-Encoding"))
		}
	}
	h.newSecret(tok, "Added later", "c", "password-1")
	_, body := get("gzip")
	if after := gunzip(body); after == string(plain) || !strings.Contains(after, "Added later") {
		t.Fatalf("after a create, the compressed list is %q", after)
	}
}
