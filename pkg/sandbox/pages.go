package sandbox

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// The sandbox's own files: the page templates, and the scripts and
// stylesheet of its host pages.
//
//go:embed templates/*.html assets/*.js assets/*.css
var files embed.FS

// One template set per page, each the layout plus the page's content. They
// are parsed once; a parse error is a defect of an embedded file, so failing
// at init is the right time to find out.
var (
	indexTemplate      = parsePage("index.html")
	issueTemplate      = parsePage("issue.html")
	confluenceTemplate = parsePage("confluence.html")
	adminTemplate      = parsePage("admin.html")
)

func parsePage(name string) *template.Template {
	return template.Must(template.ParseFS(files, "templates/layout.html", "templates/frames.html", "templates/"+name))
}

// serveAsset serves one embedded file of assets/.
func serveAsset(name, contentType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := fs.ReadFile(files, "assets/"+name)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, contentType, b)
	}
}

// The dev sites' content. Ids and keys follow the real products' shapes, so
// the module URLs carry what a real host would put there.
const (
	projectID  = "10000"
	projectKey = "DEV"
	spaceKey   = "DEV"
	pageID     = "123"
)

// issue is an issue of the dev Jira site.
type issue struct {
	ID, Key, Summary, Description string
}

var issues = []issue{
	{ID: "10001", Key: "DEV-1", Summary: "Rotate the staging database credentials",
		Description: "The staging PostgreSQL password expires on Friday. Put the new one in the Secrets panel " +
			"below rather than in a comment, and share its password with the on-call engineer only."},
	{ID: "10002", Key: "DEV-2", Summary: "Set up the payment provider's test account",
		Description: "We need API keys for the payment provider's test environment. " +
			"Keep the keys in the Secrets panel; the provider's console login goes in a second secret."},
}

func issueByKey(key string) (issue, bool) {
	for _, is := range issues {
		if is.Key == key {
			return is, true
		}
	}
	return issue{}, false
}

// frame is an app iframe on a sandbox page.
type frame struct {
	ID       string // DOM id; the browser tests find frames by it
	Title    string // the iframe's accessible name
	Src      string // the signed module URL
	Channel  string // xdm_c, which all.js echoes in its messages
	TokenURL string // where host.js gets this frame's context tokens
}

// pageData is what every page template gets. Only the fields a page uses
// are set.
type pageData struct {
	Title  string
	Theme  string // "light" or "dark": the page's colour mode, from ?theme=
	Dev    string // URL path of the sandbox, for links and assets
	Site   site
	User   User
	Switch []userLink
	Nav    []navLink
	Frames []frame
	Issue  issue
	// Scripts are extra scripts of the page (Forge mode's host side).
	Scripts []string

	// index only
	Rows        []indexRow
	Sites       []site
	AppBaseURL  string
	InstallKeys string
	Licence     bool // the dev sites' licence is active
}

// site is what pages show of a dev site.
type site struct {
	Name, Product, ClientKey, BaseURL string
}

func (t *tenant) site() site {
	return site{Name: t.name, Product: t.product, ClientKey: t.clientKey, BaseURL: t.baseURL}
}

type userLink struct {
	User    User
	Current bool
}

type navLink struct {
	Label, Href string
}

type indexRow struct {
	Label string
	Links []navLink // one per user
}

