package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// limitLifecycleBody bounds a lifecycle callback's body.
const limitLifecycleBody = 64 << 10

// installed handles the signed `installed` callback: the first install, and
// every repeat (upgrade, secret rotation, site rename). Only a payload signed
// by Atlassian's install key for this very request creates or replaces a
// tenant; the registry decides, in one transaction, whether it is newer than
// the one on record or the very same request again.
func (s *Server) installed(p secrets.Product) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		payload, body, err := s.readLifecycle(c, p, "installed")
		if err != nil {
			return err
		}
		ev, err := s.verifySignedInstall(c, payload, body)
		if err != nil {
			return err
		}
		now := s.now()
		inst := &secrets.Installation{
			ClientKey: payload.ClientKey, Product: p, AppKey: payload.Key,
			SharedSecret: payload.SharedSecret, BaseURL: payload.BaseURL, DisplayURL: payload.DisplayURL,
			Description: payload.Description, ServerVersion: payload.ServerVersion,
			PluginsVersion: payload.PluginsVersion, OAuthClientID: payload.OAuthClientID,
			State: secrets.StateInstalled, InstalledAt: now, UpdatedAt: now,
		}
		if validCloudID(payload.CloudID) {
			inst.CloudID = payload.CloudID
		}
		prev, err := s.installs.Install(ctx, inst, ev)
		if err != nil {
			return err
		}
		zerolog.Ctx(ctx).Info().Str("client_key", inst.ClientKey).Str("product", string(p)).
			Bool("reinstall", prev != nil).Msg("installed")
		return c.NoContent(http.StatusNoContent)
	}
}

// uninstalled handles the signed `uninstalled` callback. The tenant's data is
// kept (for the retention period); its tokens stop working at once. The
// registry refuses another product's tenant and an uninstall signed before
// the install on record (a replay after a re-install).
func (s *Server) uninstalled(p secrets.Product) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		payload, body, err := s.readLifecycle(c, p, "uninstalled")
		if err != nil {
			return err
		}
		ev, err := s.verifySignedInstall(c, payload, body)
		if err != nil {
			return err
		}
		err = s.installs.Uninstall(ctx, payload.ClientKey, p, ev)
		if err != nil && secrets.ErrorCode(err) != secrets.CodeNotFound {
			return err
		}
		zerolog.Ctx(ctx).Info().Str("client_key", payload.ClientKey).Msg("uninstalled")
		return c.NoContent(http.StatusNoContent)
	}
}

// stateChanged handles `enabled` and `disabled`, which hosts sign with the
// tenant's shared secret (HS256, qsh) rather than the install key.
func (s *Server) stateChanged(p secrets.Product, state secrets.State) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		payload, _, err := s.readLifecycle(c, p, string(state))
		if err != nil {
			return err
		}
		claims, err := s.verifyHost(c)
		if err != nil {
			return err
		}
		if claims.Issuer != payload.ClientKey {
			return secrets.Errorf(secrets.CodeUnauthorized, "The token does not belong to this installation.")
		}
		inst, err := s.installs.FindInstallation(ctx, payload.ClientKey)
		if err != nil {
			return err
		}
		if inst.Product != p {
			return secrets.Errorf(secrets.CodeForbidden, "This client key belongs to another product.")
		}
		// disabled and uninstalled may arrive out of order; the registry
		// keeps an uninstalled tenant uninstalled, deciding in the same
		// transaction as the write.
		if err := s.installs.SetInstallationState(ctx, payload.ClientKey, state, s.now()); err != nil {
			return err
		}
		zerolog.Ctx(ctx).Info().Str("client_key", payload.ClientKey).Str("state", string(state)).Msg("lifecycle")
		return c.NoContent(http.StatusNoContent)
	}
}

// readLifecycle reads and checks a lifecycle payload: its event, our app key
// for this product, and a site URL on the allow-list. The body is restored
// for the signature check, which does not read it (qsh covers method, path
// and query only).
func (s *Server) readLifecycle(c echo.Context, p secrets.Product, event string) (*connect.LifecyclePayload, [32]byte, error) {
	var digest [32]byte
	r := c.Request()
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limitLifecycleBody))
	if err != nil {
		return nil, digest, secrets.Errorf(secrets.CodeTooLarge, "The lifecycle payload is too large.")
	}
	defer clear(body)
	// The install token does not cover the body, so the registry tells a
	// retried request from a replay with another body by this digest.
	digest = sha256.Sum256(body)
	payload, err := connect.ParseLifecycle(bytes.NewReader(body), s.cfg.Dev)
	if err != nil {
		return nil, digest, secrets.Errorf(secrets.CodeInvalid, "The lifecycle payload is not valid.")
	}
	// The forge: prefix is the Forge tenants' namespace.
	if strings.HasPrefix(payload.ClientKey, ForgeTenantPrefix) {
		return nil, digest, secrets.Errorf(secrets.CodeInvalid, "The lifecycle payload is not valid.")
	}
	if payload.EventType != event {
		return nil, digest, secrets.Errorf(secrets.CodeInvalid, "The payload is for another lifecycle event.")
	}
	if want := s.appKey(p); payload.Key != want {
		return nil, digest, secrets.Errorf(secrets.CodeInvalid, "The payload is for another app.")
	}
	for _, raw := range []string{payload.BaseURL, payload.DisplayURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || !connect.HostAllowed(u.Hostname(), s.cfg.AllowedHosts) {
			return nil, digest, secrets.Errorf(secrets.CodeForbidden, "This site's host is not allowed.")
		}
	}
	return payload, digest, nil
}

