package main

import (
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserMacroName: a Confluence macro given a name shows it as its
// heading, as text even when it looks like markup; an unnamed macro and the
// Jira issue panel, which the host titles already, show no heading.
func TestBrowserMacroName(t *testing.T) {
	base := startServer(t)
	origin, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{base: base, origin: origin, browser: startBrowser(t), root: repoRoot(t)}
	ss := s.begin(t)

	type heading struct {
		Count int    `json:"count"`
		Text  string `json:"text"`
		Bold  int    `json:"bold"` // elements made of the name's markup
	}
	const headingJS = `function() {
		const hs = [...document.querySelectorAll('h1, h2, h3, [role="heading"]')].filter((el) => el.checkVisibility() && !el.closest('li.secret'));
		const h = hs[0];
		return {ok: true, got: {count: hs.length, text: h ? h.textContent : '', bold: h ? h.querySelectorAll('b').length : 0}};
	}`

	p := ss.open("ada", ada, "/dev/jira/browse/DEV-1")
	if got := waitFrame[heading](p.frame("secrets-panel"), "the panel's headings", headingJS); got.Count != 0 {
		t.Errorf("the Jira panel shows a heading of its own: %+v", got)
	}

	const name = "Team <b>keys</b>"
	target := base + "/dev/confluence/wiki/spaces/DEV/pages/123?as=admin&name-macro-a=" + url.QueryEscape(name)
	if err := chromedp.Do(p.ctx, chromedp.Navigate(target)); err != nil {
		t.Fatalf("navigate to %s: %v", target, err)
	}
	p.loaded()
	if got := waitFrame[heading](p.frame("secrets-macro-a"), "the named macro's heading", headingJS); got.Count != 1 || got.Text != name || got.Bold != 0 {
		t.Errorf("the named macro's heading: %+v, want one heading reading %q as text", got, name)
	}
	if got := waitFrame[heading](p.frame("secrets-macro-b"), "the unnamed macro's headings", headingJS); got.Count != 0 {
		t.Errorf("the unnamed macro shows a heading: %+v", got)
	}
}
