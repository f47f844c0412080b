package server

// The Forge Remote front door (forge.md): every request carries a Forge
// Invocation Token, verified by pkg/forge, which this file turns into the
// same secrets.Actor the Connect session yields, so the secrets and admin
// handlers are the very ones /api/ uses. The authenticator is middleware;
// handlers never see a FIT.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// ForgeProducts checks, as the user, what a FIT's context only claims
// (forge.Products).
type ForgeProducts interface {
	CheckContainer(ctx context.Context, inv *forge.Invocation, userToken string, c forge.Container) (bool, error)
	IsAdmin(ctx context.Context, inv *forge.Invocation, userToken string) (bool, error)
}

// Forge is what the Forge Remote routes need. With it nil, /forge/ is not
// served.
type Forge struct {
	Verifier *forge.Verifier
	Products ForgeProducts
	// LifecycleEndpoint and PreUninstallEndpoint are the endpoint module
	// keys of the manifests' trigger and preUninstall (app.module.key of
	// their calls); defaults "lifecycle" and "pre-uninstall".
	LifecycleEndpoint    string
	PreUninstallEndpoint string
	// Licensing enforces Marketplace licences (the manifests' licensing:
	// enabled): a production installation whose app.license is not active
	// may not add or edit secrets.
	Licensing bool
	// SystemTokens, when set, keeps the app system token of invocations
	// that carry one (x-forge-oauth-system) for background work such as
	// personal-data reporting; engine.Engine implements it.
	SystemTokens ForgeSystemTokens
	// Users, when set, names the people of Forge sites in the audit
	// export, asked with the kept system token.
	Users *forge.UserDirectory
}

// ForgeSystemTokens keeps a tenant's app system token until exp, sealed;
// it writes only when the kept one is missing or about to expire.
type ForgeSystemTokens interface {
	KeepSystemToken(ctx context.Context, tenant, token string, exp time.Time, apiBaseURL string) (bool, error)
}

// ForgeTenantPrefix starts every Forge tenant's client key; a Connect
// clientKey never may.
const ForgeTenantPrefix = "forge:"

// Headers of Forge calls. The user token is used for product calls and
// never logged or stored.
const (
	headerForgeUserToken = "X-Forge-Oauth-User"
	// The app system token, and its expiry. UNVERIFIED: that the platform
	// sends x-forge-oauth-system-expiry at all, and its format; accepted
	// as Unix seconds or RFC 3339.
	headerForgeSystemToken  = "X-Forge-Oauth-System"
	headerForgeSystemExpiry = "X-Forge-Oauth-System-Expiry"
	headerTraceID           = "X-B3-Traceid"
	headerSpanID            = "X-B3-Spanid"
)

// forgeRoute says which module calls a route accepts.
type forgeRoute int

const (
	forgeUI        forgeRoute = iota // the issue panel, the macro, with a user
	forgeAdmin                       // the admin page, with a user
	forgeEndpoint                    // the platform itself, no user
	forgeMigration                   // the platform's data residency hooks, no user
)

const forgeInvocationKey = "forge-invocation"

func (s *Server) forgeRoutes(e *echo.Echo) {
	f := s.forge
	if f.LifecycleEndpoint == "" {
		f.LifecycleEndpoint = "lifecycle"
	}
	if f.PreUninstallEndpoint == "" {
		f.PreUninstallEndpoint = "pre-uninstall"
	}
	g := e.Group("/forge")
	g.POST("/lifecycle", s.forgeLifecycle, s.forgeAuth(forgeEndpoint, f.LifecycleEndpoint), noStore)
	g.POST("/pre-uninstall", s.forgePreUninstall, s.forgeAuth(forgeEndpoint, f.PreUninstallEndpoint), noStore)

	ui := []echo.MiddlewareFunc{s.forgeAuth(forgeUI, ""), s.forgeContainer, noStore}
	g.GET("/api/policy", s.panelPolicy, ui...)
	g.GET("/api/secrets", chain(s.listSecrets, ui...))
	g.POST("/api/secrets", s.createSecret, ui...)
	g.POST("/api/secrets/:id/unlock", s.unlockSecret, ui...)
	g.PUT("/api/secrets/:id", s.updateSecret, ui...)
	g.PUT("/api/secrets/:id/password", s.changePassword, ui...)
	g.DELETE("/api/secrets/:id", s.deleteSecret, ui...)
	g.POST("/api/secrets/:id/lock", s.lockSecret, ui...)

	admin := []echo.MiddlewareFunc{s.forgeAuth(forgeAdmin, ""), s.forgeRequireAdmin, noStore}
	g.GET("/api/admin/secrets", s.adminListSecrets, admin...)
	g.DELETE("/api/admin/secrets/:id", s.adminDeleteSecret, admin...)
	g.POST("/api/admin/secrets/:id/reset-lockout", s.adminResetLockout, admin...)
	g.GET("/api/admin/secrets/:id/lockouts", s.adminLockouts, admin...)
	g.POST("/api/admin/secrets/:id/lockouts/reset", s.adminResetUserLockout, admin...)
	g.GET("/api/admin/policy", s.adminGetPolicy, admin...)
	g.PUT("/api/admin/policy", s.adminSetPolicy, admin...)
	g.GET("/api/admin/audit", s.adminAudit, admin...)
	g.GET("/api/admin/audit.csv", s.adminAuditCSV, admin...)
	g.GET("/api/admin/licence", s.adminLicence, admin...)
}

