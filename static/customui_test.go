package static_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/static"
)

func TestCustomUIResourceDirectories(t *testing.T) {
	res := static.CustomUIResources()
	// Both products' UI and admin pages, and the Confluence macro's config form.
	if len(res) != 5 {
		t.Fatalf("CustomUIResources() = %v, want 5 resources", res)
	}
	for _, r := range res {
		t.Run(r.Product+"/"+r.Resource, func(t *testing.T) {
			files, err := static.CustomUI(r.Product, r.Resource)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"index.html", "app.js", "app.css", "icon.svg"} {
				if len(files[name]) == 0 {
					t.Errorf("%s is missing or empty", name)
				}
			}
			if len(files) != 4 {
				t.Errorf("got %d files, want 4", len(files))
			}
			page := string(files["index.html"])
			for _, want := range []string{
				`<meta name="kind" content="` + r.Kind + `">`,
				`<meta name="product" content="` + r.Product + `">`,
				`<script type="module" src="./app.js"></script>`,
				`<link rel="stylesheet" href="./app.css">`,
			} {
				if !strings.Contains(page, want) {
					t.Errorf("index.html lacks %s", want)
				}
			}
			// Custom UI's CSP allows no inline script, and the page must
			// not depend on Connect's all.js or a session token.
			for _, s := range regexp.MustCompile(`(?i)<script\b[^>]*>`).FindAllString(page, -1) {
				if !strings.Contains(s, " src=") {
					t.Errorf("inline script: %s", s)
				}
			}
			for _, bad := range []string{"all.js", `name="token"`, " style=", "<style", "javascript:"} {
				if strings.Contains(page, bad) {
					t.Errorf("index.html contains %q", bad)
				}
			}
		})
	}
	if _, err := static.CustomUI("jira", "nope"); err == nil {
		t.Error("CustomUI(jira, nope) succeeded")
	}
}

// The bundle holds only what the browser may run: no markup parsing, no
// eval of our own, and the bridge is there.
func TestCustomUIBundle(t *testing.T) {
	files, err := static.CustomUI("jira", "ui")
	if err != nil {
		t.Fatal(err)
	}
	js := string(files["app.js"])
	for _, want := range []string{"__bridge", "/forge/api"} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %q", want)
		}
	}
	if bytes.Contains(files["app.js"], []byte("/work/")) || bytes.Contains(files["app.js"], []byte("node_modules/")) {
		t.Error("app.js contains a build path: the build is not machine-independent")
	}
	if !bytes.Equal(files["app.css"], mustRead(t, "app.css")) || !bytes.Equal(files["icon.svg"], mustRead(t, "icon.svg")) {
		t.Error("app.css or icon.svg differs from static/: run make forge")
	}
}

func TestWithHeadScripts(t *testing.T) {
	files, err := static.CustomUI("confluence", "ui")
	if err != nil {
		t.Fatal(err)
	}
	got, err := static.WithHeadScripts(files["index.html"], "/dev/forge/bridge.js", `x"><b>`)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	bridge := strings.Index(s, `<script src="/dev/forge/bridge.js"></script>`)
	app := strings.Index(s, `<script type="module" src="./app.js">`)
	if bridge < 0 || app < 0 || bridge > app {
		t.Errorf("stand-in script not before the app (at %d and %d):\n%s", bridge, app, s)
	}
	if strings.Contains(s, `x"><b>`) {
		t.Error("script src not escaped")
	}
	if _, err := static.WithHeadScripts([]byte("<html></html>"), "/x.js"); err == nil {
		t.Error("WithHeadScripts accepted a page without <head>")
	}
}

// The checked-in build must be what forge/build.mjs makes from the sources
// today, and two builds must be byte-identical. Needs Node.js and
// forge/node_modules (make test installs them with npm ci); without them
// the test is skipped locally and fails in CI.
func TestCustomUIIsReproducible(t *testing.T) {
	node := needNode(t)
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		runNode(t, node, "../forge/build.mjs", "--out", dir)
	}
	for _, r := range static.CustomUIResources() {
		files, err := static.CustomUI(r.Product, r.Resource)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range files {
			src := name
			if name == "index.html" {
				src = r.Product + "-" + r.Resource + ".html"
			}
			for _, dir := range []string{a, b} {
				got, err := os.ReadFile(filepath.Join(dir, src))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s of %s/%s differs from a fresh build: run make forge and commit static/customui", src, r.Product, r.Resource)
				}
			}
		}
	}
	runNode(t, node, "../forge/build.mjs", "--check")
}

// The transport seam's own tests (forge/test), in Node.js.
func TestForgeTransportJS(t *testing.T) {
	node := needNode(t)
	runNode(t, node, "--experimental-detect-module", "--test", "../forge/test/")
}

func needNode(t *testing.T) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("no node on the PATH (make test installs what it needs)")
	}
	if _, err := os.Stat("../forge/node_modules/esbuild"); err != nil {
		skip("forge/node_modules is not installed: run make forge-deps")
	}
	return node
}

func runNode(t *testing.T, node string, args ...string) {
	t.Helper()
	cmd := exec.Command(node, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The Custom UI build is for Forge frames only: Connect pages never load
// it, so it is not among the assets served at /static/<Version>/ and does
// not change Version.
func TestCustomUIIsNotAConnectAsset(t *testing.T) {
	for _, name := range []string{"customui", "customui/app.js", "customui/jira-ui.html"} {
		if _, err := fs.Stat(static.FS(), name); err == nil {
			t.Errorf("FS has %s", name)
		}
	}
}
