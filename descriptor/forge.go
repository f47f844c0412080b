package descriptor

// The Forge manifests (manifest.yml) of the two Forge apps whose backend is
// this server as a Forge Remote. Their shape is fixed by forge.md §1; only
// the app ids, the remote's base URL (optionally one per data residency
// region) and licensing vary by deployment.

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"text/template"
)

//go:embed forge-jira.yml.tmpl forge-confluence.yml.tmpl forge-common.yml.tmpl
var forgeFiles embed.FS

// The module and endpoint keys of the Forge manifests. The server checks
// the first three against a FIT's app.module.key (UI and admin calls) and
// the endpoint keys against the platform's own calls (core:endpoint), so
// these constants are the one place they are named.
const (
	ForgeIssuePanelKey        = "secrets-issue-panel"  // jira:issuePanel
	ForgeMacroKey             = "secrets-macro"        // Confluence macro
	ForgeAdminKey             = "secrets-admin"        // jira:adminPage, confluence:globalSettings
	ForgeUIEndpoint           = "ui"                   // endpoint of every UI module's resolver
	ForgeLifecycleEndpoint    = "lifecycle"            // endpoint of the installed/upgraded trigger
	ForgePreUninstallEndpoint = "pre-uninstall"        // endpoint of the preUninstall hook
	ForgeLifecycleRoute       = "/forge/lifecycle"     // route.path of the lifecycle endpoint
	ForgePreUninstallRoute    = "/forge/pre-uninstall" // route.path of the pre-uninstall endpoint
	ForgeMigrationKey         = "secrets-dare"         // migration:dataResidency, with per-region base URLs
	ForgeMigrationRoute       = "/forge/migration"     // its path; the platform appends /schedule, /start, …
)

// ForgeRegions are the keys a remote's baseUrl map may have besides
// "default", in the order they are rendered.
var ForgeRegions = []string{"EU", "US", "AU", "DE", "SG", "CA", "IN", "KR", "JP", "GB", "CH"}

// ForgeConfig is what varies between deployments of the Forge apps.
type ForgeConfig struct {
	// BaseURL is the remote's default base URL: the origin secretsd is
	// reached at (https, no path: the UI's invokeRemote paths are absolute).
	BaseURL string
	// RegionURLs optionally maps data residency regions (ForgeRegions) to
	// the base URL serving that region.
	RegionURLs map[string]string
	// JiraAppID and ConfluenceAppID are the app ARIs `forge register`
	// assigned, like ari:cloud:ecosystem::app/<uuid>.
	JiraAppID       string
	ConfluenceAppID string
	// Licensing turns on Marketplace licensing (paid apps only).
	Licensing bool
}

// forgeAppID is the shape of a Forge app ARI.
var forgeAppID = regexp.MustCompile(`^ari:cloud:ecosystem::app/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ForgeResourceDir is where, relative to a rendered app's directory, the
// Custom UI resource with the given key ("ui" or "admin") must be: the
// manifests' resources point there.
func ForgeResourceDir(resource string) string { return "resources/" + resource }

// Validate reports whether c can be rendered into manifests Forge accepts.
func (c ForgeConfig) Validate() error {
	if err := checkRemoteURL(c.BaseURL); err != nil {
		return fmt.Errorf("descriptor: Forge base URL: %w", err)
	}
	for region, u := range c.RegionURLs {
		if !slices.Contains(ForgeRegions, region) {
			return fmt.Errorf("descriptor: Forge region %q is not one of %v", region, ForgeRegions)
		}
		if err := checkRemoteURL(u); err != nil {
			return fmt.Errorf("descriptor: Forge base URL of region %s: %w", region, err)
		}
	}
	for _, id := range []string{c.JiraAppID, c.ConfluenceAppID} {
		if !forgeAppID.MatchString(id) {
			return fmt.Errorf("descriptor: Forge app id %q must look like ari:cloud:ecosystem::app/<uuid> (forge register prints it)", id)
		}
	}
	if c.JiraAppID == c.ConfluenceAppID {
		return fmt.Errorf("descriptor: the Jira and Confluence Forge apps need different app ids")
	}
	return nil
}

// checkRemoteURL accepts an https origin: Forge calls remotes over HTTPS
// only, and invokeRemote resolves the UI's absolute paths against the
// origin, dropping any path the base URL has.
func checkRemoteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || s[len(s)-1] == '/' {
		return fmt.Errorf("%q must be an https origin such as https://secrets.example.com (no path, no trailing slash)", s)
	}
	return nil
}

// Manifests holds both rendered Forge manifests (YAML).
type Manifests struct {
	Jira       []byte
	Confluence []byte
}

// RenderForge renders both Forge manifests.
func RenderForge(c ForgeConfig) (*Manifests, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	data := forgeData{ForgeConfig: c, BaseURLs: []regionURL{{"default", c.BaseURL}}}
	for _, region := range ForgeRegions {
		if u, ok := c.RegionURLs[region]; ok {
			data.BaseURLs = append(data.BaseURLs, regionURL{region, u})
		}
	}
	var m Manifests
	for name, out := range map[string]*[]byte{"forge-jira.yml.tmpl": &m.Jira, "forge-confluence.yml.tmpl": &m.Confluence} {
		var buf bytes.Buffer
		if err := forgeTemplates.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, fmt.Errorf("descriptor: render %s: %w", name, err)
		}
		*out = buf.Bytes()
	}
	return &m, nil
}

type forgeData struct {
	ForgeConfig
	BaseURLs []regionURL // default first, then ForgeRegions' order
}

type regionURL struct{ Region, URL string }

// forgeKeys names the key constants for the templates.
var forgeKeys = map[string]string{
	"issuePanel": ForgeIssuePanelKey, "macro": ForgeMacroKey, "admin": ForgeAdminKey,
	"uiEndpoint": ForgeUIEndpoint, "lifecycleEndpoint": ForgeLifecycleEndpoint, "preUninstallEndpoint": ForgePreUninstallEndpoint,
	"lifecycleRoute": ForgeLifecycleRoute, "preUninstallRoute": ForgePreUninstallRoute,
	"migration": ForgeMigrationKey, "migrationRoute": ForgeMigrationRoute,
}

var forgeTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	// yq writes a value as a double-quoted scalar. JSON strings are valid
	// YAML double-quoted scalars, so no configured value can break out.
	"yq": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
	"resourceDir": ForgeResourceDir,
	"key": func(name string) (string, error) {
		k, ok := forgeKeys[name]
		if !ok {
			return "", fmt.Errorf("no Forge key %q", name)
		}
		return k, nil
	},
}).ParseFS(forgeFiles, "forge-*.yml.tmpl"))
