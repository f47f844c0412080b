package descriptor_test

import (
	"encoding/json"
	"testing"

	"github.com/connect-secrets/secrets/descriptor"
)

// TestResidencyAndLicensing: regions, the migration hook and licensing
// come from configuration, and are absent unless configured.
func TestResidencyAndLicensing(t *testing.T) {
	c := testConfig()
	c.Licensing = true
	c.RegionURLs = map[string]string{"EU": "https://eu.secrets.example.com", "US": "https://us.secrets.example.com"}
	c.MigrationHook, c.MaxMigrationHours = "/dare-migration", 4
	d, err := descriptor.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"jira": d.Jira, "confluence": d.Confluence} {
		var got struct {
			EnableLicensing bool              `json:"enableLicensing"`
			RegionBaseURLs  map[string]string `json:"regionBaseUrls"`
			Lifecycle       map[string]string `json:"lifecycle"`
			DataResidency   struct {
				Max float64 `json:"maxMigrationDurationHours"`
			} `json:"dataResidency"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !got.EnableLicensing || got.RegionBaseURLs["EU"] != c.RegionURLs["EU"] || len(got.RegionBaseURLs) != 2 ||
			got.Lifecycle["dare-migration"] != "/"+name+"/dare-migration" || got.DataResidency.Max != 4 {
			t.Errorf("%s: %+v", name, got)
		}
	}

	plain, err := descriptor.Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(plain.Jira, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["regionBaseUrls"]; ok || m["enableLicensing"] != false || m["dataResidency"] != nil {
		t.Errorf("unconfigured descriptor: %v", m)
	}

	for name, bad := range map[string]func(*descriptor.Config){
		"unknown region": func(c *descriptor.Config) { c.RegionURLs = map[string]string{"MARS": "https://m.example.com"} },
		"http region":    func(c *descriptor.Config) { c.RegionURLs = map[string]string{"EU": "http://eu.example.com"} },
		"duration":       func(c *descriptor.Config) { c.MigrationHook, c.MaxMigrationHours = "/h", 48 },
	} {
		c := testConfig()
		bad(&c)
		if _, err := descriptor.Render(c); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}
