package connect_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/connect"
)

const lifecycleSecret = "s3cr3t-VALUE-that-must-never-leak-0123456789"

// installedPayload is a real-shaped installed payload, with fields a host
// adds beyond the documented ones.
func installedPayload(f func(m map[string]any)) string {
	m := map[string]any{
		"key":            "com.example.secrets",
		"clientKey":      "a1b2c3d4-0000-1111-2222-333344445555",
		"sharedSecret":   lifecycleSecret,
		"baseUrl":        "https://acme.atlassian.net",
		"displayUrl":     "https://jira.acme.com",
		"productType":    "jira",
		"description":    "Atlassian JIRA at https://acme.atlassian.net ",
		"eventType":      "installed",
		"serverVersion":  "100238",
		"pluginsVersion": "1001.0.0-SNAPSHOT",
		"oauthClientId":  "Z2lzdC5naXRodWIuY29t",
		"cloudId":        "3f4d2c1b-aaaa-bbbb-cccc-ddddeeeeffff",
		"installationId": "ari:cloud:ecosystem::installation/1",
	}
	if f != nil {
		f(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestParseLifecycle(t *testing.T) {
	p, err := connect.ParseLifecycle(strings.NewReader(installedPayload(nil)), false)
	if err != nil {
		t.Fatalf("ParseLifecycle: %v", err)
	}
	want := connect.LifecyclePayload{
		Key:            "com.example.secrets",
		ClientKey:      "a1b2c3d4-0000-1111-2222-333344445555",
		SharedSecret:   lifecycleSecret,
		BaseURL:        "https://acme.atlassian.net",
		DisplayURL:     "https://jira.acme.com",
		ProductType:    "jira",
		Description:    "Atlassian JIRA at https://acme.atlassian.net ",
		EventType:      "installed",
		ServerVersion:  "100238",
		PluginsVersion: "1001.0.0-SNAPSHOT",
		OAuthClientID:  "Z2lzdC5naXRodWIuY29t",
		CloudID:        "3f4d2c1b-aaaa-bbbb-cccc-ddddeeeeffff",
	}
	if *p != want {
		t.Errorf("got %+v\nwant %+v", *p, want)
	}

	accepted := []struct {
		name      string
		allowHTTP bool
		body      string
	}{
		{"uninstalled without secret", false, installedPayload(func(m map[string]any) {
			m["eventType"] = "uninstalled"
			delete(m, "sharedSecret")
		})},
		{"enabled", false, installedPayload(func(m map[string]any) { m["eventType"] = "enabled"; delete(m, "sharedSecret") })},
		{"disabled", false, installedPayload(func(m map[string]any) { m["eventType"] = "disabled"; delete(m, "sharedSecret") })},
		{"no displayUrl", false, installedPayload(func(m map[string]any) { delete(m, "displayUrl") })},
		{"baseUrl with path", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "https://acme.atlassian.net/wiki" })},
		{"baseUrl with port", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "https://acme.atlassian.net:443/wiki/" })},
		{"http in the sandbox", true, installedPayload(func(m map[string]any) { m["baseUrl"] = "http://localhost:2990/jira" })},
		{"16-byte secret", false, installedPayload(func(m map[string]any) { m["sharedSecret"] = strings.Repeat("k", 16) })},
		{"trailing whitespace", false, installedPayload(nil) + "\n\t "},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := connect.ParseLifecycle(strings.NewReader(tt.body), tt.allowHTTP); err != nil {
				t.Fatalf("ParseLifecycle: %v", err)
			}
		})
	}
}

