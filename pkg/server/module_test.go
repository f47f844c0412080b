package server_test

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/sandbox"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/connect-secrets/secrets/static"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

func TestModulePages(t *testing.T) {
	h := newHarness(t)
	jira, conf := jiraTenant("acme"), confluenceTenant("wiki")
	h.install(jira)
	h.install(conf)
	for _, tc := range []struct {
		name, path, query string
		tn                tenant
	}{
		{"jira panel", "/jira/panel", issuePanelQuery("10001"), jira},
		{"confluence macro", "/confluence/macro", macroQuery("98765", "3f2a-macro"), conf},
		{"jira admin", "/jira/admin", hostParams, jira},
		{"confluence admin", "/confluence/admin", hostParams, conf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.get(h.moduleURL(tc.tn, "GET", tc.path, tc.query, "account-1"))
			body := readBody(res)
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if !metaToken.MatchString(body) {
				t.Error("page carries no session token")
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors "+strings.TrimSuffix(strings.TrimSuffix(tc.tn.baseURL, "/wiki"), "/")) || strings.Contains(csp, "*") {
				t.Errorf("CSP %q does not frame-limit to the tenant", csp)
			}
			if strings.Contains(csp, "'unsafe-inline'") {
				t.Errorf("CSP allows inline code: %q", csp)
			}
		})
	}
}

// randomQuery builds a query string with the characters hosts and users
// produce: spaces (as + and %20), +, *, ~, unicode, empty and repeated
// parameters.
func randomQuery(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", "-", ".", "_", "~", "+", "%20", "%2B", "*", "%2A", "%E5%AE%AE", "%C3%A9", "%26", "%3D", "!", "'", "(", ")", ",", "@", ":", "$", "%2F"}
	word := func() string {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	names := []string{"issueId", "q", "Q", "name", "x", "repeat", "empty", word() + "n"}
	var parts []string
	parts = append(parts, "issueId=10001")
	for range 1 + r.IntN(8) {
		n := names[1+r.IntN(len(names)-1)]
		switch r.IntN(4) {
		case 0:
			parts = append(parts, n+"=")
		case 1:
			parts = append(parts, n)
		default:
			parts = append(parts, n+"="+word())
		}
	}
	return strings.Join(parts, "&") + "&" + hostParams
}

// TestQSHProperty: random signed queries are all accepted; changing any one
// byte of the method, path or query is refused.
func TestQSHProperty(t *testing.T) {
	h := newHarness(t)
	tn := jiraTenant("acme")
	h.install(tn)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		q := randomQuery(r)
		signed := h.moduleURL(tn, "GET", "/jira/panel", q, "account-1")
		if res := h.get(signed); res.StatusCode != 200 {
			t.Fatalf("case %d: correctly signed %q refused: %d %s", i, q, res.StatusCode, readBody(res))
		}

		// One byte of the query changed.
		pos := r.IntN(len(q))
		mutated := []byte(q)
		mutated[pos] = mutateByte(mutated[pos])
		tampered := strings.Replace(signed, q, string(mutated), 1)
		if res := h.get(tampered); res.StatusCode != 401 {
			t.Fatalf("case %d: query byte %d changed (%q -> %q) accepted: %d", i, pos, q, mutated, res.StatusCode)
		}
	}
	t.Run("path differs", func(t *testing.T) {
		signed := h.moduleURL(tn, "GET", "/jira/panel", issuePanelQuery("1"), "account-1")
		for _, p := range []string{"/jira/Panel", "/jira/panel/", "/jira//panel", "/confluence/macro"} {
			if res := h.get(strings.Replace(signed, "/jira/panel", p, 1)); res.StatusCode == 200 {
				t.Errorf("path %q accepted", p)
			}
		}
	})
	t.Run("method differs", func(t *testing.T) {
		signed := h.moduleURL(tn, "POST", "/jira/panel", issuePanelQuery("1"), "account-1")
		if res := h.get(signed); res.StatusCode != 401 {
			t.Errorf("token for POST accepted on GET: %d", res.StatusCode)
		}
	})
	t.Run("parameter appended", func(t *testing.T) {
		signed := h.moduleURL(tn, "GET", "/jira/panel", issuePanelQuery("1"), "account-1")
		if res := h.get(signed + "&issueId=2"); res.StatusCode != 401 {
			t.Errorf("appended parameter accepted: %d", res.StatusCode)
		}
	})
}

// mutateByte returns a different byte that keeps the URL sendable.
func mutateByte(b byte) byte {
	switch {
	case b == 'z':
		return 'y'
	case b >= 'a' && b < 'z', b >= 'A' && b < 'Z', b >= '0' && b < '9':
		return b + 1
	case b == '9':
		return '8'
	case b == 'Z':
		return 'Y'
	}
	return 'q'
}

