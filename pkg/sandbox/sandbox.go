package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// Config is what the sandbox needs to know about the app it stands in front
// of.
type Config struct {
	// BaseURL is the app's base URL without a trailing slash, e.g.
	// http://localhost:8080. The sandbox lives under BaseURL + "/dev".
	BaseURL string

	// JiraKey is the app key of the Jira descriptor: the key of the Jira
	// install payload, and the iss of the app's calls to the dev Jira site.
	JiraKey string

	// ConfluenceKey is the same for Confluence.
	ConfluenceKey string

	// Logger receives the sandbox's own messages, such as a refused host
	// REST call.
	Logger zerolog.Logger

	// ForgeJiraAppID and ForgeConfluenceAppID are the app ARIs the Forge
	// mode signs for; empty means DevForgeJiraAppID and
	// DevForgeConfluenceAppID.
	ForgeJiraAppID, ForgeConfluenceAppID string
}

// User is a user of the dev sites.
type User struct {
	AccountID string // Atlassian account id, the sub of the sandbox's tokens
	Name      string // display name
	Admin     bool   // site administrator of both dev sites
	Key       string // "admin" or "user", the value of the ?as= parameter
}

// The sandbox's users. The admin administers both dev sites; the user does
// not, so the two show per-user unlocks and the app's admin checks.
var (
	adminUser   = User{AccountID: "557058:dev-admin", Name: "Ada Admin", Admin: true, Key: "admin"}
	regularUser = User{AccountID: "557058:dev-user", Name: "Reggie User", Admin: false, Key: "user"}
)

// Keys of Calls, one per host REST stand-in. A key without a suffix counts
// calls the app made server to server, signed as the app; "(browser)" keys
// count the unauthenticated user lookups the app's pages make through
// AP.request.
const (
	CallJiraPermissionsCheck  = "POST " + jiraRoute + "/rest/api/3/permissions/check"
	CallJiraUser              = "GET " + jiraRoute + "/rest/api/3/user"
	CallJiraUserBrowser       = CallJiraUser + " (browser)"
	CallConfluenceUser        = "GET " + confluenceRoute + "/rest/api/user"
	CallConfluenceUserBrowser = CallConfluenceUser + " (browser)"
)

const (
	// mountPath is where Mount registers the sandbox. Routes are registered
	// relative to the server's root, as pkg/server registers its own; the
	// path of BaseURL, if any, is for a proxy in front to strip.
	mountPath = "/dev"

	// jiraRoute and confluenceRoute are the routes of the dev sites'
	// baseUrls. Confluence Cloud's baseUrl ends in /wiki, and the app must
	// cope with that (qsh relative to it, AP.request adding it), so the dev
	// site's does too.
	jiraRoute       = mountPath + "/jira"
	confluenceRoute = mountPath + "/confluence/wiki"

	// Client keys of the dev tenants.
	jiraClientKey       = "dev-jira"
	confluenceClientKey = "dev-confluence"

	// hostTokenTTL is the lifetime of the tokens a host signs for iframes
	// and lifecycle callbacks.
	hostTokenTTL = 3 * time.Minute

	// contextTokenTTL is the lifetime of AP.context.getToken() tokens.
	contextTokenTTL = 15 * time.Minute
)

// Sandbox is the dev-mode stand-in for a Jira site and a Confluence site.
// Create one with New; it is safe for concurrent use.
type Sandbox struct {
	baseURL  string // the app's, no trailing slash
	basePath string // path of baseURL: "" or e.g. "/secrets"
	hostname string
	log      zerolog.Logger

	jira, confluence *tenant

	installKey *rsa.PrivateKey
	kid        string // random UUID naming installKey
	publicPEM  []byte // installKey's public half, PEM "PUBLIC KEY"

	mu    sync.Mutex
	calls map[string]int

	forge *forgeSandbox // Forge mode (forge.go)

	// licenceLapsed is the dev sites' licence switch, off (active) at
	// first (licence.go).
	licenceLapsed atomic.Bool

	pdr personalData // the personal data reporting stand-in (privacy.go)
}

// tenant is one dev site and its installation of the app.
type tenant struct {
	product        string // "jira" or "confluence": productType, and the app's route prefix
	name           string // shown in the sandbox's header
	clientKey      string
	appKey         string
	baseURL        string // the site's baseUrl (and displayUrl), absolute
	route          string // baseURL's route as Mount registers it
	contextPath    string // the cp host parameter: "" for Jira, "/wiki" for Confluence
	sharedSecret   string
	serverVersion  string
	pluginsVersion string

	// verifier checks the app's calls to this site's REST API.
	verifier *connect.HostVerifier
}

