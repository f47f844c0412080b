package main

import (
	"net/http"
	"strconv"
	"testing"
)

// autolockPolicy is a site policy whose unlocks last one minute, the
// shortest a site may set: every unlock starts inside the last minute, so
// the warning and "Keep unlocked" show at once.
var autolockPolicy = map[string]int{
	"minPasswordLength": 8, "lockoutThreshold": 5, "lockoutSeconds": 60, "lockoutMaxSeconds": 3600,
	"unlockTtlSeconds": 60, "defaultExpirySeconds": 0,
}

// clockState is what a secret's unlock clock shows.
type clockState struct {
	State     string `json:"state"`     // data-state of the secret
	Unlock    string `json:"unlock"`    // data-unlock: "", "ending" or "ended"
	Remaining int    `json:"remaining"` // seconds the countdown shows; 0 when none
	Countdown string `json:"countdown"`
	Alert     string `json:"alert"`
	Reunlock  string `json:"reunlock"` // the text over the password field to unlock in place
	Title     string `json:"title"`    // the edit form's fields, "" outside it
	Content   string `json:"content"`
}

const clockJS = `(sel) => {
	const el = scopeOf(sel);
	const q = (css) => el.querySelector(css);
	const edit = q('form.edit-form');
	const field = (label) => {
		const l = edit && [...edit.querySelectorAll('label')].find((x) => norm(x.textContent) === label);
		return l ? l.control.value : '';
	};
	return {
		state: el.dataset.state || '',
		unlock: el.dataset.unlock || '',
		remaining: Number(q('.unlock-countdown')?.dataset.remaining || 0),
		countdown: norm(q('.unlock-countdown')?.textContent),
		alert: norm(q('.unlock-alert')?.textContent),
		reunlock: norm(q('.reunlock-form .reunlock-text')?.textContent),
		title: field('Title'),
		content: field('Content'),
	};
}`

func clockOf(sec scope) clockState {
	sec.f.t.Helper()
	return eval[clockState](sec.f, scopeJS(clockJS), sec.sel)
}

// waitClock waits until ok holds for the secret's clock.
func waitClock(sec scope, what, cond string) clockState {
	sec.f.t.Helper()
	return waitFrame[clockState](sec.f, what, scopeJS(`(sel) => {
		const c = (`+clockJS+`)(sel);
		return { ok: (`+cond+`)(c), got: c };
	}`), sec.sel)
}

