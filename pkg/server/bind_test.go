package server_test

import (
	"strings"
	"testing"
)

// TestAPIRefusesAmbiguousJSON: bodies that encoding/json would silently
// rewrite (invalid UTF-8 and lone surrogates become U+FFFD, duplicate keys
// keep the last, keys match fields case-insensitively) are refused with a
// clear 400, and nothing is stored or changed.
func TestAPIRefusesAmbiguousJSON(t *testing.T) {
	h := newHarness(t)
	a := jiraTenant("acme")
	h.install(a)
	tok := h.issueSession(a, "1", "alice")
	id := h.newSecret(tok, "existing", "c", "password-1")
	u := h.unlock(tok, id, "password-1")
	unlockTok := u.str("unlockToken")

	const pw = `"password":"password-1"`
	cases := []struct{ name, method, path, body string }{
		{"invalid UTF-8 in content", "POST", "/api/secrets", `{"title":"t","content":"a` + "\xff\xfe" + `b",` + pw + `}`},
		{"invalid UTF-8 in title", "POST", "/api/secrets", `{"title":"` + "\xc3" + `","content":"c",` + pw + `}`},
		{"invalid UTF-8 in password", "POST", "/api/secrets/" + id + "/unlock", `{"password":"password-1` + "\x80" + `"}`},
		{"lone high surrogate", "POST", "/api/secrets", `{"title":"t","content":"\ud800",` + pw + `}`},
		{"lone low surrogate", "POST", "/api/secrets", `{"title":"t","content":"x\udc00y",` + pw + `}`},
		{"reversed surrogates", "POST", "/api/secrets", `{"title":"t","content":"\udc00\ud800",` + pw + `}`},
		{"duplicate title", "POST", "/api/secrets", `{"title":"t","title":"u","content":"c",` + pw + `}`},
		{"duplicate password", "POST", "/api/secrets", `{"title":"t","content":"c",` + pw + `,` + pw + `}`},
		{"case-only duplicate", "POST", "/api/secrets", `{"title":"t","Title":"u","content":"c",` + pw + `}`},
		{"wrong-case key", "POST", "/api/secrets", `{"TITLE":"t","content":"c",` + pw + `}`},
		{"wrong-case password", "POST", "/api/secrets/" + id + "/unlock", `{"Password":"password-1"}`},
		{"duplicate version in edit", "PUT", "/api/secrets/" + id, `{"title":"t","content":"c","version":1,"version":2}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.api(tc.method, tc.path, tok, tc.body, "X-Unlock-Token", unlockTok)
			wantAPI(t, r, 400, "invalid")
			msg, _ := r.body["error"].(map[string]any)["message"].(string)
			if msg == "" || strings.Contains(msg, "password-1") {
				t.Errorf("message %q", msg)
			}
		})
	}
	// A valid surrogate pair and plain escapes still work.
	r := h.api("POST", "/api/secrets", tok, `{"title":"pair","content":"\ud83d\udd11 \\ud800 \"q\"",`+pw+`}`)
	wantAPI(t, r, 201, "")
	if got := h.unlock(tok, r.str("id"), "password-1").str("content"); got != "🔑 \\ud800 \"q\"" {
		t.Errorf("content %q", got)
	}
	list := h.api("GET", "/api/secrets", tok, nil)
	if n := len(list.body["secrets"].([]any)); n != 2 {
		t.Errorf("bad input stored something: %d secrets", n)
	}
	if u := h.unlock(tok, id, "password-1"); u.str("content") != "c" || u.body["version"] != float64(1) {
		t.Errorf("after bad input: %s", u.raw)
	}
}
