package main

import (
	"testing"
)

// TestBrowserPanelHide checks the "Hide" of issue 12 item 11: it takes the
// content off the page without locking, and Show brings it back without a
// password.
func TestBrowserPanelHide(t *testing.T) {
	s := newSuite(t)
	sf := surfaces[0]
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)
	const (
		title    = "Hide probe"
		password = "grape-Compass-31"
		content  = "line one\nline two: s3cret-Hide-Probe"
	)
	sec := addSecret(f, title, password, content)
	unlock(sec, password)
	sec.waitState("unlocked")

	sec.click("Hide")
	sec.waitText("pre.content", "Content hidden")
	if f.contains("s3cret-Hide-Probe") {
		t.Errorf("the content is still on the page after Hide")
	}
	if got := sec.state(); got != "unlocked" {
		t.Errorf("after Hide the secret is %q, want still unlocked", got)
	}
	sec.click("Show")
	sec.waitText("pre.content", "line one")
	if got, _ := sec.text("pre.content"); got != content {
		t.Errorf("after Show the content is %q, want %q", got, content)
	}
	deleteSecret(sec, password)
}
