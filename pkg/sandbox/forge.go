package sandbox

// Forge mode: the sandbox plays the Forge platform as it plays the Connect
// host. It signs Forge Invocation Tokens with its own key and publishes the
// JWKS at /dev/forge/jwks.json (secretsd's Forge JWKS URL in dev mode),
// answers the product REST calls at a fake apiBaseUrl under /dev/forge/api,
// serves the Custom UI build in frames on its own issue, page and admin
// pages, and loads into each frame a stand-in for the bridge that
// @forge/bridge expects (forge-bridge.js). The stand-in forwards invokeRemote
// to /dev/forge/invoke/…, where the sandbox mints the FIT for that frame's
// user, module and context — from its own record of the frame, never from the
// request — and calls the app's /forge/ routes on loopback.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/connect-secrets/secrets/descriptor"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/forge/platform"
	"github.com/connect-secrets/secrets/static"
	"github.com/labstack/echo/v4"
)

// Dev Forge apps and their environment, unless Config names others.
const (
	DevForgeJiraAppID       = "ari:cloud:ecosystem::app/00000000-0000-4000-8000-00000000f001"
	DevForgeConfluenceAppID = "ari:cloud:ecosystem::app/00000000-0000-4000-8000-00000000f002"
	DevForgeEnvironmentID   = "00000000-0000-4000-8000-0000000de7e0"

	forgeRoute       = mountPath + "/forge"
	forgeAPIRoute    = forgeRoute + "/api"
	forgeInvokeRoute = forgeRoute + "/invoke"
	forgeStaticRoute = forgeRoute + "/static"
	forgeCloudID     = "00000000-0000-4000-8000-00000000c10d"
	forgeJiraInstall = "ari:cloud:ecosystem::installation/00000000-0000-4000-8000-0000000a1001"
	forgeConfInstall = "ari:cloud:ecosystem::installation/00000000-0000-4000-8000-0000000a1002"
	maxForgeFrames   = 10_000
	forgeInvokeLimit = 6 << 20
	forgeCallTimeout = 25 * time.Second
)

// guestUser exists in Forge mode only: the product says Nia may browse no
// issue and read no page, so the app must show her nothing.
var guestUser = User{AccountID: "557058:dev-guest", Name: "Nia Noaccess", Key: "guest"}

// forgeSandbox is the Forge half of the sandbox.
type forgeSandbox struct {
	signer  *platform.Signer
	product *platform.ProductAPI
	jira    platform.Install
	conf    platform.Install
	envID   string
	appBase string // the app's base URL, where /forge/ routes live
	client  *http.Client

	mu     sync.Mutex
	frames map[string]forgeFrame
	// macroNames is each Confluence macro's configured name (by the macro's
	// localId), as Confluence keeps a Forge macro's config: set by the
	// config form's view.submit, read back as context.extension.config.
	macroNames map[string]string
}

// maxMacroName bounds a configured name the sandbox keeps (Confluence keeps
// more; the app shows at most 100 characters).
const maxMacroName = 255

// forgeFrame is the sandbox's record of one Custom UI frame it rendered.
type forgeFrame struct {
	install platform.Install
	inv     platform.Invocation
	context map[string]any // what view.getContext() answers
	// configures is the macro (localId) whose config form this frame is,
	// if it is one: only such a frame may submit.
	configures string
}

// ForgeSettings is what secretsd needs to trust the sandbox as its Forge
// platform in dev mode.
type ForgeSettings struct {
	JiraAppID, ConfluenceAppID string
	EnvironmentID              string
	JWKSURL                    string // the sandbox's JWKS
	APIBase                    string // the origin of the sandbox's apiBaseUrls
}

// Forge returns the settings of the sandbox's Forge platform.
func (s *Sandbox) Forge() ForgeSettings {
	return ForgeSettings{
		JiraAppID: s.forge.jira.AppID, ConfluenceAppID: s.forge.conf.AppID, EnvironmentID: s.forge.envID,
		JWKSURL: s.baseURL + forgeRoute + "/jwks.json", APIBase: s.baseURL + forgeAPIRoute,
	}
}

