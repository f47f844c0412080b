package main

import (
	"testing"
)

// TestBrowserPanelQuietAdd checks issue 12 item 9's Add button: primary
// while the list is empty, quiet (secondary) once secrets exist, in the
// Confluence macro and the Jira panel alike.
func TestBrowserPanelQuietAdd(t *testing.T) {
	s := newSuite(t)
	for _, sf := range surfaces {
		t.Run(sf.name, func(t *testing.T) {
			ss := s.begin(t)
			p := ss.open("ada", ada, sf.page)
			f := p.frame(sf.frame)
			addClass := func() string {
				t.Helper()
				f.app().control("button", "Add secret")
				return eval[string](f, `function() {
					return [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Add secret').className;
				}`)
			}
			if got := addClass(); got != "button primary" {
				t.Errorf("with no secrets the Add button is %q, want primary", got)
			}
			const password = "cherry-Signal-55"
			sec := addSecret(f, "Quiet add probe", password, "content")
			if got := addClass(); got != "button default" {
				t.Errorf("with a secret the Add button is %q, want the quiet default style", got)
			}
			deleteSecret(sec, password)
			if got := addClass(); got != "button primary" {
				t.Errorf("after the last secret went the Add button is %q, want primary again", got)
			}
		})
	}
}
