package main

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// TestBrowserPanelCopy checks the copy hygiene of issue 12 item 11: one
// line of a multi-line secret can be copied alone, and the clipboard is
// emptied after the (here shortened) timer, unless something else was
// copied in the meantime.
func TestBrowserPanelCopy(t *testing.T) {
	s := newSuite(t)
	base := s.base
	sf := surfaces[0]
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	grantClipboard(t, p.ctx, base)
	f := p.frame(sf.frame)
	const (
		title    = "Copy probe"
		password = "melon-Harbour-58"
		content  = "user: ops-admin\npass: s3cret-Copy-Probe\nhost: db.internal"
	)
	sec := addSecret(f, title, password, content)
	unlock(sec, password)
	sec.waitState("unlocked")

	// Each non-blank line has its own button, named for screen readers.
	names := eval[[]string](f, scopeJS(`(sel) => [...scopeOf(sel).querySelectorAll('button.copy-line')].map((b) => b.getAttribute('aria-label'))`), sec.sel)
	if want := []string{"Copy line 1", "Copy line 2", "Copy line 3"}; !slices.Equal(names, want) {
		t.Errorf("the line buttons are named %q, want %q", names, want)
	}

	// A long timer first: copying one line puts only that line there.
	eval[bool](f, `function() { window.__secretsTest = {clipboardClearMs: 600000}; return true; }`)
	sec.click("Copy line 2")
	sec.waitText("[role=status]", "The clipboard is cleared in")
	waitClipboard(f, "pass: s3cret-Copy-Probe")

	// Short timer: left alone, the clipboard is emptied.
	eval[bool](f, `function() { window.__secretsTest = {clipboardClearMs: 300}; return true; }`)
	sec.click("Copy line 1")
	waitClipboard(f, "user: ops-admin")
	waitClipboard(f, "")

	// Something else copied before the timer fires stays on the clipboard.
	eval[bool](f, `function() { window.__secretsTest = {clipboardClearMs: 1500}; return true; }`)
	sec.click("Copy line 3")
	waitClipboard(f, "host: db.internal")
	eval[bool](f, `function() { navigator.clipboard.writeText('the user copied this'); return true; }`)
	waitClipboard(f, "the user copied this")
	// The app marks the item when its timer has run and left the
	// clipboard alone; only then is "still there" meaningful.
	f.wait("the clipboard timer to keep the user's copy", scopeJS(`(sel) => {
		const el = scopeOf(sel);
		return {ok: !!el && el.dataset.clipboard === 'kept', got: el ? el.dataset.clipboard || null : null};
	}`), sec.sel)
	waitClipboard(f, "the user copied this")
	deleteSecret(sec, password)

	// A single-line secret has no line buttons: Copy copies that line.
	one := addSecret(f, "One line probe", password, "just-one-line")
	unlock(one, password)
	one.waitState("unlocked")
	if n := eval[int](f, scopeJS(`(sel) => scopeOf(sel).querySelectorAll('button.copy-line').length`), one.sel); n != 0 {
		t.Errorf("a single-line secret shows %d line buttons, want none", n)
	}
	deleteSecret(one, password)
}

// grantClipboard lets the app's origin read and write the clipboard, as a
// user would allow when asked.
func grantClipboard(t *testing.T, ctx context.Context, origin string) {
	t.Helper()
	c := chromedp.FromContext(ctx)
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.Call(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: name == "clipboard-write"},
			Setting:          browser.PermissionSettingGranted,
			Origin:           origin,
			BrowserContextID: c.BrowserContextID,
		})
		if err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
}

// waitClipboard waits until the clipboard, read from the frame, holds want.
func waitClipboard(f *appFrame, want string) {
	f.t.Helper()
	// want travels in a struct: an empty string argument would be dropped
	// on the way (see scopeSel).
	type arg struct {
		Want string `json:"want"`
	}
	f.wait(fmt.Sprintf("the clipboard to hold %q", want), `function({want}) {
		navigator.clipboard.readText().then((v) => { window.__clipSeen = {v}; }, (e) => { window.__clipSeen = {err: String(e)}; });
		const s = window.__clipSeen;
		return {ok: !!s && s.v === want, got: s || null};
	}`, arg{want})
}