func (s *Sandbox) newForge(cfg Config) error {
	signer, err := platform.NewSignerFromKey(s.installKey, "forge/invocation-token/wf-"+platform.NewUUID())
	if err != nil {
		return err
	}
	jiraApp, confApp := cfg.ForgeJiraAppID, cfg.ForgeConfluenceAppID
	if jiraApp == "" {
		jiraApp = DevForgeJiraAppID
	}
	if confApp == "" {
		confApp = DevForgeConfluenceAppID
	}
	f := &forgeSandbox{
		signer: signer, product: platform.NewProductAPI(), envID: DevForgeEnvironmentID, appBase: s.baseURL,
		client: &http.Client{Timeout: forgeCallTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		frames: map[string]forgeFrame{},
	}
	apiBase := s.baseURL + forgeAPIRoute
	f.jira = platform.Install{AppID: jiraApp, EnvironmentID: f.envID, InstallationID: forgeJiraInstall, CloudID: forgeCloudID, APIBase: apiBase, Product: forge.ProductJira}
	f.conf = platform.Install{AppID: confApp, EnvironmentID: f.envID, InstallationID: forgeConfInstall, CloudID: forgeCloudID, APIBase: apiBase, Product: forge.ProductConfluence}
	allIssues := map[string]bool{}
	for _, is := range issues {
		allIssues[is.ID] = true
	}
	f.product.SetUser(platform.ProductUser{AccountID: adminUser.AccountID, Admin: true, Issues: allIssues, Pages: map[string]bool{pageID: true}})
	f.product.SetUser(platform.ProductUser{AccountID: regularUser.AccountID, Issues: allIssues, Pages: map[string]bool{pageID: true}})
	f.product.SetUser(platform.ProductUser{AccountID: guestUser.AccountID})
	appUUID := strings.TrimPrefix(confApp, "ari:cloud:ecosystem::app/")
	f.product.SetPage(pageID, platform.MacroADF(appUUID, f.envID, descriptor.ForgeMacroKey, "macro-a", "macro-b"))
	s.forge = f
	return nil
}

// ForgeCalls returns how many calls each product REST stand-in answered.
func (s *Sandbox) ForgeCalls() map[string]int { return s.forge.product.Calls() }

// InstallForge sends the platform's installed trigger for both dev Forge
// installations to the app's /forge/lifecycle route. The app also creates
// them on their first call, so a failure here only delays that.
func (s *Sandbox) InstallForge(ctx context.Context, client *http.Client) error {
	if client == nil {
		client = &http.Client{Timeout: installTimeout}
	}
	var errs []error
	for _, in := range []platform.Install{s.forge.jira, s.forge.conf} {
		fit, err := s.forge.signer.Mint(in, platform.Invocation{ModuleType: forge.ModuleTypeEndpoint, ModuleKey: descriptor.ForgeLifecycleEndpoint})
		if err != nil {
			return err
		}
		body := `{"eventType":"avi:forge:installed:app","context":{"cloudId":"` + in.CloudID + `"}}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+descriptor.ForgeLifecycleRoute, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+fit)
		res, err := client.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("sandbox: Forge install of %s: %w", in.Product, err))
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			errs = append(errs, fmt.Errorf("sandbox: Forge install of %s: status %d", in.Product, res.StatusCode))
		}
	}
	return errors.Join(errs...)
}

// The Forge pages reuse the Connect pages' content with frames of their own.
var (
	forgeIssueTemplate      = parseForgePage("issue.html")
	forgeConfluenceTemplate = parseForgePage("confluence.html")
	forgeAdminTemplate      = parseForgePage("admin.html")
)

func parseForgePage(name string) *template.Template {
	return template.Must(template.ParseFS(files, "templates/layout.html", "templates/forge-frames.html", "templates/"+name))
}

// mountForge registers the Forge platform's routes.
func (s *Sandbox) mountForge(e *echo.Echo, mw []echo.MiddlewareFunc) {
	f := s.forge
	e.GET(forgeRoute+"/jwks.json", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=600")
		return c.Blob(http.StatusOK, "application/json", f.signer.JWKS())
	}, mw...)
	e.Any(forgeAPIRoute+"/*", echo.WrapHandler(http.StripPrefix(s.basePath+forgeAPIRoute, f.product)), mw...)
	e.GET(forgeRoute+"/bridge.js", serveAsset("forge-bridge.js", "text/javascript; charset=utf-8"), mw...)
	e.GET(forgeRoute+"/host.js", serveAsset("forge-host.js", "text/javascript; charset=utf-8"), mw...)
	e.GET(forgeRoute+"/context", s.forgeContext, mw...)
	e.POST(forgeInvokeRoute+"/*", s.forgeInvoke, mw...)
	e.POST(forgeRoute+"/submit", s.forgeSubmit, mw...)
	e.GET(forgeStaticRoute+"/:product/:resource/", s.forgeResource, mw...)
	e.GET(forgeStaticRoute+"/:product/:resource/:file", s.forgeResource, mw...)

	e.GET(forgeRoute+"/jira"+issueRoute+":issueKey", s.forgeIssuePage, mw...)
	e.GET(forgeRoute+"/jira"+adminRoute, s.forgeAdminPage(forge.ProductJira), mw...)
	e.GET(forgeRoute+"/confluence"+pageRoute+":pageId", s.forgeConfluencePage, mw...)
	e.GET(forgeRoute+"/confluence"+adminRoute, s.forgeAdminPage(forge.ProductConfluence), mw...)
}

// forgeUserFrom is userFrom with the Forge-only guest.
func forgeUserFrom(c echo.Context) (User, error) {
	if c.QueryParam("as") == guestUser.Key {
		return guestUser, nil
	}
	return userFrom(c)
}

// forgePage starts a Forge page of product p as u.
func (s *Sandbox) forgePage(p string, u User, title string) pageData {
	t := s.jira
	if p == forge.ProductConfluence {
		t = s.confluence
	}
	st := t.site()
	st.Name += " (Forge)"
	d := pageData{Title: title, Dev: s.link(mountPath), Site: st, User: u, Scripts: []string{s.link(forgeRoute + "/host.js")}}
	for _, o := range []User{adminUser, regularUser, guestUser} {
		d.Switch = append(d.Switch, userLink{User: o, Current: o.Key == u.Key})
	}
	as := "?as=" + u.Key
	if p == forge.ProductJira {
		for _, is := range issues {
			d.Nav = append(d.Nav, navLink{Label: is.Key, Href: s.link(forgeRoute+"/jira"+issueRoute+is.Key) + as})
		}
	} else {
		d.Nav = append(d.Nav, navLink{Label: "Team runbook", Href: s.link(forgeRoute+"/confluence"+pageRoute+pageID) + as})
	}
	d.Nav = append(d.Nav, navLink{Label: "Apps: Secrets", Href: s.link(forgeRoute+"/"+p+adminRoute) + as})
	return d
}

func (s *Sandbox) forgeIssuePage(c echo.Context) error {
	u, err := forgeUserFrom(c)
	if err != nil {
		return err
	}
	is, ok := issueByKey(c.Param("issueKey"))
	if !ok {
		return echo.ErrNotFound
	}
	localID := "panel-" + platform.NewUUID() // the panel's localId changes on every render
	ctx := &forge.Context{CloudID: forgeCloudID, SiteURL: s.jira.baseURL, LocalID: localID, ModuleKey: descriptor.ForgeIssuePanelKey,
		Extension: forge.Extension{Type: "jira:issuePanel", Issue: &forge.Ref{ID: forge.ID(is.ID), Key: is.Key, Type: "Task"},
			Project: &forge.Ref{ID: projectID, Key: projectKey, Type: "software"}}}
	fr := s.forgeFrame(u, langFrom(c), s.forge.jira, "secrets-panel", "Secrets", "ui",
		platform.Invocation{ModuleType: "jira:issuePanel", ModuleKey: descriptor.ForgeIssuePanelKey, Principal: u.AccountID, Context: ctx})
	d := s.forgePage(forge.ProductJira, u, is.Key+": "+is.Summary)
	d.Issue, d.Frames = is, []frame{fr}
	return render(c, forgeIssueTemplate, d)
}

func (s *Sandbox) forgeConfluencePage(c echo.Context) error {
	u, err := forgeUserFrom(c)
	if err != nil {
		return err
	}
	if c.Param("pageId") != pageID {
		return echo.ErrNotFound
	}
	d := s.forgePage(forge.ProductConfluence, u, "Team runbook")
	// ?configure=macro-a opens that macro's config form too, as editing the
	// macro in Confluence does.
	configure := c.QueryParam("configure")
	for _, m := range []struct{ id, title string }{{"macro-a", "Secrets macro A"}, {"macro-b", "Secrets macro B"}} {
		ctx := &forge.Context{CloudID: forgeCloudID, SiteURL: s.confluence.baseURL, LocalID: m.id, ModuleKey: descriptor.ForgeMacroKey,
			Extension: forge.Extension{Type: "macro", Content: &forge.Ref{ID: pageID, Type: "page"}, Space: &forge.Ref{ID: "98", Key: spaceKey}}}
		inv := platform.Invocation{ModuleType: "xen:macro", ModuleKey: descriptor.ForgeMacroKey, Principal: u.AccountID, Context: ctx}
		d.Frames = append(d.Frames, s.forgeFrame(u, langFrom(c), s.forge.conf, "secrets-"+m.id, m.title, "ui", inv))
		if configure == m.id {
			d.Frames = append(d.Frames, s.recordFrame(u, langFrom(c), s.forge.conf, "secrets-config-"+m.id, m.title+": configuration", "config", inv, m.id))
		}
	}
	return render(c, forgeConfluenceTemplate, d)
}

func (s *Sandbox) forgeAdminPage(p string) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := forgeUserFrom(c)
		if err != nil {
			return err
		}
		in, typ, site := s.forge.jira, "jira:adminPage", s.jira.baseURL
		if p == forge.ProductConfluence {
			in, typ, site = s.forge.conf, "confluence:globalSettings", s.confluence.baseURL
		}
		ctx := &forge.Context{CloudID: forgeCloudID, SiteURL: site, LocalID: "admin-" + platform.NewUUID(), ModuleKey: descriptor.ForgeAdminKey,
			Extension: forge.Extension{Type: typ}}
		d := s.forgePage(p, u, "Secrets administration")
		d.Frames = []frame{s.forgeFrame(u, langFrom(c), in, "secrets-admin", "Secrets administration", "admin",
			platform.Invocation{ModuleType: typ, ModuleKey: descriptor.ForgeAdminKey, Principal: u.AccountID, Context: ctx})}
		return render(c, forgeAdminTemplate, d)
	}
}

// forgeFrame records a frame and returns what the page template needs.
func (s *Sandbox) forgeFrame(u User, lang hostLang, in platform.Install, id, title, resource string, inv platform.Invocation) frame {
	return s.recordFrame(u, lang, in, id, title, resource, inv, "")
}

// recordFrame is forgeFrame for a frame that may be a macro's config form:
// configures names the macro (localId) it may submit a config for. A
// macro's frames see its configured name as context.extension.config.
func (s *Sandbox) recordFrame(u User, lang hostLang, in platform.Install, id, title, resource string, inv platform.Invocation, configures string) frame {
	key := platform.NewUUID()
	f := s.forge
	f.mu.Lock()
	defer f.mu.Unlock()
	var extension any = inv.Context.Extension
	if name, ok := f.macroNames[inv.Context.LocalID]; ok && inv.ModuleType == "xen:macro" {
		extension = withConfig(inv.Context.Extension, map[string]any{"name": name})
	}
	view := map[string]any{
		"accountId": u.AccountID, "cloudId": inv.Context.CloudID, "siteUrl": inv.Context.SiteURL,
		"localId": inv.Context.LocalID, "moduleKey": inv.ModuleKey, "locale": lang.locale, "timezone": lang.timezone,
		"extension": extension,
	}
	if len(f.frames) >= maxForgeFrames {
		clear(f.frames)
	}
	f.frames[key] = forgeFrame{install: in, inv: inv, context: view, configures: configures}
	return frame{ID: id, Title: title, Src: s.link(forgeStaticRoute+"/"+in.Product+"/"+resource+"/") + "?frame=" + key}
}

func (s *Sandbox) frameRecord(c echo.Context) (forgeFrame, error) {
	s.forge.mu.Lock()
	fr, ok := s.forge.frames[c.QueryParam("frame")]
	s.forge.mu.Unlock()
	if !ok {
		return forgeFrame{}, echo.NewHTTPError(http.StatusNotFound, "unknown frame: reload the page")
	}
	return fr, nil
}

// forgeResource serves the Custom UI build, with the bridge stand-in added
// to index.html, as Atlassian's frame provides the real bridge.
func (s *Sandbox) forgeResource(c echo.Context) error {
	files, err := static.CustomUI(c.Param("product"), c.Param("resource"))
	if err != nil {
		return echo.ErrNotFound
	}
	name := c.Param("file")
	if name == "" {
		name = "index.html"
	}
	b, ok := files[name]
	if !ok {
		return echo.ErrNotFound
	}
	// Custom UI runs in a frame of the product page.
	c.Response().Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
	if name == "index.html" {
		if _, err := s.frameRecord(c); err != nil {
			return err
		}
		b, err = static.WithHeadScripts(b, s.link(forgeRoute+"/bridge.js")+"?frame="+url.QueryEscape(c.QueryParam("frame")))
		if err != nil {
			return err
		}
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	return c.Blob(http.StatusOK, types[path.Ext(name)], b)
}

// forgeContext answers view.getContext() for a frame.
func (s *Sandbox) forgeContext(c echo.Context) error {
	fr, err := s.frameRecord(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fr.context)
}

// withConfig is ext as JSON with a "config" member, as Confluence gives a
// configured macro's context.
func withConfig(ext forge.Extension, config map[string]any) map[string]any {
	m := map[string]any{}
	if b, err := json.Marshal(ext); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	m["config"] = config
	return m
}

// forgeSubmit is view.submit of a macro's config form: {config: {name}}
// becomes the macro's configured name. Only a config frame may submit, and
// only for its own macro; the name must be a string of bounded length.
func (s *Sandbox) forgeSubmit(c echo.Context) error {
	fr, err := s.frameRecord(c)
	if err != nil {
		return err
	}
	if fr.configures == "" {
		return echo.NewHTTPError(http.StatusForbidden, "only a macro's config form may submit a config")
	}
	var body struct {
		Config struct {
			Name *string `json:"name"`
		} `json:"config"`
	}
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, 4096)).Decode(&body); err != nil || body.Config.Name == nil || len(*body.Config.Name) > maxMacroName {
		return echo.NewHTTPError(http.StatusBadRequest, "want {config: {name: string}}")
	}
	f := s.forge
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.macroNames == nil || len(f.macroNames) >= maxForgeFrames {
		f.macroNames = map[string]string{}
	}
	f.macroNames[fr.configures] = *body.Config.Name
	return c.NoContent(http.StatusNoContent)
}

// invokeRequest is what the bridge stand-in posts: the app's invokeRemote
// arguments.
type invokeRequest struct {
	Path    string            `json:"path"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// invokeHeaders are the app's headers the platform forwards; the rest
// (Authorization, x-forge-*, cookies) are the platform's own.
var invokeHeaders = []string{"Accept", "Content-Type", "X-Unlock-Token"}

// forgeInvoke plays the platform's invokeRemote: it mints the frame's FIT
// and user token, calls the app, and answers {status, headers, body} with
// the app's status (a 204 becomes 200, which may carry a body).
func (s *Sandbox) forgeInvoke(c echo.Context) error {
	fr, err := s.frameRecord(c)
	if err != nil {
		return err
	}
	var in invokeRequest
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, forgeInvokeLimit)).Decode(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed invoke request")
	}
	target, err := url.Parse(in.Path)
	if err != nil || target.Scheme != "" || target.Host != "" || !strings.HasPrefix(target.Path, "/forge/") ||
		strings.Contains(target.Path, "..") || "/"+strings.TrimPrefix(c.Param("*"), "/") != target.Path {
		return echo.NewHTTPError(http.StatusBadRequest, "the invoke path must be the app's /forge/ route named in the URL")
	}
	method := strings.ToUpper(in.Method)
	if method == "" {
		method = http.MethodGet
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "unsupported method")
	}
	inv := fr.inv
	inv.Now = time.Now()
	// The platform signs the licence as of this call.
	install := fr.install
	active := s.LicenceActive()
	install.License = &active
	fit, err := s.forge.signer.Mint(install, inv)
	if err != nil {
		return err
	}
	var body io.Reader
	if len(in.Body) > 0 && string(in.Body) != "null" {
		body = bytes.NewReader(in.Body)
	}
	req, err := http.NewRequestWithContext(c.Request().Context(), method, s.baseURL+target.RequestURI(), body)
	if err != nil {
		return err
	}
	for _, h := range invokeHeaders {
		for k, v := range in.Headers {
			if strings.EqualFold(k, h) {
				req.Header.Set(h, v)
			}
		}
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+fit)
	req.Header.Set("X-Forge-Oauth-User", s.forge.product.IssueUserToken(inv.Principal))
	req.Header.Set("X-B3-TraceId", strings.ReplaceAll(platform.NewUUID(), "-", ""))
	req.Header.Set("X-B3-SpanId", strings.ReplaceAll(platform.NewUUID(), "-", "")[:16])
	res, err := s.forge.client.Do(req)
	if err != nil {
		s.log.Warn().Err(err).Msg("sandbox: invokeRemote could not reach the app")
		return echo.NewHTTPError(http.StatusBadGateway, "the app did not answer")
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 5<<20))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "the app's answer could not be read")
	}
	out := map[string]any{"status": res.StatusCode, "headers": lowerHeaders(res.Header)}
	if len(data) > 0 {
		var v any
		if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && json.Unmarshal(data, &v) == nil {
			out["body"] = v
		} else {
			out["body"] = string(data)
		}
	}
	status := res.StatusCode
	if status == http.StatusNoContent {
		status = http.StatusOK
	}
	return c.JSON(status, out)
}

func lowerHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}

// forgeRows are the index page's rows of Forge mode.
func (s *Sandbox) forgeRows() []indexRow {
	perUser := func(label, route string) indexRow {
		r := indexRow{Label: label}
		for _, u := range []User{adminUser, regularUser, guestUser} {
			r.Links = append(r.Links, navLink{Label: u.Name + " (" + u.Key + ")", Href: s.link(route) + "?as=" + u.Key})
		}
		return r
	}
	var rows []indexRow
	for _, is := range issues {
		rows = append(rows, perUser("Forge: Jira issue "+is.Key, forgeRoute+"/jira"+issueRoute+is.Key))
	}
	return append(rows,
		perUser("Forge: Jira admin page", forgeRoute+"/jira"+adminRoute),
		perUser("Forge: Confluence page with two macros", forgeRoute+"/confluence"+pageRoute+pageID),
		perUser("Forge: Confluence global settings", forgeRoute+"/confluence"+adminRoute))
}
