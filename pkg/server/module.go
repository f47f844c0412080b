package server

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/static"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// Module kinds, as the browser app knows them (static.PageData.Kind).
const (
	kindIssuePanel = "issue-panel"
	kindMacro      = "macro"
	kindAdmin      = "admin"
)

// modulePage serves a module's iframe page. The host signs the URL (HS256
// with a computed qsh), so the issue, page and macro ids in the query are the
// host's word; they become the session's container, which the browser cannot
// change afterwards.
func (s *Server) modulePage(p secrets.Product, kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims, err := s.verifyHost(c)
		if err != nil {
			return err
		}
		if claims.Subject == "" {
			return secrets.Errorf(secrets.CodeUnauthorized, "Log in to your site to use secrets.")
		}
		inst, err := s.hostInstallation(c, claims.Issuer, p)
		if err != nil {
			return err
		}
		q := signedQuery(c.Request().URL.RawQuery)
		ctr, label, err := moduleContainer(kind, q)
		if err != nil {
			return err
		}
		label = truncateLabel(label)
		var name string
		if kind == kindMacro {
			// The macro's "Name" parameter, covered by the qsh like the
			// rest of the signed query.
			name = macroName(q.Get("name"))
		}
		lic := s.connectLicence(c.Request().Context(), inst, q.Get("lic"))
		token, _, err := s.sessions.Mint(connect.SessionClaims{
			Tenant: inst.ClientKey, Product: string(p), Container: string(ctr), Label: label, Licence: string(lic),
			RegisteredClaims: jwt.RegisteredClaims{Subject: claims.Subject}, // Mint fills in the rest
		})
		if err != nil {
			return secrets.Internal(err)
		}
		var buf bytes.Buffer
		err = static.RenderPage(&buf, static.PageData{
			Token: token, AccountID: claims.Subject, Kind: kind, Product: string(p),
			Label: label, Name: name, AllJS: s.allJS(inst), Assets: s.basePath + "/static/" + static.Version + "/",
		})
		if err != nil {
			return secrets.Internal(err)
		}
		h := c.Response().Header()
		h.Set("Content-Security-Policy", s.pageCSP(inst))
		h.Set("Cache-Control", "no-store")
		return c.HTMLBlob(http.StatusOK, buf.Bytes())
	}
}

// moduleContainer derives the container and a human label from the signed
// module URL's query.
func moduleContainer(kind string, q signedQuery) (secrets.Container, string, error) {
	switch kind {
	case kindIssuePanel:
		ctr, err := secrets.JiraIssueContainer(q.Get("issueId"))
		label := q.Get("issueKey")
		if label == "" {
			label = "Issue " + q.Get("issueId")
		}
		return ctr, label, err
	case kindMacro:
		ctr, err := secrets.ConfluenceMacroContainer(q.Get("pageId"), q.Get("macroId"))
		return ctr, "Page " + q.Get("pageId"), err
	}
	return secrets.AdminContainer, "Administration", nil
}

// signedQuery is a module URL's raw query, read one parameter at a time.
//
// A page reads three or four of the dozen parameters a host sends, on every
// page load; url.ParseQuery would decode them all into a map first, which
// cost more than the rest of the query's handling. By the time a handler
// reads it the query has passed the qsh check, which refuses what
// url.ParseQuery refuses (';', malformed escapes), so Get reads it as
// url.Values.Get would: the first value of the name, decoded.
type signedQuery string

// Get returns the first value of name, decoded, or "" when there is none.
func (q signedQuery) Get(name string) string {
	raw := string(q)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != name {
			// A name is compared decoded, like url.ParseQuery's keys; names
			// are almost never escaped, so decode only when they are.
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if d, err := url.QueryUnescape(k); err != nil || d != name {
				continue
			}
		}
		if !strings.ContainsAny(v, "%+") {
			return v
		}
		d, err := url.QueryUnescape(v)
		if err != nil {
			return ""
		}
		return d
	}
	return ""
}

// maxMacroName bounds a macro's name, in characters.
const maxMacroName = 100

// macroName is the heading a macro's "Name" parameter asks for, made safe
// to show: control and format characters become spaces, runs of space
// collapse, the ends are trimmed, and a name longer than maxMacroName
// characters is cut there rather than refused, so a page with a long name
// still shows its secrets. The page shows it as text only.
func macroName(v string) string {
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, v)
	v = strings.Join(strings.Fields(v), " ")
	if utf8.RuneCountInString(v) > maxMacroName {
		v = strings.TrimSpace(string([]rune(v)[:maxMacroName]))
	}
	return v
}

