package descriptor_test

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/connect-secrets/secrets/descriptor"
)

const (
	testJiraAppID       = "ari:cloud:ecosystem::app/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	testConfluenceAppID = "ari:cloud:ecosystem::app/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
)

func testForgeConfig() descriptor.ForgeConfig {
	return descriptor.ForgeConfig{
		BaseURL:         "https://secrets.example.com",
		RegionURLs:      map[string]string{"EU": "https://eu.secrets.example.com", "AU": "https://au.secrets.example.com"},
		JiraAppID:       testJiraAppID,
		ConfluenceAppID: testConfluenceAppID,
	}
}

func TestForgeGolden(t *testing.T) {
	m, err := descriptor.RenderForge(testForgeConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"forge-jira.golden.yml": m.Jira, "forge-confluence.golden.yml": m.Confluence} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./descriptor -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("manifest differs from %s:\n%s", path, got)
			}
		})
	}
}

// manifest is the part of Forge's manifest schema that forge.md §1 fixes.
type manifest struct {
	App struct {
		ID      string `yaml:"id"`
		Runtime struct {
			Name string `yaml:"name"`
		} `yaml:"runtime"`
		Licensing struct {
			Enabled *bool `yaml:"enabled"`
		} `yaml:"licensing"`
	} `yaml:"app"`
	Modules   map[string][]module `yaml:"modules"`
	Remotes   []remote            `yaml:"remotes"`
	Resources []struct {
		Key  string `yaml:"key"`
		Path string `yaml:"path"`
	} `yaml:"resources"`
	Permissions struct {
		Scopes []string `yaml:"scopes"`
	} `yaml:"permissions"`
}

type module struct {
	Key      string `yaml:"key"`
	Resource string `yaml:"resource"`
	Resolver *struct {
		Endpoint string `yaml:"endpoint"`
	} `yaml:"resolver"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	Icon        string `yaml:"icon"`
	Layout      string `yaml:"layout"`
	Config      *struct {
		Resource     string `yaml:"resource"`
		Title        string `yaml:"title"`
		ViewportSize string `yaml:"viewportSize"`
	} `yaml:"config"` // the macro's config form (its optional name)
	Endpoint string   `yaml:"endpoint"`
	Events   []string `yaml:"events"`
	Remote   string   `yaml:"remote"`
	Route    *struct {
		Path string `yaml:"path"`
	} `yaml:"route"`
	Auth map[string]struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"auth"`
	// migration:dataResidency
	Path                      string  `yaml:"path"`
	MaxMigrationDurationHours float64 `yaml:"maxMigrationDurationHours"`
}

type remote struct {
	Key        string            `yaml:"key"`
	BaseURL    map[string]string `yaml:"baseUrl"`
	Operations []string          `yaml:"operations"`
	Storage    struct {
		InScopeEUD bool `yaml:"inScopeEUD"`
	} `yaml:"storage"`
	Auth any `yaml:"auth"`
}

func parseManifest(t *testing.T, b []byte) manifest {
	t.Helper()
	var m manifest
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("manifest is not the YAML we expect: %v\n%s", err, b)
	}
	return m
}

func one(t *testing.T, m manifest, typ string) module {
	t.Helper()
	mods := m.Modules[typ]
	if len(mods) != 1 {
		t.Fatalf("modules.%s has %d entries, want 1", typ, len(mods))
	}
	return mods[0]
}

