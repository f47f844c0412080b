// Package server is the HTTP face of the Secrets app: the Connect descriptors,
// lifecycle callbacks, module pages, the JSON API and the static assets, on
// echo. Handlers return errors; handleError renders every one of them, and the
// table in errors.go is the only place an error code becomes a status.
//
// Handlers talk to the services of pkg/secrets and never to storage; identity
// comes only from verified tokens: Connect sessions (pkg/connect) on /api/,
// Forge Invocation Tokens (pkg/forge) on /forge/. Each mode has its own
// authenticator middleware yielding the same secrets.Actor, so both modes
// run the same handlers.
package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/descriptor"
	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/static"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// CDNAllJS is Atlassian's all.js, which every module page loads in production.
const CDNAllJS = "https://connect-cdn.atl-paas.net/all.js"

// Config is what the server needs to know about its deployment.
type Config struct {
	BaseURL       string   // our public base URL, no trailing slash
	AllowedHosts  []string // host patterns a site's baseUrl must match, e.g. *.atlassian.net
	Dev           bool     // serve the local sandbox and accept http site URLs
	JiraKey       string   // app key of the Jira descriptor
	ConfluenceKey string   // app key of the Confluence descriptor
	VendorName    string
	VendorURL     string
	// Limits are the request rate limits; zero values take the defaults.
	Limits RateLimits
	// Licensing turns on Marketplace licensing in Connect mode: the
	// descriptors say enableLicensing, and a site whose licence is not
	// active may not add or edit secrets (Deps.Licences confirms it).
	Licensing bool
}

// Deps are the services and keys the server is built from.
type Deps struct {
	Installations secrets.InstallationService
	Secrets       secrets.SecretService
	Admin         secrets.AdminService
	Admins        AdminChecker         // asks hosts who is a site admin
	Licences      LicenceChecker       // asks hosts for their licence; required with Config.Licensing
	InstallKeys   *connect.InstallKeys // fetches Atlassian's signed-install keys
	SessionKey    []byte               // signs our session tokens; ≥ 32 bytes, never the host's secret
	Logger        zerolog.Logger
	Now           func() time.Time // nil: time.Now
	// Metrics, when set, counts requests and unlock outcomes.
	Metrics *Metrics
	// Sandbox, in dev mode only, mounts the local stand-in for Jira and
	// Confluence under /dev/.
	Sandbox interface{ Mount(*echo.Echo) }
	// Forge, when set, serves the Forge Remote routes under /forge/.
	Forge *Forge
	// Migration, when set, serves data residency: the descriptors' regions
	// and migration hook, and the import of tenants from other realms.
	Migration *Migration
	// ActorContext, when set, returns the context an API request of the
	// verified actor a runs with. secretsd uses it to name the requester of
	// key derivations (seal.WithRequester), which makes them fair between
	// tenants and users without the server knowing about seal.
	ActorContext func(ctx context.Context, a secrets.Actor) context.Context
	// Users, when set, names the people of Connect sites in the audit
	// export (Forge sites: Forge.Users); without it the names stay empty.
	Users *connect.UserDirectory
}

// Server serves the public listener.
type Server struct {
	cfg         Config
	basePath    string
	e           *echo.Echo
	installs    secrets.InstallationService
	secrets     secrets.SecretService
	admin       secrets.AdminService
	admins      AdminChecker
	licences    LicenceChecker
	host        *connect.HostVerifier
	install     *connect.InstallVerifier
	sessions    *connect.Sessions
	descriptors *descriptor.Descriptors
	sandbox     interface{ Mount(*echo.Echo) }
	forge       *Forge
	migration   *Migration
	metrics     *Metrics
	log         zerolog.Logger
	now         func() time.Time

	actorContext   func(context.Context, secrets.Actor) context.Context
	writesByUser   *limiter // creates and password changes per (tenant, account)
	writesByTenant *limiter
	lifecycleByIP  *limiter // unauthenticated lifecycle calls per peer
	lifecycleAll   *limiter
	users          *connect.UserDirectory
	names          nameCache // display names of the audit export
}

