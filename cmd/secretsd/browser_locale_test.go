package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The user's language and time zone, as the sandbox page's URL chooses
// them for its frames (Connect: loc and tz on the module URL; Forge: the
// context's locale and timezone). Tokyo is nine hours ahead of UTC, so a
// time shown there can never read as the same clock time in UTC.
const (
	germanLoc = "de-DE"
	tokyo     = "Asia/Tokyo"
)

// localeQuery is the sandbox page query that picks loc and tz.
func localeQuery(loc, tz string) string {
	return "?loc=" + url.QueryEscape(loc) + "&tz=" + url.QueryEscape(tz)
}

// TestBrowserLocale checks that the app reads in the host's language and
// shows absolute times in the host's time zone, in Connect and in Forge
// mode, and that a language the app does not ship leaves it in English.
func TestBrowserLocale(t *testing.T) {
	s := newSuite(t)

	t.Run("connect/panel_in_german_and_tokyo_time", func(t *testing.T) {
		testLocalePanel(t, s, surfaces[0], "Locale check Connect")
	})
	t.Run("connect/admin_in_german_and_tokyo_time", func(t *testing.T) { testLocaleAdmin(t, s, surfaces[0]) })
	t.Run("connect/unknown_locale_is_english", func(t *testing.T) { testLocaleUnknown(t, s, surfaces[0]) })
	t.Run("forge/panel_in_german_and_tokyo_time", func(t *testing.T) {
		testLocalePanel(t, s, forgeSurfaces[0], "Locale check Forge")
	})
	t.Run("forge/admin_in_german", func(t *testing.T) { testLocaleAdmin(t, s, forgeSurfaces[0]) })
}

// shownTime is what a <time> element of the app shows.
type shownTime struct {
	Datetime string `json:"datetime"`
	Title    string `json:"title"`
	Text     string `json:"text"`
}

// germanIn formats an RFC 3339 time as Intl.DateTimeFormat('de-DE',
// {dateStyle: 'medium', timeStyle: 'short', timeZone}) does: "05.03.2026, 05:05".
func germanIn(t *testing.T, rfc3339, zone string) string {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		t.Fatalf("datetime %q: %v", rfc3339, err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatalf("zone %s: %v", zone, err)
	}
	return at.In(loc).Format("02.01.2006, 15:04")
}

// checkTokyoTime checks that a <time>'s absolute date is the German
// rendering of its datetime in Tokyo, which differs from the UTC one.
func checkTokyoTime(t *testing.T, what string, got shownTime) {
	t.Helper()
	want := germanIn(t, got.Datetime, tokyo)
	if utc := germanIn(t, got.Datetime, "UTC"); want == utc {
		t.Fatalf("test defect: %s reads %q in Tokyo and in UTC", got.Datetime, want)
	}
	if got.Title != want {
		t.Errorf("%s: absolute time %q, want %q (%s in %s)", what, got.Title, want, got.Datetime, tokyo)
	}
}

// germanRecently is how the app says "just now" or a few minutes ago in German.
var germanRecently = regexp.MustCompile(`^(gerade eben|vor \d+ Minuten?)$`)

func htmlLang(f *appFrame) string {
	return eval[string](f, `function() { return document.documentElement.lang; }`)
}

// testLocalePanel adds a secret in English, then opens the same page as a
// German user in Tokyo: the panel's words, <html lang> and the secret's
// times follow the host.
func testLocalePanel(t *testing.T, s *suite, sf surface, title string) {
	ss := s.begin(t)
	en := ss.open("ada", ada, sf.page)
	ef := en.frame(sf.frame)
	addSecret(ef, title, "Quartz-lantern-31", "locale check content")
	if got := htmlLang(ef); got != "en-US" {
		t.Errorf("<html lang> with the default locale: %q, want en-US", got)
	}

	de := ss.open("ada-de", ada, sf.page+localeQuery(germanLoc, tokyo))
	f := de.frame(sf.frame)
	sec := f.secret(title)
	if got := htmlLang(f); got != germanLoc {
		t.Errorf("<html lang>: %q, want %q", got, germanLoc)
	}
	// Words of the locked secret, from the catalogue.
	sec.control("field", "Passwort")
	sec.control("button", "Entsperren")

	created := eval[shownTime](f, `function(title) {
		const li = [...document.querySelectorAll('li.secret')].find((l) => l.querySelector('h2.secret-title').textContent === title);
		const el = li && li.querySelector('time');
		return el ? {datetime: el.dateTime, title: el.title, text: el.textContent} : {};
	}`, title)
	if created.Datetime == "" {
		t.Fatalf("the secret %q shows no time", title)
	}
	checkTokyoTime(t, "time the secret was added", created)
	if !germanRecently.MatchString(created.Text) {
		t.Errorf("relative time of a secret added moments ago: %q, want German (gerade eben)", created.Text)
	}

	// A wrong password: the error sentence comes from the catalogue too.
	if strings.HasPrefix(sf.page, "/dev/forge/") {
		de.allowHTTPError(forgeUnlockPath(sec), http.StatusForbidden)
	} else {
		de.allowHTTPError(unlockPath(sec), http.StatusForbidden)
	}
	sec.fill("Passwort", "not the password")
	sec.click("Entsperren")
	want := fmt.Sprintf("Falsches Passwort. Noch %d Versuche bis zu einer vorübergehenden Sperre.", threshold-1)
	if got := sec.waitText(".message", "Falsches Passwort"); got != want {
		t.Errorf("message after a wrong password: %q, want %q", got, want)
	}
	deleteSecret(ef.secret(title), "Quartz-lantern-31")
}

