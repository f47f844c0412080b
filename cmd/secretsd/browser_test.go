package main

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

// surface is where the app shows secrets: the Jira issue panel or a
// Confluence macro, on a sandbox page, with the site's admin page.
type surface struct {
	name     string // subtest name
	page     string // sandbox page with the app
	frame    string // id of the app's iframe on it
	other    string // id of a second app iframe on the same page, if any
	admin    string // the site's admin page
	location string // how the admin table names the page's container
}

var surfaces = []surface{
	{
		name: "jira", page: "/dev/jira/browse/DEV-1", frame: "secrets-panel",
		admin: "/dev/jira/admin", location: "DEV-1",
	},
	{
		name: "confluence", page: "/dev/confluence/wiki/spaces/DEV/pages/123", frame: "secrets-macro-a",
		other: "secrets-macro-b", admin: "/dev/confluence/wiki/admin", location: "Page 123",
	},
}

// TestBrowser uses the app the way people do, in headless Chromium: the
// real secretsd in dev mode serves the sandbox's Jira issue and Confluence
// page, whose iframes frame the app's real module URLs, and the tests find
// fields by their labels and buttons by their text.
//
// Subtests share one server and one browser but nothing else: each opens
// its own tabs and works on secrets it adds itself, with titles no other
// subtest uses. Only the screenshots add secrets to DEV-2, so its list
// holds exactly what they put there. Every tab fails its subtest on any
// console error, uncaught exception or browser log error (CSP violations
// among them) it did not declare, and on any request that leaves the app's
// own origin for anywhere but Atlassian's CDN.
func TestBrowser(t *testing.T) {
	s := newSuite(t)

	for _, sf := range surfaces {
		t.Run(sf.name, func(t *testing.T) {
			t.Run("add_and_unlock", func(t *testing.T) { testAddAndUnlock(t, s, sf) })
			t.Run("edit", func(t *testing.T) { testEdit(t, s, sf) })
			t.Run("change_password", func(t *testing.T) { testChangePassword(t, s, sf) })
			t.Run("delete", func(t *testing.T) { testDelete(t, s, sf) })
			t.Run("second_user_sees_title_not_content", func(t *testing.T) { testSecondUser(t, s, sf) })
			t.Run("lockout_after_repeated_failures", func(t *testing.T) { testLockout(t, s, sf) })
			t.Run("resize_follows_content", func(t *testing.T) { testResize(t, s, sf) })
			t.Run("usable_at_320px", func(t *testing.T) { testNarrow(t, s, sf) })
			if sf.other != "" {
				t.Run("macros_are_independent", func(t *testing.T) { testMacrosIndependent(t, s, sf) })
			}
			t.Run("admin_page_lists_site_secrets", func(t *testing.T) { testAdminLists(t, s, sf) })
			t.Run("admin_page_refuses_regular_user", func(t *testing.T) { testAdminRefuses(t, s, sf) })
		})
	}
	t.Run("checks_catch_csp_violations", func(t *testing.T) { testChecksCatchCSP(t, s) })
	t.Run("screenshots", func(t *testing.T) { testScreenshots(t, s) })
}

// threshold is how many wrong passwords in a row lock a user out of a
// secret: the default policy, which the dev sites keep.
var threshold = secrets.DefaultPolicy().LockoutThreshold

// testAddAndUnlock adds a secret, checks that its content is nowhere on
// the page while it is locked, is refused with a wrong password (saying how
// many attempts are left) and shows the content with the right one.
func testAddAndUnlock(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Staging database"
		password = "plum-Tractor-88"
		content  = "postgres://app:s3cr3t-Staging@db.staging.internal:5432/app"
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

	p.allowHTTPError(unlockPath(sec), http.StatusForbidden) // the wrong password below
	unlock(sec, "not the password")
	msg := sec.waitText(".message", "Wrong password")
	if want := attemptsLeft(threshold - 1); !strings.Contains(msg, want) {
		t.Errorf("message after a wrong password: got %q, want it to say %q", msg, want)
	}
	if got := sec.state(); got != "locked" {
		t.Errorf("after a wrong password the secret is %q, want locked", got)
	}
	if got := p.responses(unlockPath(sec)); !slices.Equal(got, []int{http.StatusForbidden}) {
		t.Errorf("statuses of the unlock requests: got %v, want [403]", got)
	}

	unlock(sec, password)
	sec.waitState("unlocked")
	if got, _ := sec.text("pre.content"); got != content {
		t.Errorf("unlocked content: got %q, want %q", got, content)
	}
	if got, _ := sec.text(".message"); got != "" {
		t.Errorf("the wrong-password message stayed after unlocking: %q", got)
	}

	deleteSecret(sec, password)
}

