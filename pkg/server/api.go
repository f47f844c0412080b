package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
)

// secretJSON is a secret's metadata as the API shows it.
type secretJSON struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Version   int        `json:"version"`
	CreatedAt time.Time  `json:"createdAt"`
	CreatedBy string     `json:"createdBy"`
	UpdatedAt time.Time  `json:"updatedAt"`
	UpdatedBy string     `json:"updatedBy"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"` // when the secret self-destructs
}

func toJSON(m secrets.Secret) secretJSON {
	j := secretJSON{
		ID: m.ID, Title: m.Title, Version: m.Version,
		CreatedAt: m.CreatedAt.UTC(), CreatedBy: m.CreatedBy,
		UpdatedAt: m.UpdatedAt.UTC(), UpdatedBy: m.UpdatedBy,
	}
	if !m.ExpiresAt.IsZero() {
		t := m.ExpiresAt.UTC()
		j.ExpiresAt = &t
	}
	return j
}

// unlockedJSON is an opened secret: its metadata, its content and the unlock
// token. Here expiresAt is when the unlock ends; the secret's own expiry, if
// any, is secretExpiresAt.
type unlockedJSON struct {
	ID              string     `json:"id"`
	Title           string     `json:"title"`
	Version         int        `json:"version"`
	CreatedAt       time.Time  `json:"createdAt"`
	CreatedBy       string     `json:"createdBy"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	UpdatedBy       string     `json:"updatedBy"`
	SecretExpiresAt *time.Time `json:"secretExpiresAt,omitempty"`
	Content         string     `json:"content"`
	UnlockToken     string     `json:"unlockToken"`
	ExpiresAt       time.Time  `json:"expiresAt"`
}

func toUnlockedJSON(u *secrets.Unlocked) unlockedJSON {
	m := toJSON(u.Secret)
	return unlockedJSON{
		ID: m.ID, Title: m.Title, Version: m.Version,
		CreatedAt: m.CreatedAt, CreatedBy: m.CreatedBy, UpdatedAt: m.UpdatedAt, UpdatedBy: m.UpdatedBy,
		SecretExpiresAt: m.ExpiresAt,
		Content:         u.Content, UnlockToken: u.UnlockToken, ExpiresAt: u.ExpiresAt.UTC(),
	}
}

func (s *Server) listSecrets(c echo.Context) error {
	q := secrets.ListQuery{After: c.QueryParam("after")}
	var err error
	if q.Limit, err = intParam(c, "limit", secrets.DefaultListLimit, secrets.MaxListLimit); err != nil {
		return err
	}
	if q.Limit == 0 {
		return secrets.Errorf(secrets.CodeInvalid, "limit must be a number from 1 to %d.", secrets.MaxListLimit)
	}
	list, err := s.secrets.ListSecrets(c.Request().Context(), actor(c), q)
	if err != nil {
		return err
	}
	// The engine hands out one list per unchanged container, so its
	// encoding is written once and then served as it is.
	return list.Encoded(newListBody).(*listBody).send(c)
}

type createRequest struct {
	Title     *string    `json:"title"`
	Content   *string    `json:"content"`
	Password  *string    `json:"password"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

func (s *Server) createSecret(c echo.Context) error {
	var req createRequest
	if err := bindJSON(c, limitContentBody, &req); err != nil {
		return err
	}
	if req.Title == nil || req.Content == nil || req.Password == nil {
		return secrets.Errorf(secrets.CodeInvalid, "title, content and password are required.")
	}
	in := secrets.NewSecret{Title: *req.Title, Content: *req.Content, Password: *req.Password}
	if req.ExpiresAt != nil {
		in.ExpiresAt = *req.ExpiresAt
	}
	if err := s.limitWrites(c); err != nil {
		return err
	}
	m, err := s.secrets.CreateSecret(c.Request().Context(), actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toJSON(*m))
}

type passwordRequest struct {
	Password *string `json:"password"`
}

// bindPassword reads a {"password"} body.
func bindPassword(c echo.Context) (string, error) {
	var req passwordRequest
	if err := bindJSON(c, limitSmallBody, &req); err != nil {
		return "", err
	}
	if req.Password == nil {
		return "", secrets.Errorf(secrets.CodeInvalid, "password is required.")
	}
	return *req.Password, nil
}

func (s *Server) unlockSecret(c echo.Context) error {
	pw, err := bindPassword(c)
	if err != nil {
		return err
	}
	u, err := s.secrets.UnlockSecret(c.Request().Context(), actor(c), c.Param("id"), pw)
	s.metrics.unlockOutcome(err)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUnlockedJSON(u))
}

