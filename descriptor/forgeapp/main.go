// Command forgeapp writes the two Forge apps into a directory, ready for
// `forge deploy`: for each product a manifest.yml rendered by
// descriptor.RenderForge and the Custom UI resources of static.CustomUI.
// `make forge` runs it after rebuilding the Custom UI.
//
//	go run ./descriptor/forgeapp -out forge/build
//
// writes
//
//	forge/build/jira/manifest.yml, package.json, resources/{ui,admin}/…
//	forge/build/confluence/manifest.yml, package.json, resources/{ui,admin,config}/…
//
// Every flag has an environment equivalent (named below), shared with
// secretsd where the value is the same. An app id not given is taken from
// the manifest already in the output directory, so running `forge register`
// there once survives rebuilds; with none at all a placeholder id is
// written with a warning, and `forge register` must replace it before
// `forge deploy`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/connect-secrets/secrets/descriptor"
	"github.com/connect-secrets/secrets/static"
)

// placeholderAppID marks a manifest whose app is not registered yet. It is
// not an app of anyone's: Forge refuses to deploy it.
const placeholderAppID = "ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000"

// exampleBaseURL stands in for an unset base URL, so a manifest can be
// looked at before a server exists.
const exampleBaseURL = "https://secrets.example.com"

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "forgeapp:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("forgeapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "forge/build", "directory to write the apps into (one subdirectory per product)")
	baseURL := fs.String("base-url", os.Getenv("SECRETS_BASE_URL"), "the remote's default base URL, an https origin ($SECRETS_BASE_URL)")
	regions := fs.String("region-urls", os.Getenv("SECRETS_FORGE_REGION_URLS"), "per-region base URLs, REGION=URL,… ($SECRETS_FORGE_REGION_URLS)")
	jiraID := fs.String("jira-app-id", os.Getenv("SECRETS_FORGE_JIRA_APP_ID"), "app ARI of the Jira app ($SECRETS_FORGE_JIRA_APP_ID)")
	confID := fs.String("confluence-app-id", os.Getenv("SECRETS_FORGE_CONFLUENCE_APP_ID"), "app ARI of the Confluence app ($SECRETS_FORGE_CONFLUENCE_APP_ID)")
	licensing := fs.String("licensing", env("SECRETS_FORGE_LICENSING", "false"), "turn on Marketplace licensing ($SECRETS_FORGE_LICENSING)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lic, err := strconv.ParseBool(*licensing)
	if err != nil {
		return fmt.Errorf("-licensing %q: want true or false", *licensing)
	}
	if *baseURL == "" {
		*baseURL = exampleBaseURL
		fmt.Fprintf(stderr, "forgeapp: WARNING: no base URL: wrote %s. Set SECRETS_BASE_URL to where secretsd is reached.\n", exampleBaseURL)
	}
	regionURLs, err := parseRegions(*regions)
	if err != nil {
		return err
	}
	cfg := descriptor.ForgeConfig{
		BaseURL:         *baseURL,
		RegionURLs:      regionURLs,
		JiraAppID:       appID(stderr, *jiraID, filepath.Join(*out, "jira")),
		ConfluenceAppID: appID(stderr, *confID, filepath.Join(*out, "confluence")),
		Licensing:       lic,
	}
	if cfg.JiraAppID == placeholderAppID && cfg.ConfluenceAppID == placeholderAppID {
		// Two unregistered apps may share the placeholder's shape, not its id.
		cfg.ConfluenceAppID = strings.TrimSuffix(placeholderAppID, "0") + "1"
	}
	m, err := descriptor.RenderForge(cfg)
	if err != nil {
		return err
	}
	for product, manifest := range map[string][]byte{"jira": m.Jira, "confluence": m.Confluence} {
		if err := writeApp(filepath.Join(*out, product), product, manifest); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "forgeapp: wrote %s/jira and %s/confluence; deploy each with: cd <dir> && forge deploy\n", *out, *out)
	return nil
}

// appID is the configured id, else the one of the manifest already in dir
// (written by `forge register`), else the placeholder.
var manifestAppID = regexp.MustCompile(`(?m)^\s+id:\s*["']?(ari:cloud:ecosystem::app/[0-9a-fA-F-]{36})["']?\s*$`)

func appID(stderr io.Writer, configured, dir string) string {
	if configured != "" {
		return configured
	}
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.yml")); err == nil {
		if m := manifestAppID.FindSubmatch(b); m != nil && !strings.HasPrefix(string(m[1]), "ari:cloud:ecosystem::app/00000000-") {
			return string(m[1])
		}
	}
	fmt.Fprintf(stderr, "forgeapp: WARNING: no app id for %s: wrote a placeholder. Run `forge register` in %s, or set the app id, then make forge again.\n", dir, dir)
	return placeholderAppID
}

func writeApp(dir, product string, manifest []byte) error {
	// Only what this command writes is replaced; anything else a developer
	// keeps there (.forge state of the CLI, say) stays.
	if err := os.RemoveAll(filepath.Join(dir, "resources")); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "manifest.yml"), manifest); err != nil {
		return err
	}
	// The Forge CLI expects a Node.js project even when the app has no
	// functions (unverified whether it is required for remote-only apps).
	pkg := fmt.Sprintf("{\n  \"name\": \"secrets-%s\",\n  \"version\": \"1.0.0\",\n  \"private\": true,\n  \"description\": \"Forge app of Secrets: Password-Protected Content (generated by make forge).\"\n}\n", product)
	if err := writeFile(filepath.Join(dir, "package.json"), []byte(pkg)); err != nil {
		return err
	}
	for _, r := range static.CustomUIResources() {
		if r.Product != product {
			continue
		}
		files, err := static.CustomUI(r.Product, r.Resource)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(files))
		for name := range files {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := writeFile(filepath.Join(dir, descriptor.ForgeResourceDir(r.Resource), name), files[name]); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// parseRegions reads "EU=https://eu.example.com,US=https://us.example.com".
func parseRegions(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" || v == "" {
			return nil, errors.New("-region-urls: want REGION=URL pairs separated by commas")
		}
		m[strings.ToUpper(k)] = v
	}
	return m, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
