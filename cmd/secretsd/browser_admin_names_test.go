package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestBrowserAdminAuditNames: on the admin page's audit log an event names
// the secret by its title and links the issue it lives on, on the site's
// own address.
func TestBrowserAdminAuditNames(t *testing.T) {
	s := newSuite(t)
	ss := s.begin(t)
	p := ss.open("ada", ada, "/dev/jira/browse/DEV-1")
	const title = "Audit-named deploy key"
	addSecret(p.frame("secrets-panel"), title, "Walnut-harbour-31", "deploy key for the audit test")

	adm := ss.open("ada-admin", ada, "/dev/jira/admin")
	af := adm.frame("secrets-admin")
	af.app().click("Audit log")
	type row struct {
		Secret string `json:"secret"`
		Href   string `json:"href"`
		Text   string `json:"text"`
	}
	got := waitFrame[row](af, "the created event of "+title, `function(title) {
		for (const tr of document.querySelectorAll('tr.admin-event[data-type="created"]')) {
			const secret = tr.querySelector('td[data-label="Secret"]').textContent;
			if (secret !== title) continue;
			const a = tr.querySelector('td[data-label="Location"] a');
			return {ok: true, got: {secret, href: a ? a.href : '', text: a ? a.textContent : ''}};
		}
		return {ok: false, got: {secret: '', href: '', text: ''}};
	}`, title)
	if got.Text != "DEV-1" || !strings.HasSuffix(got.Href, "/browse/DEV-1") {
		t.Errorf("location of the event: text %q, link %q; want DEV-1 linking to /browse/DEV-1", got.Text, got.Href)
	}
}

// TestBrowserAdminLockoutPerUser: Reggie locks himself out of a secret;
// the admin page says it is Reggie (by name) who is locked out, and
// resetting him lets him unlock at once.
func TestBrowserAdminLockoutPerUser(t *testing.T) {
	s := newSuite(t)
	ss := s.begin(t)
	const (
		title    = "Lockout-per-user vault"
		password = "Copper-lantern-56"
	)
	addSecret(ss.open("ada", ada, "/dev/jira/browse/DEV-1").frame("secrets-panel"), title, password, "vault token")

	rp := ss.open("reggie", reggie, "/dev/jira/browse/DEV-1")
	sec := rp.frame("secrets-panel").secret(title)
	rp.allowHTTPError(unlockPath(sec), http.StatusForbidden)
	rp.allowHTTPError(unlockPath(sec), http.StatusTooManyRequests)
	for i := 1; i <= threshold; i++ {
		unlock(sec, fmt.Sprintf("wrong guess %d", i))
		sec.waitText(".message", "Wrong password")
	}
	unlock(sec, password)
	sec.waitText(".message", "Too many attempts")

	af := ss.open("ada-admin", ada, "/dev/jira/admin").frame("secrets-admin")
	row := af.adminRow(title)
	row.click("Who is locked out")
	who := waitFrame[string](af, "the lockout list", `function() {
		const li = document.querySelector('.admin-lockout[data-account] .person:not(.person-pending)');
		const item = li && li.closest('.admin-lockout');
		return item && /locked out until/.test(item.textContent) ? {ok: true, got: li.textContent} : {ok: false, got: ''};
	}`)
	if who != "Reggie User" {
		t.Errorf("the lockout names %q, want Reggie User", who)
	}
	af.app().click("Reset for this person")
	af.app().waitText(".status", "Reset the lockout")

	unlock(sec, password)
	sec.waitState("unlocked")
}
