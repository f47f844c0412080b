package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/descriptor"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/sandbox"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// forgeEnv is a loopback server with the sandbox mounted and a stand-in for
// the app's /forge/ routes that verifies each call as the real server does
// (forge.Verifier against the sandbox's JWKS, forge.Products against its
// product API) and answers with what it verified.
type forgeEnv struct {
	t       testing.TB
	sb      *sandbox.Sandbox
	baseURL string
	client  *http.Client
}

// verified is what the fake /forge/ route answers.
type verified struct {
	Tenant, Principal, Module string
	IssueID, PageID, LocalID  string
	Container                 bool // the product confirmed the container
	UnlockToken, Extra        string
	Authorization             bool
}

func newForgeEnv(t testing.TB) *forgeEnv {
	t.Helper()
	en := &forgeEnv{t: t}
	var handler http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	en.baseURL = "http://" + srv.Listener.Addr().String()
	sb, err := sandbox.NewWithKey(sandbox.Config{BaseURL: en.baseURL, JiraKey: jiraKey, ConfluenceKey: confluenceKey, Logger: zerolog.Nop()}, rsaKey(t))
	if err != nil {
		t.Fatal(err)
	}
	en.sb = sb
	p := sb.Forge()
	v, err := forge.NewVerifier(forge.VerifierConfig{
		Apps: []forge.App{
			{Product: forge.ProductJira, ID: p.JiraAppID, UIModules: []string{descriptor.ForgeIssuePanelKey}, AdminModules: []string{descriptor.ForgeAdminKey}},
			{Product: forge.ProductConfluence, ID: p.ConfluenceAppID, UIModules: []string{descriptor.ForgeMacroKey}, AdminModules: []string{descriptor.ForgeAdminKey}, MacroKey: descriptor.ForgeMacroKey},
		},
		Environments: []string{p.EnvironmentID}, APIBase: p.APIBase,
		Keys: forge.NewKeySet(forge.KeySetConfig{URL: p.JWKSURL}),
	})
	if err != nil {
		t.Fatal(err)
	}
	products := forge.NewProducts(forge.ProductsConfig{})
	e := echo.New()
	sb.Mount(e)
	e.Any("/forge/*", func(c echo.Context) error {
		r := c.Request()
		inv, err := v.Verify(r.Context(), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if err != nil {
			return c.JSON(http.StatusUnauthorized, map[string]string{"error": err.Error()})
		}
		out := verified{Tenant: inv.TenantKey(), Principal: inv.Principal, Module: inv.Module.Key,
			UnlockToken: r.Header.Get("X-Unlock-Token"), Extra: r.Header.Get("X-Extra")}
		if inv.Context != nil {
			fc := forge.Container{LocalID: inv.Context.LocalID}
			if is := inv.Context.Extension.Issue; is != nil {
				out.IssueID, fc = string(is.ID), forge.Container{IssueID: string(is.ID)}
			}
			if ct := inv.Context.Extension.Content; ct != nil {
				out.PageID, out.LocalID, fc.PageID = string(ct.ID), inv.Context.LocalID, string(ct.ID)
			}
			if inv.FromUI() {
				out.Container, err = products.CheckContainer(r.Context(), inv, r.Header.Get("X-Forge-Oauth-User"), fc)
				if err != nil {
					return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
				}
			}
		}
		if !out.Container && inv.FromUI() {
			return c.JSON(http.StatusNotFound, out)
		}
		if r.URL.Path == "/forge/lifecycle" {
			return c.NoContent(http.StatusNoContent)
		}
		return c.JSON(http.StatusOK, out)
	})
	handler = e
	srv.Start()
	t.Cleanup(srv.Close)
	en.client = srv.Client()
	en.client.Timeout = 10 * time.Second
	return en
}

func (en *forgeEnv) get(path string) (int, string, http.Header) {
	en.t.Helper()
	res, err := en.client.Get(en.baseURL + path)
	if err != nil {
		en.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

var frameSrc = regexp.MustCompile(`<iframe class="forge-frame" id="([^"]+)"[^>]* src="([^"]+)"`)

// frames opens a sandbox Forge page and returns its frames' ids by DOM id.
func (en *forgeEnv) frames(path string) map[string]string {
	en.t.Helper()
	status, body, _ := en.get(path)
	if status != http.StatusOK {
		en.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	out := map[string]string{}
	for _, m := range frameSrc.FindAllStringSubmatch(body, -1) {
		src := strings.ReplaceAll(m[2], "&amp;", "&")
		out[m[1]] = src[strings.Index(src, "frame=")+len("frame="):]
	}
	if len(out) == 0 {
		en.t.Fatalf("no Forge frame on %s:\n%s", path, body)
	}
	return out
}

type envelope struct {
	Status  int                 `json:"status"`
	Headers map[string][]string `json:"headers"`
	Body    json.RawMessage     `json:"body"`
}

// invoke posts an invokeRemote call of frame to the sandbox.
func (en *forgeEnv) invoke(frame, urlPath string, payload map[string]any) (int, envelope) {
	en.t.Helper()
	b, _ := json.Marshal(payload)
	res, err := en.client.Post(en.baseURL+"/dev/forge/invoke"+urlPath+"?frame="+frame, "application/json", bytes.NewReader(b))
	if err != nil {
		en.t.Fatal(err)
	}
	defer res.Body.Close()
	var env envelope
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &env)
	return res.StatusCode, env
}

func TestForgeInvokeMintsTheFramesFIT(t *testing.T) {
	en := newForgeEnv(t)
	fr := en.frames("/dev/forge/jira/browse/DEV-2?as=user")
	status, env := en.invoke(fr["secrets-panel"], "/forge/api/secrets", map[string]any{
		"path": "/forge/api/secrets", "method": "GET",
		// The app's own attempt at identity is dropped; its unlock token is forwarded.
		"headers": map[string]string{"Authorization": "Bearer forged", "X-Forge-Oauth-User": "forged",
			"X-Unlock-Token": "u-1", "X-Extra": "dropped"},
	})
	if status != http.StatusOK || env.Status != http.StatusOK {
		t.Fatalf("invoke: %d %+v", status, env)
	}
	var v verified
	if err := json.Unmarshal(env.Body, &v); err != nil {
		t.Fatal(err)
	}
	if v.Principal != "557058:dev-user" || v.IssueID != "10002" || v.Module != descriptor.ForgeIssuePanelKey || !v.Container ||
		v.UnlockToken != "u-1" || v.Extra != "" || !strings.HasPrefix(v.Tenant, "forge:") {
		t.Errorf("verified = %+v", v)
	}
	if env.Headers["content-type"] == nil {
		t.Errorf("headers = %v", env.Headers)
	}
}

func TestForgeInvokeMacroContext(t *testing.T) {
	en := newForgeEnv(t)
	fr := en.frames("/dev/forge/confluence/spaces/DEV/pages/123?as=admin")
	for id, local := range map[string]string{"secrets-macro-a": "macro-a", "secrets-macro-b": "macro-b"} {
		_, env := en.invoke(fr[id], "/forge/api/secrets", map[string]any{"path": "/forge/api/secrets", "method": "GET"})
		var v verified
		_ = json.Unmarshal(env.Body, &v)
		if env.Status != 200 || v.PageID != "123" || v.LocalID != local || !v.Container {
			t.Errorf("%s: %d %+v", id, env.Status, v)
		}
	}
}

func TestForgeGuestIsRefusedByTheProduct(t *testing.T) {
	en := newForgeEnv(t)
	for _, page := range []string{"/dev/forge/jira/browse/DEV-1?as=guest", "/dev/forge/confluence/spaces/DEV/pages/123?as=guest"} {
		for _, frame := range en.frames(page) {
			status, env := en.invoke(frame, "/forge/api/secrets", map[string]any{"path": "/forge/api/secrets", "method": "GET"})
			if status != http.StatusNotFound || env.Status != http.StatusNotFound {
				t.Errorf("%s: %d/%d, want 404", page, status, env.Status)
			}
		}
	}
}

func TestForgeInvokeRefuses(t *testing.T) {
	en := newForgeEnv(t)
	frame := en.frames("/dev/forge/jira/browse/DEV-1?as=admin")["secrets-panel"]
	for name, tc := range map[string]struct {
		urlPath string
		payload map[string]any
	}{
		"outside /forge/": {"/api/secrets", map[string]any{"path": "/api/secrets"}},
		"sandbox route":   {"/dev/forge/api/x", map[string]any{"path": "/dev/forge/api/x"}},
		"absolute URL":    {"/forge/api/secrets", map[string]any{"path": "http://example.com/forge/api/secrets"}},
		"path mismatch":   {"/forge/api/secrets", map[string]any{"path": "/forge/lifecycle"}},
		"dot segments":    {"/forge/api/../lifecycle", map[string]any{"path": "/forge/api/../lifecycle"}},
		"method":          {"/forge/api/secrets", map[string]any{"path": "/forge/api/secrets", "method": "TRACE"}},
	} {
		if status, _ := en.invoke(frame, tc.urlPath, tc.payload); status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, status)
		}
	}
	if status, _ := en.invoke("no-such-frame", "/forge/api/secrets", map[string]any{"path": "/forge/api/secrets"}); status != http.StatusNotFound {
		t.Errorf("unknown frame: %d, want 404", status)
	}
}

func TestForgeFrameServesCustomUIWithBridge(t *testing.T) {
	en := newForgeEnv(t)
	status, body, _ := en.get("/dev/forge/jira/browse/DEV-1?as=admin")
	if status != 200 || !strings.Contains(body, "/dev/forge/host.js") {
		t.Fatalf("page: %d", status)
	}
	m := frameSrc.FindStringSubmatch(body)
	src := strings.ReplaceAll(m[2], "&amp;", "&")
	status, page, h := en.get(src)
	if status != 200 || !strings.Contains(page, `<script src="/dev/forge/bridge.js?frame=`) || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'self'") {
		t.Errorf("frame: %d %s %v", status, page, h)
	}
	if status, _, h := en.get(strings.SplitN(src, "?", 2)[0] + "app.js"); status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js: %d %v", status, h)
	}
	if status, _, _ := en.get("/dev/forge/static/jira/nope/?frame=x"); status != 404 {
		t.Errorf("unknown resource: %d", status)
	}
	if status, _, _ := en.get(strings.Replace(src, "frame=", "frame=x", 1)); status != 404 {
		t.Errorf("unknown frame: %d", status)
	}
	for _, asset := range []string{"/dev/forge/bridge.js", "/dev/forge/host.js"} {
		if status, js, _ := en.get(asset); status != 200 || len(js) < 100 {
			t.Errorf("%s: %d", asset, status)
		}
	}
}

