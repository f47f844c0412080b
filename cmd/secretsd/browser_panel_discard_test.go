package main

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// pressEscape sends the Escape key to whatever has the focus, as a keyboard
// user leaves an inline form.
func pressEscape(t *testing.T, p *tab) {
	t.Helper()
	err := chromedp.Do(p.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: "Escape", Code: "Escape", WindowsVirtualKeyCode: 27,
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("pressing Escape: %v", err)
	}
}

// TestBrowserPanelDiscard checks issue 12 item 3: Escape or Cancel on a form
// with typed input asks before discarding, "Keep editing" keeps every
// character, and only "Discard changes" drops it; a form nobody typed in
// closes at once.
func TestBrowserPanelDiscard(t *testing.T) {
	s := newSuite(t)
	sf := surfaces[0]
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)

	// A clean form closes on Escape without a question.
	f.app().click("Add secret")
	form := f.addForm()
	form.waitText("h2", "New secret")
	form.control("field", "Title") // wait for the form to settle
	pressEscape(t, p)
	form.waitGone()

	// A dirty add form asks on Escape; Keep editing keeps the typed text.
	f.app().click("Add secret")
	form = f.addForm()
	const typed = "Half-typed title"
	form.fill("Title", typed)
	pressEscape(t, p)
	form.waitText(".discard-confirm p", "Discard your changes?")
	form.click("Keep editing")
	if got := form.value("Title"); got != typed {
		t.Errorf("after Keep editing the title holds %q, want %q", got, typed)
	}
	if _, ok := form.text(".discard-confirm"); ok {
		t.Errorf("the discard question stayed after Keep editing")
	}
	// Cancel asks too; Escape on the question keeps editing.
	form.click("Cancel")
	form.waitText(".discard-confirm p", "Discard your changes?")
	pressEscape(t, p)
	if got := form.value("Title"); got != typed {
		t.Errorf("after Escape on the question the title holds %q, want %q", got, typed)
	}
	form.click("Cancel")
	form.click("Discard changes")
	form.waitGone()

	// The edit form of an unlocked secret asks the same way.
	const (
		title    = "Discard probe"
		password = "melon-Harbour-77"
		content  = "original content"
	)
	sec := addSecret(f, title, password, content)
	unlock(sec, password)
	sec.waitState("unlocked")
	sec.click("Edit")
	sec.waitState("editing")
	sec.fill("Content", "edited but not saved")
	pressEscape(t, p)
	sec.waitText(".discard-confirm p", "Discard your changes?")
	if got := sec.state(); got != "editing" {
		t.Errorf("after Escape on a dirty edit the secret is %q, want still editing", got)
	}
	sec.click("Keep editing")
	if got := sec.value("Content"); got != "edited but not saved" {
		t.Errorf("after Keep editing the content holds %q", got)
	}
	sec.click("Cancel")
	sec.click("Discard changes")
	sec.waitState("unlocked")
	if got, _ := sec.text("pre.content"); got != content {
		t.Errorf("after discarding the content is %q, want the saved %q", got, content)
	}
	deleteSecret(sec, password)
}
