// Package descriptor renders the Atlassian Connect descriptors
// (atlassian-connect.json) for Jira and Confluence from the embedded templates
// beside this file. The templates hold everything the host needs to know about
// the app; only the base URL and the app keys vary by deployment.
//
// It also renders the manifests (manifest.yml) of the two Forge apps whose
// backend is this server as a Forge Remote (forge.go, RenderForge).
package descriptor

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

//go:embed jira.json.tmpl confluence.json.tmpl icon.svg
var files embed.FS

// Icon is the app's icon (SVG), served at IconPath.
var Icon, _ = files.ReadFile("icon.svg")

// IconPath is where the server serves Icon; the descriptors refer to it.
const IconPath = "/icon.svg"

// Config is what varies between deployments.
type Config struct {
	BaseURL          string // absolute, no trailing slash
	JiraKey          string // app key of the Jira app
	ConfluenceKey    string // app key of the Confluence app
	VendorName       string
	VendorURL        string
	DescriptionExtra string // appended to the description, e.g. " (development)"
	// Licensing sets enableLicensing: hosts then report the site's licence
	// (the lic parameter, the licence endpoint). Off by default.
	Licensing bool
	// RegionURLs maps data residency regions (ForgeRegions' names, which
	// Connect shares) to the base URL of the deployment serving that realm;
	// rendered as regionBaseUrls.
	RegionURLs map[string]string
	// MigrationHook, when set, is the path (under each product's prefix)
	// of the dare-migration lifecycle hook; MaxMigrationHours its
	// dataResidency.maxMigrationDurationHours (0: Atlassian's default).
	MigrationHook     string
	MaxMigrationHours float64
}

// appKey is Atlassian's rule for app keys.
var appKey = regexp.MustCompile(`^[a-zA-Z0-9-._]{1,80}$`)

// Validate reports whether c can be rendered into descriptors a host accepts.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.BaseURL, "/") {
		return fmt.Errorf("descriptor: base URL must be an absolute http(s) URL without a trailing slash, query or fragment")
	}
	for _, k := range []string{c.JiraKey, c.ConfluenceKey} {
		if !appKey.MatchString(k) {
			return fmt.Errorf("descriptor: app key %q must match %s", k, appKey)
		}
	}
	if c.JiraKey == c.ConfluenceKey {
		return fmt.Errorf("descriptor: the Jira and Confluence app keys must differ")
	}
	for region, raw := range c.RegionURLs {
		if !slices.Contains(ForgeRegions, region) {
			return fmt.Errorf("descriptor: region %q is not one of %v", region, ForgeRegions)
		}
		// https, or http when this deployment is on http itself (dev, tests).
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && strings.HasPrefix(c.BaseURL, "http:"))) ||
			u.Host == "" || u.RawQuery != "" || strings.HasSuffix(raw, "/") {
			return fmt.Errorf("descriptor: the base URL of region %s must be an absolute https URL without a trailing slash", region)
		}
	}
	if c.MaxMigrationHours != 0 && (c.MaxMigrationHours < 0.5 || c.MaxMigrationHours > 24) {
		return fmt.Errorf("descriptor: maxMigrationDurationHours must be from 0.5 to 24")
	}
	return nil
}

// Descriptors holds both rendered descriptors.
type Descriptors struct {
	Jira       []byte
	Confluence []byte
}

// Render renders both descriptors. The result is valid JSON; it is checked
// here so a template mistake fails at start-up rather than at install time.
func Render(c Config) (*Descriptors, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	jira, err := render("jira.json.tmpl", c)
	if err != nil {
		return nil, err
	}
	conf, err := render("confluence.json.tmpl", c)
	if err != nil {
		return nil, err
	}
	return &Descriptors{Jira: jira, Confluence: conf}, nil
}

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	// js quotes a value as a JSON string, so no configured value can break
	// out of its field.
	"js": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
	// json writes any value as JSON (maps with sorted keys).
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}).ParseFS(files, "*.tmpl"))

func render(name string, c Config) ([]byte, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, c); err != nil {
		return nil, fmt.Errorf("descriptor: render %s: %w", name, err)
	}
	// Re-indent through encoding/json: proves validity and gives stable output.
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("descriptor: %s is not valid JSON: %w", name, err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
