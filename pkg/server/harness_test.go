package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

const (
	jiraKey       = "com.example.secrets.jira"
	confluenceKey = "com.example.secrets.confluence"
	installKID    = "0f4e5c52-8e1d-4a4c-9a43-5d4f2f6b8e21"
)

var (
	rsaOnce           sync.Once
	installKey, other *rsa.PrivateKey
)

// rsaKeys returns Atlassian's stand-in install key and an unrelated key,
// generated once per test binary.
func rsaKeys(tb testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	rsaOnce.Do(func() {
		var err error
		if installKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return installKey, other
}

// harness is a running server on loopback with a local key server standing
// in for connect-install-keys.atlassian.com.
type harness struct {
	t        testing.TB
	srv      *httptest.Server
	baseURL  string
	keys     *httptest.Server
	keyHits  atomic.Int64
	keysDown atomic.Bool
	db       *bolt.DB
	installs *engine.Engine
	// lastIssuedAt is the iat of the last signed lifecycle callback.
	lastIssuedAt int64
	secretSvc    *engine.Engine
	now          time.Time
	client       *http.Client
	host         *fakeHost
	// configure, if an option sets it, adjusts the server's Config.
	configure func(*server.Config)
	// handler is the server's handler, for benchmarks that call it in
	// process.
	handler http.Handler
}

// newHarness starts the server; opts adjust its dependencies.
func newHarness(t testing.TB, opts ...func(*harness, *server.Deps)) *harness {
	t.Helper()
	priv, _ := rsaKeys(t)
	h := &harness{t: t, client: &http.Client{Timeout: 30 * time.Second}}

	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	h.keys = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.keyHits.Add(1)
		if h.keysDown.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		if r.URL.Path != "/"+installKID {
			http.NotFound(w, r)
			return
		}
		w.Write(pemKey)
	}))
	t.Cleanup(h.keys.Close)

	kr, err := seal.ParseKeyring([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"))
	if err != nil {
		t.Fatal(err)
	}
	h.db, err = bolt.Open(filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	kdf, err := seal.NewKDF(4*int64(seal.MinKDFParams.Memory)*1024, seal.MinKDFParams)
	if err != nil {
		t.Fatal(err)
	}
	h.installs = engine.New(h.db, kr, kdf, secrets.DefaultPolicy())
	h.secretSvc = h.installs

	h.host = newFakeHost(t)

	var handler http.Handler
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(w, r)
	}))
	h.baseURL = "http://" + h.srv.Listener.Addr().String()
	deps := server.Deps{
		Installations: h.installs,
		Secrets:       h.secretSvc,
		Admin:         h.secretSvc,
		Admins:        &connect.AdminChecker{Client: h.host.client()},
		InstallKeys:   connect.NewInstallKeys(h.keys.URL, nil),
		SessionKey:    bytes.Repeat([]byte{7}, 32),
		Logger:        zerolog.Nop(),
	}
	for _, o := range opts {
		o(h, &deps)
	}
	cfg := server.Config{
		BaseURL:       h.baseURL,
		AllowedHosts:  []string{"*.atlassian.net"},
		JiraKey:       jiraKey,
		ConfluenceKey: confluenceKey,
		VendorName:    "Test", VendorURL: "https://example.com",
	}
	if h.configure != nil {
		h.configure(&cfg)
	}
	s, err := server.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	handler = s.Handler()
	h.handler = handler
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// tenant is a site as the tests install it.
type tenant struct {
	clientKey, secret string
	product           secrets.Product
	baseURL           string
}

func jiraTenant(name string) tenant {
	return tenant{clientKey: "client-" + name, secret: "shared-secret-of-" + name + "-0123456789abcdef",
		product: secrets.ProductJira, baseURL: "https://" + name + ".atlassian.net"}
}