// Every module, endpoint, remote, resource and scope of forge.md §1.
func TestForgeManifestsHaveTheContract(t *testing.T) {
	m, err := descriptor.RenderForge(testForgeConfig())
	if err != nil {
		t.Fatal(err)
	}
	products := []struct {
		name, appID, uiType, uiKey, adminType string
		yaml                                  []byte
		scopes                                []string
	}{
		{"jira", testJiraAppID, "jira:issuePanel", descriptor.ForgeIssuePanelKey, "jira:adminPage", m.Jira,
			[]string{"read:app-user-token", "read:app-system-token", "read:jira-work"}},
		{"confluence", testConfluenceAppID, "macro", descriptor.ForgeMacroKey, "confluence:globalSettings", m.Confluence,
			[]string{"read:app-user-token", "read:app-system-token", "read:page:confluence", "read:blogpost:confluence"}},
	}
	for _, p := range products {
		t.Run(p.name, func(t *testing.T) {
			got := parseManifest(t, p.yaml)
			if got.App.ID != p.appID {
				t.Errorf("app.id = %q, want %q", got.App.ID, p.appID)
			}
			if got.App.Runtime.Name != "nodejs24.x" {
				t.Errorf("app.runtime.name = %q", got.App.Runtime.Name)
			}
			if l := got.App.Licensing.Enabled; l == nil || *l {
				t.Errorf("app.licensing.enabled = %v, want false by default", l)
			}
			var types []string
			for typ := range got.Modules {
				types = append(types, typ)
			}
			slices.Sort(types)
			// The test config has per-region base URLs, so data
			// residency migrations are served too.
			want := []string{p.adminType, "endpoint", p.uiType, "preUninstall", "trigger", "migration:dataResidency"}
			slices.Sort(want)
			if !slices.Equal(types, want) {
				t.Errorf("module types = %v, want %v", types, want)
			}

			ui := one(t, got, p.uiType)
			if ui.Key != p.uiKey {
				t.Errorf("%s key = %q, want %q", p.uiType, ui.Key, p.uiKey)
			}
			if ui.Resource != "ui" || ui.Resolver == nil || ui.Resolver.Endpoint != "ui" || ui.Title != "Secrets" || ui.Icon != "resource:ui;icon.svg" || ui.Key == "" {
				t.Errorf("%s = %+v", p.uiType, ui)
			}
			if p.name == "confluence" && (ui.Layout != "block" || ui.Description == "") {
				t.Errorf("macro layout %q, description %q; want block and a description", ui.Layout, ui.Description)
			}
			// The macro's name is set in its config form, the config resource.
			if p.name == "confluence" && (ui.Config == nil || ui.Config.Resource != "config") {
				t.Errorf("macro config %+v, want the config resource", ui.Config)
			}
			admin := one(t, got, p.adminType)
			if admin.Key != descriptor.ForgeAdminKey {
				t.Errorf("%s key = %q, want %q", p.adminType, admin.Key, descriptor.ForgeAdminKey)
			}
			if admin.Resource != "admin" || admin.Resolver == nil || admin.Resolver.Endpoint != "ui" || admin.Title == "" || admin.Key == "" {
				t.Errorf("%s = %+v", p.adminType, admin)
			}
			trig := one(t, got, "trigger")
			if trig.Key == "" || trig.Endpoint != "lifecycle" ||
				!slices.Equal(trig.Events, []string{"avi:forge:installed:app", "avi:forge:upgraded:app"}) {
				t.Errorf("trigger = %+v", trig)
			}
			pre := one(t, got, "preUninstall")
			if pre.Key == "" || pre.Endpoint != "pre-uninstall" {
				t.Errorf("preUninstall = %+v", pre)
			}
			dare := one(t, got, "migration:dataResidency")
			if dare.Key != descriptor.ForgeMigrationKey || dare.Remote != "backend" || dare.Path != descriptor.ForgeMigrationRoute ||
				dare.MaxMigrationDurationHours < 0.5 || dare.MaxMigrationDurationHours > 24 {
				t.Errorf("migration:dataResidency = %+v", dare)
			}

			// Forge wants module keys unique across every module type.
			keys := map[string]string{}
			for typ, mods := range got.Modules {
				for _, mod := range mods {
					if other, dup := keys[mod.Key]; dup {
						t.Errorf("module key %q is used by %s and %s", mod.Key, other, typ)
					}
					keys[mod.Key] = typ
				}
			}

			endpoints := map[string]module{}
			for _, e := range got.Modules["endpoint"] {
				endpoints[e.Key] = e
				if e.Remote != "backend" {
					t.Errorf("endpoint %s has remote %q, want backend", e.Key, e.Remote)
				}
				if len(e.Key) > 23 {
					t.Errorf("endpoint key %q is longer than Forge's 23 characters", e.Key)
				}
			}
			if len(endpoints) != 3 {
				t.Errorf("endpoints = %v, want ui, lifecycle, pre-uninstall", endpoints)
			}
			if e := endpoints["ui"]; e.Route != nil || !e.Auth["appUserToken"].Enabled || e.Auth["appSystemToken"].Enabled {
				t.Errorf("endpoint ui = %+v: want no route, the user token, not the system token", e)
			}
			if e := endpoints[descriptor.ForgeLifecycleEndpoint]; e.Route == nil || e.Route.Path != descriptor.ForgeLifecycleRoute || !e.Auth["appSystemToken"].Enabled {
				t.Errorf("endpoint lifecycle = %+v", e)
			}
			if e := endpoints[descriptor.ForgePreUninstallEndpoint]; e.Route == nil || e.Route.Path != descriptor.ForgePreUninstallRoute {
				t.Errorf("endpoint pre-uninstall = %+v", e)
			}

			if len(got.Remotes) != 1 {
				t.Fatalf("remotes = %+v, want one", got.Remotes)
			}
			r := got.Remotes[0]
			wantURLs := map[string]string{"default": "https://secrets.example.com", "EU": "https://eu.secrets.example.com", "AU": "https://au.secrets.example.com"}
			if r.Key != "backend" || len(r.BaseURL) != len(wantURLs) || r.Auth != nil {
				t.Errorf("remote = %+v", r)
			}
			for k, v := range wantURLs {
				if r.BaseURL[k] != v {
					t.Errorf("remote baseUrl.%s = %q, want %q", k, r.BaseURL[k], v)
				}
			}
			if !slices.Equal(r.Operations, []string{"storage", "compute"}) || !r.Storage.InScopeEUD {
				t.Errorf("remote operations %v, storage.inScopeEUD %v", r.Operations, r.Storage.InScopeEUD)
			}

			res := map[string]string{}
			for _, x := range got.Resources {
				res[x.Key] = x.Path
			}
			wantRes := map[string]string{"ui": descriptor.ForgeResourceDir("ui"), "admin": descriptor.ForgeResourceDir("admin")}
			if p.name == "confluence" {
				wantRes["config"] = descriptor.ForgeResourceDir("config")
			}
			if !maps.Equal(res, wantRes) {
				t.Errorf("resources = %v, want %v", res, wantRes)
			}
			if !slices.Equal(got.Permissions.Scopes, p.scopes) {
				t.Errorf("scopes = %v, want %v", got.Permissions.Scopes, p.scopes)
			}
		})
	}
}

