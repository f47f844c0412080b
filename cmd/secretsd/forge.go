package main

import (
	"github.com/connect-secrets/secrets/descriptor"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/sandbox"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/rs/zerolog"
)

// newForge builds the Forge Remote front door, or nil when no Forge app is
// configured outside dev mode. In dev mode, unless --forge-jwks-url is set,
// the sandbox is the platform: its JWKS, its fake product API, its dev app
// ids where none are configured, and its environment.
func newForge(cfg Config, sb *sandbox.Sandbox, log zerolog.Logger) (*server.Forge, *forge.KeySet, error) {
	jiraID, confID := cfg.ForgeJiraAppID, cfg.ForgeConfluenceAppID
	envs, jwksURL, apiBase := cfg.ForgeEnvironments, cfg.ForgeJWKSURL, cfg.ForgeAPIBase
	if sb != nil && !cfg.ForgeJWKSURLSet {
		p := sb.Forge()
		jiraID, confID = p.JiraAppID, p.ConfluenceAppID
		envs = append(envs, p.EnvironmentID)
		jwksURL, apiBase = p.JWKSURL, p.APIBase
		log.Warn().Msg("DEVELOPMENT MODE: Forge tokens are verified against the sandbox's own key, not Atlassian's")
	}
	if jiraID == "" && confID == "" {
		return nil, nil, nil
	}
	var apps []forge.App
	if jiraID != "" {
		apps = append(apps, forge.App{Product: forge.ProductJira, ID: jiraID,
			UIModules: []string{descriptor.ForgeIssuePanelKey}, AdminModules: []string{descriptor.ForgeAdminKey}})
	}
	if confID != "" {
		apps = append(apps, forge.App{Product: forge.ProductConfluence, ID: confID,
			UIModules: []string{descriptor.ForgeMacroKey}, AdminModules: []string{descriptor.ForgeAdminKey}, MacroKey: descriptor.ForgeMacroKey})
	}
	keys := forge.NewKeySet(forge.KeySetConfig{URL: jwksURL, OnFetch: func(err error) {
		if err != nil {
			log.Error().Err(err).Msg("forge: fetching the platform's keys failed; the last good set stays in use")
		} else {
			log.Debug().Msg("forge: platform keys fetched")
		}
	}})
	v, err := forge.NewVerifier(forge.VerifierConfig{Apps: apps, Environments: envs, APIBase: apiBase, Keys: keys})
	if err != nil {
		return nil, nil, err
	}
	return &server.Forge{
		Verifier: v, Products: forge.NewProducts(forge.ProductsConfig{}),
		LifecycleEndpoint: descriptor.ForgeLifecycleEndpoint, PreUninstallEndpoint: descriptor.ForgePreUninstallEndpoint,
		Licensing: cfg.ForgeLicensing,
	}, keys, nil
}