// testEdit changes an unlocked secret's title and content, and checks the
// list, the metadata line and the stored content.
func testEdit(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title      = "Queue credentials"
		password   = "Lantern-quiet-41"
		content    = "amqp://worker:old-secret@mq.staging.internal"
		newTitle   = "Queue credentials (rotated)"
		newContent = "user: worker\npassword: n3w-Secret-after-rotation\nrotated: yes"
	)
	sec := addSecret(f, title, password, content)
	unlock(sec, password)
	sec.waitState("unlocked")

	sec.click("Edit")
	sec.waitState("editing")
	if got := sec.value("Title"); got != title {
		t.Errorf("the edit form's title: got %q, want %q", got, title)
	}
	if got := sec.value("Content"); got != content {
		t.Errorf("the edit form's content: got %q, want %q", got, content)
	}
	sec.fill("Title", newTitle)
	sec.fill("Content", newContent)
	sec.click("Save")
	sec.waitState("unlocked")
	p.waitSuccess(sec, "Saved.") // a host flag where there are flags (issue 12 item 8)

	if got, _ := sec.text("h2.secret-title"); got != newTitle {
		t.Errorf("title after saving: got %q, want %q", got, newTitle)
	}
	if got, _ := sec.text("pre.content"); got != newContent {
		t.Errorf("content after saving: got %q, want %q", got, newContent)
	}
	// Version 2 shows who edited it, next to who added it.
	if got, _ := sec.text(".secret-meta"); !strings.Contains(got, "edited by you") {
		t.Errorf("the metadata line after an edit is %q, want it to say %q", got, "edited by you")
	}
	if got := f.titles(); slices.Contains(got, title) {
		t.Errorf("the old title is still listed: %q", got)
	}

	// The server has the new content: lock and unlock again.
	sec.click("Lock")
	sec.waitState("locked")
	unlock(sec, password)
	sec.waitState("unlocked")
	if got, _ := sec.text("pre.content"); got != newContent {
		t.Errorf("content after unlocking the edited secret: got %q, want %q", got, newContent)
	}

	deleteSecret(sec, password)
}

// testChangePassword changes the password of an unlocked secret, locks it,
// and checks that the old password is refused and the new one works.
func testChangePassword(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title       = "Deploy key"
		oldPassword = "Orchard-bright-17"
		newPassword = "Harbour-silent-52"
		content     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployKeyForTests deploy@ci"
	)
	sec := addSecret(f, title, oldPassword, content)
	unlock(sec, oldPassword)
	sec.waitState("unlocked")

	sec.click("Change password")
	sec.waitState("changing-password")
	sec.fill("New password", newPassword)
	sec.fill("Confirm password", newPassword)
	sec.click("Save")
	sec.waitState("unlocked")
	p.waitSuccess(sec, "Password changed.")

	sec.click("Lock")
	sec.waitState("locked")
	if f.contains(content) {
		t.Errorf("the content %q is still on the page after locking", content)
	}

	p.allowHTTPError(unlockPath(sec), http.StatusForbidden) // the old password below
	unlock(sec, oldPassword)
	sec.waitText(".message", "Wrong password") // fails the test if the old password is not refused
	if got := sec.state(); got != "locked" {
		t.Errorf("after the old password the secret is %q, want locked", got)
	}

	unlock(sec, newPassword)
	sec.waitState("unlocked")
	if got, _ := sec.text("pre.content"); got != content {
		t.Errorf("content with the new password: got %q, want %q", got, content)
	}

	deleteSecret(sec, newPassword)
}

// testDelete deletes a secret after confirming, and checks it is gone from
// the page and from the server.
func testDelete(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Old VPN certificate"
		password = "Meadow-copper-63"
		content  = "-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----"
	)
	sec := addSecret(f, title, password, content)
	unlock(sec, password)
	sec.waitState("unlocked")

	sec.click("Delete")
	sec.waitState("confirm-delete")
	if got, want := sec.waitText(".confirm", "for everyone"), "Delete “"+title+"” for everyone?"; !strings.HasPrefix(got, want) {
		t.Errorf("confirmation: got %q, want it to start with %q", got, want)
	}
	sec.click("Yes, delete")
	sec.waitGone()
	if got, want := f.app().waitText(".status", "Deleted"), "Deleted “"+title+"”."; got != want {
		t.Errorf("status after deleting: got %q, want %q", got, want)
	}

	// Gone on the server too, not only from this page.
	p.reload()
	f = p.frame(sf.frame)
	if got := f.titles(); slices.Contains(got, title) {
		t.Errorf("after a reload the deleted secret is listed again: %q", got)
	}
}