// New returns a sandbox for the app at cfg.BaseURL, with a fresh RSA-2048
// install key named by a random UUID kid and a random shared secret for each
// dev tenant. Nothing is kept across restarts: InstallTenants hands the app
// the new secrets each time.
func New(cfg Config) (*Sandbox, error) {
	// Check the configuration before spending time on the key.
	u, err := cfg.baseURL()
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("sandbox: generating the install key: %w", err)
	}
	return newSandbox(cfg, u, key)
}

// baseURL checks cfg and returns its parsed BaseURL.
func (cfg Config) baseURL() (*url.URL, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(cfg.BaseURL, "/") {
		return nil, errors.New("sandbox: the base URL must be an absolute http(s) URL without user info, query, fragment or trailing slash")
	}
	if cfg.JiraKey == "" || cfg.ConfluenceKey == "" {
		return nil, errors.New("sandbox: the Jira and Confluence app keys are required")
	}
	return u, nil
}

// newSandbox builds a sandbox for cfg, whose BaseURL is u, around an install
// key; tests use it to generate one key for the whole run.
func newSandbox(cfg Config, u *url.URL, key *rsa.PrivateKey) (*Sandbox, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("sandbox: encoding the install key: %w", err)
	}
	s := &Sandbox{
		baseURL:    cfg.BaseURL,
		basePath:   u.EscapedPath(),
		hostname:   u.Hostname(),
		log:        cfg.Logger,
		installKey: key,
		kid:        newUUID(),
		publicPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		calls:      make(map[string]int),
	}
	s.jira = s.newTenant(tenant{
		product: "jira", name: "Dev Jira", clientKey: jiraClientKey, appKey: cfg.JiraKey,
		route: jiraRoute, serverVersion: "100266", pluginsVersion: "1001.0.0-SNAPSHOT",
	})
	s.confluence = s.newTenant(tenant{
		product: "confluence", name: "Dev Confluence", clientKey: confluenceClientKey, appKey: cfg.ConfluenceKey,
		route: confluenceRoute, contextPath: "/wiki", serverVersion: "6452", pluginsVersion: "1000.0.0.d1b8a6f2",
	})
	if err := s.newForge(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// newTenant completes t with its URL, a fresh shared secret and the verifier
// of the app's REST calls.
func (s *Sandbox) newTenant(t tenant) *tenant {
	t.baseURL = s.baseURL + t.route
	t.sharedSecret = randomSecret()
	t.verifier = &connect.HostVerifier{
		// A host knows the app by its key: only the app, signing with
		// this tenant's secret, may call this site's API.
		Secret: func(_ context.Context, iss string) ([]byte, error) {
			if iss != t.appKey {
				return nil, connect.ErrUnknownIssuer
			}
			return []byte(t.sharedSecret), nil
		},
		// The app signs paths relative to the site's baseUrl. Stripping
		// the route (not basePath+route) is right both when requests reach
		// us at the root and when a proxy has stripped basePath first.
		BasePath: t.route,
	}
	return &t
}

// InstallKeysURL is the URL secretsd uses as --install-keys-url in dev mode:
// the sandbox serves its install key's public half at InstallKeysURL/<kid>.
func (s *Sandbox) InstallKeysURL() string { return s.baseURL + mountPath + "/install-keys" }

// Hostname is the host of the base URL without the port. The dev sites live
// there, so secretsd adds it to its allowed hosts in dev mode.
func (s *Sandbox) Hostname() string { return s.hostname }

// Users returns the sandbox's users: the admin, then the regular user.
func (s *Sandbox) Users() []User { return []User{adminUser, regularUser} }

// Calls returns how many calls each host REST stand-in has answered since
// New, keyed by the Call… constants. Refused calls (bad or missing JWT,
// malformed input) are not counted, so a count that goes up means the app
// asked the host correctly.
func (s *Sandbox) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

func (s *Sandbox) countCall(key string) {
	s.mu.Lock()
	s.calls[key]++
	s.mu.Unlock()
}

// Mount registers every /dev/ route on e. Call it only in dev mode.
func (s *Sandbox) Mount(e *echo.Echo) {
	// Middleware per route, not Group.Use, which would register catch-all
	// routes (pkg/server does the same).
	mw := []echo.MiddlewareFunc{devHeaders}

	e.GET(mountPath, func(c echo.Context) error {
		return c.Redirect(http.StatusFound, s.link(mountPath+"/"))
	}, mw...)
	e.GET(mountPath+"/", s.indexPage, mw...)
	e.GET(mountPath+"/all.js", serveAsset("all.js", "text/javascript; charset=utf-8"), mw...)
	e.GET(mountPath+"/host.js", serveAsset("host.js", "text/javascript; charset=utf-8"), mw...)
	e.GET(mountPath+"/host.css", serveAsset("host.css", "text/css; charset=utf-8"), mw...)
	e.GET(mountPath+"/tokens.css", serveAsset("tokens.css", "text/css; charset=utf-8"), mw...)
	e.GET(mountPath+"/install-keys/:kid", s.installKeyHandler, mw...)

	e.GET(jiraRoute+issueRoute+":issueKey", s.issuePage, mw...)
	e.GET(jiraRoute+adminRoute, s.adminPage(s.jira), mw...)
	e.GET(confluenceRoute+pageRoute+":pageId", s.confluencePage, mw...)
	e.GET(confluenceRoute+adminRoute, s.adminPage(s.confluence), mw...)

	e.GET(mountPath+"/jira/context-token", s.contextToken(s.jira), mw...)
	e.GET(mountPath+"/confluence/context-token", s.contextToken(s.confluence), mw...)

	e.POST(jiraRoute+"/rest/api/3/permissions/check", s.jira.rest(s.jiraPermissionsCheck), mw...)
	e.GET(jiraRoute+"/rest/api/3/user", s.jira.rest(s.jiraUser), mw...)
	e.GET(confluenceRoute+"/rest/api/user", s.confluence.rest(s.confluenceUser), mw...)
	e.GET(jiraRoute+"/rest/atlassian-connect/1/addons/:key", s.jira.rest(s.addon(s.jira)), mw...)
	e.GET(confluenceRoute+"/rest/atlassian-connect/1/addons/:key", s.confluence.rest(s.addon(s.confluence)), mw...)
	e.POST(jiraRoute+"/rest/atlassian-connect/latest/report/accounts", s.jira.rest(s.reportAccounts(s.jira)), mw...)
	e.POST(confluenceRoute+"/rest/atlassian-connect/latest/report/accounts", s.confluence.rest(s.reportAccounts(s.confluence)), mw...)
	e.GET(mountPath+"/licence", s.getLicence, mw...)
	e.POST(mountPath+"/licence", s.setLicence, mw...)
	e.GET(mountPath+"/licence.js", serveAsset("licence.js", "text/javascript; charset=utf-8"), mw...)

	s.mountForge(e, mw)
}

// pageCSP is the Content-Security-Policy of every sandbox response: only our
// own scripts, styles and frames, so the sandbox pages hold the app to the
// same no-inline-code rule it follows itself.
const pageCSP = "default-src 'self'; frame-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// devHeaders sets the headers every sandbox response carries. Nothing is
// cached: pages and tokens are per user and per moment, and during
// development an edited asset should show at once.
func devHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("Cache-Control", "no-store")
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		// Iframe URLs carry host tokens; no Referer may leak them.
		h.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

// userFrom returns the user named by ?as= (the admin when absent). An
// unknown name is an error rather than the admin, so that a typo in a test
// cannot silently run it with admin rights.
func userFrom(c echo.Context) (User, error) {
	switch c.QueryParam("as") {
	case "", adminUser.Key:
		return adminUser, nil
	case regularUser.Key:
		return regularUser, nil
	}
	return User{}, echo.NewHTTPError(http.StatusBadRequest, "unknown sandbox user: use ?as=admin or ?as=user")
}

// themeFrom returns the colour mode named by ?theme= (light when absent).
// An unknown one is an error, like an unknown user, so that a test asking
// for dark cannot silently run in light.
func themeFrom(c echo.Context) (string, error) {
	switch t := c.QueryParam("theme"); t {
	case "", "light":
		return "light", nil
	case "dark":
		return t, nil
	}
	return "", echo.NewHTTPError(http.StatusBadRequest, "unknown sandbox theme: use ?theme=light or ?theme=dark")
}

// userByAccountID returns the user with this Atlassian account id.
func userByAccountID(id string) (User, bool) {
	for _, u := range []User{adminUser, regularUser} {
		if u.AccountID == id {
			return u, true
		}
	}
	return User{}, false
}

// randomSecret returns a shared secret like the ones hosts issue: 256 random
// bits, URL-safe base64.
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID in lower case.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