// New builds the server and its routes.
func New(cfg Config, deps Deps) (*Server, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("server: base URL %q is not absolute", cfg.BaseURL)
	}
	if deps.Forge != nil && (deps.Forge.Verifier == nil || deps.Forge.Products == nil) {
		return nil, errors.New("server: Forge needs a verifier and a product checker")
	}
	if deps.Installations == nil || deps.Secrets == nil || deps.Admin == nil || deps.Admins == nil || deps.InstallKeys == nil {
		return nil, errors.New("server: installations, secrets, admin, admin checker and install keys are required")
	}
	if cfg.Licensing && deps.Licences == nil {
		return nil, errors.New("server: licensing needs a licence checker")
	}
	if len(deps.SessionKey) < 32 {
		return nil, errors.New("server: the session key must be at least 32 bytes")
	}
	dc := descriptor.Config{
		BaseURL: cfg.BaseURL, JiraKey: cfg.JiraKey, ConfluenceKey: cfg.ConfluenceKey,
		VendorName: cfg.VendorName, VendorURL: cfg.VendorURL, Licensing: cfg.Licensing,
	}
	if m := deps.Migration; m != nil {
		if m.Moves == nil {
			return nil, errors.New("server: data residency needs the engine's moves")
		}
		dc.MigrationHook, dc.MaxMigrationHours = MigrationHookPath, m.MaxDuration.Hours()
		dc.RegionURLs = map[string]string{}
		for region, r := range m.Regions {
			dc.RegionURLs[region] = r.BaseURL
		}
	}
	descs, err := descriptor.Render(dc)
	if err != nil {
		return nil, err
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	basePath := strings.TrimSuffix(u.EscapedPath(), "/")
	s := &Server{
		cfg:      cfg,
		basePath: basePath,
		installs: deps.Installations,
		secrets:  deps.Secrets,
		admin:    deps.Admin,
		admins:   deps.Admins,
		users:    deps.Users,
		licences: deps.Licences,
		host: &connect.HostVerifier{
			Secret: func(ctx context.Context, clientKey string) ([]byte, error) {
				return tenantSecret(ctx, deps.Installations, clientKey)
			},
			BasePath: basePath,
			Now:      now,
		},
		install: &connect.InstallVerifier{
			Keys:     deps.InstallKeys,
			Audience: cfg.BaseURL,
			BasePath: basePath,
			Now:      now,
		},
		sessions:    &connect.Sessions{Key: deps.SessionKey, Now: now},
		descriptors: descs,
		sandbox:     deps.Sandbox,
		forge:       deps.Forge,
		migration:   deps.Migration,
		metrics:     deps.Metrics,
		log:         deps.Logger,
		now:         now,

		actorContext:   deps.ActorContext,
		writesByUser:   newLimiter(cfg.Limits.WritesPerUser.or(Rate{PerSecond: 0.5, Burst: 20}), now),
		writesByTenant: newLimiter(cfg.Limits.WritesPerTenant.or(Rate{PerSecond: 10, Burst: 100}), now),
		lifecycleByIP:  newLimiter(cfg.Limits.LifecyclePerIP.or(Rate{PerSecond: 1, Burst: 30}), now),
		lifecycleAll:   newLimiter(cfg.Limits.Lifecycle.or(Rate{PerSecond: 20, Burst: 200}), now),
	}
	s.e = s.routes()
	return s, nil
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// The real client address is the proxy's business; we log the peer.
	e.IPExtractor = echo.ExtractIPDirect()
	// Route templates are read at request time, once every route below is
	// registered; until then the set is empty and everything is unmatched.
	routeSet := map[string]bool{}
	e.Use(s.edge(func(r string) bool { return routeSet[r] }))

	e.GET("/jira/atlassian-connect.json", s.descriptor(s.descriptors.Jira))
	e.GET("/confluence/atlassian-connect.json", s.descriptor(s.descriptors.Confluence))
	e.GET(descriptor.IconPath, func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=86400")
		return c.Blob(http.StatusOK, "image/svg+xml", descriptor.Icon)
	})
	e.GET("/static/"+static.Version+"/*", s.assets())

	for _, p := range []secrets.Product{secrets.ProductJira, secrets.ProductConfluence} {
		g := e.Group("/" + string(p))
		g.POST("/installed", s.installed(p), s.limitLifecycle)
		g.POST("/uninstalled", s.uninstalled(p), s.limitLifecycle)
		g.POST("/enabled", s.stateChanged(p, secrets.StateEnabled), s.limitLifecycle)
		g.POST("/disabled", s.stateChanged(p, secrets.StateDisabled), s.limitLifecycle)
		g.GET("/admin", s.modulePage(p, kindAdmin))
	}
	e.GET("/jira/panel", s.modulePage(secrets.ProductJira, kindIssuePanel))
	e.GET("/confluence/macro", s.modulePage(secrets.ProductConfluence, kindMacro))

	// Middleware is attached per route rather than with Group.Use, which
	// would register catch-all routes and turn 405s into 404s.
	api := e.Group("/api")
	auth := []echo.MiddlewareFunc{s.requireSession, noStore}
	api.POST("/session/refresh", s.refreshSession, auth...)
	api.GET("/policy", s.panelPolicy, auth...)
	api.GET("/secrets", chain(s.listSecrets, auth...)) // the hot path: see chain
	api.POST("/secrets", s.createSecret, auth...)
	api.POST("/secrets/:id/unlock", s.unlockSecret, auth...)
	api.PUT("/secrets/:id", s.updateSecret, auth...)
	api.PUT("/secrets/:id/password", s.changePassword, auth...)
	api.DELETE("/secrets/:id", s.deleteSecret, auth...)
	api.POST("/secrets/:id/lock", s.lockSecret, auth...)

	admin := slices.Concat(auth, []echo.MiddlewareFunc{s.requireAdmin})
	api.GET("/admin/secrets", s.adminListSecrets, admin...)
	api.DELETE("/admin/secrets/:id", s.adminDeleteSecret, admin...)
	api.POST("/admin/secrets/:id/reset-lockout", s.adminResetLockout, admin...)
	api.GET("/admin/secrets/:id/lockouts", s.adminLockouts, admin...)
	api.POST("/admin/secrets/:id/lockouts/reset", s.adminResetUserLockout, admin...)
	api.GET("/admin/policy", s.adminGetPolicy, admin...)
	api.PUT("/admin/policy", s.adminSetPolicy, admin...)
	api.GET("/admin/audit", s.adminAudit, admin...)
	api.GET("/admin/audit.csv", s.adminAuditCSV, admin...)
	api.GET("/admin/licence", s.adminLicence, admin...)

	if s.forge != nil {
		s.forgeRoutes(e)
	}
	if s.migration != nil {
		s.migrationRoutes(e)
	}
	if s.cfg.Dev && s.sandbox != nil {
		s.sandbox.Mount(e)
	}
	for _, r := range e.Routes() {
		routeSet[r.Path] = true
	}
	return e
}

func (s *Server) descriptor(body []byte) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.JSONBlob(http.StatusOK, body)
	}
}

// assets serves the embedded browser app. Its URLs carry a content hash, so
// responses are cacheable forever.
func (s *Server) assets() echo.HandlerFunc {
	files := http.StripPrefix("/static/"+static.Version+"/", http.FileServerFS(static.FS()))
	return func(c echo.Context) error {
		if strings.HasSuffix(c.Request().URL.Path, "/") {
			return secrets.Errorf(secrets.CodeNotFound, "Not found.") // no directory listings
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// chain applies middleware m to h once, here, in echo's order (m[0]
// outermost). echo applies route middleware anew on every request, a closure
// per layer; the list route, the one called most, is registered chained.
func chain(h echo.HandlerFunc, m ...echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(m) - 1; i >= 0; i-- {
		h = m[i](h)
	}
	return h
}
