package main

import (
	"encoding/json"
	"testing"
	"time"
)

// setPolicyJS starts a PUT /api/admin/policy from the admin page with its
// own session token; the outcome lands in window.__policyStatus.
const setPolicyJS = `(policy) => {
	window.__policyStatus = 0;
	const token = document.querySelector('meta[name="token"]').content;
	fetch('/api/admin/policy', {
		method: 'PUT',
		headers: { Authorization: 'JWT ' + token, 'Content-Type': 'application/json' },
		body: JSON.stringify(policy),
	}).then((r) => { window.__policyStatus = r.status; }, () => { window.__policyStatus = -1; });
	return true;
}`

// TestBrowserPanelPolicy checks issue 12 items 5 and 10 on the add form:
// with a site minimum of 14 characters the form says "At least 14
// characters" and refuses a 12-character password before Save reaches the
// server, keeping what was typed; the expiry choice offers only what the
// policy allows (no "Never" under a default expiry), starts at the site's
// default, and the chosen expiry is the one the server stores. The
// change-password form states and checks the same minimum.
func TestBrowserPanelPolicy(t *testing.T) {
	s := newSuite(t)
	sf := surfaces[0]
	ss := s.begin(t)

	af := ss.open("ada-admin", ada, sf.admin).frame("secrets-admin")
	eval[bool](af, setPolicyJS, map[string]int{
		"minPasswordLength": 14, "lockoutThreshold": 5, "lockoutSeconds": 60, "lockoutMaxSeconds": 3600,
		"unlockTtlSeconds": 600, "defaultExpirySeconds": 2 * 86400,
	})
	af.wait("the policy to be saved", `() => ({ ok: window.__policyStatus === 200, got: window.__policyStatus })`)

	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const title = "Policy probe"
	f.app().click("Add secret")
	form := f.addForm()
	form.waitText(".password-minimum", "At least 14 characters.")

	short := "twelve-chars" // 12 characters: the default minimum allows it, the site's does not
	form.fill("Title", title)
	form.fill("Password", short)
	form.fill("Confirm password", short)
	form.fill("Content", "kept content")
	form.click("Save")
	form.waitText(".message", "The password must be at least 14 characters.")
	if got := f.titles(); len(got) != 0 {
		t.Errorf("a password below the site minimum was saved: list holds %q", got)
	}
	for label, want := range map[string]string{"Title": title, "Password": short, "Confirm password": short, "Content": "kept content"} {
		if got := form.value(label); got != want {
			t.Errorf("after the refusal %q holds %q, want %q", label, got, want)
		}
	}

	// The choices follow the policy: no "Never" under a default expiry,
	// the 2-day default among them and selected.
	type choices struct {
		Values   []string `json:"values"`
		Selected string   `json:"selected"`
	}
	got := eval[choices](f, `() => {
		const sel = [...document.querySelectorAll('.add-form select')].find((s) => s.labels[0]?.textContent === 'Expires');
		return sel ? { values: [...sel.options].map((o) => o.value), selected: sel.value } : { values: [], selected: '' };
	}`)
	if want := []string{"86400", "172800", "604800", "2592000", "7776000", "31536000"}; show(got.Values) != show(want) {
		t.Errorf("expiry choices %q, want %q", got.Values, want)
	}
	if got.Selected != "172800" {
		t.Errorf("expiry starts at %q, want the site default 172800", got.Selected)
	}
	form.control("field", "Expires")
	eval[bool](f, `() => {
		const sel = document.querySelector('.add-form select');
		sel.value = '604800';
		sel.dispatchEvent(new Event('change', { bubbles: true }));
		return true;
	}`)

	long := "fourteen-chars" // 14 characters
	form.fill("Password", long)
	form.fill("Confirm password", long)
	before := time.Now()
	form.click("Save")
	form.waitGone()
	sec := f.secret(title)

	// The server stores the chosen 7 days, not the 2-day default.
	eval[bool](f, `() => {
		window.__list = null;
		const token = document.querySelector('meta[name="token"]').content;
		fetch('/api/secrets', { headers: { Authorization: 'JWT ' + token } })
			.then((r) => r.text()).then((b) => { window.__list = b; });
		return true;
	}`)
	raw := waitFrame[string](f, "the list", `() => ({ ok: window.__list !== null, got: window.__list })`)
	var list struct {
		Secrets []struct {
			Title     string    `json:"title"`
			ExpiresAt time.Time `json:"expiresAt"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		t.Fatalf("list %s: %v", raw, err)
	}
	found := false
	for _, m := range list.Secrets {
		if m.Title != title {
			continue
		}
		found = true
		want := before.Add(7 * 24 * time.Hour)
		if d := m.ExpiresAt.Sub(want); d < -time.Minute || d > time.Minute {
			t.Errorf("stored expiry %v, want about %v (7 days)", m.ExpiresAt, want)
		}
	}
	if !found {
		t.Fatalf("saved secret not in the list: %s", raw)
	}

	// Changing the password states and checks the same minimum.
	if sec.state() == "locked" {
		unlock(sec, long)
		sec.waitState("unlocked")
	}
	sec.click("Change password")
	sec.waitText(".password-minimum", "At least 14 characters.")
	sec.fill("New password", short)
	sec.fill("Confirm password", short)
	sec.click("Save")
	sec.waitText(".message", "The password must be at least 14 characters.")
	if got := sec.value("New password"); got != short {
		t.Errorf("after the refusal the new password holds %q, want what was typed", got)
	}
	if got := sec.state(); got != "changing-password" {
		t.Errorf("after the refusal the secret is %q, want still changing its password", got)
	}
	newer := "fifteen-chars-x"
	sec.fill("New password", newer)
	sec.fill("Confirm password", newer)
	sec.click("Save")
	p.waitFlag("Password changed.")
	deleteSecret(sec, newer)
}