// maxLabel bounds a container label: it rides in every session token.
const maxLabel = 100

func truncateLabel(s string) string {
	if len(s) <= maxLabel {
		return s
	}
	s = s[:maxLabel]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// allJS is the all.js a tenant's pages load: Atlassian's, or the sandbox's
// stand-in for the sandbox's own dev sites.
func (s *Server) allJS(inst *secrets.Installation) string {
	if s.cfg.Dev && sameOrigin(inst.BaseURL, s.cfg.BaseURL) {
		return s.cfg.BaseURL + "/dev/all.js"
	}
	return CDNAllJS
}

// pageCSP is the module pages' Content-Security-Policy: our scripts and
// Atlassian's all.js only, no inline code, and framing only by the tenant's
// own site (its base URL and, if different, its display URL).
func (s *Server) pageCSP(inst *secrets.Installation) string {
	// Built in one buffer: it is a header of every module page.
	base, display := origin(inst.BaseURL), origin(inst.DisplayURL)
	if display == base {
		display = ""
	}
	var b strings.Builder
	b.Grow(len(pageCSPPrefix) + len(base) + 1 + len(display))
	b.WriteString(pageCSPPrefix)
	switch {
	case base != "" && display != "":
		b.WriteString(base)
		b.WriteByte(' ')
		b.WriteString(display)
	case base != "" || display != "":
		b.WriteString(base)
		b.WriteString(display)
	default:
		b.WriteString("'none'")
	}
	return b.String()
}

// pageCSPPrefix is the part of pageCSP that is the same for every tenant:
// everything up to frame-ancestors' sources.
const pageCSPPrefix = "default-src 'none'; " +
	"script-src 'self' https://connect-cdn.atl-paas.net; " +
	"style-src 'self'; " +
	"img-src 'self' data:; " +
	"connect-src 'self'; " +
	"font-src 'self'; " +
	"base-uri 'none'; " +
	"form-action 'none'; " +
	"frame-ancestors "

// origin returns scheme://host[:port] of an absolute URL, or "".
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(u.Host, " ;'\"") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func sameOrigin(a, b string) bool { return origin(a) != "" && origin(a) == origin(b) }

// Per-secret expiry choices the forms offer, besides the site's default.
// Each lies within what a site admin may choose as a default (1 hour to
// 5 years), so a choice never asks for more than the policy allows.
var expiryChoices = []time.Duration{
	24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour, 365 * 24 * time.Hour,
}

// panelPolicyJSON is the part of the site policy the add and change-password
// forms show and check before Save, so Save never fails on a rule the form
// did not state. It holds no lockout detail an attacker could plan around.
type panelPolicyJSON struct {
	MinPasswordLength    int     `json:"minPasswordLength"`
	DefaultExpirySeconds int64   `json:"defaultExpirySeconds"` // 0: secrets do not expire by default
	ExpiryChoicesSeconds []int64 `json:"expiryChoicesSeconds"` // 0: never, offered only without a default
}

func toPanelPolicy(p secrets.Policy) panelPolicyJSON {
	out := panelPolicyJSON{MinPasswordLength: p.MinPasswordLen, DefaultExpirySeconds: int64(p.DefaultExpiry / time.Second)}
	// With a default expiry the engine gives every secret without its own
	// expiry the default, so "never" would be a promise it does not keep.
	if p.DefaultExpiry == 0 {
		out.ExpiryChoicesSeconds = append(out.ExpiryChoicesSeconds, 0)
	}
	choices := slices.Clone(expiryChoices)
	if p.DefaultExpiry > 0 && !slices.Contains(choices, p.DefaultExpiry) {
		choices = append(choices, p.DefaultExpiry)
		slices.Sort(choices)
	}
	for _, d := range choices {
		out.ExpiryChoicesSeconds = append(out.ExpiryChoicesSeconds, int64(d/time.Second))
	}
	return out
}

// panelPolicy serves GET /api/policy to every user of a module page, Connect
// and Forge alike: the site's password and expiry rules for the forms.
func (s *Server) panelPolicy(c echo.Context) error {
	p, err := s.admin.SitePolicy(c.Request().Context(), actor(c).ClientKey)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPanelPolicy(p))
}
