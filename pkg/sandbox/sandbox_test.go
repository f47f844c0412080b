package sandbox_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/sandbox"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

const wantCSP = "default-src 'self'; frame-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'"

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  sandbox.Config
	}{
		{"relative base URL", sandbox.Config{BaseURL: "localhost:8080", JiraKey: jiraKey, ConfluenceKey: confluenceKey}},
		{"trailing slash", sandbox.Config{BaseURL: "http://localhost:8080/", JiraKey: jiraKey, ConfluenceKey: confluenceKey}},
		{"query", sandbox.Config{BaseURL: "http://localhost:8080?x=1", JiraKey: jiraKey, ConfluenceKey: confluenceKey}},
		{"user info", sandbox.Config{BaseURL: "http://u:p@localhost:8080", JiraKey: jiraKey, ConfluenceKey: confluenceKey}},
		{"other scheme", sandbox.Config{BaseURL: "ftp://localhost", JiraKey: jiraKey, ConfluenceKey: confluenceKey}},
		{"no Jira key", sandbox.Config{BaseURL: "http://localhost:8080", ConfluenceKey: confluenceKey}},
		{"no Confluence key", sandbox.Config{BaseURL: "http://localhost:8080", JiraKey: jiraKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sandbox.New(tc.cfg); err == nil {
				t.Error("New accepted the config")
			}
		})
	}

	t.Run("valid", func(t *testing.T) {
		// The one test that pays for generating a key.
		sb, err := sandbox.New(sandbox.Config{
			BaseURL: "http://localhost:8080", JiraKey: jiraKey, ConfluenceKey: confluenceKey, Logger: zerolog.Nop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sb.InstallKeysURL(), "http://localhost:8080/dev/install-keys"; got != want {
			t.Errorf("InstallKeysURL() = %q, want %q", got, want)
		}
		if got, want := sb.Hostname(), "localhost"; got != want {
			t.Errorf("Hostname() = %q, want %q", got, want)
		}
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(sb.KID()) {
			t.Errorf("kid %q is not a random UUID", sb.KID())
		}
		js, cs := sb.SharedSecret("jira"), sb.SharedSecret("confluence")
		if len(js) < 32 || len(cs) < 32 || js == cs {
			t.Error("the dev tenants need long, distinct shared secrets")
		}
	})
}

func TestUsers(t *testing.T) {
	en := newEnv(t)
	want := []sandbox.User{
		{AccountID: "557058:dev-admin", Name: "Ada Admin", Admin: true, Key: "admin"},
		{AccountID: "557058:dev-user", Name: "Reggie User", Admin: false, Key: "user"},
	}
	if got := en.sb.Users(); !reflect.DeepEqual(got, want) {
		t.Errorf("Users() = %+v, want %+v", got, want)
	}
}

// wantFrame is an app iframe a page must show, and what the app must see
// once it verified the iframe's URL.
type wantFrame struct {
	id, title, module, issuer string
	params                    map[string]string // module parameters
}

func TestPagesFrameSignedModuleURLs(t *testing.T) {
	en := newEnv(t)
	admin, user := en.sb.Users()[0], en.sb.Users()[1]
	jiraBase, confBase := en.baseURL+"/dev/jira", en.baseURL+"/dev/confluence/wiki"
	panel := func(id, key string) wantFrame {
		return wantFrame{"secrets-panel", "Secrets", "/jira/panel", "dev-jira",
			map[string]string{"issueId": id, "issueKey": key, "projectId": "10000", "projectKey": "DEV"}}
	}
	// A macro's "Name" parameter is substituted even when empty, as a host
	// substitutes every parameter its URL names.
	named := func(letter, name string) wantFrame {
		return wantFrame{"secrets-macro-" + letter, "Secrets macro " + strings.ToUpper(letter), "/confluence/macro", "dev-confluence",
			map[string]string{"pageId": "123", "macroId": "macro-" + letter, "spaceKey": "DEV", "outputType": "display", "name": name}}
	}
	macro := func(letter string) wantFrame { return named(letter, "") }
	for _, tc := range []struct {
		name, path string
		user       sandbox.User
		hostBase   string
		cp         string
		frames     []wantFrame
	}{
		{"issue DEV-1, default user", "/dev/jira/browse/DEV-1", admin, jiraBase, "", []wantFrame{panel("10001", "DEV-1")}},
		{"issue DEV-1 as user", "/dev/jira/browse/DEV-1?as=user", user, jiraBase, "", []wantFrame{panel("10001", "DEV-1")}},
		{"issue DEV-2 as admin", "/dev/jira/browse/DEV-2?as=admin", admin, jiraBase, "", []wantFrame{panel("10002", "DEV-2")}},
		{"confluence page as admin", "/dev/confluence/wiki/spaces/DEV/pages/123?as=admin", admin, confBase, "/wiki",
			[]wantFrame{macro("a"), macro("b")}},
		{"confluence page as user", "/dev/confluence/wiki/spaces/DEV/pages/123?as=user", user, confBase, "/wiki",
			[]wantFrame{macro("a"), macro("b")}},
		{"confluence page with a named macro", "/dev/confluence/wiki/spaces/DEV/pages/123?as=user&name-macro-b=Team+%3Cb%3Ekeys", user, confBase, "/wiki",
			[]wantFrame{macro("a"), named("b", "Team <b>keys")}},
		{"jira admin as admin", "/dev/jira/admin?as=admin", admin, jiraBase, "",
			[]wantFrame{{"secrets-admin", "Secrets administration", "/jira/admin", "dev-jira", nil}}},
		{"confluence admin as user", "/dev/confluence/wiki/admin?as=user", user, confBase, "/wiki",
			[]wantFrame{{"secrets-admin", "Secrets administration", "/confluence/admin", "dev-confluence", nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := en.get(tc.path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			checkPageHeaders(t, res)

			frames := elements(body, "iframe")
			if len(frames) != len(tc.frames) {
				t.Fatalf("%d iframes, want %d", len(frames), len(tc.frames))
			}
			for i, want := range tc.frames {
				got := frames[i]
				if got["id"] != want.id || got["title"] != want.title {
					t.Errorf("iframe %d: id %q title %q, want %q %q", i, got["id"], got["title"], want.id, want.title)
				}
				src, err := url.Parse(got["src"])
				if err != nil {
					t.Fatal(err)
				}
				if gotURL := src.Scheme + "://" + src.Host + src.Path; gotURL != en.baseURL+want.module {
					t.Errorf("iframe %s frames %s, want %s", want.id, gotURL, en.baseURL+want.module)
				}

				// The app verifies the URL and sees the host's word.
				res, view := en.get(got["src"])
				if res.StatusCode != http.StatusOK {
					t.Fatalf("the app refused the iframe URL of %s: %s", want.id, view)
				}
				var mv moduleView
				if err := json.Unmarshal([]byte(view), &mv); err != nil {
					t.Fatal(err)
				}
				if mv.Issuer != want.issuer || mv.Subject != tc.user.AccountID {
					t.Errorf("token of %s: iss %q sub %q, want %q %q", want.id, mv.Issuer, mv.Subject, want.issuer, tc.user.AccountID)
				}
				wantQuery := map[string]string{
					"xdm_e": tc.hostBase, "xdm_c": "channel-" + want.id, "cp": tc.cp,
					"lic": "active", "loc": "en-US", "tz": "UTC",
				}
				for k, v := range want.params {
					wantQuery[k] = v
				}
				for k, v := range wantQuery {
					if got := mv.Query[k]; len(got) != 1 || got[0] != v {
						t.Errorf("iframe %s: %s = %q, want %q", want.id, k, got, v)
					}
				}
				if len(mv.Query) != len(wantQuery)+1 { // + jwt
					t.Errorf("iframe %s has parameters %v, want those of %v and jwt", want.id, mv.Query, wantQuery)
				}
			}

			checkUserSwitch(t, body, tc.user)
		})
	}
}

// checkPageHeaders checks what every sandbox page must send.
func checkPageHeaders(t *testing.T, res *http.Response) {
	t.Helper()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, wantCSP) || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q, want %q first and nothing unsafe", csp, wantCSP)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
}

// checkUserSwitch checks the links the browser tests switch users with:
// they keep the page, and the current user is marked.
func checkUserSwitch(t *testing.T, page string, current sandbox.User) {
	t.Helper()
	links := elements(page, "a")
	for _, want := range []struct{ id, href, text string }{
		{"user-switch-admin", "?as=admin", "Ada Admin (admin)"},
		{"user-switch-user", "?as=user", "Reggie User (user)"},
	} {
		a := byID(links, want.id)
		if a == nil {
			t.Errorf("no link #%s", want.id)
			continue
		}
		if a["href"] != want.href || a["#text"] != want.text {
			t.Errorf("#%s: href %q text %q, want %q %q", want.id, a["href"], a["#text"], want.href, want.text)
		}
		_, marked := a["aria-current"]
		if isCurrent := want.id == "user-switch-"+current.Key; marked != isCurrent {
			t.Errorf("#%s: aria-current %v, want %v", want.id, marked, isCurrent)
		}
	}
}

func TestIframeURLIsBoundToItsParameters(t *testing.T) {
	en := newEnv(t)
	_, body := en.get("/dev/jira/browse/DEV-1?as=user")
	src := elements(body, "iframe")[0]["src"]
	for _, tc := range []struct{ name, from, to string }{
		{"another issue", "issueId=10001", "issueId=10002"},
		{"another host", "xdm_e=", "xdm_e=https%3A%2F%2Fevil.example&x="},
		{"dropped host parameter", "&lic=active", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tampered := strings.Replace(src, tc.from, tc.to, 1)
			if tampered == src {
				t.Fatalf("%q not in %s", tc.from, src)
			}
			if res, _ := en.get(tampered); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("the app accepted a tampered iframe URL: status %d", res.StatusCode)
			}
		})
	}
}