// forgeAuth verifies the FIT, admits only the module calls route r accepts,
// finds or creates the tenant (for UI and admin calls), and puts the Actor
// in the context. 401 is for a missing or bad FIT only: a good FIT from the
// wrong module is 403.
func (s *Server) forgeAuth(r forgeRoute, endpointKey string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := req.Context()
			token, ok := strings.CutPrefix(req.Header.Get(echo.HeaderAuthorization), "Bearer ")
			if !ok || token == "" {
				return secrets.Errorf(secrets.CodeUnauthorized, "A Forge invocation token is required.")
			}
			inv, err := s.forge.Verifier.Verify(ctx, token)
			if errors.Is(err, forge.ErrKeysUnavailable) {
				return &secrets.Error{Code: secrets.CodeUnavailable, Message: "The Forge signing keys could not be fetched. Try again.", RetryAfter: 5 * time.Second, Err: err}
			}
			if err != nil {
				// The error is a fixed reason, never the token.
				zerolog.Ctx(ctx).Info().Err(err).Str("trace_id", traceHeader(req, headerTraceID)).Msg("forge invocation token refused")
				return secrets.Errorf(secrets.CodeUnauthorized, "The Forge invocation token is not valid.")
			}
			log := zerolog.Ctx(ctx).With().
				Str("trace_id", traceHeader(req, headerTraceID)).Str("span_id", traceHeader(req, headerSpanID)).
				Str("jti", inv.JTI).Str("client_key", inv.TenantKey()).
				Str("module_type", inv.Module.Type).Str("module_key", inv.Module.Key).
				Str("env_type", inv.EnvType).Logger()
			ctx = log.WithContext(ctx)
			c.SetRequest(req.WithContext(ctx))

			var allowed bool
			switch r {
			case forgeUI:
				allowed = inv.FromUI()
			case forgeAdmin:
				allowed = inv.FromAdmin()
			case forgeEndpoint:
				allowed = inv.FromEndpoint(endpointKey)
			case forgeMigration:
				// The module type of these calls is unverified; the key is
				// ours, and no user may make them.
				allowed = inv.Principal == "" && inv.Module.Key == endpointKey
			}
			if !allowed {
				log.Info().Msg("forge call from a module this route does not serve")
				return secrets.Errorf(secrets.CodeForbidden, "This module may not call this route.")
			}
			c.Set(forgeInvocationKey, inv)
			if r == forgeEndpoint || r == forgeMigration {
				return next(c)
			}

			inst, err := s.forgeTenant(ctx, inv, false)
			if err != nil {
				return err
			}
			s.keepSystemToken(ctx, inv, req)
			if !inst.State.Active() {
				return secrets.Errorf(secrets.CodeForbidden, "This app is not active on your site.")
			}
			a := secrets.Actor{
				ClientKey: inst.ClientKey, AccountID: inv.Principal, Container: secrets.AdminContainer, Location: "Administration",
				Licence: forgeLicence(s.forge.Licensing, inv),
			}
			if r == forgeUI {
				if a.Container, a.Location, err = forgeContainerOf(inv); err != nil {
					return err
				}
			}
			c.Set(actorKey, a)
			return next(c)
		}
	}
}

// assumedSystemTokenLife is the lifetime assumed for a system token whose
// expiry the platform does not send (the token is opaque to us).
// UNVERIFIED: Atlassian documents no lifetime here; 55 minutes stays under
// the hour OAuth access tokens usually last. maxSystemTokenLife caps what
// an expiry header may claim.
const (
	assumedSystemTokenLife = 55 * time.Minute
	maxSystemTokenLife     = time.Hour
)

