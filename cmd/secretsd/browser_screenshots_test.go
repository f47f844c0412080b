package main

import (
	"bytes"
	"image/png"
	"testing"
)

// TestBrowserScreenshots takes the README's side-by-side pictures: the
// issue panel, the macro and the admin page in the sandbox's light and dark
// themes, and the panel in German. Each is cropped to the app's frame. They
// always go to test-artifacts/screenshots/; -update-screenshots also writes
// them to static/screenshots/.
//
// The German picture asks for the locale the way a host passes it, with
// ?loc=de-DE&tz=Europe/Berlin on the page, which the sandbox hands on to
// the frames.
func TestBrowserScreenshots(t *testing.T) {
	s := newSuite(t)
	ss := s.begin(t)

	const password = "Juniper-anchor-58"
	p := ss.open("ada", ada, "/dev/jira/browse/DEV-2")
	p.setViewport(920, 900) // the panel gets about 600px next to the details
	f := p.frame("secrets-panel")
	addSecret(f, "Payment provider API keys", password,
		"publishable: pk_test_51NfDemoKeyForTheSandbox\nsecret:      sk_test_51NfDemoKeyForTheSandbox")
	addSecret(f, "Provider console login", password, "ops@example.com / Demo-Console-Pass-2024")

	c := ss.open("ada-confluence", ada, "/dev/confluence/wiki/spaces/DEV/pages/123")
	c.setViewport(920, 900)
	m := c.frame("secrets-macro-a")
	addSecret(m, "Staging database", password, "postgres://app:Demo-Staging-Pass@db.staging.internal:5432/app")
	addSecret(m, "Message queue", password, "amqp://worker:Demo-Queue-Pass@mq.staging.internal")

	shoot := func(p *tab, f *appFrame, name string) {
		t.Helper()
		p.waitFitted(f)
		p.mouseAway()
		f.wait("transitions to end", `function() {
			const running = document.getAnimations().length;
			return {ok: running === 0, got: running};
		}`)
		shot := p.screenshot(f.id)
		if _, err := png.DecodeConfig(bytes.NewReader(shot)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.saveScreenshot(t, name, shot)
	}
	inTheme := func(f *appFrame, theme string) {
		t.Helper()
		f.wait("the frame to be "+theme, `function(want) {
			return {ok: document.documentElement.dataset.colorMode === want, got: document.documentElement.dataset.colorMode || null};
		}`, theme)
	}

	for _, theme := range []string{"light", "dark"} {
		// The panel with one secret unlocked, one locked.
		p.navigateQuery("/dev/jira/browse/DEV-2", ada, "theme="+theme)
		f = p.frame("secrets-panel")
		inTheme(f, theme)
		sec := f.secret("Payment provider API keys")
		unlock(sec, password)
		sec.waitState("unlocked")
		shoot(p, f, "panel-"+theme+".png")

		c.navigateQuery("/dev/confluence/wiki/spaces/DEV/pages/123", ada, "theme="+theme)
		m = c.frame("secrets-macro-a")
		inTheme(m, theme)
		shoot(c, m, "macro-"+theme+".png")

		c.navigateQuery("/dev/jira/admin", ada, "theme="+theme)
		a := c.frame("secrets-admin")
		inTheme(a, theme)
		a.wait("the secrets list", `function() {
			return {ok: document.querySelectorAll('tr.admin-secret').length >= 2, got: document.querySelectorAll('tr.admin-secret').length};
		}`)
		shoot(c, a, "admin-"+theme+".png")
	}

	// German: the host's locale and time zone on the page's address, which
	// the sandbox hands on to the frames as a host does. The list is
	// locked, so nothing here depends on the German labels.
	p.navigateQuery("/dev/jira/browse/DEV-2", ada, "loc=de-DE&tz=Europe/Berlin")
	f = p.frame("secrets-panel")
	f.secret("Provider console login").waitState("locked")
	shoot(p, f, "panel-de.png")
}