func TestForgeContextIsTheFramesRecord(t *testing.T) {
	en := newForgeEnv(t)
	frame := en.frames("/dev/forge/jira/browse/DEV-1?as=user")["secrets-panel"]
	status, body, _ := en.get("/dev/forge/context?frame=" + frame)
	var ctx map[string]any
	_ = json.Unmarshal([]byte(body), &ctx)
	if status != 200 || ctx["accountId"] != "557058:dev-user" || ctx["moduleKey"] != descriptor.ForgeIssuePanelKey {
		t.Errorf("context: %d %s", status, body)
	}
}

func TestForgeProductAPIRefusesUnknownTokens(t *testing.T) {
	en := newForgeEnv(t)
	req, _ := http.NewRequest("GET", en.sb.Forge().APIBase+"/ex/confluence/x/wiki/rest/api/user/current", nil)
	req.Header.Set("Authorization", "Bearer made-up")
	res, err := en.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("made-up user token: %d, want 401", res.StatusCode)
	}
}

func TestInstallForge(t *testing.T) {
	en := newForgeEnv(t)
	if err := en.sb.InstallForge(context.Background(), en.client); err != nil {
		t.Fatal(err)
	}
}

// TestForgeMacroConfigSubmit: only a macro's config frame may submit its
// config, only {config: {name: string}} of bounded size; the name then
// reaches that macro's context (extension.config) and no other's.
func TestForgeMacroConfigSubmit(t *testing.T) {
	en := newForgeEnv(t)
	const page = "/dev/forge/confluence/spaces/DEV/pages/123?as=admin"
	fr := en.frames(page + "&configure=macro-a")
	submit := func(frame, body string) int {
		t.Helper()
		res, err := en.client.Post(en.baseURL+"/dev/forge/submit?frame="+frame, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		name, frame, body string
		want              int
	}{
		{"the macro's own frame", fr["secrets-macro-a"], `{"config":{"name":"x"}}`, http.StatusForbidden},
		{"an unknown frame", "nope", `{"config":{"name":"x"}}`, http.StatusNotFound},
		{"no name", fr["secrets-config-macro-a"], `{"config":{}}`, http.StatusBadRequest},
		{"a name that is no string", fr["secrets-config-macro-a"], `{"config":{"name":7}}`, http.StatusBadRequest},
		{"too long a name", fr["secrets-config-macro-a"], `{"config":{"name":"` + strings.Repeat("n", 256) + `"}}`, http.StatusBadRequest},
		{"not JSON", fr["secrets-config-macro-a"], `name=x`, http.StatusBadRequest},
		{"the config form", fr["secrets-config-macro-a"], `{"config":{"name":"Deploy keys"}}`, http.StatusNoContent},
	} {
		if got := submit(tc.frame, tc.body); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	configOf := func(frame string) any {
		t.Helper()
		_, body, _ := en.get("/dev/forge/context?frame=" + frame)
		var ctx struct {
			Extension map[string]any `json:"extension"`
		}
		if err := json.Unmarshal([]byte(body), &ctx); err != nil {
			t.Fatalf("context: %v %s", err, body)
		}
		return ctx.Extension["config"]
	}
	fr = en.frames(page)
	if got, ok := configOf(fr["secrets-macro-a"]).(map[string]any); !ok || got["name"] != "Deploy keys" {
		t.Errorf("macro a's config: %v", configOf(fr["secrets-macro-a"]))
	}
	if got := configOf(fr["secrets-macro-b"]); got != nil {
		t.Errorf("macro b got a config: %v", got)
	}
}
