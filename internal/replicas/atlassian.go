package replicas

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/golang-jwt/jwt/v5"
)

// Atlassian stands in for Atlassian on loopback, over TLS: the install-key
// server (connect-install-keys.atlassian.com) and the REST API of every
// site it makes. One HTTPS server serves both; a site's base URL is
// https://127.0.0.1:<port>/<site name>, which the server's certificate
// covers. secretsd processes trust that certificate through SSL_CERT_FILE
// (CertFile), so they fetch install keys and ask sites about admins over
// verified TLS, with no test-only switch in secretsd.
type Atlassian struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	kid      string
	pubPEM   []byte
	certFile string
	client   *http.Client // to secretsd's public listeners

	mu     sync.Mutex
	sites  map[string]*Site // by name
	admins map[string]bool  // account ids that administer every site
}

// installKeysPath is where the install keys are served, by kid.
const installKeysPath = "/install-keys/"

// NewAtlassian starts the stand-in and writes its certificate into dir.
func NewAtlassian(dir string) (*Atlassian, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	a := &Atlassian{
		key:    key,
		kid:    newUUID(),
		pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		client: &http.Client{Timeout: 30 * time.Second},
		sites:  map[string]*Site{},
		admins: map[string]bool{},
	}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	a.certFile = filepath.Join(dir, "atlassian.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
	if err := os.WriteFile(a.certFile, cert, 0o644); err != nil {
		a.srv.Close()
		return nil, err
	}
	return a, nil
}

// Close stops the server.
func (a *Atlassian) Close() { a.srv.Close() }

// CertFile is the PEM file of the server's certificate, for SSL_CERT_FILE.
func (a *Atlassian) CertFile() string { return a.certFile }

// InstallKeysURL is secretsd's --install-keys-url.
func (a *Atlassian) InstallKeysURL() string {
	return a.srv.URL + strings.TrimSuffix(installKeysPath, "/")
}

// Host is the host name of every site, for secretsd's --allowed-hosts.
func (a *Atlassian) Host() string {
	u, _ := url.Parse(a.srv.URL)
	return u.Hostname()
}

// SetAdmin makes accountID an administrator of every site.
func (a *Atlassian) SetAdmin(accountID string) {
	a.mu.Lock()
	a.admins[accountID] = true
	a.mu.Unlock()
}

// NewSite makes a Jira site named name (lower-case letters and digits) with
// a fresh client key and shared secret. Install it to use it.
func (a *Atlassian) NewSite(name string) *Site {
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	s := &Site{
		a: a, Name: name, ClientKey: newUUID(), SharedSecret: hex.EncodeToString(secret[:]),
		BaseURL: a.srv.URL + "/" + name, AppKey: DefaultJiraKey,
	}
	a.mu.Lock()
	a.sites[name] = s
	a.mu.Unlock()
	return s
}

// serve answers install-key fetches and the sites' REST calls.
func (a *Atlassian) serve(w http.ResponseWriter, r *http.Request) {
	if kid, ok := strings.CutPrefix(r.URL.Path, installKeysPath); ok {
		// UUIDs are case-insensitive, as at Atlassian.
		if r.Method != http.MethodGet || !strings.EqualFold(kid, a.kid) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(a.pubPEM)
		return
	}
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	a.mu.Lock()
	site := a.sites[name]
	a.mu.Unlock()
	if site == nil {
		http.NotFound(w, r)
		return
	}
	site.serveREST(w, r, "/"+rest)
}

// isAdmin reports whether accountID administers every site.
func (a *Atlassian) isAdmin(accountID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.admins[accountID]
}

// DefaultJiraKey is secretsd's default --jira-app-key, the key of the app
// the sites install.
const DefaultJiraKey = "com.connect-secrets.jira"

// hostTokenTTL is how long the tokens a site signs live, as Atlassian's.
const hostTokenTTL = 3 * time.Minute

// Site is one Jira site of the stand-in: a tenant of the app once
// installed.
type Site struct {
	a            *Atlassian
	Name         string
	ClientKey    string
	SharedSecret string
	BaseURL      string // https://127.0.0.1:<port>/<name>
	AppKey       string // the app key the site installs
}

// Install sends the site's signed installed callback to r, as Atlassian
// does: the payload with the shared secret, signed RS256 with the install
// key (kid in the header), iss the client key, aud the app's base URL, a
// qsh of the request.
func (s *Site) Install(ctx context.Context, r *Replica) error {
	return s.lifecycle(ctx, r, connect.EventInstalled)
}

// Uninstall sends the site's signed uninstalled callback to r.
func (s *Site) Uninstall(ctx context.Context, r *Replica) error {
	return s.lifecycle(ctx, r, connect.EventUninstalled)
}

func (s *Site) lifecycle(ctx context.Context, r *Replica, event string) error {
	p := connect.LifecyclePayload{
		Key: s.AppKey, ClientKey: s.ClientKey, BaseURL: s.BaseURL, DisplayURL: s.BaseURL,
		ProductType: connect.ProductJira, Description: s.Name + " (replicas stand-in)", EventType: event,
		ServerVersion: "100000", PluginsVersion: "1.0.0",
	}
	if event == connect.EventInstalled {
		p.SharedSecret = s.SharedSecret
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	base, err := url.Parse(r.BaseURL)
	if err != nil {
		return err
	}
	path := base.EscapedPath() + "/jira/" + event
	qsh, err := connect.QSH(http.MethodPost, path, "", base.EscapedPath())
	if err != nil {
		return err
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, connect.HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.ClientKey,
			Audience:  jwt.ClaimStrings{r.BaseURL},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(hostTokenTTL)),
		},
		QSH: qsh,
	})
	tok.Header["kid"] = s.a.kid
	signed, err := tok.SignedString(s.a.key)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/jira/"+event, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "JWT "+signed)
	res, err := s.a.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("%s on %s: %s %s", event, r.Name, res.Status, bytes.TrimSpace(b))
	}
	return nil
}

