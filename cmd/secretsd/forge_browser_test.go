package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// forgeSurfaces are the sandbox's Forge pages: the same products, framing
// the Custom UI build with the bridge stand-in instead of Connect iframes.
var forgeSurfaces = []surface{
	{
		name: "jira", page: "/dev/forge/jira/browse/DEV-1", frame: "secrets-panel",
		admin: "/dev/forge/jira/admin", location: "DEV-1",
	},
	{
		name: "confluence", page: "/dev/forge/confluence/spaces/DEV/pages/123", frame: "secrets-macro-a",
		other: "secrets-macro-b", admin: "/dev/forge/confluence/admin", location: "Page 123",
	},
}

// nia is the Forge sandbox's user who may browse no issue and read no page.
const nia user = "guest"

// TestForgeBrowser runs the browser flows of TestBrowser in Forge mode: the
// real secretsd in dev mode, whose sandbox plays the Forge platform, serves
// the Custom UI build in frames with its bridge stand-in, mints a FIT for
// every invokeRemote and calls the app's /forge/ routes; the app checks the
// FIT against the sandbox's JWKS and the container and admin rights with the
// sandbox's product API. The same checks apply to every tab: no console
// error it did not declare, no request leaving loopback.
func TestForgeBrowser(t *testing.T) {
	s := newSuite(t)

	for _, sf := range forgeSurfaces {
		t.Run(sf.name, func(t *testing.T) {
			t.Run("add_and_unlock", func(t *testing.T) { testForgeAddAndUnlock(t, s, sf) })
			t.Run("edit", func(t *testing.T) { testEdit(t, s, sf) })
			t.Run("change_password", func(t *testing.T) { testForgeChangePassword(t, s, sf) })
			t.Run("delete", func(t *testing.T) { testDelete(t, s, sf) })
			t.Run("second_user_sees_title_not_content", func(t *testing.T) { testForgeSecondUser(t, s, sf) })
			t.Run("lockout_after_repeated_failures", func(t *testing.T) { testForgeLockout(t, s, sf) })
			t.Run("resize_follows_content", func(t *testing.T) { testResize(t, s, sf) })
			t.Run("usable_at_320px", func(t *testing.T) { testNarrow(t, s, sf) })
			if sf.other != "" {
				t.Run("macros_are_independent", func(t *testing.T) { testMacrosIndependent(t, s, sf) })
			}
			t.Run("user_without_access_sees_nothing", func(t *testing.T) { testForgeNoAccess(t, s, sf) })
			t.Run("admin_page_lists_site_secrets", func(t *testing.T) { testAdminLists(t, s, sf) })
			t.Run("admin_page_refuses_regular_user", func(t *testing.T) { testForgeAdminRefuses(t, s, sf) })
		})
	}
}

// invokePath is the path of the sandbox's invokeRemote request for the
// app's Forge route apiPath: the stand-in posts to /dev/forge/invoke<path>,
// answered with the app's own status.
func invokePath(apiPath string) string { return "/dev/forge/invoke/forge" + apiPath }

func forgeUnlockPath(sec scope) string {
	return invokePath("/api/secrets/" + url.PathEscape(sec.id()) + "/unlock")
}

// testForgeAddAndUnlock is testAddAndUnlock through invokeRemote.
func testForgeAddAndUnlock(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Forge staging database"
		password = "plum-Tractor-88"
		content  = "postgres://app:s3cr3t-Forge@db.staging.internal:5432/app"
	)
	sec := addSecret(f, title, password, content)
	if got, want := f.app().waitText(".status", "Added"), "Added “"+title+"”."; got != want {
		t.Errorf("status after adding: got %q, want %q", got, want)
	}
	if got := sec.state(); got != "locked" {
		t.Errorf("a new secret is %q, want locked", got)
	}
	if f.contains(content) {
		t.Errorf("the content %q is on the page before anyone unlocked the secret", content)
	}

	p.allowHTTPError(forgeUnlockPath(sec), http.StatusForbidden)
	unlock(sec, "not the password")
	msg := sec.waitText(".message", "Wrong password")
	if want := attemptsLeft(threshold - 1); !strings.Contains(msg, want) {
		t.Errorf("message after a wrong password: got %q, want it to say %q", msg, want)
	}
	if got := p.responses(forgeUnlockPath(sec)); !slices.Equal(got, []int{http.StatusForbidden}) {
		t.Errorf("statuses of the unlock requests: got %v, want [403]", got)
	}

	unlock(sec, password)
	sec.waitState("unlocked")
	if got, _ := sec.text("pre.content"); got != content {
		t.Errorf("unlocked content: got %q, want %q", got, content)
	}
	// The Copy button is there for the unlocked content.
	sec.click("Copy")

	sec.click("Lock")
	sec.waitState("locked")
	if f.contains(content) {
		t.Error("the content is still on the page after Lock")
	}
	deleteSecret(sec, password)
}

