// Package static holds the browser app of Secrets: the module page template
// (page.html) and the assets it loads (ES modules, CSS, images), embedded in
// the binary.
//
// Assets are served under /static/<Version>/, where Version is derived from
// their bytes, so every URL is immutable and can be cached forever: a change
// to any asset changes every asset URL. page.html is not an asset; the server
// renders it per request with a session token (see PageData).
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"html/template"
	"io/fs"
)

// assets is the tree served at /static/<Version>/. The patterns name file
// kinds, not files, so a new module or image is picked up without touching
// this line; page.html and the Go sources are deliberately not matched.
//
//go:embed *.js *.css *.svg
var assets embed.FS

//go:embed page.html
var pageHTML string

// Version identifies the current asset tree: the first 12 hex characters of a
// SHA-256 over every asset's name and bytes. It is computed once at init and
// never changes while the process runs.
var Version = hashTree(assets)

// page is parsed once; a parse error is a build defect of an embedded file,
// so failing at init is the right time to find out.
var page = template.Must(template.New("page.html").Parse(pageHTML))

// FS returns the embedded asset tree (app.js, app.css, the other modules and
// images) to be served at /static/<Version>/. It does not contain page.html.
func FS() fs.FS { return assets }

// Page returns the module page template. Execute it with a PageData. The
// template is parsed once and safe for concurrent use.
func Page() *template.Template { return page }

// PageData is what the module page template needs. Every field is escaped
// by html/template for the context it appears in.
type PageData struct {
	// Token is the session token the browser sends as "Authorization: JWT …"
	// on every /api/ call. It is minted by us, not by the host.
	Token string
	// AccountID is the current user's Atlassian account id, used by the
	// browser only to say "you" instead of looking up the user's name.
	AccountID string
	// Kind is the module being shown: "issue-panel", "macro" or "admin".
	Kind string
	// Product is the host product: "jira" or "confluence".
	Product string
	// Label is a human description of the context, such as "PROJ-12" or
	// "Page 12345".
	Label string
	// Name is the heading a Confluence macro was given (its optional "Name"
	// parameter), validated by the server; "" shows no heading.
	Name string
	// AllJS is the URL of Atlassian's all.js: the CDN copy in production,
	// the sandbox's stand-in in dev mode.
	AllJS string
	// Assets is the URL prefix of the assets, ending in "/", for example
	// "/static/<Version>/".
	Assets string
}

// hashTree hashes every file of fsys in fs.WalkDir's lexical order. Each file
// contributes its path and its bytes, both length-prefixed, so renaming a
// file or moving bytes between files also yields a different version.
func hashTree(fsys fs.FS) string {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		for _, part := range [][]byte{[]byte(path), b} {
			_ = binary.Write(h, binary.BigEndian, uint64(len(part)))
			h.Write(part)
		}
		return nil
	})
	if err != nil {
		// Reading an embed.FS cannot fail unless the binary is corrupt.
		panic("static: hashing embedded assets: " + err.Error())
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