func TestParseLifecycleRefuses(t *testing.T) {
	tests := []struct {
		name      string
		allowHTTP bool
		body      string
	}{
		{"empty body", false, ""},
		{"not JSON", false, "clientKey=" + lifecycleSecret},
		{"JSON array", false, "[]"},
		{"null", false, "null"},
		{"secret in a syntax error", false, `{"sharedSecret":"` + lifecycleSecret + `"` + lifecycleSecret + `}`},
		{"wrong type", false, installedPayload(func(m map[string]any) { m["sharedSecret"] = 12345678901234567 })},
		{"second object", false, installedPayload(nil) + `{"clientKey":"other"}`},
		{"too large", false, installedPayload(func(m map[string]any) { m["description"] = strings.Repeat("x", 64<<10) })},
		{"no clientKey", false, installedPayload(func(m map[string]any) { delete(m, "clientKey") })},
		{"clientKey too long", false, installedPayload(func(m map[string]any) { m["clientKey"] = strings.Repeat("c", 257) })},
		{"clientKey with newline", false, installedPayload(func(m map[string]any) { m["clientKey"] = "abc\ndef" })},
		{"clientKey with NUL", false, installedPayload(func(m map[string]any) { m["clientKey"] = "abc\x00" })},
		{"clientKey with C1 control", false, installedPayload(func(m map[string]any) { m["clientKey"] = "abc\u0085" })},
		{"clientKey invalid UTF-8", false, `{"clientKey":"ab\xff","baseUrl":"https://acme.atlassian.net","eventType":"enabled"}`},
		{"no baseUrl", false, installedPayload(func(m map[string]any) { delete(m, "baseUrl") })},
		{"http baseUrl", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "http://acme.atlassian.net" })},
		{"relative baseUrl", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "/wiki" })},
		{"scheme-relative baseUrl", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "//acme.atlassian.net" })},
		{"javascript baseUrl", true, installedPayload(func(m map[string]any) { m["baseUrl"] = "javascript:alert(1)" })},
		{"opaque baseUrl", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "https:acme.atlassian.net" })},
		{"baseUrl with user info", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "https://acme.atlassian.net@evil.example" })},
		{"baseUrl with query", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "https://acme.atlassian.net/?x=1" })},
		{"baseUrl with fragment", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "https://acme.atlassian.net/#x" })},
		{"baseUrl without host", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "https:///wiki" })},
		{"baseUrl with control char", false, installedPayload(func(m map[string]any) { m["baseUrl"] = "https://acme.atlassian.net/\x7f" })},
		{"ftp displayUrl", true, installedPayload(func(m map[string]any) { m["displayUrl"] = "ftp://jira.acme.com" })},
		{"http displayUrl", false, installedPayload(func(m map[string]any) { m["displayUrl"] = "http://jira.acme.com" })},
		{"no eventType", false, installedPayload(func(m map[string]any) { delete(m, "eventType") })},
		{"unknown eventType", false, installedPayload(func(m map[string]any) { m["eventType"] = "Installed" })},
		{"installed without secret", false, installedPayload(func(m map[string]any) { delete(m, "sharedSecret") })},
		{"installed with short secret", false, installedPayload(func(m map[string]any) { m["sharedSecret"] = strings.Repeat("k", 15) })},
		{"installed with huge secret", false, installedPayload(func(m map[string]any) { m["sharedSecret"] = strings.Repeat("k", 2000) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := connect.ParseLifecycle(strings.NewReader(tt.body), tt.allowHTTP)
			if !errors.Is(err, connect.ErrBadPayload) {
				t.Fatalf("ParseLifecycle = %+v, %v; want ErrBadPayload", p, err)
			}
			assertNoSecret(t, err, lifecycleSecret, "kkkkkkkkkkkkkkk")
		})
	}
}

func TestHostAllowed(t *testing.T) {
	def := []string{"*.atlassian.net"}
	tests := []struct {
		host     string
		patterns []string
		want     bool
	}{
		{"acme.atlassian.net", def, true},
		{"ACME.Atlassian.NET", def, true},
		{"a.b.atlassian.net", def, true},
		{"acme-1.atlassian.net", def, true},
		{"atlassian.net", def, false},
		{"evilatlassian.net", def, false},
		{"acme.atlassian.net.evil.com", def, false},
		{".atlassian.net", def, false},
		{"acme..atlassian.net", def, false},
		{"acme.atlassian.net.", def, false},
		{"acme.atlassian.net:443", def, false},
		{"acme.atlassian.net/x", def, false},
		{"acme.atlassian.net\x00", def, false},
		{"acme.atlassian.net ", def, false},
		{"", def, false},
		{"acme.atlassian.net", nil, false},
		{"acme.atlassian.net", []string{"*"}, false},
		{"acme.atlassian.net", []string{"*.net*"}, false},
		{"acme.atlassian.net", []string{"*atlassian.net"}, false},
		{"jira.acme.com", []string{"*.atlassian.net", "jira.acme.com"}, true},
		{"jira.acme.com", []string{"JIRA.ACME.COM"}, true},
		{"x.jira.acme.com", []string{"jira.acme.com"}, false},
		{"localhost", []string{"localhost"}, true},
		{"acme.jira-dev.com", []string{"*.atlassian.net", "*.jira-dev.com"}, true},
		{"xn--80ak6aa92e.atlassian.net", def, true},
		{"аcme.atlassian.net", def, false}, // Cyrillic а
	}
	for _, tt := range tests {
		t.Run(tt.host+"|"+strings.Join(tt.patterns, ","), func(t *testing.T) {
			if got := connect.HostAllowed(tt.host, tt.patterns); got != tt.want {
				t.Errorf("HostAllowed(%q, %q) = %v, want %v", tt.host, tt.patterns, got, tt.want)
			}
		})
	}
}
