package server

// Licensing (issue 13): which licence state each front door puts in the
// actor. The rule that uses it is the engine's (requireLicence): with the
// licence inactive, creating, editing and changing passwords are refused
// with 403 licence_inactive; listing, unlocking, locking and deleting never
// are.

import (
	"context"
	"net/http"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// LicenceChecker confirms a Connect site's licence with the host
// (connect.LicenceChecker). A non-nil error means the host could not be
// asked and the answer is the checker's fallback.
type LicenceChecker interface {
	Active(ctx context.Context, h connect.Host, hint string) (bool, error)
}

// connectLicence is the licence state a Connect session carries: unchecked
// with licensing off; otherwise the host's answer, with hint (the module
// URL's signed lic parameter, or "" on a refresh) as the host's word of
// the moment.
func (s *Server) connectLicence(ctx context.Context, inst *secrets.Installation, hint string) secrets.Licence {
	if !s.cfg.Licensing {
		return secrets.LicenceUnchecked
	}
	active, err := s.licences.Active(ctx, s.hostOf(inst), hint)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("client_key", inst.ClientKey).Bool("assumed_active", active).
			Msg("the site's licence could not be confirmed; using the last answer or the host's hint")
	}
	if active {
		return secrets.LicenceActive
	}
	return secrets.LicenceInactive
}

// hostOf is what calling inst's site as the app takes.
func (s *Server) hostOf(inst *secrets.Installation) connect.Host {
	return connect.Host{
		ClientKey: inst.ClientKey, Product: string(inst.Product), BaseURL: inst.BaseURL,
		AppKey: s.appKey(inst.Product), SharedSecret: []byte(inst.SharedSecret),
	}
}

// forgeLicence is the licence state of a verified Forge invocation. The
// platform signs app.license for paid apps in production only: a
// production call without one has no licence; in development and staging
// environments, which never carry one, nothing is checked.
func forgeLicence(enabled bool, inv *forge.Invocation) secrets.Licence {
	switch {
	case !enabled:
		return secrets.LicenceUnchecked
	case inv.License != nil && inv.License.IsActive:
		return secrets.LicenceActive
	case inv.License != nil || inv.EnvType == "PRODUCTION":
		return secrets.LicenceInactive
	}
	return secrets.LicenceUnchecked
}

// licenceJSON is the admin page's view of the licence.
type licenceJSON struct {
	// Licensing says whether this deployment enforces licences at all.
	Licensing bool `json:"licensing"`
	// State is "active", "inactive", or "" when not checked.
	State secrets.Licence `json:"state"`
	// Message is a sentence for the admin page.
	Message string `json:"message"`
}

// adminLicence tells the admin page the site's licence state, as the
// admin's own verified session or invocation carries it.
func (s *Server) adminLicence(c echo.Context) error {
	l := actor(c).Licence
	out := licenceJSON{State: l, Licensing: l != secrets.LicenceUnchecked}
	switch l {
	case secrets.LicenceActive:
		out.Message = "Licence: active."
	case secrets.LicenceInactive:
		out.Message = "Licence: not active. Users can still unlock, copy and delete secrets, but cannot add or edit them until the licence is renewed."
	default:
		out.Message = "Licence: not checked by this deployment."
	}
	return c.JSON(http.StatusOK, out)
}
