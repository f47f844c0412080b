package server

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// AdminChecker answers whether an account administers a site, by asking the
// host (connect.AdminChecker).
type AdminChecker interface {
	IsAdmin(ctx context.Context, h connect.Host, accountID string) (bool, error)
}

// requireAdmin admits admin API calls: a session opened on the admin page,
// by an account the host confirms is a site admin. The session alone proves
// nothing about rights: anyone may open a page the UI merely hides.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		a := actor(c)
		if a.Container != secrets.AdminContainer {
			return secrets.Errorf(secrets.CodeForbidden, "Open the app's admin page to do this.")
		}
		ctx := c.Request().Context()
		inst, err := s.installs.FindInstallation(ctx, a.ClientKey)
		if err != nil || !inst.State.Active() {
			return secrets.Errorf(secrets.CodeUnauthorized, "This app is not active on your site.")
		}
		admin, err := s.admins.IsAdmin(ctx, s.hostOf(inst), a.AccountID)
		if err != nil {
			return &secrets.Error{Code: secrets.CodeUnavailable, Message: "Your site could not confirm your admin rights. Try again.", RetryAfter: 5 * time.Second, Err: err}
		}
		if !admin {
			zerolog.Ctx(ctx).Info().Str("client_key", a.ClientKey).Msg("admin API refused to a non-admin")
			return secrets.Errorf(secrets.CodeForbidden, "Only site admins can do this.")
		}
		return next(c)
	}
}

// secretInfoJSON is a secret as the admin page shows it.
type secretInfoJSON struct {
	secretJSON
	Container      string     `json:"container"`
	Location       string     `json:"location"`
	LastUnlockedAt *time.Time `json:"lastUnlockedAt,omitempty"`
	FailedAttempts int        `json:"failedAttempts"`
	Locked         bool       `json:"locked"`
}

func (s *Server) adminListSecrets(c echo.Context) error {
	q := secrets.SecretQuery{Search: c.QueryParam("q")}
	var err error
	if q.Offset, err = intParam(c, "offset", 0, 1<<30); err != nil {
		return err
	}
	if q.Limit, err = intParam(c, "limit", 50, 100); err != nil {
		return err
	}
	page, err := s.admin.FindAllSecrets(c.Request().Context(), actor(c).ClientKey, q)
	if err != nil {
		return err
	}
	out := make([]secretInfoJSON, len(page.Secrets))
	for i, si := range page.Secrets {
		out[i] = secretInfoJSON{
			secretJSON: toJSON(si.Secret), Container: string(si.Container), Location: si.Location,
			LastUnlockedAt: optTime(si.LastUnlockedAt), FailedAttempts: si.FailedAttempts, Locked: si.Locked,
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"secrets": out, "total": page.Total, "offset": q.Offset})
}

