package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPanelGenerated checks issue 12 item 2 on the add form: after
// "Generate password" a Copy button and a "stored elsewhere" tick appear,
// and Save refuses, keeping everything typed, until the tick is set.
func TestBrowserPanelGenerated(t *testing.T) {
	s := newSuite(t)
	sf := surfaces[0]
	ss := s.begin(t)
	p := ss.open("ada", ada, sf.page)
	f := p.frame(sf.frame)

	const title = "Generated password probe"
	f.app().click("Add secret")
	form := f.addForm()
	form.fill("Title", title)
	form.fill("Content", "kept content")
	form.click("Generate password")
	form.control("button", "Copy password") // shown beside the generated password
	generated := form.value("Password")
	if len(generated) < 20 {
		t.Fatalf("generated password %q is shorter than 20", generated)
	}

	form.click("Save")
	form.waitText(".message", "The generated password exists nowhere else yet")
	if got := f.titles(); len(got) != 0 {
		t.Errorf("saved before the stored-elsewhere confirmation: list holds %q", got)
	}
	if got := form.value("Password"); got != generated {
		t.Errorf("after the refusal the password field holds %q, want the generated one", got)
	}
	if got := form.value("Content"); got != "kept content" {
		t.Errorf("after the refusal the content holds %q", got)
	}

	tick := form.control("field", "I have stored this password somewhere else")
	if err := chromedp.Do(p.ctx, chromedp.MouseClickNode(tick)); err != nil {
		t.Fatalf("ticking the stored-elsewhere box: %v", err)
	}
	form.click("Save")
	form.waitGone()
	sec := f.secret(title)
	deleteSecret(sec, generated)
}
