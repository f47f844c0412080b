package descriptor_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/descriptor"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func testConfig() descriptor.Config {
	return descriptor.Config{
		BaseURL:       "https://secrets.example.com",
		JiraKey:       "com.example.secrets.jira",
		ConfluenceKey: "com.example.secrets.confluence",
		VendorName:    "Example",
		VendorURL:     "https://example.com",
	}
}

func TestGolden(t *testing.T) {
	d, err := descriptor.Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"jira.golden.json": d.Jira, "confluence.golden.json": d.Confluence} {
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
				t.Errorf("descriptor differs from %s:\n%s", path, got)
			}
		})
	}
}

// connectDescriptor is the part of the descriptor schema we check field by field.
type connectDescriptor struct {
	Key            string            `json:"key"`
	Name           string            `json:"name"`
	Description    string            `json:"description"`
	BaseURL        string            `json:"baseUrl"`
	Vendor         map[string]string `json:"vendor"`
	Authentication struct {
		Type string `json:"type"`
	} `json:"authentication"`
	Lifecycle     map[string]string `json:"lifecycle"`
	APIVersion    int               `json:"apiVersion"`
	APIMigrations map[string]bool   `json:"apiMigrations"`
	Scopes        []string          `json:"scopes"`
	Modules       map[string][]struct {
		Key     string                  `json:"key"`
		Name    struct{ Value string }  `json:"name"`
		Tooltip *struct{ Value string } `json:"tooltip"`
		Icon    *struct{ URL string }   `json:"icon"`
		URL     string                  `json:"url"`
		Target  *struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"target"`
		OutputType string `json:"outputType"`
		BodyType   string `json:"bodyType"`
	} `json:"modules"`
}

func TestFields(t *testing.T) {
	cfg := testConfig()
	cfg.BaseURL = "http://localhost:18080"
	d, err := descriptor.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^[a-zA-Z0-9-._]+$`)
	moduleKey := regexp.MustCompile(`^[a-zA-Z0-9-]+$`)
	for _, tc := range []struct {
		product, wantKey, mainModule string
		raw                          []byte
	}{
		{"jira", cfg.JiraKey, "jiraIssueContents", d.Jira},
		{"confluence", cfg.ConfluenceKey, "dynamicContentMacros", d.Confluence},
	} {
		t.Run(tc.product, func(t *testing.T) {
			dec := json.NewDecoder(bytes.NewReader(tc.raw))
			var got connectDescriptor
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("not valid JSON: %v", err)
			}
			if got.Key != tc.wantKey || !key.MatchString(got.Key) || len(got.Key) > 80 {
				t.Errorf("key = %q", got.Key)
			}
			if got.BaseURL != cfg.BaseURL {
				t.Errorf("baseUrl = %q, want %q", got.BaseURL, cfg.BaseURL)
			}
			if got.Name == "" || got.Description == "" || got.Vendor["name"] == "" || got.Vendor["url"] == "" {
				t.Error("name, description or vendor missing")
			}
			if got.Authentication.Type != "jwt" || got.APIVersion != 1 {
				t.Errorf("authentication %q apiVersion %d", got.Authentication.Type, got.APIVersion)
			}
			for _, m := range []string{"signed-install", "context-qsh", "gdpr"} {
				if !got.APIMigrations[m] {
					t.Errorf("apiMigrations[%q] not true", m)
				}
			}
			if len(got.Scopes) != 1 || got.Scopes[0] != "READ" {
				t.Errorf("scopes = %v, want [READ]", got.Scopes)
			}
			for _, ev := range []string{"installed", "uninstalled", "enabled", "disabled"} {
				if want := "/" + tc.product + "/" + ev; got.Lifecycle[ev] != want {
					t.Errorf("lifecycle[%s] = %q, want %q", ev, got.Lifecycle[ev], want)
				}
			}
			mods := got.Modules[tc.mainModule]
			if len(mods) != 1 {
				t.Fatalf("want one %s module, got %d", tc.mainModule, len(mods))
			}
			m := mods[0]
			if !moduleKey.MatchString(m.Key) || m.Name.Value == "" {
				t.Errorf("module key %q name %q", m.Key, m.Name.Value)
			}
			switch tc.product {
			case "jira":
				if m.Tooltip == nil || m.Tooltip.Value == "" || m.Icon == nil || m.Icon.URL == "" {
					t.Error("jiraIssueContents needs tooltip.value and icon.url")
				}
				if m.Target == nil || m.Target.Type != "web_panel" {
					t.Fatal("jiraIssueContents target must be a web_panel")
				}
				for _, v := range []string{"{issue.id}", "{issue.key}", "{project.id}", "{project.key}"} {
					if !strings.Contains(m.Target.URL, v) {
						t.Errorf("panel URL %q lacks %s", m.Target.URL, v)
					}
				}
			case "confluence":
				if m.OutputType != "block" || m.BodyType != "none" {
					t.Errorf("outputType %q bodyType %q", m.OutputType, m.BodyType)
				}
				for _, v := range []string{"{page.id}", "{macro.id}", "{space.key}", "{output.type}"} {
					if !strings.Contains(m.URL, v) {
						t.Errorf("macro URL %q lacks %s", m.URL, v)
					}
				}
			}
			if admin := got.Modules["adminPages"]; len(admin) != 1 || admin[0].URL != "/"+tc.product+"/admin" {
				t.Errorf("adminPages = %+v", admin)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for name, mutate := range map[string]func(*descriptor.Config){
		"trailing slash":   func(c *descriptor.Config) { c.BaseURL += "/" },
		"relative base":    func(c *descriptor.Config) { c.BaseURL = "/secrets" },
		"ftp base":         func(c *descriptor.Config) { c.BaseURL = "ftp://example.com" },
		"query in base":    func(c *descriptor.Config) { c.BaseURL = "https://example.com?x=1" },
		"bad app key":      func(c *descriptor.Config) { c.JiraKey = "has space" },
		"long app key":     func(c *descriptor.Config) { c.ConfluenceKey = strings.Repeat("k", 81) },
		"same keys":        func(c *descriptor.Config) { c.ConfluenceKey = c.JiraKey },
		"quote in app key": func(c *descriptor.Config) { c.JiraKey = `a"b` },
	} {
		t.Run(name, func(t *testing.T) {
			c := testConfig()
			mutate(&c)
			if _, err := descriptor.Render(c); err == nil {
				t.Error("Render accepted an invalid config")
			}
		})
	}
}

func TestVendorEscaped(t *testing.T) {
	c := testConfig()
	c.VendorName = `Acme "Quotes" </script>`
	d, err := descriptor.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	var got connectDescriptor
	if err := json.Unmarshal(d.Jira, &got); err != nil {
		t.Fatal(err)
	}
	if got.Vendor["name"] != c.VendorName {
		t.Errorf("vendor name = %q, want %q", got.Vendor["name"], c.VendorName)
	}
}