// testSecondUser checks that an unlock is per user: while Ada has a secret
// open, Reggie sees its title but not its content.
func testSecondUser(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	pa := ss.open("ada", ada, sf.page)
	fa := pa.frame(sf.frame)
	const (
		title    = "Payment provider test key"
		password = "Violet-engine-29"
		content  = "sk_test_AdaOnlyUnlockedThis1234567890"
	)
	sec := addSecret(fa, title, password, content)
	unlock(sec, password)
	sec.waitState("unlocked")

	// Reggie opens the same page in a browser context of his own while
	// Ada's tab still shows the content.
	pr := ss.open("reggie", reggie, sf.page)
	fr := pr.frame(sf.frame)
	rs := fr.secret(title)
	if got := rs.state(); got != "locked" {
		t.Errorf("Reggie sees the secret Ada unlocked as %q, want locked", got)
	}
	if _, ok := rs.text("pre.content"); ok {
		t.Error("Reggie's page has a pre.content for the secret Ada unlocked")
	}
	if fr.contains(content) {
		t.Errorf("the content %q is on Reggie's page", content)
	}
	// The author's name comes from the host (AP.request), not "you".
	rs.waitText(".secret-meta", "Added by Ada Admin")

	// Ada's unlock is hers and still open.
	if got := sec.state(); got != "unlocked" {
		t.Errorf("Ada's secret is %q after Reggie looked, want still unlocked", got)
	}
	deleteSecret(sec, password)
}

// testLockout makes threshold wrong guesses, watching the attempts left
// count down, and checks that the next attempt, even with the right
// password, is refused with a lockout message that says how long to wait.
func testLockout(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Production root password"
		password = "Granite-window-74"
		content  = "the production root password"
	)
	// Ada stays locked out of this secret for the rest of the run, so
	// the test cannot delete it; its title is its own.
	sec := addSecret(f, title, password, content)
	path := unlockPath(sec)
	p.allowHTTPError(path, http.StatusForbidden)       // each wrong password
	p.allowHTTPError(path, http.StatusTooManyRequests) // the attempt after the lockout

	for i := 1; i <= threshold; i++ {
		unlock(sec, fmt.Sprintf("wrong guess %d", i))
		want := attemptsLeft(threshold - i)
		if i == threshold {
			want = "No attempts left"
		}
		if msg := sec.waitText(".message", want); !strings.HasPrefix(msg, "Wrong password.") {
			t.Errorf("message after wrong password %d: %q, want it to start with %q", i, msg, "Wrong password.")
		}
	}

	// Locked out: not even the right password is tried.
	unlock(sec, password)
	msg := sec.waitText(".message", "Too many attempts")
	if !regexp.MustCompile(`Try again in \d+ (second|minute)s?\.`).MatchString(msg) {
		t.Errorf("lockout message %q does not say how long to wait", msg)
	}
	if got := sec.state(); got != "locked" {
		t.Errorf("after the lockout the secret is %q, want locked", got)
	}
	if f.contains(content) {
		t.Error("the content is on the page although the user is locked out")
	}
	want := append(slices.Repeat([]int{http.StatusForbidden}, threshold), http.StatusTooManyRequests)
	if got := p.responses(path); !slices.Equal(got, want) {
		t.Errorf("statuses of the unlock requests: got %v, want %v", got, want)
	}
}

// testResize checks that the iframe follows the app's height through
// AP.resize: it grows when the add form opens and shrinks back when it
// closes.
func testResize(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	p.waitFitted(f)
	before := p.frameHeight(sf.frame)

	f.app().click("Add secret")
	f.addForm().waitText("h2", "New secret")
	p.waitFitted(f)
	if grown := p.frameHeight(sf.frame); grown <= before {
		t.Errorf("with the add form open the frame is %vpx high, want more than the %vpx before", grown, before)
	}

	f.addForm().click("Cancel")
	f.addForm().waitGone()
	p.waitFitted(f)
	if after := p.frameHeight(sf.frame); after != before {
		t.Errorf("after Cancel the frame is %vpx high, want the %vpx it had before", after, before)
	}
}

