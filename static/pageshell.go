package static

import (
	"bytes"
	"html/template"
	"regexp"
	"strings"
	"sync"
)

// Executing page.html with html/template calls an escaper through
// reflection for every field on every request: a quarter of the module
// page's CPU in pkg/server's BenchmarkModulePage. Yet the page's shape
// depends only on AllJS and Assets, and the fields that change per request
// (Token, AccountID, Kind, Product, Label, Name) all sit in double-quoted
// attribute values of <meta> elements. So RenderPage executes the template
// once per (AllJS, Assets) with a marker in each per-request field, checks
// that every marker landed in such a value and that the text around it is
// what the template writes, keeps that text, and per request joins it with
// the fields escaped exactly as html/template escapes an attribute value
// (FuzzRenderPage compares the two byte for byte). A template changed so
// that a field leaves such a place makes RenderPage execute the template
// instead, slower but never wrong (TestRenderPageUsesShell says which).

// pageShell is the page for one (AllJS, Assets): parts[i] then the escaped
// value of per-request field fields[i], and the last part at the end.
type pageShell struct {
	parts  []string
	fields []int
}

// The per-request fields, in the order of requestFields.
const (
	fieldToken = iota
	fieldAccountID
	fieldKind
	fieldProduct
	fieldLabel
	fieldName
	numFields
)

func requestFields(d *PageData) [numFields]string {
	return [numFields]string{d.Token, d.AccountID, d.Kind, d.Product, d.Label, d.Name}
}

// fieldMarker is what a field holds while its shell is made: letters and
// digits, which no context of html/template changes.
func fieldMarker(f int) string { return "zqPageField" + string(rune('A'+f)) + "qz" }

func startsWithMarker(s string) bool {
	for i := range numFields {
		if strings.HasPrefix(s, fieldMarker(i)) {
			return true
		}
	}
	return false
}

// attrEscaper escapes text for a quoted attribute value as html/template
// does there (its htmlEscaper: NUL, quotes, &, +, < and >).
var attrEscaper = strings.NewReplacer(
	"\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;",
)

// maxShells bounds the shells kept (one per AllJS seen, and in production
// there is one); beyond it pages are executed.
const maxShells = 64

type shellKey struct{ allJS, assets string }

var shells struct {
	sync.RWMutex
	m map[shellKey]*pageShell // nil value: this page cannot have a shell
}

// RenderPage writes the module page for d into w, as Page().Execute does.
func RenderPage(w *bytes.Buffer, d PageData) error {
	sh := shellFor(d.AllJS, d.Assets)
	if sh == nil {
		return page.Execute(w, d)
	}
	vals := requestFields(&d)
	for i, f := range sh.fields {
		w.WriteString(sh.parts[i])
		_, _ = attrEscaper.WriteString(w, vals[f])
	}
	w.WriteString(sh.parts[len(sh.parts)-1])
	return nil
}

func shellFor(allJS, assets string) *pageShell {
	k := shellKey{allJS, assets}
	shells.RLock()
	sh, ok := shells.m[k]
	n := len(shells.m)
	shells.RUnlock()
	if ok || n >= maxShells {
		return sh
	}
	sh = makeShell(page, allJS, assets)
	shells.Lock()
	if shells.m == nil {
		shells.m = map[shellKey]*pageShell{}
	}
	if len(shells.m) < maxShells {
		shells.m[k] = sh
	}
	shells.Unlock()
	return sh
}

// makeShell executes the template with markers and cuts its output at
// them; nil if a marker is anywhere but in a <meta> element's double-quoted
// content value, or if the shell would not write what the template does.
func makeShell(tmpl *template.Template, allJS, assets string) *pageShell {
	d := PageData{AllJS: allJS, Assets: assets}
	d.Token, d.AccountID, d.Kind, d.Product, d.Label, d.Name = fieldMarker(0), fieldMarker(1), fieldMarker(2), fieldMarker(3), fieldMarker(4), fieldMarker(5)
	var out bytes.Buffer
	if err := tmpl.Execute(&out, d); err != nil {
		return nil
	}
	text := out.String()
	sh := &pageShell{}
	for {
		at, f := -1, -1
		for i := range numFields {
			if j := strings.Index(text, fieldMarker(i)); j >= 0 && (at < 0 || j < at) {
				at, f = j, i
			}
		}
		if at < 0 {
			break
		}
		before, after := text[:at], text[at+len(fieldMarker(f)):]
		// The value ends at the closing quote, or another field follows.
		if !inMetaContent(strings.Join(sh.parts, "")+before) || !(strings.HasPrefix(after, `"`) || startsWithMarker(after)) {
			return nil
		}
		sh.parts, sh.fields = append(sh.parts, before), append(sh.fields, f)
		text = after
	}
	sh.parts = append(sh.parts, text)
	// The shell must write what the template writes, for values that need
	// escaping too.
	sample := PageData{AllJS: allJS, Assets: assets, Token: `t"<&>'+x`, AccountID: "a\x00b", Kind: "k", Product: "p", Label: "PROJ-1 <b>", Name: "Ops <i>keys</i> & 'co'"}
	var want, got bytes.Buffer
	if tmpl.Execute(&want, sample) != nil {
		return nil
	}
	vals := requestFields(&sample)
	for i, f := range sh.fields {
		got.WriteString(sh.parts[i])
		_, _ = attrEscaper.WriteString(&got, vals[f])
	}
	got.WriteString(sh.parts[len(sh.parts)-1])
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		return nil
	}
	return sh
}

// metaContentOpen is a <meta> start tag up to its content value's opening
// quote, its other attributes quoted plainly.
var metaContentOpen = regexp.MustCompile(`^<meta(?: [a-z-]+="[^"<>&]*")* content="$`)

// inMetaContent reports whether the end of the page text so far is inside
// the double-quoted content attribute of a <meta> element, outside any
// script, style or comment.
func inMetaContent(sofar string) bool {
	lt := strings.LastIndexByte(sofar, '<')
	if lt < 0 {
		return false
	}
	head := sofar[:lt]
	return metaContentOpen.MatchString(sofar[lt:]) &&
		strings.Count(head, "<script") == strings.Count(head, "</script>") &&
		strings.Count(head, "<style") == strings.Count(head, "</style>") &&
		strings.Count(head, "<!--") == strings.Count(head, "-->")
}
