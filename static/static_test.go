package static_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/static"
)

func render(t *testing.T, data static.PageData) string {
	t.Helper()
	var buf bytes.Buffer
	if err := static.Page().Execute(&buf, data); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return buf.String()
}

func samplePage() static.PageData {
	return static.PageData{
		Token:     "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.sig",
		AccountID: "5b10a2844c20165700ede21g",
		Kind:      "issue-panel",
		Product:   "jira",
		Label:     "PROJ-12",
		AllJS:     "https://connect-cdn.atl-paas.net/all.js",
		Assets:    "/static/" + static.Version + "/",
	}
}

func TestPageRendersMetaAndScripts(t *testing.T) {
	got := render(t, samplePage())

	for _, want := range []string{
		`<meta name="token" content="eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.sig">`,
		`<meta name="account-id" content="5b10a2844c20165700ede21g">`,
		`<meta name="kind" content="issue-panel">`,
		`<meta name="product" content="jira">`,
		`<meta name="label" content="PROJ-12">`,
		`<link rel="stylesheet" href="/static/` + static.Version + `/app.css">`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %s", want)
		}
	}

	allJS := `<script src="https://connect-cdn.atl-paas.net/all.js"></script>`
	appJS := `<script type="module" src="/static/` + static.Version + `/app.js"></script>`
	scripts := regexp.MustCompile(`<script\b[^>]*>`).FindAllString(got, -1)
	if len(scripts) != 2 {
		t.Fatalf("page has %d script tags, want 2: %q", len(scripts), scripts)
	}
	// all.js must be the first script and a classic one: Connect requires it
	// to run before the app.
	if i, j := strings.Index(got, allJS), strings.Index(got, appJS); i < 0 || j < 0 || i > j {
		t.Errorf("want %s before %s; got index %d and %d", allJS, appJS, i, j)
	}
}

func TestPageEscapesData(t *testing.T) {
	d := samplePage()
	d.Token = `"><script>alert(1)</script>`
	d.Label = `<img src=x onerror=alert(1)>`
	got := render(t, d)
	if strings.Contains(got, "<script>alert") || strings.Contains(got, "<img") {
		t.Errorf("page does not escape its data:\n%s", got)
	}
}

func TestPageRendersForEveryKind(t *testing.T) {
	for _, kind := range []string{"issue-panel", "macro", "admin"} {
		t.Run(kind, func(t *testing.T) {
			d := samplePage()
			d.Kind = kind
			if got, want := render(t, d), `<meta name="kind" content="`+kind+`">`; !strings.Contains(got, want) {
				t.Errorf("page lacks %s", want)
			}
		})
	}
}

// The page is served with a CSP that allows scripts and styles only from
// files: nothing inline may creep into the template.
func TestPageHasNothingInline(t *testing.T) {
	src := readSource(t, "page.html")
	for _, s := range regexp.MustCompile(`(?i)<script\b[^>]*>`).FindAllString(src, -1) {
		if !strings.Contains(s, " src=") {
			t.Errorf("inline script: %s", s)
		}
	}
	for _, tc := range []struct{ name, pattern string }{
		{"style attribute", `(?i)\sstyle\s*=`},
		{"style element", `(?i)<style\b`},
		{"event handler attribute", `(?i)\son[a-z]+\s*=`},
		{"javascript: URL", `(?i)javascript:`},
	} {
		if m := regexp.MustCompile(tc.pattern).FindString(src); m != "" {
			t.Errorf("page.html has a %s: %q", tc.name, m)
		}
	}
}

// The browser tests find controls by these names; renaming one in the UI
// breaks them, so each must appear verbatim as a string in the sources.
func TestContractLabelsAppearInSources(t *testing.T) {
	src := allSources(t)
	for _, label := range []string{
		// buttons
		"Add secret", "Save", "Cancel", "Unlock", "Edit", "Change password", "Delete", "Lock", "Copy",
		"Yes, delete",
		// fields
		"Title", "Password", "Confirm password", "Content", "New password",
	} {
		quoted := regexp.MustCompile(`['"` + "`" + `]` + regexp.QuoteMeta(label) + `['"` + "`" + `]`)
		if !quoted.MatchString(src) {
			t.Errorf("label %q is not a string literal in the sources", label)
		}
	}
}