// testNarrow uses the app in a 320px wide page: nothing may scroll sideways
// inside the frame, and adding and unlocking a secret with long unbreakable
// words still works.
func testNarrow(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	p.setViewport(320, 800)
	f := p.frame(sf.frame)
	if w := p.frameWidth(sf.frame); w > 320 {
		t.Fatalf("the frame is %vpx wide in a 320px viewport", w)
	}
	noScroll := func(when string) {
		t.Helper()
		if sw, cw := f.horizontalOverflow(); sw > cw {
			t.Errorf("%s: the app is %dpx wide in a %dpx frame: it scrolls sideways", when, sw, cw)
		}
	}
	// Long words that cannot wrap are what push a narrow layout sideways.
	const (
		title    = "db-primary.eu-west-1.rds.amazonaws.com admin password"
		password = "Thistle-garden-35"
		content  = "postgres://admin:AVeryLongPasswordWithoutAnySpacesInItAtAll@db-primary.eu-west-1.rds.amazonaws.com:5432/app"
	)
	noScroll("the list")

	f.app().click("Add secret")
	form := f.addForm()
	noScroll("the add form")
	form.fill("Title", title)
	form.fill("Password", password)
	form.fill("Confirm password", password)
	form.fill("Content", content)
	noScroll("the filled-in add form")
	form.click("Save")
	sec := f.secret(title)
	noScroll("the list with a long title")

	unlock(sec, password)
	sec.waitState("unlocked")
	if got, _ := sec.text("pre.content"); got != content {
		t.Errorf("unlocked content: got %q, want %q", got, content)
	}
	noScroll("an unlocked secret with a long line")

	deleteSecret(sec, password)
}

// testMacrosIndependent checks that two macros on one page keep separate
// secrets: one added in the first is not listed in the second.
func testMacrosIndependent(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Staging queue password"
		password = "Copper-lantern-90"
		content  = "only for macro A"
	)
	addSecret(f, title, password, content)

	// Both macros load their lists from the server afresh.
	p.reload()
	a, b := p.frame(sf.frame), p.frame(sf.other)
	sec := a.secret(title)
	if got := b.titles(); slices.Contains(got, title) {
		t.Errorf("macro B lists the secret added in macro A: %q", got)
	}
	deleteSecret(sec, password)
}

// testAdminLists checks that the site admin page shows Ada a secret added
// on the site, without its content, and lets her delete it.
func testAdminLists(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Monitoring admin login"
		password = "Saffron-bridge-12"
		content  = "grafana admin / not-for-the-admin-page"
	)
	addSecret(f, title, password, content)

	adm := ss.open("ada-admin", ada, sf.admin)
	af := adm.frame("secrets-admin")
	row := af.adminRow(title)
	if got, _ := row.text(`td[data-label="Location"]`); got != sf.location {
		t.Errorf("location of the secret on the admin page: got %q, want %q", got, sf.location)
	}
	if af.contains(content) {
		t.Error("the admin page shows the secret's content")
	}

	// An admin deletes without the password; the secret leaves the page
	// it was on.
	row.click("Delete")
	af.app().click("Yes, delete")
	row.waitGone()
	p.reload()
	f = p.frame(sf.frame)
	if got := f.titles(); slices.Contains(got, title) {
		t.Errorf("the secret the admin deleted is still listed on %s: %q", sf.page, got)
	}
}

// testAdminRefuses checks that a regular user gets the admin page's
// refusal, and that it is the server that refuses.
func testAdminRefuses(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("reggie", reggie, sf.admin)
	// The server asks the site whether Reggie is an admin and refuses.
	p.allowHTTPError("/api/admin/secrets", http.StatusForbidden)
	p.allowHTTPError("/api/admin/licence", http.StatusForbidden) // the page's licence line asks too
	f := p.frame("secrets-admin")

	msg := f.app().waitText(".admin-forbidden-title", "Only site admins")
	if want := "Only site admins can manage Secrets."; msg != want {
		t.Errorf("message for a regular user: got %q, want %q", msg, want)
	}
	if got := eval[int](f, `function() { return document.querySelectorAll('tr.admin-secret').length; }`); got != 0 {
		t.Errorf("a regular user's admin page lists %d secrets", got)
	}
	// The refusal is the server's, not just the page hiding itself.
	if got := p.responses("/api/admin/secrets"); !slices.Equal(got, []int{http.StatusForbidden}) {
		t.Errorf("statuses of the admin list requests: got %v, want [403]", got)
	}
}