// TestModuleTokenRefused: every forged or misused host token on a module
// route is a 401 and mints no session.
func TestModuleTokenRefused(t *testing.T) {
	h := newHarness(t)
	a, b := jiraTenant("tenant-a"), jiraTenant("tenant-b")
	h.install(a)
	h.install(b)
	q := issuePanelQuery("10001")
	qsh := mustQSH(t, "GET", "/jira/panel", q)
	now := time.Now()
	valid := jwt.MapClaims{"iss": a.clientKey, "sub": "account-1", "qsh": qsh, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range valid {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	priv, _ := rsaKeys(t)
	cases := map[string]string{
		"context-qsh":                 sign(jwt.SigningMethodHS256, []byte(a.secret), with("qsh", "context-qsh")),
		"no qsh":                      sign(jwt.SigningMethodHS256, []byte(a.secret), with("qsh", nil)),
		"wrong secret":                sign(jwt.SigningMethodHS256, []byte("not-the-shared-secret-0123456789ab"), valid),
		"tenant A's token as B":       sign(jwt.SigningMethodHS256, []byte(a.secret), with("iss", b.clientKey)),
		"unknown issuer":              sign(jwt.SigningMethodHS256, []byte(a.secret), with("iss", "client-nobody")),
		"expired":                     sign(jwt.SigningMethodHS256, []byte(a.secret), with("exp", now.Add(-2*time.Minute).Unix())),
		"no exp":                      sign(jwt.SigningMethodHS256, []byte(a.secret), with("exp", nil)),
		"HS512":                       sign(jwt.SigningMethodHS512, []byte(a.secret), valid),
		"RS256":                       sign(jwt.SigningMethodRS256, priv, valid),
		"alg none":                    sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid),
		"no subject (anonymous user)": sign(jwt.SigningMethodHS256, []byte(a.secret), with("sub", nil)),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			res := h.get(h.baseURL + "/jira/panel?" + q + "&jwt=" + url.QueryEscape(tok))
			body := readBody(res)
			if res.StatusCode != http.StatusUnauthorized || metaToken.MatchString(body) {
				t.Fatalf("status %d, want 401 without a session: %s", res.StatusCode, body)
			}
		})
	}
	t.Run("within 60 s of skew", func(t *testing.T) {
		tok := sign(jwt.SigningMethodHS256, []byte(a.secret), with("exp", now.Add(-30*time.Second).Unix()))
		if res := h.get(h.baseURL + "/jira/panel?" + q + "&jwt=" + tok); res.StatusCode != 200 {
			t.Fatalf("status %d, want 200", res.StatusCode)
		}
	})
	t.Run("Authorization header", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.baseURL+"/jira/panel?"+q, nil)
		req.Header.Set("Authorization", "JWT "+sign(jwt.SigningMethodHS256, []byte(a.secret), valid))
		if res := h.do(req); res.StatusCode != 200 {
			t.Fatalf("status %d, want 200", res.StatusCode)
		}
	})
	t.Run("query Go cannot parse", func(t *testing.T) {
		// Signed over the query without the pair Go's parser would drop: a
		// server that silently dropped it would accept this.
		bad := q + "&a=1;b=2"
		tok := sign(jwt.SigningMethodHS256, []byte(a.secret), valid)
		if res := h.get(h.baseURL + "/jira/panel?" + bad + "&jwt=" + tok); res.StatusCode != 401 {
			t.Fatalf("status %d, want 401", res.StatusCode)
		}
	})
	t.Run("Confluence tenant on the Jira route", func(t *testing.T) {
		c := confluenceTenant("wiki")
		h.install(c)
		if res := h.get(h.moduleURL(c, "GET", "/jira/panel", q, "account-1")); res.StatusCode != 401 {
			t.Fatalf("status %d, want 401", res.StatusCode)
		}
	})
}

func TestStaticAssets(t *testing.T) {
	h := newHarness(t)
	res := h.get(h.baseURL + "/static/" + static.Version + "/app.js")
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("app.js: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	for _, p := range []string{"/static/" + static.Version + "/", "/static/" + static.Version + "/page.html", "/static/old-version/app.js"} {
		if res := h.get(h.baseURL + p); res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
	}
}

func TestDescriptorsServed(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"jira", "confluence"} {
		res := h.get(h.baseURL + "/" + p + "/atlassian-connect.json")
		body := readBody(res)
		if res.StatusCode != 200 || !strings.Contains(body, `"baseUrl": "`+h.baseURL+`"`) {
			t.Errorf("%s descriptor: %d %s", p, res.StatusCode, body)
		}
	}
}

// TestSandboxOnlyInDev: even when a sandbox is passed in, nothing of it is
// reachable unless the server runs in dev mode.
func TestSandboxOnlyInDev(t *testing.T) {
	h := newHarness(t, func(h *harness, d *server.Deps) {
		sb, err := sandbox.New(sandbox.Config{BaseURL: h.baseURL, JiraKey: jiraKey, ConfluenceKey: confluenceKey, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		d.Sandbox = sb
	})
	for _, p := range []string{"/dev/", "/dev/all.js", "/dev/jira/browse/DEV-1", "/dev/install-keys/x"} {
		if res := h.get(h.baseURL + p); res.StatusCode != 404 {
			t.Errorf("%s: %d outside dev mode, want 404", p, res.StatusCode)
		}
	}
}
