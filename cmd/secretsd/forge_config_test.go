package main

import (
	"io"
	"slices"
	"testing"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/sandbox"
	"github.com/rs/zerolog"
)

const prodJiraApp = "ari:cloud:ecosystem::app/12345678-1234-4234-8234-123456789abc"

var prodArgs = []string{"--base-url", "https://secrets.example.com", "--master-key-file", "/k"}

func TestParseConfigForge(t *testing.T) {
	c, err := ParseConfig(append(prodArgs, "--forge-jira-app-id", prodJiraApp, "--forge-environments", "env-a, env-b"), env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ForgeJiraAppID != prodJiraApp || !slices.Equal(c.ForgeEnvironments, []string{"env-a", "env-b"}) ||
		c.ForgeJWKSURL != forge.DefaultJWKSURL || c.ForgeAPIBase != forge.DefaultAPIBase || c.ForgeJWKSURLSet {
		t.Errorf("forge config: %+v", c)
	}
	f, keys, err := newForge(c, nil, zerolog.Nop())
	if err != nil || f == nil || keys == nil {
		t.Fatalf("newForge: %v %v %v", f, keys, err)
	}
	if _, ok := f.Verifier.App(forge.ProductConfluence); ok {
		t.Error("a Confluence app without an id")
	}
}

func TestParseConfigForgeRefuses(t *testing.T) {
	for name, args := range map[string][]string{
		"no environments": {"--forge-jira-app-id", prodJiraApp},
		"same app ids":    {"--forge-jira-app-id", prodJiraApp, "--forge-confluence-app-id", prodJiraApp, "--forge-environments", "e"},
		"http JWKS":       {"--forge-jira-app-id", prodJiraApp, "--forge-environments", "e", "--forge-jwks-url", "http://keys.example.com/jwks.json"},
		"http API base":   {"--forge-jira-app-id", prodJiraApp, "--forge-environments", "e", "--forge-api-base", "http://api.example.com"},
	} {
		if _, err := ParseConfig(append(slices.Clone(prodArgs), args...), env(), io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := ParseConfig(append(slices.Clone(prodArgs), "--forge-jira-app-id", "not-an-ari:x", "--forge-environments", "e"), env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newForge(c, nil, zerolog.Nop()); err == nil {
		t.Error("newForge accepted a malformed app id")
	}
}

func TestForgeOffWithoutAppIDs(t *testing.T) {
	c, err := ParseConfig(prodArgs, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f, _, err := newForge(c, nil, zerolog.Nop()); f != nil || err != nil {
		t.Errorf("Forge without app ids: %v %v", f, err)
	}
}

func TestForgeDevUsesTheSandbox(t *testing.T) {
	c, err := ParseConfig([]string{"--base-url", "http://127.0.0.1:8080"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Config{BaseURL: c.BaseURL, JiraKey: c.JiraKey, ConfluenceKey: c.ConfluenceKey})
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := newForge(c, sb, zerolog.Nop())
	if err != nil || f == nil {
		t.Fatalf("newForge: %v %v", f, err)
	}
	for _, p := range []string{forge.ProductJira, forge.ProductConfluence} {
		if _, ok := f.Verifier.App(p); !ok {
			t.Errorf("dev Forge lacks the %s app", p)
		}
	}
}
