package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/static"
)

const (
	jiraID = "ari:cloud:ecosystem::app/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	confID = "ari:cloud:ecosystem::app/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
)

func TestWritesDeployableApps(t *testing.T) {
	out := t.TempDir()
	args := []string{"-out", out, "-base-url", "https://s.example.com", "-jira-app-id", jiraID, "-confluence-app-id", confID, "-region-urls", "eu=https://eu.s.example.com"}
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	for product, id := range map[string]string{"jira": jiraID, "confluence": confID} {
		manifest, err := os.ReadFile(filepath.Join(out, product, "manifest.yml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`id: "` + id + `"`, `default: "https://s.example.com"`, `EU: "https://eu.s.example.com"`} {
			if !strings.Contains(string(manifest), want) {
				t.Errorf("%s manifest lacks %s", product, want)
			}
		}
		for _, resource := range []string{"ui", "admin"} {
			want, err := static.CustomUI(product, resource)
			if err != nil {
				t.Fatal(err)
			}
			for name, b := range want {
				got, err := os.ReadFile(filepath.Join(out, product, "resources", resource, name))
				if err != nil || !bytes.Equal(got, b) {
					t.Errorf("%s/resources/%s/%s not the embedded Custom UI (err %v)", product, resource, name, err)
				}
			}
		}
	}
}

// An id `forge register` wrote into the output's manifest survives a rebuild.
func TestKeepsRegisteredAppID(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"-out", out}, io.Discard); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, "jira", "manifest.yml")
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), placeholderAppID) {
		t.Fatalf("unregistered manifest lacks the placeholder:\n%s", b)
	}
	// forge register rewrites the YAML in its own style: unquoted.
	b = bytes.Replace(b, []byte(`"`+placeholderAppID+`"`), []byte(jiraID), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := run([]string{"-out", out}, &log); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if !strings.Contains(string(b), `id: "`+jiraID+`"`) {
		t.Errorf("registered id lost:\n%s", b)
	}
	if strings.Contains(log.String(), "no app id for "+filepath.Join(out, "jira")) {
		t.Errorf("warned about the registered app: %s", log.String())
	}
}

func TestRefusesBadConfig(t *testing.T) {
	for _, args := range [][]string{
		{"-base-url", "http://localhost:8080"},
		{"-jira-app-id", "not-an-ari"},
		{"-region-urls", "EU"},
		{"-licensing", "maybe"},
	} {
		if err := run(append([]string{"-out", t.TempDir()}, args...), io.Discard); err == nil {
			t.Errorf("run %v succeeded", args)
		}
	}
}

// Both apps pass Atlassian's manifest validator (@forge/manifest, what
// `forge lint` checks the manifest with), run by forge/validate-manifest.mjs.
// Needs Node.js and forge/node_modules (make test installs them); skipped
// without them locally, a failure in CI.
func TestManifestsPassForgeValidator(t *testing.T) {
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("no node on the PATH (make test installs what it needs)")
	}
	if _, err := os.Stat("../../forge/node_modules/@forge/manifest"); err != nil {
		skip("forge/node_modules is not installed: run make forge-deps")
	}
	out := t.TempDir()
	args := []string{"-out", out, "-base-url", "https://s.example.com", "-jira-app-id", jiraID, "-confluence-app-id", confID,
		"-region-urls", "EU=https://eu.s.example.com,US=https://us.s.example.com"}
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "../../forge/validate-manifest.mjs", filepath.Join(out, "jira"), filepath.Join(out, "confluence"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Forge's manifest validator refused a manifest: %v\n%s", err, b)
	}
}
