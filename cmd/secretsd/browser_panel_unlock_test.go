package main

import (
	"net/http"
	"testing"
)

// TestBrowserPanelUnlock checks the unlock field of issue 12 item 4 on the
// Jira panel: a wrong password keeps what was typed, selected, so it can be
// fixed or typed over; a password manager may fill it (autocomplete
// current-password, not off); its accessible name says which secret it
// unlocks; and a Show/Hide toggle reveals what was typed.
func TestBrowserPanelUnlock(t *testing.T) {
	s := newSuite(t)
	sf := surfaces[0]
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Unlock field probe"
		password = "kiwi-Lantern-42"
		guess    = "kiwi-Lantern-24"
	)
	sec := addSecret(f, title, password, "the content")

	type field struct {
		Type, Autocomplete, Name, Value, Pressed string
		Start, End                               int
		Focused                                  bool
	}
	look := func() field {
		t.Helper()
		return eval[field](f, scopeJS(`(sel) => {
			const el = scopeOf(sel).querySelector('.unlock-form input');
			const toggle = scopeOf(sel).querySelector('.unlock-form button[aria-pressed]');
			return {Type: el.type, Autocomplete: el.autocomplete, Name: el.getAttribute('aria-label'),
				Value: el.value, Pressed: toggle ? toggle.getAttribute('aria-pressed') : '',
				Start: el.selectionStart, End: el.selectionEnd, Focused: document.activeElement === el};
		}`), sec.sel)
	}

	got := look()
	if got.Autocomplete != "current-password" {
		t.Errorf("unlock field autocomplete = %q, want current-password", got.Autocomplete)
	}
	if want := "Password for " + title; got.Name != want {
		t.Errorf("unlock field accessible name = %q, want %q", got.Name, want)
	}
	if got.Type != "password" || got.Pressed != "false" {
		t.Errorf("before Show: type %q pressed %q, want password/false", got.Type, got.Pressed)
	}

	p.allowHTTPError(unlockPath(sec), http.StatusForbidden) // the wrong guess below
	unlock(sec, guess)
	sec.waitText(".message", "Wrong password")
	got = look()
	if got.Value != guess {
		t.Errorf("after a wrong password the field holds %q, want the typed %q", got.Value, guess)
	}
	if !got.Focused || got.Start != 0 || got.End != len(guess) {
		t.Errorf("after a wrong password: focused %v, selection %d–%d, want focused and all %d selected",
			got.Focused, got.Start, got.End, len(guess))
	}

	sec.click("Show")
	got = look()
	if got.Type != "text" || got.Pressed != "true" || got.Value != guess {
		t.Errorf("after Show: type %q pressed %q value %q, want text/true/%q", got.Type, got.Pressed, got.Value, guess)
	}
	sec.click("Hide")
	if got = look(); got.Type != "password" || got.Pressed != "false" {
		t.Errorf("after Hide: type %q pressed %q, want password/false", got.Type, got.Pressed)
	}

	unlock(sec, password)
	sec.waitState("unlocked")
	deleteSecret(sec, password)
}