// verifySignedInstall checks the RS256 install signature and returns what
// the registry needs to order the event. A key server that cannot be reached
// is 503, so the host retries; a bad token is 401.
func (s *Server) verifySignedInstall(c echo.Context, payload *connect.LifecyclePayload, body [32]byte) (secrets.SignedEvent, error) {
	claims, err := s.install.VerifyInstall(c.Request().Context(), c.Request(), payload.ClientKey)
	switch {
	case err == nil:
		if claims.IssuedAt == nil || claims.ExpiresAt == nil {
			return secrets.SignedEvent{}, secrets.Errorf(secrets.CodeUnauthorized, "The install signature is not valid.")
		}
		token, _ := connect.TokenFromRequest(c.Request())
		return secrets.SignedEvent{
			IssuedAt: claims.IssuedAt.Time, ExpiresAt: claims.ExpiresAt.Time,
			TokenID: sha256.Sum256([]byte(token)), BodyHash: body,
		}, nil
	case errors.Is(err, connect.ErrKeyUnavailable):
		return secrets.SignedEvent{}, &secrets.Error{Code: secrets.CodeUnavailable, Message: "The install signing key could not be fetched. Try again.", Err: err}
	default:
		zerolog.Ctx(c.Request().Context()).Info().Err(err).Msg("signed install refused")
		return secrets.SignedEvent{}, secrets.Errorf(secrets.CodeUnauthorized, "The install signature is not valid.")
	}
}

// verifyHost checks a host-signed HS256 request with a computed qsh. A bad
// token is 401; a failure to look the tenant up is ours, and a 503.
func (s *Server) verifyHost(c echo.Context) (*connect.HostClaims, error) {
	memo := &installMemo{}
	ctx := context.WithValue(c.Request().Context(), installMemoKey{}, memo)
	claims, err := s.host.VerifyRequest(ctx, c.Request())
	switch {
	case err == nil:
		if memo.inst != nil && memo.inst.ClientKey == claims.Issuer {
			c.Set(verifiedInstallKey, memo.inst)
		}
		return claims, nil
	case errors.Is(err, connect.ErrNoToken), errors.Is(err, connect.ErrInvalidToken), errors.Is(err, connect.ErrUnknownIssuer), errors.Is(err, connect.ErrBadQuery):
		zerolog.Ctx(c.Request().Context()).Debug().Err(err).Msg("host token refused")
		return nil, secrets.Errorf(secrets.CodeUnauthorized, "The request's token is not valid.")
	default:
		return nil, &secrets.Error{Code: secrets.CodeUnavailable, Message: "The request could not be verified right now. Try again.", Err: err}
	}
}

func (s *Server) appKey(p secrets.Product) string {
	if p == secrets.ProductJira {
		return s.cfg.JiraKey
	}
	return s.cfg.ConfluenceKey
}

// tenantSecret is the HostVerifier's lookup: the shared secret of an
// installation that exists. Disabled and uninstalled tenants still verify
// here so their lifecycle callbacks work; module routes and the API check
// the state themselves.
func tenantSecret(ctx context.Context, installs secrets.InstallationService, clientKey string) ([]byte, error) {
	// A Forge tenant has no shared secret: no host token can be its.
	if strings.HasPrefix(clientKey, ForgeTenantPrefix) {
		return nil, connect.ErrUnknownIssuer
	}
	inst, err := installs.FindInstallation(ctx, clientKey)
	if secrets.ErrorCode(err) == secrets.CodeNotFound {
		return nil, connect.ErrUnknownIssuer
	}
	if err != nil {
		return nil, err
	}
	if m, ok := ctx.Value(installMemoKey{}).(*installMemo); ok {
		m.inst = inst
	}
	return []byte(inst.SharedSecret), nil
}

// installMemo carries the installation that verified a request's host
// token to the handler, so a module page looks its tenant up once.
type installMemo struct{ inst *secrets.Installation }

type installMemoKey struct{}

// activeInstallation returns the installation if its module pages and API
// are being served.
func (s *Server) activeInstallation(ctx context.Context, clientKey string, p secrets.Product) (*secrets.Installation, error) {
	inst, err := s.installs.FindInstallation(ctx, clientKey)
	return checkActive(inst, err, p)
}

// verifiedInstallKey is the context key of the installation whose shared
// secret verified the request's host token (verifyHost).
const verifiedInstallKey = "verified-installation"

// hostInstallation is activeInstallation for a request verifyHost let in:
// the installation it read to verify the token, not a second lookup.
func (s *Server) hostInstallation(c echo.Context, clientKey string, p secrets.Product) (*secrets.Installation, error) {
	if inst, ok := c.Get(verifiedInstallKey).(*secrets.Installation); ok && inst.ClientKey == clientKey {
		return checkActive(inst, nil, p)
	}
	return s.activeInstallation(c.Request().Context(), clientKey, p)
}

func checkActive(inst *secrets.Installation, err error, p secrets.Product) (*secrets.Installation, error) {
	if err != nil || !inst.State.Active() || inst.Product != p {
		return nil, secrets.Errorf(secrets.CodeUnauthorized, "This app is not active on your site.")
	}
	return inst, nil
}

// cloudIDShape is what a cloud id from a Connect payload must look like to
// be stored (a UUID in practice).
var cloudIDShape = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// validCloudID reports whether a Connect payload's cloudId is worth storing.
func validCloudID(id string) bool { return cloudIDShape.MatchString(id) }