// keepSystemToken keeps the invocation's app system token, if it carries
// one, for the tenant's background work. Only a verified invocation whose
// tenant exists gets here, and the apiBaseUrl kept is the FIT's. A failure
// is logged (never the token) and does not fail the request: the next
// invocation tries again.
func (s *Server) keepSystemToken(ctx context.Context, inv *forge.Invocation, req *http.Request) {
	token := req.Header.Get(headerForgeSystemToken)
	if s.forge.SystemTokens == nil || token == "" || len(token) > 16<<10 {
		return
	}
	now := s.now()
	exp := now.Add(assumedSystemTokenLife)
	if v := req.Header.Get(headerForgeSystemExpiry); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			exp = time.Unix(n, 0)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			exp = t
		}
	}
	if limit := now.Add(maxSystemTokenLife); exp.After(limit) {
		exp = limit
	}
	kept, err := s.forge.SystemTokens.KeepSystemToken(ctx, inv.TenantKey(), token, exp, inv.APIBaseURL)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("forge: the app system token could not be kept")
	} else if kept {
		zerolog.Ctx(ctx).Debug().Time("expires", exp).Msg("forge: app system token kept")
	}
}

// traceHeader returns a trace header if it looks like a trace id (hex, at
// most 32 digits); anything else is not logged.
func traceHeader(r *http.Request, name string) string {
	v := r.Header.Get(name)
	if len(v) == 0 || len(v) > 32 || strings.Trim(v, "0123456789abcdefABCDEF") != "" {
		return ""
	}
	return v
}

// forgeContainerOf derives the container and its label from the verified
// FIT's context, and nothing else: no body, path, query or header of the
// browser's can name another one. The container is still a claim until
// the forgeContainer middleware has checked it with the product.
func forgeContainerOf(inv *forge.Invocation) (secrets.Container, string, error) {
	notFound := secrets.Errorf(secrets.CodeNotFound, "Not found.")
	if inv.Context == nil {
		return "", "", notFound
	}
	ext := inv.Context.Extension
	switch inv.Product {
	case forge.ProductJira:
		if ext.Issue == nil {
			return "", "", notFound
		}
		ctr, err := secrets.JiraIssueContainer(string(ext.Issue.ID))
		if err != nil {
			return "", "", notFound
		}
		label := ext.Issue.Key
		if label == "" {
			label = "Issue " + string(ext.Issue.ID)
		}
		return ctr, truncateLabel(label), nil
	case forge.ProductConfluence:
		if ext.Content == nil {
			return "", "", notFound
		}
		ctr, err := secrets.ConfluenceMacroContainer(string(ext.Content.ID), inv.Context.LocalID)
		if err != nil {
			return "", "", notFound
		}
		return ctr, truncateLabel("Page " + string(ext.Content.ID)), nil
	}
	return "", "", notFound
}

// forgeContainer admits a UI call only once the product has confirmed, as
// the user, that the user may see the container: every secrets operation
// of a container the user cannot see, or that does not exist, is 404. A
// product that cannot answer refuses (503), never grants.
func (s *Server) forgeContainer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		inv, _ := c.Get(forgeInvocationKey).(*forge.Invocation)
		if inv == nil || inv.Context == nil {
			return secrets.Errorf(secrets.CodeNotFound, "Not found.")
		}
		fc := forge.Container{LocalID: inv.Context.LocalID}
		if e := inv.Context.Extension; e.Issue != nil && inv.Product == forge.ProductJira {
			fc = forge.Container{IssueID: string(e.Issue.ID)}
		} else if e.Content != nil && inv.Product == forge.ProductConfluence {
			fc.PageID, fc.BlogPost = string(e.Content.ID), e.Content.Type == "blogpost"
		}
		ctx := c.Request().Context()
		ok, err := s.forge.Products.CheckContainer(ctx, inv, c.Request().Header.Get(headerForgeUserToken), fc)
		switch {
		case errors.Is(err, forge.ErrNoUserToken):
			zerolog.Ctx(ctx).Warn().Msg("forge call without x-forge-oauth-user: enable appUserToken on the endpoint")
			return secrets.Errorf(secrets.CodeNotFound, "Not found.")
		case err != nil:
			return &secrets.Error{Code: secrets.CodeUnavailable, Message: "Your site could not confirm access to this item. Try again.", RetryAfter: 5 * time.Second, Err: err}
		case !ok:
			zerolog.Ctx(ctx).Info().Msg("forge container not confirmed by the product")
			return secrets.Errorf(secrets.CodeNotFound, "Not found.")
		}
		return next(c)
	}
}

