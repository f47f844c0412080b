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
	s := newSuite(t)
	base := s.base
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

// TestForgeBrowserMacroName: a Forge macro is named in its config form (the
// manifest's config resource, as Confluence opens it when the macro is
// edited); the macro then shows the name as its heading, as text, and the
// other macro on the page stays unnamed.
func TestForgeBrowserMacroName(t *testing.T) {
	s := newSuite(t)
	ss := s.begin(t)
	const page = "/dev/forge/confluence/spaces/DEV/pages/123"
	p := ss.open("ada", ada, page+"?configure=macro-a")
	cfg := p.frame("secrets-config-macro-a")
	const name = "Deploy <b>keys</b>"
	cfg.app().fill("Name (optional)", name)
	cfg.app().click("Save")
	cfg.app().waitText(".message", "Saved.")

	const headingJS = `function() {
		const hs = [...document.querySelectorAll('h1, h2, h3, [role="heading"]')].filter((el) => el.checkVisibility() && !el.closest('li.secret'));
		return {ok: true, got: {count: hs.length, text: hs[0] ? hs[0].textContent : '', bold: hs[0] ? hs[0].querySelectorAll('b').length : 0}};
	}`
	type heading struct {
		Count int    `json:"count"`
		Text  string `json:"text"`
		Bold  int    `json:"bold"`
	}
	p.navigate(page, ada)
	if got := waitFrame[heading](p.frame("secrets-macro-a"), "the named macro's heading", headingJS); got.Count != 1 || got.Text != name || got.Bold != 0 {
		t.Errorf("the configured macro's heading: %+v, want one heading reading %q as text", got, name)
	}
	if got := waitFrame[heading](p.frame("secrets-macro-b"), "the other macro's headings", headingJS); got.Count != 0 {
		t.Errorf("the unconfigured macro shows a heading: %+v", got)
	}
}