func TestForgeLicensingAndSingleBaseURL(t *testing.T) {
	c := testForgeConfig()
	c.Licensing = true
	c.RegionURLs = nil
	m, err := descriptor.RenderForge(c)
	if err != nil {
		t.Fatal(err)
	}
	got := parseManifest(t, m.Jira)
	if l := got.App.Licensing.Enabled; l == nil || !*l {
		t.Errorf("licensing.enabled = %v, want true", l)
	}
	if u := got.Remotes[0].BaseURL; len(u) != 1 || u["default"] != c.BaseURL {
		t.Errorf("baseUrl = %v, want only the default", u)
	}
	if _, ok := got.Modules["migration:dataResidency"]; ok {
		t.Error("one deployment, yet a data residency migration module")
	}
}

func TestForgeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*descriptor.ForgeConfig)
	}{
		{"http base URL", func(c *descriptor.ForgeConfig) { c.BaseURL = "http://secrets.example.com" }},
		{"base URL with a path", func(c *descriptor.ForgeConfig) { c.BaseURL = "https://example.com/secrets" }},
		{"trailing slash", func(c *descriptor.ForgeConfig) { c.BaseURL = "https://secrets.example.com/" }},
		{"empty base URL", func(c *descriptor.ForgeConfig) { c.BaseURL = "" }},
		{"query", func(c *descriptor.ForgeConfig) { c.BaseURL = "https://secrets.example.com?x=1" }},
		{"unknown region", func(c *descriptor.ForgeConfig) { c.RegionURLs = map[string]string{"MARS": "https://m.example.com"} }},
		{"bad region URL", func(c *descriptor.ForgeConfig) { c.RegionURLs = map[string]string{"EU": "ftp://eu.example.com"} }},
		{"missing Jira app id", func(c *descriptor.ForgeConfig) { c.JiraAppID = "" }},
		{"app id not an ARI", func(c *descriptor.ForgeConfig) { c.ConfluenceAppID = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9" }},
		{"app id with YAML in it", func(c *descriptor.ForgeConfig) { c.JiraAppID = testJiraAppID + "\nmodules: {}" }},
		{"same app id twice", func(c *descriptor.ForgeConfig) { c.ConfluenceAppID = c.JiraAppID }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testForgeConfig()
			tc.edit(&c)
			if _, err := descriptor.RenderForge(c); err == nil {
				t.Error("RenderForge succeeded")
			}
		})
	}
	if err := testForgeConfig().Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// Region URLs are rendered in a fixed order, whatever the map's order.
func TestForgeRenderIsStable(t *testing.T) {
	c := testForgeConfig()
	c.RegionURLs = map[string]string{}
	for _, r := range descriptor.ForgeRegions {
		c.RegionURLs[r] = "https://" + strings.ToLower(r) + ".secrets.example.com"
	}
	first, err := descriptor.RenderForge(c)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, _ := descriptor.RenderForge(c)
		if !bytes.Equal(first.Jira, again.Jira) || !bytes.Equal(first.Confluence, again.Confluence) {
			t.Fatal("two renders of one config differ")
		}
	}
	if got := parseManifest(t, first.Confluence).Remotes[0].BaseURL; len(got) != 12 {
		t.Errorf("baseUrl has %d entries, want default and 11 regions", len(got))
	}
}