// Data reaches the DOM only as text. These APIs parse markup or run code, or
// keep secrets beyond the page's life; none has a place in the app.
func TestSourcesAvoidUnsafeAPIs(t *testing.T) {
	for _, name := range jsFiles(t) {
		src := readSource(t, name)
		for _, api := range []string{
			"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
			"localStorage", "sessionStorage", "indexedDB", "document.cookie", "console.error",
		} {
			if strings.Contains(src, api) {
				t.Errorf("%s uses %s", name, api)
			}
		}
	}
}

// Every module that app.js pulls in must be embedded, or the app breaks
// only in production.
func TestImportedModulesAreEmbedded(t *testing.T) {
	imports := regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^'"]*?from\s+'\./([^']+)'`)
	for _, name := range jsFiles(t) {
		for _, m := range imports.FindAllStringSubmatch(readSource(t, name), -1) {
			if _, err := fs.Stat(static.FS(), m[1]); err != nil {
				t.Errorf("%s imports %s, which is not embedded: %v", name, m[1], err)
			}
		}
	}
}

func TestFS(t *testing.T) {
	for _, name := range []string{"app.js", "app.css"} {
		if _, err := fs.Stat(static.FS(), name); err != nil {
			t.Errorf("FS lacks %s: %v", name, err)
		}
	}
	for _, name := range []string{"page.html", "static.go", "static_test.go"} {
		if _, err := fs.Stat(static.FS(), name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("FS has %s (err = %v); it must not be served", name, err)
		}
	}
}

func TestVersion(t *testing.T) {
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(static.Version) {
		t.Fatalf("Version = %q, want 12 lowercase hex characters", static.Version)
	}
	// Recompute it the documented way: SHA-256 over each file's
	// length-prefixed path and bytes, in lexical order.
	h := sha256.New()
	err := fs.WalkDir(static.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static.FS(), path)
		for _, part := range [][]byte{[]byte(path), b} {
			_ = binary.Write(h, binary.BigEndian, uint64(len(part)))
			h.Write(part)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := static.Version, hex.EncodeToString(h.Sum(nil))[:12]; got != want {
		t.Errorf("Version = %s, want %s", got, want)
	}
}

func jsFiles(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(static.FS(), "*.js")
	if err != nil || len(names) == 0 {
		t.Fatalf("no JS files embedded (err = %v)", err)
	}
	return names
}

// readSource reads a file of this package from disk (page.html is not in FS).
func readSource(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func allSources(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, name := range append(jsFiles(t), "page.html") {
		b.WriteString(readSource(t, name))
		b.WriteString("\n")
	}
	return b.String()
}

// The admin page's controls, found by these names in the browser tests.
func TestAdminLabelsAppearInSources(t *testing.T) {
	src := allSources(t)
	for _, label := range []string{
		// tabs and section headings
		"Secrets administration", "Secrets", "Policy", "Audit log",
		// secrets
		"Search", "Reset lockout", "Delete", "Yes, delete", "Cancel", "Previous", "Next", "Locked",
		// policy
		"Minimum password length", "Failed attempts before lockout", "Lockout (minutes)",
		"Longest lockout (minutes)", "Unlock lasts (minutes)", "Secrets expire after (days, 0 = never)",
		"Save policy",
		// audit log
		"Event", "All events", "From", "To", "Apply", "Load more", "Export CSV",
		// refusal
		"Only site admins can manage Secrets.",
	} {
		quoted := regexp.MustCompile(`['"` + "`" + `]` + regexp.QuoteMeta(label) + `['"` + "`" + `]`)
		if !quoted.MatchString(src) {
			t.Errorf("admin label %q is not a string literal in the sources", label)
		}
	}
}

// Every audit event type the server records has its own wording on the
// admin page, so none shows up as a raw code.
func TestAdminWordsEveryEventType(t *testing.T) {
	src := readSource(t, "admin-shared.js")
	for _, typ := range []secrets.EventType{
		secrets.EventCreated, secrets.EventUnlocked, secrets.EventUnlockFailed, secrets.EventLockedOut,
		secrets.EventEdited, secrets.EventPasswordChanged, secrets.EventDeleted, secrets.EventLocked,
		secrets.EventExpired, secrets.EventAdminDeleted, secrets.EventLockoutReset, secrets.EventPolicyChanged,
	} {
		if !regexp.MustCompile(`\['` + regexp.QuoteMeta(string(typ)) + `', '[^']+'\]`).MatchString(src) {
			t.Errorf("admin-shared.js has no wording for audit event %q", typ)
		}
	}
}