type updateRequest struct {
	Title   *string `json:"title"`
	Content *string `json:"content"`
	Version *int    `json:"version"`
	// ExpiresAt is optional: absent keeps the secret's expiry, an RFC 3339
	// time sets it, null or "never" removes it (where the policy allows).
	// Raw, because absent and null mean different things.
	ExpiresAt json.RawMessage `json:"expiresAt"`
}

// updateExpiry reads updateRequest.ExpiresAt: nil when absent, a pointer to
// the zero time for never, else the time given.
func updateExpiry(raw json.RawMessage) (*time.Time, error) {
	if raw == nil {
		return nil, nil
	}
	never := time.Time{}
	if string(raw) == "null" {
		return &never, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, secrets.Errorf(secrets.CodeInvalid, "expiresAt must be an RFC 3339 time, \"never\" or null.")
	}
	if s == "never" {
		return &never, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, secrets.Errorf(secrets.CodeInvalid, "expiresAt must be an RFC 3339 time, \"never\" or null.")
	}
	return &t, nil
}

func (s *Server) updateSecret(c echo.Context) error {
	var req updateRequest
	if err := bindJSON(c, limitContentBody, &req); err != nil {
		return err
	}
	if req.Title == nil || req.Content == nil || req.Version == nil {
		return secrets.Errorf(secrets.CodeInvalid, "title, content and version are required.")
	}
	expires, err := updateExpiry(req.ExpiresAt)
	if err != nil {
		return err
	}
	u, err := s.secrets.UpdateSecret(c.Request().Context(), actor(c), c.Param("id"), unlockToken(c),
		secrets.SecretUpdate{Title: *req.Title, Content: *req.Content, Version: *req.Version, ExpiresAt: expires})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUnlockedJSON(u))
}

func (s *Server) changePassword(c echo.Context) error {
	pw, err := bindPassword(c)
	if err != nil {
		return err
	}
	if err := s.limitWrites(c); err != nil {
		return err
	}
	u, err := s.secrets.ChangePassword(c.Request().Context(), actor(c), c.Param("id"), unlockToken(c), pw)
	if err != nil {
		return err
	}
	// The old password's unlock tokens are dead, the caller's included:
	// hand back one for the new password, so the form stays unlocked.
	return c.JSON(http.StatusOK, map[string]any{"unlockToken": u.UnlockToken, "expiresAt": u.ExpiresAt.UTC()})
}

func (s *Server) deleteSecret(c echo.Context) error {
	if err := s.secrets.DeleteSecret(c.Request().Context(), actor(c), c.Param("id"), unlockToken(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) lockSecret(c echo.Context) error {
	if err := s.secrets.LockSecret(c.Request().Context(), actor(c), c.Param("id"), unlockToken(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func unlockToken(c echo.Context) string { return c.Request().Header.Get("X-Unlock-Token") }

// refreshSession exchanges a valid session token for a fresh one, so a panel
// left open keeps working; connect.Sessions caps the chain at a few hours
// from the page load.
func (s *Server) refreshSession(c echo.Context) error {
	claims, _ := c.Get(sessionClaimsKey).(*connect.SessionClaims)
	if claims == nil {
		return secrets.Errorf(secrets.CodeUnauthorized, "A session token is required.")
	}
	// An uninstalled or disabled site's sessions end now, not at expiry.
	ctx := c.Request().Context()
	inst, err := s.activeInstallation(ctx, claims.Tenant, secrets.Product(claims.Product))
	if err != nil {
		return err
	}
	// The licence is confirmed again (from the checker's cache, mostly),
	// so an open page follows a licence that lapses or is bought.
	lic := s.connectLicence(ctx, inst, "")
	token, exp, err := s.sessions.RefreshWithLicence(c.Get(sessionTokenKey).(string), string(lic))
	if err != nil {
		return secrets.Errorf(secrets.CodeUnauthorized, "Your session expired. Reload the page.")
	}
	return c.JSON(http.StatusOK, map[string]any{"token": token, "expiresAt": exp.UTC()})
}