var metaToken = regexp.MustCompile(`<meta name="token" content="([^"]+)"`)

// Panel loads the Secrets issue panel of issue issueID for accountID from
// r, with the URL signed as Jira signs an iframe's (HS256 with the shared
// secret, a qsh of the request), and returns the session token the page
// carries.
func (s *Site) Panel(ctx context.Context, r *Replica, accountID, issueID string) (string, error) {
	return s.modulePage(ctx, r, "/jira/panel", panelQuery(issueID), accountID)
}

// AdminPage loads the app's Jira admin page for accountID from r and
// returns its session token.
func (s *Site) AdminPage(ctx context.Context, r *Replica, accountID string) (string, error) {
	return s.modulePage(ctx, r, "/jira/admin", url.Values{}, accountID)
}

// PanelURL is the signed URL of the Jira issue panel of issueID for
// accountID on r, as Jira puts it in the page's iframe. It may be loaded
// again and again until its host token expires (hostTokenTTL).
func (s *Site) PanelURL(r *Replica, accountID, issueID string) (string, error) {
	return s.moduleURL(r, "/jira/panel", panelQuery(issueID), accountID)
}

func panelQuery(issueID string) url.Values {
	return url.Values{"issueId": {issueID}, "issueKey": {"DEV-" + issueID}, "projectId": {"10000"}, "projectKey": {"DEV"}}
}

func (s *Site) modulePage(ctx context.Context, r *Replica, route string, q url.Values, accountID string) (string, error) {
	u, err := s.moduleURL(r, route, q, accountID)
	if err != nil {
		return "", err
	}
	tok, err := PageSession(ctx, s.a.client, u)
	if err != nil {
		return "", fmt.Errorf("%s on %s: %w", route, r.Name, err)
	}
	return tok, nil
}

// PageSession loads a module page and returns the session token it
// carries in its <meta name="token">, as the page's script reads it.
// secretsd's pages and the ACE app's of the load script both carry one.
func PageSession(ctx context.Context, c *http.Client, pageURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return "", err
	}
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	page, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return "", err
	}
	m := metaToken.FindSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("%s, no session token", res.Status)
	}
	return html.UnescapeString(string(m[1])), nil
}

// moduleURL signs a module's URL as the host does: a host token with the
// qsh of the very request, in the jwt query parameter.
func (s *Site) moduleURL(r *Replica, route string, q url.Values, accountID string) (string, error) {
	base, err := url.Parse(r.BaseURL)
	if err != nil {
		return "", err
	}
	query := q.Encode()
	qsh, err := connect.QSH(http.MethodGet, base.EscapedPath()+route, query, base.EscapedPath())
	if err != nil {
		return "", err
	}
	now := time.Now()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, connect.HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.ClientKey,
			Subject:   accountID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(hostTokenTTL)),
		},
		QSH:     qsh,
		Context: json.RawMessage(`{}`),
	}).SignedString([]byte(s.SharedSecret))
	if err != nil {
		return "", err
	}
	if query != "" {
		query += "&"
	}
	return r.URL + route + "?" + query + "jwt=" + signed, nil
}

// serveREST answers the one REST call secretsd makes to a Jira site, the
// admin check, after verifying it as Jira does: HS256 with the shared
// secret, our app key as issuer, a qsh of the very request.
func (s *Site) serveREST(w http.ResponseWriter, r *http.Request, path string) {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "JWT ")
	if !ok {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	claims := &connect.HostClaims{}
	_, err := jwt.ParseWithClaims(auth, claims, func(*jwt.Token) (any, error) { return []byte(s.SharedSecret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(), jwt.WithIssuer(s.AppKey))
	if err != nil {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	want, err := connect.QSH(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, "/"+s.Name)
	if err != nil || claims.QSH != want {
		http.Error(w, "qsh mismatch", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || path != "/rest/api/3/permissions/check" {
		http.NotFound(w, r)
		return
	}
	var req struct {
		AccountID string `json:"accountId"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	granted := []string{}
	if s.a.isAdmin(req.AccountID) {
		granted = append(granted, "ADMINISTER")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"globalPermissions": granted, "projectPermissions": []any{}})
}

// newUUID returns a random (version 4) UUID, the shape of Atlassian's kids
// and client keys.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
