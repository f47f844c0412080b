package static

import (
	"bytes"
	"html/template"
	"testing"
)

const cdnAllJS = "https://connect-cdn.atl-paas.net/all.js"

// TestRenderPageUsesShell: the embedded page keeps every per-request field
// in a <meta> content value, so it is rendered from its shell. If this
// fails, page.html moved a field elsewhere: pages are still right (they are
// executed), but slower; move the field back or widen makeShell.
func TestRenderPageUsesShell(t *testing.T) {
	if sh := makeShell(page, cdnAllJS, "/static/"+Version+"/"); sh == nil || len(sh.fields) != numFields {
		t.Fatalf("no shell for page.html (%+v)", sh)
	}
}

// TestMakeShellRefuses: a field anywhere but in a meta content value gets
// no shell, so html/template escapes it for its context.
func TestMakeShellRefuses(t *testing.T) {
	for name, src := range map[string]string{
		"script":          `<meta name="a" content="{{.AccountID}}"><script>var t = {{.Token}};</script>`,
		"url attribute":   `<meta name="a" content="{{.AccountID}}"><a href="{{.Label}}">x</a>`,
		"text":            `<meta name="a" content="{{.AccountID}}"><p>{{.Label}}</p>`,
		"unquoted":        `<meta name="a" content={{.Token}}>`,
		"other attribute": `<meta name="{{.Kind}}" content="x">`,
		"script string":   `<script>var s = '<meta name="a" content="{{.Token}}">';</script>`,
	} {
		tmpl := template.Must(template.New(name).Parse(src))
		if sh := makeShell(tmpl, cdnAllJS, "/static/x/"); sh != nil {
			t.Errorf("%s: got a shell %q", name, sh.parts)
		}
	}
	ok := template.Must(template.New("ok").Parse(`<meta name="a" content="{{.Token}}"><meta name="b" content="{{.Label}}{{.Label}}"><script src="{{.AllJS}}"></script>`))
	if sh := makeShell(ok, cdnAllJS, "/static/x/"); sh == nil || len(sh.fields) != 3 {
		t.Errorf("meta content fields: shell %+v, want one with 3 fields", sh)
	}
}

// FuzzRenderPage: RenderPage writes byte for byte what html/template
// writes, for any field values.
func FuzzRenderPage(f *testing.F) {
	for _, s := range []string{"", "PROJ-12", `"><script>alert(1)</script>`, "a'b&c+d", "\x00", "\xff\xfe", "ünï 🔑", "\u2028", "javascript:alert(1)"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, token, label, allJS string) {
		for _, js := range []string{cdnAllJS, allJS} {
			d := PageData{Token: token, AccountID: "557058:" + token, Kind: "issue-panel", Product: "jira",
				Label: label, AllJS: js, Assets: "/static/" + Version + "/"}
			var want, got bytes.Buffer
			if err := page.Execute(&want, d); err != nil {
				return // html/template refuses these values (none so far)
			}
			if err := RenderPage(&got, d); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("RenderPage:\n got %q\nwant %q", got.Bytes(), want.Bytes())
			}
		}
	})
}
