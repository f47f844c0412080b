package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// listedExpiry reads the secret's expiry from GET /api/secrets with the
// frame's own session, as the server stores it; nil when it has none.
func listedExpiry(f *appFrame, title string) *time.Time {
	f.t.Helper()
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
			Title     string     `json:"title"`
			ExpiresAt *time.Time `json:"expiresAt"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		f.t.Fatalf("list %s: %v", raw, err)
	}
	for _, m := range list.Secrets {
		if m.Title == title {
			return m.ExpiresAt
		}
	}
	f.t.Fatalf("%q not listed: %s", title, raw)
	return nil
}

// expirySelect is the edit form's Expires choice.
type expirySelect struct {
	Values   []string `json:"values"`
	Labels   []string `json:"labels"`
	Selected string   `json:"selected"`
}

func editExpiry(sec scope) expirySelect {
	sec.f.t.Helper()
	sec.control("field", "Expires")
	return eval[expirySelect](sec.f, scopeJS(`(sel) => {
		const l = [...scopeOf(sel).querySelectorAll('form.edit-form label')].find((x) => norm(x.textContent) === 'Expires');
		const s = l.control;
		return { values: [...s.options].map((o) => o.value), labels: [...s.options].map((o) => norm(o.textContent)), selected: s.value };
	}`), sec.sel)
}

func chooseExpiry(sec scope, value string) {
	sec.f.t.Helper()
	eval[bool](sec.f, scopeJS(`(sel, value) => {
		const l = [...scopeOf(sel).querySelectorAll('form.edit-form label')].find((x) => norm(x.textContent) === 'Expires');
		l.control.value = value;
		l.control.dispatchEvent(new Event('change', { bubbles: true }));
		return l.control.value === value;
	}`), sec.sel, value)
}

// TestBrowserPanelExpiry checks issue 12 item 10 in the edit form: it
// offers the site's expiry choices with the current one preselected
// ("Never" for a secret without one, "Unchanged" for one with a date), a
// new choice is what the server stores, and "Never" removes it again.
func TestBrowserPanelExpiry(t *testing.T) {
	s := newSuite(t)
	sf := surfaces[0]
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Expiry probe"
		password = "Copper-willow-64"
	)
	sec := addSecret(f, title, password, "content")
	if got := listedExpiry(f, title); got != nil {
		t.Fatalf("new secret expires %v, want never under the default policy", got)
	}
	unlock(sec, password)
	sec.waitState("unlocked")

	sec.click("Edit")
	sec.waitState("editing")
	got := editExpiry(sec)
	if want := []string{"0", "86400", "604800", "2592000", "7776000", "31536000"}; show(got.Values) != show(want) || got.Selected != "0" {
		t.Errorf("edit form's choices %q selected %q, want %q with Never selected", got.Values, got.Selected, want)
	}
	chooseExpiry(sec, "604800")
	before := time.Now()
	sec.click("Save")
	sec.waitState("unlocked")
	p.waitFlag("Saved.")
	exp := listedExpiry(f, title)
	if want := before.Add(7 * 24 * time.Hour); exp == nil || exp.Sub(want) < -time.Minute || exp.Sub(want) > time.Minute {
		t.Fatalf("stored expiry %v, want about %v", exp, want)
	}
	if meta, _ := sec.text(".secret-meta"); !strings.Contains(meta, "deletes itself") {
		t.Errorf("the metadata line %q does not name the new expiry", meta)
	}

	// After a reload the form keeps the date unless told otherwise.
	p.reload()
	f = p.frame(sf.frame)
	sec = f.secret(title)
	unlock(sec, password)
	sec.waitState("unlocked")
	sec.click("Edit")
	sec.waitState("editing")
	got = editExpiry(sec)
	if len(got.Values) == 0 || got.Values[0] != "keep" || got.Selected != "keep" || !strings.HasPrefix(got.Labels[0], "Unchanged (") {
		t.Errorf("choices for a secret with an expiry %+v, want Unchanged first and selected", got)
	}
	sec.fill("Content", "edited, expiry kept")
	sec.click("Save")
	sec.waitState("unlocked")
	p.waitFlag("Saved.")
	if again := listedExpiry(f, title); again == nil || !again.Equal(*exp) {
		t.Errorf("an edit with Unchanged moved the expiry from %v to %v", exp, again)
	}

	// Never takes it away.
	sec.click("Edit")
	sec.waitState("editing")
	chooseExpiry(sec, "0")
	sec.click("Save")
	sec.waitState("unlocked")
	p.waitFlag("Saved.")
	if again := listedExpiry(f, title); again != nil {
		t.Errorf("after choosing Never the secret expires %v", again)
	}
	deleteSecret(sec, password)
}