func (s *Server) adminDeleteSecret(c echo.Context) error {
	a := actor(c)
	if err := s.admin.AdminDeleteSecret(c.Request().Context(), a.ClientKey, a.AccountID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) adminResetLockout(c echo.Context) error {
	a := actor(c)
	if err := s.admin.ResetLockout(c.Request().Context(), a.ClientKey, a.AccountID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// lockoutJSON is one account's failed unlocks of a secret.
type lockoutJSON struct {
	AccountID   string     `json:"accountId,omitempty"`
	Everyone    bool       `json:"everyone,omitempty"`
	Failures    int        `json:"failures"`
	LockedUntil *time.Time `json:"lockedUntil,omitempty"`
}

// adminLockouts says who failed to unlock a secret and who is locked out
// until when.
func (s *Server) adminLockouts(c echo.Context) error {
	list, err := s.admin.Lockouts(c.Request().Context(), actor(c).ClientKey, c.Param("id"))
	if err != nil {
		return err
	}
	out := make([]lockoutJSON, len(list))
	for i, l := range list {
		out[i] = lockoutJSON{AccountID: l.AccountID, Everyone: l.Everyone, Failures: l.Failures, LockedUntil: optTime(l.LockedUntil)}
	}
	return c.JSON(http.StatusOK, map[string]any{"lockouts": out})
}

// adminResetUserLockout forgets one account's failures on a secret.
func (s *Server) adminResetUserLockout(c echo.Context) error {
	var req struct {
		AccountID *string `json:"accountId"`
	}
	if err := bindJSON(c, limitSmallBody, &req); err != nil {
		return err
	}
	if req.AccountID == nil || *req.AccountID == "" {
		return secrets.Errorf(secrets.CodeInvalid, "accountId names the account whose lockout to reset.")
	}
	a := actor(c)
	if err := s.admin.ResetUserLockout(c.Request().Context(), a.ClientKey, a.AccountID, c.Param("id"), *req.AccountID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// policyJSON is a site policy on the wire, durations in seconds.
type policyJSON struct {
	MinPasswordLength    *int   `json:"minPasswordLength"`
	LockoutThreshold     *int   `json:"lockoutThreshold"`
	LockoutSeconds       *int64 `json:"lockoutSeconds"`
	LockoutMaxSeconds    *int64 `json:"lockoutMaxSeconds"`
	UnlockTTLSeconds     *int64 `json:"unlockTtlSeconds"`
	DefaultExpirySeconds *int64 `json:"defaultExpirySeconds"`
}

func toPolicyJSON(p secrets.Policy) policyJSON {
	sec := func(d time.Duration) *int64 { v := int64(d / time.Second); return &v }
	return policyJSON{
		MinPasswordLength: &p.MinPasswordLen, LockoutThreshold: &p.LockoutThreshold,
		LockoutSeconds: sec(p.LockoutBase), LockoutMaxSeconds: sec(p.LockoutMax),
		UnlockTTLSeconds: sec(p.UnlockTTL), DefaultExpirySeconds: sec(p.DefaultExpiry),
	}
}

func (s *Server) adminGetPolicy(c echo.Context) error {
	p, err := s.admin.SitePolicy(c.Request().Context(), actor(c).ClientKey)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicyJSON(p))
}

func (s *Server) adminSetPolicy(c echo.Context) error {
	var req policyJSON
	if err := bindJSON(c, limitSmallBody, &req); err != nil {
		return err
	}
	if req.MinPasswordLength == nil || req.LockoutThreshold == nil || req.LockoutSeconds == nil ||
		req.LockoutMaxSeconds == nil || req.UnlockTTLSeconds == nil || req.DefaultExpirySeconds == nil {
		return secrets.Errorf(secrets.CodeInvalid, "Every policy field is required.")
	}
	for _, v := range []int64{*req.LockoutSeconds, *req.LockoutMaxSeconds, *req.UnlockTTLSeconds, *req.DefaultExpirySeconds} {
		if v < 0 || v > 10*365*24*3600 {
			return secrets.Errorf(secrets.CodeInvalid, "Durations must be between 0 and 10 years.")
		}
	}
	p := secrets.Policy{
		MinPasswordLen: *req.MinPasswordLength, LockoutThreshold: *req.LockoutThreshold,
		LockoutBase: time.Duration(*req.LockoutSeconds) * time.Second, LockoutMax: time.Duration(*req.LockoutMaxSeconds) * time.Second,
		UnlockTTL: time.Duration(*req.UnlockTTLSeconds) * time.Second, DefaultExpiry: time.Duration(*req.DefaultExpirySeconds) * time.Second,
	}
	a := actor(c)
	if err := s.admin.SetSitePolicy(c.Request().Context(), a.ClientKey, a.AccountID, p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicyJSON(p))
}

// auditQuery reads the audit filters shared by the JSON and CSV routes.
func auditQuery(c echo.Context, defLimit, maxLimit int) (secrets.AuditQuery, error) {
	q := secrets.AuditQuery{
		Type: secrets.EventType(c.QueryParam("type")), SecretID: c.QueryParam("secret"), AccountID: c.QueryParam("account"),
	}
	var err error
	if q.Limit, err = intParam(c, "limit", defLimit, maxLimit); err != nil {
		return q, err
	}
	before, err := intParam(c, "before", 0, 1<<62)
	if err != nil {
		return q, err
	}
	q.Before = uint64(before)
	for name, t := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if v := c.QueryParam(name); v != "" {
			if *t, err = time.Parse(time.RFC3339, v); err != nil {
				return q, secrets.Errorf(secrets.CodeInvalid, "%s must be an RFC 3339 time.", name)
			}
		}
	}
	return q, nil
}

type auditEventJSON struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Type      string    `json:"type"`
	AccountID string    `json:"accountId,omitempty"`
	SecretID  string    `json:"secretId,omitempty"`
	Container string    `json:"container,omitempty"`
	Location  string    `json:"location,omitempty"`
	Title     string    `json:"title,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Link      string    `json:"link,omitempty"`
}

// issueKey matches a Jira issue key, the only location a /browse/ link
// may be built from.
var issueKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}$`)

// containerLink is where an admin opens the issue or page of a container
// on the site, or "" when that cannot be said (no site URL, a Forge site
// without one, an unknown container). Only ids that passed the container
// syntax reach the URL, and they are escaped.
func containerLink(site string, ctr secrets.Container, location string) string {
	u, err := url.Parse(strings.TrimRight(site, "/"))
	if site == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	parts := strings.Split(string(ctr), ":")
	switch {
	case len(parts) == 3 && parts[0] == "jira" && parts[1] == "issue":
		if issueKey.MatchString(location) {
			return u.String() + "/browse/" + location
		}
		return u.String() + "/secure/ViewIssue.jspa?id=" + url.QueryEscape(parts[2])
	case len(parts) == 4 && parts[0] == "confluence" && parts[1] == "page":
		return u.String() + "/pages/viewpage.action?pageId=" + url.QueryEscape(parts[2])
	}
	return ""
}

// siteURL is the address users know the site by, for links.
func (s *Server) siteURL(ctx context.Context, clientKey string) string {
	inst, err := s.installs.FindInstallation(ctx, clientKey)
	if err != nil {
		return ""
	}
	if inst.DisplayURL != "" {
		return inst.DisplayURL
	}
	return inst.BaseURL
}

func (s *Server) adminAudit(c echo.Context) error {
	q, err := auditQuery(c, 100, 1000)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clientKey := actor(c).ClientKey
	page, err := s.admin.AuditLog(ctx, clientKey, q)
	if err != nil {
		return err
	}
	site := s.siteURL(ctx, clientKey)
	out := make([]auditEventJSON, len(page.Events))
	for i, ev := range page.Events {
		out[i] = auditEventJSON{Seq: ev.Seq, Time: ev.Time.UTC(), Type: string(ev.Type), AccountID: ev.AccountID,
			SecretID: ev.SecretID, Container: string(ev.Container), Location: ev.Location,
			Title: ev.Title, Subject: ev.Subject, Link: containerLink(site, ev.Container, ev.Location)}
	}
	res := map[string]any{"events": out}
	if page.Next != 0 {
		res["next"] = page.Next
	}
	return c.JSON(http.StatusOK, res)
}

// maxCSVRows bounds one export; the filters narrow it further.
const maxCSVRows = 100_000

// adminAuditCSV exports the filtered audit log as CSV, newest first.
func (s *Server) adminAuditCSV(c echo.Context) error {
	q, err := auditQuery(c, 1000, 1000)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clientKey := actor(c).ClientKey
	// Fetch the first page before writing, so an error is still a JSON error.
	page, err := s.admin.AuditLog(ctx, clientKey, q)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="secrets-audit.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	// The columns that name things (title, location, link, then the
	// people's display names as the host gives them) come after the
	// original seven, so scripts reading columns by position keep working.
	_ = w.Write([]string{"seq", "time", "type", "account_id", "secret_id", "container", "location",
		"secret_title", "subject_account_id", "link", "account_display_name", "subject_display_name"})
	site := s.siteURL(ctx, clientKey)
	names := s.newExportNames(ctx, clientKey)
	rows := 0
	for {
		names.resolve(ctx, page.Events)
		for _, ev := range page.Events {
			_ = w.Write([]string{
				strconv.FormatUint(ev.Seq, 10), ev.Time.UTC().Format(time.RFC3339), string(ev.Type),
				csvCell(ev.AccountID), csvCell(ev.SecretID), csvCell(string(ev.Container)), csvCell(ev.Location),
				csvCell(ev.Title), csvCell(ev.Subject), csvCell(containerLink(site, ev.Container, ev.Location)),
				csvCell(names.name(ev.AccountID)), csvCell(names.name(ev.Subject)),
			})
			rows++
		}
		if page.Next == 0 || rows >= maxCSVRows {
			break
		}
		q.Before = page.Next
		if page, err = s.admin.AuditLog(ctx, clientKey, q); err != nil {
			// Headers are sent; the truncated file ends here and the log says why.
			zerolog.Ctx(ctx).Error().Err(err).Msg("audit export cut short")
			break
		}
	}
	w.Flush()
	return w.Error()
}

// csvCell defuses spreadsheet formulas: a cell a spreadsheet would evaluate
// gets a leading apostrophe. Spreadsheets trim leading white space (and
// newlines) before deciding, and some read the full-width forms of the
// triggers as the ASCII ones, so both count: " =cmd", "\n@SUM(…)" and
// "＝1+1" are defused like "=cmd".
func csvCell(v string) string {
	if v == "" {
		return v
	}
	if v[0] == '\t' || v[0] == '\r' {
		return "'" + v
	}
	rest := strings.TrimLeftFunc(v, unicode.IsSpace)
	if rest == "" {
		return v
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if strings.ContainsRune(csvTriggers, r) {
		return "'" + v
	}
	return v
}

// csvTriggers start a formula in a spreadsheet: = + - @, tab and carriage
// return, and the full-width ＝ ＋ － ＠.
const csvTriggers = "=+-@\t\r\uFF1D\uFF0B\uFF0D\uFF20"

func intParam(c echo.Context, name string, def, maxValue int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxValue {
		return 0, secrets.Errorf(secrets.CodeInvalid, "%s must be a number from 0 to %d.", name, maxValue)
	}
	return n, nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