// testLocaleAdmin opens the admin page as a German user in Tokyo.
func testLocaleAdmin(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	en := ss.open("ada", ada, sf.page)
	const title = "Locale check admin"
	sec := addSecret(en.frame(sf.frame), title, "Quartz-lantern-32", "locale check admin content")

	adm := ss.open("ada-admin-de", ada, sf.admin+localeQuery(germanLoc, tokyo))
	af := adm.frame("secrets-admin")
	if got := htmlLang(af); got != germanLoc {
		t.Errorf("<html lang>: %q, want %q", got, germanLoc)
	}
	if got := af.app().waitText("h1", "Secrets-Verwaltung"); got != "Secrets-Verwaltung" {
		t.Errorf("heading %q", got)
	}
	row := af.adminRow(title)
	row.control("button", "Löschen")
	created := eval[shownTime](af, `function(id) {
		const el = document.querySelector('tr.admin-secret[data-id="' + id + '"] td[data-label="Erstellt"] time');
		return el ? {datetime: el.dateTime, title: el.title, text: el.textContent} : {};
	}`, row.id())
	if created.Datetime == "" {
		t.Fatal("no time in the German column Erstellt of the row")
	}
	checkTokyoTime(t, "created time on the admin page", created)
	if !germanRecently.MatchString(created.Text) {
		t.Errorf("relative created time %q, want German", created.Text)
	}

	// The policy form builds its words when first shown, in German too.
	af.app().click("Richtlinie")
	af.app().control("field", "Mindestlänge des Passworts")
	af.app().control("button", "Richtlinie speichern")

	deleteSecret(sec, "Quartz-lantern-32")
}

// testLocaleUnknown: a language the app does not ship renders English, and
// a zone the browser does not know falls back to the browser's own without
// breaking the page (the tab's checks fail on any console error).
func testLocaleUnknown(t *testing.T, s *suite, sf surface) {
	ss := s.begin(t)
	p := ss.open("ada-xx", ada, sf.admin+localeQuery("xx-YY", "Nowhere/Atlantis"))
	af := p.frame("secrets-admin")
	if got := htmlLang(af); got != "en" {
		t.Errorf("<html lang> for xx-YY: %q, want en", got)
	}
	af.app().waitText("h1", "Secrets administration")
	af.app().control("button", "Policy")

	pp := ss.open("ada-xx-panel", ada, sf.page+localeQuery("xx-YY", "Nowhere/Atlantis"))
	f := pp.frame(sf.frame)
	const title = "Locale check unknown"
	addSecret(f, title, "Quartz-lantern-33", "locale check unknown content")
	// Absolute times use the browser's zone when the host's is unknown.
	got := eval[[]string](f, `function(title) {
		const li = [...document.querySelectorAll('li.secret')].find((l) => l.querySelector('h2.secret-title').textContent === title);
		const el = li && li.querySelector('time');
		if (!el) return [];
		const browser = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(el.dateTime));
		return [el.title, browser, el.textContent];
	}`, title)
	if len(got) != 3 || got[0] != got[1] {
		t.Errorf("with an unknown zone: absolute time, browser zone's rendering, relative text = %q; want the first two equal", got)
	} else if got[2] != "just now" && !regexp.MustCompile(`^\d+ minutes? ago$`).MatchString(got[2]) {
		t.Errorf("relative time for xx-YY: %q, want English", got[2])
	}
	deleteSecret(f.secret(title), "Quartz-lantern-33")
}
