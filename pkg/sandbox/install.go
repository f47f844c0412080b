package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// installTimeout is the timeout of the default client of InstallTenants.
const installTimeout = 10 * time.Second

// InstallTenants installs the two dev tenants in the app, exactly as
// Atlassian installs an app: for each, a POST of the installed payload (JSON)
// to BaseURL/<product>/installed, with "Authorization: JWT <token>" where the
// token is RS256, signed with the sandbox's install key and naming it in its
// kid header, with iss = the clientKey, aud = BaseURL, the qsh of the POST,
// iat = now and exp = now + 3 min.
//
// client sends the requests; nil means a client with a 10 s timeout. Call it
// once the server listens. Calling it again is fine: installed is idempotent
// and each call signs with the current time, so its iat is never older than
// the last install's. Both tenants are tried; the error reports every one
// that was not answered with 204.
func (s *Sandbox) InstallTenants(ctx context.Context, client *http.Client) error {
	if client == nil {
		client = &http.Client{Timeout: installTimeout}
	}
	var errs []error
	for _, t := range []*tenant{s.jira, s.confluence} {
		if err := s.install(ctx, client, t); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: installing %s: %w", t.clientKey, err))
		}
	}
	return errors.Join(errs...)
}

// install sends t's signed installed callback.
func (s *Sandbox) install(ctx context.Context, client *http.Client, t *tenant) error {
	suffix := "/" + t.product + "/installed"
	body, err := json.Marshal(connect.LifecyclePayload{
		Key:            t.appKey,
		ClientKey:      t.clientKey,
		SharedSecret:   t.sharedSecret,
		BaseURL:        t.baseURL,
		DisplayURL:     t.baseURL,
		ProductType:    t.product,
		Description:    t.name + " (Secrets sandbox)",
		EventType:      connect.EventInstalled,
		ServerVersion:  t.serverVersion,
		PluginsVersion: t.pluginsVersion,
	})
	if err != nil {
		return err
	}
	token, err := s.installToken(t, s.basePath+suffix, time.Now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+suffix, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	req.Header.Set(echo.HeaderAuthorization, "JWT "+token)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	// The app's error bodies are short JSON with a fixed message and never
	// echo the payload, so a little of one is safe and useful to report.
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("the app answered %s: %s", res.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// installToken signs the signed-install token of a lifecycle callback of t
// to the app path path (escaped, including our base path).
func (s *Sandbox) installToken(t *tenant, path string, now time.Time) (string, error) {
	qsh, err := connect.QSH(http.MethodPost, path, "", s.basePath)
	if err != nil {
		return "", err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, connect.HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.clientKey,
			Audience:  jwt.ClaimStrings{s.baseURL},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(hostTokenTTL)),
		},
		QSH: qsh,
	})
	tok.Header["kid"] = s.kid
	return tok.SignedString(s.installKey)
}

// installKeyHandler serves the install key's public half for its kid, as
// connect-install-keys.atlassian.com does; other kids are unknown.
func (s *Sandbox) installKeyHandler(c echo.Context) error {
	// Atlassian's kids are UUIDs, which are case-insensitive.
	if !strings.EqualFold(c.Param("kid"), s.kid) {
		return echo.ErrNotFound
	}
	return c.Blob(http.StatusOK, "application/x-pem-file", s.publicPEM)
}
