package sandbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/sandbox"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

const (
	jiraKey       = "com.example.secrets.jira"
	confluenceKey = "com.example.secrets.confluence"
)

var (
	keyOnce    sync.Once
	installKey *rsa.PrivateKey
	keyErr     error
)

// rsaKey returns the install key of every sandbox in this test binary,
// generated once: generation would dominate the run time otherwise.
func rsaKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	keyOnce.Do(func() { installKey, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if keyErr != nil {
		tb.Fatalf("generating the install key: %v", keyErr)
	}
	return installKey
}

// env is a loopback server with the sandbox mounted, next to stand-ins for
// the app routes the sandbox drives: the installed callbacks, verified with
// connect.InstallVerifier against the sandbox's own install-keys endpoint,
// and the module pages, verified with connect.HostVerifier and the dev
// tenants' shared secrets, as the real server verifies them.
type env struct {
	t       testing.TB
	sb      *sandbox.Sandbox
	baseURL string
	client  *http.Client

	// installStatus, when not 0, is what the fake app answers installed
	// callbacks with.
	installStatus atomic.Int32

	mu       sync.Mutex
	installs []install
}

// install is an installed callback the fake app verified.
type install struct {
	product string
	payload *connect.LifecyclePayload
	claims  *connect.HostClaims
}

// moduleView is what the fake app's module pages answer with once the
// host token verified.
type moduleView struct {
	Issuer  string              `json:"iss"`
	Subject string              `json:"sub"`
	Query   map[string][]string `json:"query"`
}

func newEnv(t testing.TB) *env {
	t.Helper()
	en := &env{t: t}
	var handler http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(w, r)
	}))
	en.baseURL = "http://" + srv.Listener.Addr().String()

	sb, err := sandbox.NewWithKey(sandbox.Config{
		BaseURL: en.baseURL, JiraKey: jiraKey, ConfluenceKey: confluenceKey, Logger: zerolog.Nop(),
	}, rsaKey(t))
	if err != nil {
		t.Fatal(err)
	}
	en.sb = sb

	e := echo.New()
	sb.Mount(e)
	installs := &connect.InstallVerifier{
		Keys:     connect.NewInstallKeys(sb.InstallKeysURL(), nil),
		Audience: en.baseURL,
	}
	for _, product := range []string{"jira", "confluence"} {
		e.POST("/"+product+"/installed", en.fakeInstalled(product, installs))
	}
	hosts := &connect.HostVerifier{Secret: func(_ context.Context, iss string) ([]byte, error) {
		switch iss {
		case "dev-jira":
			return []byte(sb.SharedSecret("jira")), nil
		case "dev-confluence":
			return []byte(sb.SharedSecret("confluence")), nil
		}
		return nil, connect.ErrUnknownIssuer
	}}
	for _, path := range []string{"/jira/panel", "/jira/admin", "/confluence/macro", "/confluence/admin"} {
		e.GET(path, fakeModule(hosts))
	}
	handler = e
	srv.Start()
	t.Cleanup(srv.Close)
	en.client = srv.Client()
	en.client.Timeout = 10 * time.Second
	return en
}

func (en *env) fakeInstalled(product string, v *connect.InstallVerifier) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := connect.ParseLifecycle(c.Request().Body, true)
		if err != nil {
			return c.String(http.StatusBadRequest, err.Error())
		}
		claims, err := v.VerifyInstall(c.Request().Context(), c.Request(), p.ClientKey)
		if err != nil {
			return c.String(http.StatusUnauthorized, err.Error())
		}
		if s := en.installStatus.Load(); s != 0 {
			return c.String(int(s), "refused by the test")
		}
		en.mu.Lock()
		en.installs = append(en.installs, install{product: product, payload: p, claims: claims})
		en.mu.Unlock()
		return c.NoContent(http.StatusNoContent)
	}
}

func fakeModule(v *connect.HostVerifier) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims, err := v.VerifyRequest(c.Request().Context(), c.Request())
		if err != nil {
			return c.String(http.StatusUnauthorized, err.Error())
		}
		return c.JSON(http.StatusOK, moduleView{Issuer: claims.Issuer, Subject: claims.Subject, Query: c.QueryParams()})
	}
}

func (en *env) verifiedInstalls() []install {
	en.mu.Lock()
	defer en.mu.Unlock()
	return append([]install(nil), en.installs...)
}

// get fetches url (absolute, or a path on the server) and returns the
// response with its body read.
func (en *env) get(url string) (*http.Response, string) {
	en.t.Helper()
	return en.do(http.MethodGet, url, "", nil)
}

func (en *env) do(method, url, body string, prepare func(*http.Request)) (*http.Response, string) {
	en.t.Helper()
	if url[0] == '/' {
		url = en.baseURL + url
	}
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	if err != nil {
		en.t.Fatal(err)
	}
	if prepare != nil {
		prepare(req)
	}
	res, err := en.client.Do(req)
	if err != nil {
		en.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		en.t.Fatal(err)
	}
	return res, string(b)
}

// element is a start tag found in a page.
type element map[string]string

var (
	tagPattern  = regexp.MustCompile(`<(iframe|a)\s([^>]*)>([^<]*)`)
	attrPattern = regexp.MustCompile(`([a-zA-Z][\w-]*)(?:="([^"]*)")?`)
)

// elements returns the start tags named tag in page, with their attributes
// unescaped; the text that follows the tag is under the key "#text". The
// pages are ours and simple, so a regular expression is enough.
func elements(page, tag string) []element {
	var out []element
	for _, m := range tagPattern.FindAllStringSubmatch(page, -1) {
		if m[1] != tag {
			continue
		}
		el := element{"#text": html.UnescapeString(m[3])}
		for _, a := range attrPattern.FindAllStringSubmatch(m[2], -1) {
			el[a[1]] = html.UnescapeString(a[2])
		}
		out = append(out, el)
	}
	return out
}

func byID(els []element, id string) element {
	for _, el := range els {
		if el["id"] == id {
			return el
		}
	}
	return nil
}

// decodeJSON decodes s into a generic value, for comparisons that ignore
// key order and spacing.
func decodeJSON(tb testing.TB, s string) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatalf("not JSON: %v: %q", err, s)
	}
	return v
}