// testChecksCatchCSP makes sure the check every tab runs at the end is
// not blind: a CSP violation inside the app's frame is recorded as an
// error (and this test then takes it off the record, having caused it).
func testChecksCatchCSP(t *testing.T, s *suite) {
	ss := s.begin(t)
	p := ss.open("ada", ada, "/dev/jira/browse/DEV-2")
	f := p.frame("secrets-panel")
	// The app's CSP allows scripts from its own origin and Atlassian's
	// CDN only, so an inline script must not run.
	eval[bool](f, `function() {
		const s = document.createElement('script');
		s.textContent = 'window.inlineScriptRan = true;';
		document.body.append(s);
		return true;
	}`)
	got := p.waitProblem("Content Security Policy")
	if !strings.Contains(got, "script-src") {
		t.Errorf("the recorded violation does not name the directive: %q", got)
	}
	if eval[bool](f, `function() { return window.inlineScriptRan === true; }`) {
		t.Error("an inline script ran in the app's frame")
	}
}

// testScreenshots takes the README's pictures of the issue panel at the
// width of a Jira issue's main column. They always go to
// test-artifacts/screenshots/; -update-screenshots also writes them to
// static/screenshots/.
func testScreenshots(t *testing.T, s *suite) {
	ss := s.begin(t)
	p := ss.open("ada", ada, "/dev/jira/browse/DEV-2")
	p.setViewport(920, 900) // the panel gets about 600px next to the details
	f := p.frame("secrets-panel")
	const password = "Juniper-anchor-58"
	addSecret(f, "Payment provider API keys", password,
		"publishable: pk_test_51NfDemoKeyForTheSandbox\nsecret:      sk_test_51NfDemoKeyForTheSandbox")
	addSecret(f, "Provider console login", password, "ops@example.com / Demo-Console-Pass-2024")

	// A fresh page: both secrets locked, no "Added" message.
	p.reload()
	f = p.frame("secrets-panel")
	shoot := func(name string) {
		t.Helper()
		p.waitFitted(f)
		p.mouseAway()
		shot := p.screenshot("secrets-panel")
		cfg, err := png.DecodeConfig(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.Width < 560 || cfg.Width > 640 {
			t.Errorf("%s is %dpx wide, want about 600", name, cfg.Width)
		}
		s.saveScreenshot(t, name, shot)
	}
	shoot("panel-locked.png")

	f.app().click("Add secret")
	form := f.addForm()
	form.fill("Title", "Staging SMTP relay")
	form.fill("Password", "Correct-Horse-Battery-9")
	form.fill("Confirm password", "Correct-Horse-Battery-9")
	form.fill("Content", "smtp://relay@mail.staging.internal:587\npassword: Demo-Smtp-Pass")
	shoot("panel-add.png")
	form.click("Cancel")
	form.click("Discard changes") // the form is dirty: Cancel asks first
	form.waitGone()

	sec := f.secret("Payment provider API keys")
	unlock(sec, password)
	sec.waitState("unlocked")
	shoot("panel-unlocked.png")
}

// ---- flows every test uses ------------------------------------------------

// addSecret adds a secret through the add form, as a person does, and
// returns it once it is listed.
func addSecret(f *appFrame, title, password, content string) scope {
	f.t.Helper()
	f.app().click("Add secret")
	form := f.addForm()
	form.fill("Title", title)
	form.fill("Password", password)
	form.fill("Confirm password", password)
	form.fill("Content", content)
	form.click("Save")
	form.waitGone()
	return f.secret(title)
}

// unlock types password into the secret's Password field and clicks
// Unlock; the caller waits for what should follow.
func unlock(sec scope, password string) {
	sec.f.t.Helper()
	sec.fill("Password", password)
	sec.click("Unlock")
}

// deleteSecret deletes the secret through its Delete button, unlocking it
// first if need be, and waits until it has left the list.
func deleteSecret(sec scope, password string) {
	sec.f.t.Helper()
	if sec.state() == "locked" {
		unlock(sec, password)
		sec.waitState("unlocked")
	}
	sec.click("Delete")
	sec.click("Yes, delete")
	sec.waitGone()
}

// unlockPath is the API path of the secret's unlock request.
func unlockPath(sec scope) string {
	return "/api/secrets/" + url.PathEscape(sec.id()) + "/unlock"
}

// attemptsLeft is how the app words n remaining attempts.
func attemptsLeft(n int) string {
	if n == 1 {
		return "1 attempt left"
	}
	return fmt.Sprintf("%d attempts left", n)
}