// testForgeChangePassword is testChangePassword through invokeRemote.
func testForgeChangePassword(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title       = "Forge deploy key"
		oldPassword = "Orchard-bright-17"
		newPassword = "Harbour-silent-52"
		content     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIForgeDeployKey deploy@ci"
	)
	sec := addSecret(f, title, oldPassword, content)
	unlock(sec, oldPassword)
	sec.waitState("unlocked")
	sec.click("Change password")
	sec.waitState("changing-password")
	sec.fill("New password", newPassword)
	sec.fill("Confirm password", newPassword)
	sec.click("Save")
	p.waitSuccess(sec, "Password changed.") // a host flag (showFlag)
	sec.waitState("unlocked")
	sec.click("Lock")
	sec.waitState("locked")

	p.allowHTTPError(forgeUnlockPath(sec), http.StatusForbidden)
	unlock(sec, oldPassword)
	sec.waitText(".message", "Wrong password")
	unlock(sec, newPassword)
	sec.waitState("unlocked")
	if got, _ := sec.text("pre.content"); got != content {
		t.Errorf("content with the new password: got %q, want %q", got, content)
	}
	deleteSecret(sec, newPassword)
}

// testForgeSecondUser: Reggie sees the title of the secret Ada unlocked,
// never its content. Forge mode names other users "another user" (it has
// no user-read scope), so the metadata check is that.
func testForgeSecondUser(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	pa := ss.open("ada", ada, sf.page)
	fa := pa.frame(sf.frame)
	const (
		title    = "Forge payment provider key"
		password = "Violet-engine-29"
		content  = "sk_test_AdaOnlyUnlockedThisInForge"
	)
	sec := addSecret(fa, title, password, content)
	unlock(sec, password)
	sec.waitState("unlocked")

	pr := ss.open("reggie", reggie, sf.page)
	fr := pr.frame(sf.frame)
	rs := fr.secret(title)
	if got := rs.state(); got != "locked" {
		t.Errorf("Reggie sees the secret Ada unlocked as %q, want locked", got)
	}
	if fr.contains(content) {
		t.Errorf("the content %q is on Reggie's page", content)
	}
	if meta, _ := rs.text(".secret-meta"); strings.Contains(meta, "by you") {
		t.Errorf("Reggie's page says Ada's secret is his: %q", meta)
	}
	if got := sec.state(); got != "unlocked" {
		t.Errorf("Ada's secret is %q after Reggie looked, want still unlocked", got)
	}
	deleteSecret(sec, password)
}

// testForgeLockout is testLockout through invokeRemote.
func testForgeLockout(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Forge production root password"
		password = "Granite-window-74"
		content  = "the forge production root password"
	)
	sec := addSecret(f, title, password, content)
	path := forgeUnlockPath(sec)
	p.allowHTTPError(path, http.StatusForbidden)
	p.allowHTTPError(path, http.StatusTooManyRequests)
	for i := 1; i <= threshold; i++ {
		unlock(sec, fmt.Sprintf("wrong guess %d", i))
		want := attemptsLeft(threshold - i)
		if i == threshold {
			want = "No attempts left"
		}
		sec.waitText(".message", want)
	}
	unlock(sec, password)
	msg := sec.waitText(".message", "Too many attempts")
	if !regexp.MustCompile(`Try again in \d+ (second|minute)s?\.`).MatchString(msg) {
		t.Errorf("lockout message %q does not say how long to wait", msg)
	}
	if f.contains(content) {
		t.Error("the content is on the page although the user is locked out")
	}
	want := append(slices.Repeat([]int{http.StatusForbidden}, threshold), http.StatusTooManyRequests)
	if got := p.responses(path); !slices.Equal(got, want) {
		t.Errorf("statuses of the unlock requests: got %v, want %v", got, want)
	}
}

// testForgeNoAccess: Nia, whom the product says may not browse the issue
// (or read the page), gets 404 for the container's list, and sees no
// secret of it, although Ada added one.
func testForgeNoAccess(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	pa := ss.open("ada", ada, sf.page)
	const title = "Forge secret Nia must not see"
	sec := addSecret(pa.frame(sf.frame), title, "Basil-tower-36", "not for nia")

	pn := ss.open("nia", nia, sf.page)
	pn.allowHTTPError(invokePath("/api/secrets"), http.StatusNotFound)
	if sf.other != "" {
		// Both macros on the page ask.
		pn.allowHTTPError(invokePath("/api/secrets"), http.StatusNotFound)
	}
	fn := pn.frame(sf.frame)
	if got := fn.titles(); slices.Contains(got, title) {
		t.Errorf("Nia's page lists %q", got)
	}
	if fn.contains(title) {
		t.Error("the title is on Nia's page")
	}
	if got := pn.responses(invokePath("/api/secrets")); len(got) == 0 || got[0] != http.StatusNotFound {
		t.Errorf("statuses of Nia's list requests: %v, want 404", got)
	}
	deleteSecret(sec, "Basil-tower-36")
}

// testForgeAdminRefuses: the server, asking the product as Reggie, refuses
// him the admin API.
func testForgeAdminRefuses(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("reggie", reggie, sf.admin)
	p.allowHTTPError(invokePath("/api/admin/secrets"), http.StatusForbidden)
	p.allowHTTPError(invokePath("/api/admin/licence"), http.StatusForbidden) // the page's licence line asks too
	f := p.frame("secrets-admin")
	msg := f.app().waitText(".admin-forbidden-title", "Only site admins")
	if want := "Only site admins can manage Secrets."; msg != want {
		t.Errorf("message for a regular user: got %q, want %q", msg, want)
	}
	if got := eval[int](f, `function() { return document.querySelectorAll('tr.admin-secret').length; }`); got != 0 {
		t.Errorf("a regular user's admin page lists %d secrets", got)
	}
	if got := p.responses(invokePath("/api/admin/secrets")); !slices.Equal(got, []int{http.StatusForbidden}) {
		t.Errorf("statuses of the admin list requests: got %v, want [403]", got)
	}
}