func confluenceTenant(name string) tenant {
	return tenant{clientKey: "client-" + name, secret: "shared-secret-of-" + name + "-0123456789abcdef",
		product: secrets.ProductConfluence, baseURL: "https://" + name + ".atlassian.net/wiki"}
}

func (tn tenant) appKey() string {
	if tn.product == secrets.ProductConfluence {
		return confluenceKey
	}
	return jiraKey
}

func (tn tenant) payload(event string) map[string]any {
	p := map[string]any{
		"key": tn.appKey(), "clientKey": tn.clientKey, "baseUrl": tn.baseURL, "displayUrl": tn.baseURL,
		"productType": string(tn.product), "description": "test site", "eventType": event,
		"serverVersion": "1", "pluginsVersion": "1.0", "oauthClientId": "oauth-1",
	}
	if event == "installed" {
		p["sharedSecret"] = tn.secret
	}
	return p
}

// installOpts vary a signed install, one field at a time, for negative tests.
type installOpts struct {
	method  jwt.SigningMethod
	key     any
	kid     string
	noKid   bool
	iss     string
	aud     string
	exp     time.Time
	qsh     string
	noAuth  bool
	inQuery bool
}

// lifecycle sends a lifecycle callback for tn, signed the way Atlassian signs
// installed/uninstalled (RS256, kid, aud, qsh), varied by o.
func (h *harness) lifecycle(tn tenant, event string, payload map[string]any, o installOpts) *http.Response {
	h.t.Helper()
	priv, _ := rsaKeys(h.t)
	path := "/" + string(tn.product) + "/" + event
	iat := h.issuedAt(o) // before the defaults fill o in
	if o.method == nil {
		o.method = jwt.SigningMethodRS256
	}
	if o.key == nil {
		o.key = priv
	}
	if o.kid == "" {
		o.kid = installKID
	}
	if o.iss == "" {
		o.iss = tn.clientKey
	}
	if o.aud == "" {
		o.aud = h.baseURL
	}
	if o.exp.IsZero() {
		o.exp = time.Now().Add(3 * time.Minute)
	}
	if o.qsh == "" {
		o.qsh = mustQSH(h.t, "POST", path, "")
	}
	tok := jwt.NewWithClaims(o.method, jwt.MapClaims{
		"iss": o.iss, "aud": o.aud, "qsh": o.qsh,
		"iat": iat, "exp": o.exp.Unix(), "sub": "connect:" + tn.clientKey,
	})
	if !o.noKid {
		tok.Header["kid"] = o.kid
	}
	signed, err := tok.SignedString(o.key)
	if err != nil {
		h.t.Fatal(err)
	}
	body, _ := json.Marshal(payload)
	u := h.baseURL + path
	if o.inQuery {
		u += "?jwt=" + signed
	}
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if !o.noAuth && !o.inQuery {
		req.Header.Set("Authorization", "JWT "+signed)
	}
	return h.do(req)
}

// install installs tn with a valid signed install and fails the test
// otherwise.
// nextIssuedAt is the iat of the next signed callback: now, but always later
// than the last one, as a real host's installs are (the registry accepts a
// re-install only when it is signed strictly later than the stored one).
func (h *harness) issuedAt(o installOpts) int64 {
	if o.key != nil || o.kid != "" || o.noKid || o.method != nil {
		return time.Now().Unix() // a forgery: it must not move the real host's clock
	}
	return h.nextIssuedAt()
}

func (h *harness) nextIssuedAt() int64 {
	h.lastIssuedAt = max(time.Now().Unix(), h.lastIssuedAt+1)
	return h.lastIssuedAt
}

func (h *harness) install(tn tenant) {
	h.t.Helper()
	res := h.lifecycle(tn, "installed", tn.payload("installed"), installOpts{})
	if res.StatusCode != http.StatusNoContent {
		h.t.Fatalf("install %s: %d %s", tn.clientKey, res.StatusCode, readBody(res))
	}
	u, _ := url.Parse(tn.baseURL)
	h.host.trust(u.Host, tn.secret)
}