func TestPagesRefuse(t *testing.T) {
	en := newEnv(t)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/dev/jira/browse/DEV-3", http.StatusNotFound},
		{"/dev/jira/browse/dev-1", http.StatusNotFound},
		{"/dev/confluence/wiki/spaces/DEV/pages/124", http.StatusNotFound},
		{"/dev/confluence/wiki/spaces/OTHER/pages/123", http.StatusNotFound},
		{"/dev/jira/browse/DEV-1?as=root", http.StatusBadRequest},
		{"/dev/jira/admin?as=Admin", http.StatusBadRequest},
		{"/dev/install-keys/00000000-0000-4000-8000-000000000000", http.StatusNotFound},
		{"/dev/install-keys/not-a-kid", http.StatusNotFound},
		{"/dev/jira/context-token?issue=DEV-9", http.StatusNotFound},
		{"/dev/confluence/context-token?page=124", http.StatusNotFound},
		{"/dev/confluence/context-token?as=nobody", http.StatusBadRequest},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if res, body := en.get(tc.path); res.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %s", res.StatusCode, tc.want, body)
			}
		})
	}
}

func TestIndexRedirect(t *testing.T) {
	en := newEnv(t)
	client := *en.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Get(en.baseURL + "/dev")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/dev/" {
		t.Errorf("GET /dev: %d to %q, want a redirect to /dev/", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestIndexLinksEveryPageAsEveryUser(t *testing.T) {
	en := newEnv(t)
	res, body := en.get("/dev/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	checkPageHeaders(t, res)
	var hrefs []string
	for _, a := range elements(body, "a") {
		hrefs = append(hrefs, a["href"])
	}
	for _, want := range []string{
		"/dev/jira/browse/DEV-1?as=admin", "/dev/jira/browse/DEV-1?as=user",
		"/dev/jira/browse/DEV-2?as=admin", "/dev/jira/browse/DEV-2?as=user",
		"/dev/jira/admin?as=admin", "/dev/jira/admin?as=user",
		"/dev/confluence/wiki/spaces/DEV/pages/123?as=admin", "/dev/confluence/wiki/spaces/DEV/pages/123?as=user",
		"/dev/confluence/wiki/admin?as=admin", "/dev/confluence/wiki/admin?as=user",
		en.baseURL + "/jira/atlassian-connect.json", en.baseURL + "/confluence/atlassian-connect.json",
	} {
		if !slices.Contains(hrefs, want) {
			t.Errorf("the index does not link to %s", want)
		}
	}
	// Every link works (descriptors are the app's, not mounted here).
	for _, h := range hrefs {
		if !strings.HasPrefix(h, "/dev/") {
			continue
		}
		if res, _ := en.get(h); res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", h, res.StatusCode)
		}
	}
}

var scriptPattern = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)

// Inline code is what a strict CSP blocks; a page that has any would break
// in the browser while looking fine here.
var inlineCode = []struct {
	what    string
	pattern *regexp.Regexp
}{
	{"a style element", regexp.MustCompile(`(?i)<style\b`)},
	{"a style attribute", regexp.MustCompile(`(?i)<[a-z][^>]*\sstyle=`)},
	{"an event handler attribute", regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+=`)},
	{"a javascript: URL", regexp.MustCompile(`(?i)javascript:`)},
}

func TestPagesHaveNoInlineCode(t *testing.T) {
	en := newEnv(t)
	for _, path := range []string{
		"/dev/",
		"/dev/jira/browse/DEV-1?as=admin",
		"/dev/jira/browse/DEV-2?as=user",
		"/dev/confluence/wiki/spaces/DEV/pages/123?as=user",
		"/dev/jira/admin?as=user",
		"/dev/confluence/wiki/admin?as=admin",
	} {
		t.Run(path, func(t *testing.T) {
			_, body := en.get(path)
			if !strings.Contains(body, `<script src="/dev/host.js" defer></script>`) {
				t.Error("the page does not load host.js")
			}
			for _, m := range scriptPattern.FindAllStringSubmatch(body, -1) {
				if !strings.Contains(m[1], " src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("the page has an inline script: %q", m[0])
				}
			}
			for _, ic := range inlineCode {
				if m := ic.pattern.FindString(body); m != "" {
					t.Errorf("the page has %s: %q", ic.what, m)
				}
			}
		})
	}
}

func TestAssets(t *testing.T) {
	en := newEnv(t)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/dev/all.js", "text/javascript", "window.AP ="},
		{"/dev/host.js", "text/javascript", "addEventListener('message'"},
		{"/dev/host.css", "text/css", ".app-frame"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, body := en.get(tc.path)
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.contentType) {
				t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
	// all.js is loaded by a plain <script src>, before the app's modules:
	// it must be a classic script.
	_, allJS := en.get("/dev/all.js")
	if m := regexp.MustCompile(`(?m)^\s*(import|export)\b`).FindString(allJS); m != "" {
		t.Errorf("all.js uses module syntax: %q", m)
	}
}

func TestInstallTenants(t *testing.T) {
	en := newEnv(t)
	ctx := context.Background()
	if err := en.sb.InstallTenants(ctx, nil); err != nil {
		t.Fatalf("InstallTenants: %v", err)
	}
	got := en.verifiedInstalls()
	if len(got) != 2 {
		t.Fatalf("%d verified installs, want 2", len(got))
	}
	for _, want := range []struct {
		product, clientKey, appKey, baseURL string
	}{
		{"jira", "dev-jira", jiraKey, en.baseURL + "/dev/jira"},
		{"confluence", "dev-confluence", confluenceKey, en.baseURL + "/dev/confluence/wiki"},
	} {
		i := slices.IndexFunc(got, func(in install) bool { return in.product == want.product })
		if i < 0 {
			t.Errorf("no install of %s", want.product)
			continue
		}
		p, c := got[i].payload, got[i].claims
		if p.ClientKey != want.clientKey || p.Key != want.appKey || p.BaseURL != want.baseURL ||
			p.DisplayURL != want.baseURL || p.ProductType != want.product || p.EventType != "installed" {
			t.Errorf("%s payload: %+v", want.product, *p)
		}
		if p.SharedSecret != en.sb.SharedSecret(want.product) {
			t.Errorf("%s payload carries another shared secret", want.product)
		}
		if p.Description == "" || p.ServerVersion == "" || p.PluginsVersion == "" {
			t.Errorf("%s payload lacks description or versions: %+v", want.product, *p)
		}
		if c.Issuer != want.clientKey || c.ExpiresAt.Sub(c.IssuedAt.Time) != 3*time.Minute {
			t.Errorf("%s token: iss %q, lifetime %v", want.product, c.Issuer, c.ExpiresAt.Sub(c.IssuedAt.Time))
		}
	}

	// Installing again is what a restart does; the new token is never
	// older than the last.
	if err := en.sb.InstallTenants(ctx, &http.Client{Timeout: 5 * time.Second}); err != nil {
		t.Fatalf("second InstallTenants: %v", err)
	}
	again := en.verifiedInstalls()
	if len(again) != 4 {
		t.Fatalf("%d verified installs after the second call, want 4", len(again))
	}
	for i := range 2 {
		if again[i+2].claims.IssuedAt.Before(again[i].claims.IssuedAt.Time) {
			t.Errorf("the reinstall of %s was signed before the install", again[i].product)
		}
	}

	en.installStatus.Store(http.StatusServiceUnavailable)
	err := en.sb.InstallTenants(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "dev-jira") || !strings.Contains(err.Error(), "dev-confluence") ||
		!strings.Contains(err.Error(), "503") {
		t.Errorf("InstallTenants with the app refusing: %v, want an error naming both tenants and the status", err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := en.sb.InstallTenants(canceled, nil); err == nil {
		t.Error("InstallTenants with a cancelled context succeeded")
	}
}

func TestInstallKeys(t *testing.T) {
	en := newEnv(t)
	kid := en.sb.KID()
	for _, path := range []string{"/dev/install-keys/" + kid, "/dev/install-keys/" + strings.ToUpper(kid)} {
		res, body := en.get(path)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, res.StatusCode)
		}
		block, _ := pem.Decode([]byte(body))
		if block == nil || block.Type != "PUBLIC KEY" {
			t.Fatalf("%s: not a PEM PUBLIC KEY: %q", path, body)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if rk, ok := pub.(*rsa.PublicKey); !ok || !rk.Equal(&rsaKey(t).PublicKey) {
			t.Errorf("%s serves another key", path)
		}
	}
}

func TestContextToken(t *testing.T) {
	en := newEnv(t)
	for _, tc := range []struct {
		name, path, product, issuer, sub string
		context                          string
	}{
		{"jira issue", "/dev/jira/context-token?as=user&issue=DEV-1", "jira", "dev-jira", "557058:dev-user",
			`{"jira":{"issue":{"id":"10001","key":"DEV-1"},"project":{"id":"10000","key":"DEV"}}}`},
		{"jira admin page", "/dev/jira/context-token", "jira", "dev-jira", "557058:dev-admin", `{"jira":{}}`},
		{"confluence page", "/dev/confluence/context-token?as=admin&page=123", "confluence", "dev-confluence", "557058:dev-admin",
			`{"confluence":{"content":{"id":"123","type":"page"},"space":{"key":"DEV"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := en.get(tc.path)
			if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d, Cache-Control %q: %s", res.StatusCode, res.Header.Get("Cache-Control"), body)
			}
			var out struct{ Token string }
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatal(err)
			}
			claims := &connect.HostClaims{}
			_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()).
				ParseWithClaims(out.Token, claims, func(*jwt.Token) (any, error) {
					return []byte(en.sb.SharedSecret(tc.product)), nil
				})
			if err != nil {
				t.Fatalf("the token does not verify with the tenant's secret: %v", err)
			}
			if claims.QSH != connect.ContextQSH || claims.Issuer != tc.issuer || claims.Subject != tc.sub {
				t.Errorf("qsh %q iss %q sub %q", claims.QSH, claims.Issuer, claims.Subject)
			}
			if got, want := decodeJSON(t, string(claims.Context)), decodeJSON(t, tc.context); !reflect.DeepEqual(got, want) {
				t.Errorf("context %s, want %s", claims.Context, tc.context)
			}
		})
	}
}