// render executes a page template and sends the page.
func render(c echo.Context, tmpl *template.Template, d pageData) error {
	theme, err := themeFrom(c)
	if err != nil {
		return err
	}
	d.Theme = theme
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "layout", d); err != nil {
		return err
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

// Routes of the dev sites' pages, relative to the site's route.
const (
	issueRoute = "/browse/"
	pageRoute  = "/spaces/" + spaceKey + "/pages/"
	adminRoute = "/admin"
)

// link returns the URL path of a sandbox route for the browser: behind a
// proxy, BaseURL's path comes first.
func (s *Sandbox) link(route string) string { return s.basePath + route }

// page starts the data of a page of site t as user u.
func (s *Sandbox) page(t *tenant, u User, title string) pageData {
	d := pageData{Title: title, Dev: s.link(mountPath), Site: t.site(), User: u}
	for _, o := range s.Users() {
		d.Switch = append(d.Switch, userLink{User: o, Current: o.Key == u.Key})
	}
	as := "?as=" + u.Key
	if t == s.jira {
		for _, is := range issues {
			d.Nav = append(d.Nav, navLink{Label: is.Key, Href: s.link(jiraRoute+issueRoute+is.Key) + as})
		}
	} else {
		d.Nav = append(d.Nav, navLink{Label: "Team runbook", Href: s.link(confluenceRoute+pageRoute+pageID) + as})
	}
	d.Nav = append(d.Nav, navLink{Label: "Apps: Secrets", Href: s.link(t.route+adminRoute) + as})
	return d
}

// indexPage explains the sandbox and links to every page as every user.
func (s *Sandbox) indexPage(c echo.Context) error {
	perUser := func(label, route string) indexRow {
		r := indexRow{Label: label}
		for _, u := range s.Users() {
			r.Links = append(r.Links, navLink{Label: u.Name + " (" + u.Key + ")", Href: s.link(route) + "?as=" + u.Key})
		}
		return r
	}
	d := pageData{
		Title: "Secrets sandbox", Dev: s.link(mountPath),
		Sites: []site{s.jira.site(), s.confluence.site()}, AppBaseURL: s.baseURL, InstallKeys: s.InstallKeysURL(),
		Licence: s.LicenceActive(), Scripts: []string{s.link(mountPath + "/licence.js")},
	}
	for _, is := range issues {
		d.Rows = append(d.Rows, perUser("Jira issue "+is.Key+": "+is.Summary, jiraRoute+issueRoute+is.Key))
	}
	d.Rows = append(d.Rows,
		perUser("Jira admin page", jiraRoute+adminRoute),
		perUser("Confluence page with two Secrets macros", confluenceRoute+pageRoute+pageID),
		perUser("Confluence admin page", confluenceRoute+adminRoute))
	d.Rows = append(d.Rows, s.forgeRows()...)
	return render(c, indexTemplate, d)
}

// issuePage is the dev Jira site's issue view with the app's issue panel.
func (s *Sandbox) issuePage(c echo.Context) error {
	u, err := userFrom(c)
	if err != nil {
		return err
	}
	is, ok := issueByKey(c.Param("issueKey"))
	if !ok {
		return echo.ErrNotFound
	}
	t := s.jira
	f, err := s.frame(t, u, module{
		frameID: "secrets-panel", title: "Secrets", path: "/jira/panel",
		params: []param{
			{"issueId", is.ID}, {"issueKey", is.Key}, {"projectId", projectID}, {"projectKey", projectKey},
		},
		context: "issue=" + is.Key, lang: langFrom(c),
	})
	if err != nil {
		return err
	}
	d := s.page(t, u, is.Key+": "+is.Summary)
	d.Issue, d.Frames = is, []frame{f}
	return render(c, issueTemplate, d)
}

// confluencePage is the dev Confluence site's page with two Secrets macros,
// which must keep separate secrets.
func (s *Sandbox) confluencePage(c echo.Context) error {
	u, err := userFrom(c)
	if err != nil {
		return err
	}
	if c.Param("pageId") != pageID {
		return echo.ErrNotFound
	}
	t := s.confluence
	d := s.page(t, u, "Team runbook")
	for _, m := range []struct{ id, title string }{{"macro-a", "Secrets macro A"}, {"macro-b", "Secrets macro B"}} {
		// ?name-macro-a=… gives a macro its "Name" parameter, substituted
		// into the URL as a host does (empty when the macro has none).
		f, err := s.frame(t, u, module{
			frameID: "secrets-" + m.id, title: m.title, path: "/confluence/macro",
			params: []param{
				{"pageId", pageID}, {"macroId", m.id}, {"spaceKey", spaceKey}, {"outputType", "display"},
				{"name", c.QueryParam("name-" + m.id)},
			},
			// Context tokens name the page only, never the macro.
			context: "page=" + pageID, lang: langFrom(c),
		})
		if err != nil {
			return err
		}
		d.Frames = append(d.Frames, f)
	}
	return render(c, confluenceTemplate, d)
}

// adminPage frames the app's admin page of t. Unlike a real site, the
// sandbox shows it to the regular user too: the user_is_admin condition only
// hides UI, and this is where to see the app's own admin check refuse.
func (s *Sandbox) adminPage(t *tenant) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := userFrom(c)
		if err != nil {
			return err
		}
		f, err := s.frame(t, u, module{frameID: "secrets-admin", title: "Secrets administration", path: "/" + t.product + "/admin", lang: langFrom(c)})
		if err != nil {
			return err
		}
		d := s.page(t, u, "Secrets administration")
		d.Frames = []frame{f}
		return render(c, adminTemplate, d)
	}
}

// param is a query parameter; a slice of them keeps the order a host uses.
type param struct{ name, value string }

// module is an app module a page frames.
type module struct {
	frameID, title string
	path           string  // the module's URL path, relative to the app's base URL
	params         []param // the module's URL parameters, as the descriptor's context variables fill them
	context        string  // the query naming the issue or page for context tokens, if any
	lang           hostLang
}

// frame builds the iframe of module m on a page of t for user u, with the
// module URL signed as a host signs it.
func (s *Sandbox) frame(t *tenant, u User, m module) (frame, error) {
	channel := "channel-" + m.frameID
	// The host appends its own parameters to the module URL; they are
	// covered by the qsh like the module's.
	params := append(slices.Clip(m.params),
		param{"xdm_e", t.baseURL}, param{"xdm_c", channel}, param{"cp", t.contextPath},
		param{"lic", s.licParam()}, param{"loc", m.lang.locale}, param{"tz", m.lang.timezone})
	var q strings.Builder
	for i, p := range params {
		if i > 0 {
			q.WriteByte('&')
		}
		q.WriteString(url.QueryEscape(p.name) + "=" + url.QueryEscape(p.value))
	}
	qsh, err := connect.QSH(http.MethodGet, s.basePath+m.path, q.String(), s.basePath)
	if err != nil {
		return frame{}, err
	}
	now := time.Now()
	token, err := signHS256(t, connect.HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.clientKey,
			Subject:   u.AccountID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(hostTokenTTL)),
		},
		QSH:     qsh,
		Context: json.RawMessage(`{}`),
	})
	if err != nil {
		return frame{}, err
	}
	tokenURL := s.link(mountPath+"/"+t.product+"/context-token") + "?as=" + u.Key
	if m.context != "" {
		tokenURL += "&" + m.context
	}
	return frame{
		ID: m.frameID, Title: m.title, Channel: channel, TokenURL: tokenURL,
		Src: s.baseURL + m.path + "?" + q.String() + "&jwt=" + token,
	}, nil
}

// signHS256 signs claims as site t signs its tokens: HS256 with the
// tenant's shared secret.
func signHS256(t *tenant, claims connect.HostClaims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(t.sharedSecret))
}