// TestBrowserPanelAutolock checks issue 12 item 1: while a secret is open a
// countdown shows the unlock time left; in the last minute a warning says
// so once and offers "Keep unlocked", which unlocks again in place without
// leaving the edit form. When the unlock runs out during an edit, the form
// stays with everything typed, asks for the password in place ("Unlock
// again to save"), keeps the form through a wrong password too, and after
// the right one Save stores what was typed. The time left is shortened
// through window.__secretsTest.unlockLeftMs; the expiry itself is the
// app's own timer.
func TestBrowserPanelAutolock(t *testing.T) {
	s := newSuite(t)
	sf := surfaces[0]

	setup := s.begin(t)
	af := setup.open("ada-admin", ada, sf.admin).frame("secrets-admin")
	eval[bool](af, setPolicyJS, autolockPolicy)
	af.wait("the policy to be saved", `() => ({ ok: window.__policyStatus === 200, got: window.__policyStatus })`)

	t.Run("expiry during an edit", func(t *testing.T) {
		ss := s.begin(t)
		p := ss.open("ada", ada, sf.page)
		f := p.frame(sf.frame)
		const (
			title    = "Autolock probe"
			password = "Pebble-orange-73"
			newTitle = "Autolock probe (edited)"
			typed    = "typed while the clock ran\nsecond line"
		)
		sec := addSecret(f, title, password, "old content")
		unlock(sec, password)
		sec.waitState("unlocked")

		// A one-minute unlock starts in its last minute: countdown, warning
		// and "Keep unlocked" at once.
		c := waitClock(sec, "the warning", `(c) => c.unlock === 'ending' && c.remaining > 0`)
		if c.Remaining > 60 || c.Countdown != "Locks itself in 0:"+pad2(c.Remaining) && c.Countdown != "Locks itself in 1:00" {
			t.Errorf("countdown %q (%d s), want under a minute as m:ss", c.Countdown, c.Remaining)
		}
		if c.Alert != "Less than a minute left: this secret locks itself soon." {
			t.Errorf("warning %q", c.Alert)
		}
		sec.control("button", "Keep unlocked")

		sec.click("Edit")
		sec.waitState("editing")
		sec.fill("Title", newTitle)
		sec.fill("Content", typed)

		// Run the clock out: the form stays and asks for the password.
		eval[bool](f, `function() { window.__secretsTest = {unlockLeftMs: 500}; return true; }`)
		c = waitClock(sec, "the unlock to end in the form", `(c) => c.unlock === 'ended'`)
		if c.State != "editing" || c.Title != newTitle || c.Content != typed {
			t.Fatalf("after the unlock ended: %+v, want the edit form with what was typed", c)
		}
		if c.Reunlock != "Unlock again to save." || c.Countdown != "The unlock ended." {
			t.Errorf("after the unlock ended: %+v", c)
		}

		// Save now cannot work; it says why, in place, and drops nothing.
		sec.click("Save")
		sec.waitText(".reunlock-form .field-error", "Unlock again to save.")

		// A wrong password keeps the form.
		p.allowHTTPError(unlockPath(sec), http.StatusForbidden)
		sec.fill("Password", "Pebble-orange-37")
		sec.click("Unlock")
		sec.waitText(".reunlock-form .field-error", "Wrong password")
		if c := clockOf(sec); c.State != "editing" || c.Title != newTitle || c.Content != typed || c.Unlock != "ended" {
			t.Fatalf("after a wrong password: %+v, want the form kept", c)
		}

		// The right one brings the unlock back around the same form.
		sec.fill("Password", password)
		sec.click("Unlock")
		c = waitClock(sec, "the unlock to come back", `(c) => c.unlock !== 'ended' && c.remaining > 0`)
		if c.State != "editing" || c.Title != newTitle || c.Content != typed {
			t.Fatalf("after unlocking again: %+v, want the edit form with what was typed", c)
		}
		sec.click("Save")
		sec.waitState("unlocked")
		p.waitFlag("Saved.")

		// Stored: read back after a reload.
		p.reload()
		f = p.frame(sf.frame)
		sec = f.secret(newTitle)
		unlock(sec, password)
		sec.waitState("unlocked")
		if got, _ := sec.text("pre.content"); got != typed {
			t.Errorf("content after the reload %q, want %q", got, typed)
		}
		deleteSecret(sec, password)
	})

	t.Run("keep unlocked keeps the form", func(t *testing.T) {
		ss := s.begin(t)
		p := ss.open("ada", ada, sf.page)
		f := p.frame(sf.frame)
		const (
			title    = "Keep unlocked probe"
			password = "Walnut-violet-18"
			typed    = "half-typed change"
		)
		sec := addSecret(f, title, password, "old content")
		unlock(sec, password)
		sec.waitState("unlocked")
		sec.click("Edit")
		sec.waitState("editing")
		sec.fill("Content", typed)

		// Take some time off, so a fresh unlock is visibly longer.
		eval[bool](f, `function() { window.__secretsTest = {unlockLeftMs: 20000}; return true; }`)
		waitClock(sec, "the shortened clock", `(c) => c.remaining > 0 && c.remaining <= 20`)
		sec.click("Keep unlocked")
		sec.waitText(".reunlock-form .reunlock-text", "Enter the password to keep this secret unlocked.")
		sec.fill("Password", password)
		sec.click("Unlock")
		sec.waitText(".message", "Unlocked again. Your changes are still here.")
		c := clockOf(sec)
		if c.State != "editing" || c.Content != typed || c.Title != title {
			t.Fatalf("after Keep unlocked: %+v, want the edit form with what was typed", c)
		}
		if c.Remaining <= 20 {
			t.Errorf("after Keep unlocked %d s are left, want a fresh minute", c.Remaining)
		}
		sec.click("Save")
		sec.waitState("unlocked")
		p.waitFlag("Saved.")
		if got, _ := sec.text("pre.content"); got != typed {
			t.Errorf("content after saving %q, want %q", got, typed)
		}
		deleteSecret(sec, password)
	})
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
