package static

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"strings"
)

// customUI is the Custom UI build of the Forge apps, made from this
// directory's modules by forge/build.mjs and checked in, so the sandbox and
// tests can serve it without Node.js. A test (customui_test.go) rebuilds it
// and fails when it is stale.
//
//go:embed customui
var customUI embed.FS

// CustomUIResource is one Custom UI resource of a Forge manifest: a
// directory holding an index.html and the files it loads.
type CustomUIResource struct {
	// Product is "jira" or "confluence".
	Product string
	// Resource is the manifest's resource key: "ui" (the issue panel or the
	// macro), "admin" (the admin page or global settings) or "config" (the
	// macro's configuration form).
	Resource string
	// Kind is the module the page shows, as in PageData.Kind.
	Kind string
}

// customUIResources lists every resource, sorted by product and resource.
var customUIResources = []CustomUIResource{
	{Product: "confluence", Resource: "admin", Kind: "admin"},
	{Product: "confluence", Resource: "config", Kind: "macro-config"},
	{Product: "confluence", Resource: "ui", Kind: "macro"},
	{Product: "jira", Resource: "admin", Kind: "admin"},
	{Product: "jira", Resource: "ui", Kind: "issue-panel"},
}

// customUIShared are the files every resource directory has besides its
// index.html; the build keeps one copy of each.
var customUIShared = []string{"app.css", "app.js", "icon.svg"}

// CustomUIResources returns the Custom UI resources of both Forge apps.
func CustomUIResources() []CustomUIResource {
	return append([]CustomUIResource(nil), customUIResources...)
}

// CustomUI returns the files of one Custom UI resource directory, by name:
// index.html, app.js, app.css and icon.svg, exactly as `forge deploy`
// uploads them (make forge writes them into the deployable app). The
// returned slices are the caller's.
func CustomUI(product, resource string) (map[string][]byte, error) {
	found := false
	for _, r := range customUIResources {
		found = found || (r.Product == product && r.Resource == resource)
	}
	if !found {
		return nil, fmt.Errorf("static: no Custom UI resource %q of %q", resource, product)
	}
	files := make(map[string][]byte, len(customUIShared)+1)
	page, err := customUI.ReadFile("customui/" + product + "-" + resource + ".html")
	if err != nil {
		return nil, fmt.Errorf("static: Custom UI page of %s %s: %w", product, resource, err)
	}
	files["index.html"] = page
	for _, name := range customUIShared {
		b, err := customUI.ReadFile("customui/" + name)
		if err != nil {
			return nil, fmt.Errorf("static: Custom UI %s: %w", name, err)
		}
		files[name] = b
	}
	return files, nil
}

// WithHeadScripts returns a Custom UI index.html with a classic
// <script src="…"> for each src inserted at the start of its <head>, in
// order. The sandbox uses it to load its bridge stand-in into the frame
// the way Atlassian's frame provides the real bridge: before the app's
// module script runs. The srcs are attribute-escaped; page is not changed.
func WithHeadScripts(page []byte, srcs ...string) ([]byte, error) {
	const head = "<head>\n"
	i := bytes.Index(page, []byte(head))
	if i < 0 {
		return nil, fmt.Errorf("static: Custom UI page has no %q", strings.TrimSpace(head))
	}
	var tags bytes.Buffer
	for _, src := range srcs {
		tags.WriteString(`<script src="`)
		template.HTMLEscape(&tags, []byte(src))
		tags.WriteString("\"></script>\n")
	}
	at := i + len(head)
	out := make([]byte, 0, len(page)+tags.Len())
	out = append(out, page[:at]...)
	out = append(out, tags.Bytes()...)
	return append(out, page[at:]...), nil
}