// forgeRequireAdmin admits admin calls of users the product, asked as the
// user, confirms are site admins. The admin module alone proves nothing.
func (s *Server) forgeRequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		inv, _ := c.Get(forgeInvocationKey).(*forge.Invocation)
		if inv == nil {
			return secrets.Errorf(secrets.CodeForbidden, "Open the app's admin page to do this.")
		}
		ctx := c.Request().Context()
		admin, err := s.forge.Products.IsAdmin(ctx, inv, c.Request().Header.Get(headerForgeUserToken))
		switch {
		case errors.Is(err, forge.ErrNoUserToken):
			zerolog.Ctx(ctx).Warn().Msg("forge call without x-forge-oauth-user: enable appUserToken on the endpoint")
			return secrets.Errorf(secrets.CodeForbidden, "Only site admins can do this.")
		case err != nil:
			return &secrets.Error{Code: secrets.CodeUnavailable, Message: "Your site could not confirm your admin rights. Try again.", RetryAfter: 5 * time.Second, Err: err}
		case !admin:
			zerolog.Ctx(ctx).Info().Msg("admin API refused to a non-admin")
			return secrets.Errorf(secrets.CodeForbidden, "Only site admins can do this.")
		}
		return next(c)
	}
}

// forgeTenant returns the invocation's installation, creating it when the
// lifecycle trigger has not arrived yet (it may lag minutes behind the first
// call). With reactivate, an uninstalled record is installed again: only
// the platform's own installed/upgraded trigger does that.
func (s *Server) forgeTenant(ctx context.Context, inv *forge.Invocation, reactivate bool) (*secrets.Installation, error) {
	key := inv.TenantKey()
	inst, err := s.installs.FindInstallation(ctx, key)
	switch {
	case err == nil && (!reactivate || inst.State.Active()) && inst.CloudID != "":
		return inst, nil
	case err == nil:
		// Reinstalled after pre-uninstall, or a record without its cloud id.
	case secrets.ErrorCode(err) == secrets.CodeNotFound:
		inst = nil
	default:
		return nil, err
	}
	now := s.now()
	next := &secrets.Installation{
		ClientKey: key, Product: secrets.Product(inv.Product), AppKey: inv.App.ID,
		BaseURL: inv.APIBaseURL, Description: "Forge " + strings.ToLower(inv.EnvType),
		CloudID: inv.CloudID, State: secrets.StateInstalled, InstalledAt: now, UpdatedAt: now,
	}
	if inst != nil {
		next.InstalledAt = inst.InstalledAt
		if !reactivate {
			next.State, next.UninstalledAt = inst.State, inst.UninstalledAt
		}
	}
	if err := s.installs.SaveInstallation(ctx, next); err != nil {
		return nil, err
	}
	zerolog.Ctx(ctx).Info().Str("product", inv.Product).Bool("existed", inst != nil).Msg("forge installation saved")
	return next, nil
}

// limitTriggerBody bounds a trigger's body; it is only logged from.
const limitTriggerBody = 64 << 10

// forgeLifecycle handles the installed and upgraded triggers: the tenant is
// created (or re-activated) from the verified FIT, not from the body, whose
// event type is only logged. Repeats are cheap no-ops.
func (s *Server) forgeLifecycle(c echo.Context) error {
	inv := c.Get(forgeInvocationKey).(*forge.Invocation)
	ctx := c.Request().Context()
	var body struct {
		EventType string `json:"eventType"`
	}
	data, _ := io.ReadAll(io.LimitReader(c.Request().Body, limitTriggerBody))
	_ = json.Unmarshal(data, &body)
	event := body.EventType
	if len(event) > 64 || strings.ContainsFunc(event, func(r rune) bool { return r < ' ' }) {
		event = ""
	}
	if _, err := s.forgeTenant(ctx, inv, true); err != nil {
		return err
	}
	s.keepSystemToken(ctx, inv, c.Request())
	zerolog.Ctx(ctx).Info().Str("event", event).Msg("forge lifecycle")
	return c.NoContent(http.StatusNoContent)
}

// forgePreUninstall applies Connect's uninstall rule: the data is kept for
// the retention period, and the installation stops being served at once.
func (s *Server) forgePreUninstall(c echo.Context) error {
	inv := c.Get(forgeInvocationKey).(*forge.Invocation)
	ctx := c.Request().Context()
	err := s.installs.SetInstallationState(ctx, inv.TenantKey(), secrets.StateUninstalled, s.now())
	if err != nil && secrets.ErrorCode(err) != secrets.CodeNotFound {
		return err
	}
	zerolog.Ctx(ctx).Info().Msg("forge pre-uninstall")
	return c.NoContent(http.StatusNoContent)
}