func (h *harness) do(req *http.Request) *http.Response {
	h.t.Helper()
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { res.Body.Close() })
	return res
}

func mustQSH(tb testing.TB, method, path, rawQuery string) string {
	tb.Helper()
	q, err := connect.QSH(method, path, rawQuery, "")
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// hostToken signs a host token for tn (HS256, its shared secret), as a host
// signs iframe URLs and enabled/disabled callbacks.
func hostToken(tb testing.TB, secret string, claims jwt.MapClaims) string {
	tb.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// hostParams are the parameters hosts add to every iframe URL.
const hostParams = "xdm_e=https%3A%2F%2Facme.atlassian.net&xdm_c=channel-1&cp=&lic=none&loc=en-US&tz=Europe%2FBerlin"

// moduleURL returns a module URL signed as tn's host signs it for user sub.
func (h *harness) moduleURL(tn tenant, method, path, rawQuery, sub string) string {
	h.t.Helper()
	tok := hostToken(h.t, tn.secret, jwt.MapClaims{
		"iss": tn.clientKey, "sub": sub, "qsh": mustQSH(h.t, method, path, rawQuery),
		"iat": time.Now().Unix(), "exp": time.Now().Add(3 * time.Minute).Unix(),
	})
	u := h.baseURL + path + "?" + rawQuery
	if rawQuery != "" {
		u += "&"
	}
	return u + "jwt=" + tok
}

func issuePanelQuery(issueID string) string {
	return "issueId=" + issueID + "&issueKey=DEV-" + issueID + "&projectId=10000&projectKey=DEV&" + hostParams
}

func macroQuery(pageID, macroID string) string {
	return "pageId=" + pageID + "&macroId=" + macroID + "&spaceKey=DEV&outputType=display&" + hostParams
}

var metaToken = regexp.MustCompile(`<meta name="token" content="([^"]+)"`)

// session opens a module page as sub and returns the session token it carries.
func (h *harness) session(tn tenant, path, rawQuery, sub string) string {
	h.t.Helper()
	res := h.get(h.moduleURL(tn, "GET", path, rawQuery, sub))
	body := readBody(res)
	if res.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: %d %s (stored: %+v)", path, res.StatusCode, body, h.stored(tn.clientKey))
	}
	m := metaToken.FindStringSubmatch(body)
	if m == nil {
		h.t.Fatalf("no session token in page:\n%s", body)
	}
	return m[1]
}

func (h *harness) issueSession(tn tenant, issueID, sub string) string {
	return h.session(tn, "/jira/panel", issuePanelQuery(issueID), sub)
}

func (h *harness) macroSession(tn tenant, pageID, macroID, sub string) string {
	return h.session(tn, "/confluence/macro", macroQuery(pageID, macroID), sub)
}

func (h *harness) get(u string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(req)
}

// apiResult is an API response, decoded.
type apiResult struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// code is the error code of an error response, or "".
func (r apiResult) code() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

func (r apiResult) str(key string) string { s, _ := r.body[key].(string); return s }

// api calls the JSON API with a session token. body may be nil, a string
// (sent as is) or a value (sent as JSON).
func (h *harness) api(method, path, token string, body any, headers ...string) apiResult {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.baseURL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "JWT "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res := h.do(req)
	raw := readBody(res)
	r := apiResult{status: res.StatusCode, header: res.Header, raw: raw}
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &r.body); err != nil {
			h.t.Fatalf("%s %s: %d, body is not JSON: %q", method, path, res.StatusCode, raw)
		}
	}
	return r
}

func readBody(res *http.Response) string {
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// stored returns the installation as stored, or nil.
func (h *harness) stored(clientKey string) *secrets.Installation {
	inst, err := h.installs.FindInstallation(context.Background(), clientKey)
	if err != nil {
		return nil
	}
	return inst
}

func jsonRequest(tb testing.TB, method, u string, v any) *http.Request {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}
