package server_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var metaMacroName = regexp.MustCompile(`<meta name="macro-name" content="([^"]*)"`)

// macroNameOn opens the macro page with the query's name parameter and
// returns the name the page carries.
func macroNameOn(t *testing.T, h *harness, tn tenant, name string) string {
	t.Helper()
	res := h.get(h.moduleURL(tn, "GET", "/confluence/macro", macroQuery("123", "m1")+"&name="+url.QueryEscape(name), "account-1"))
	body := readBody(res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("macro page with name %q: %d %s", name, res.StatusCode, body)
	}
	m := metaMacroName.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page carries no macro-name meta:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// TestMacroName: the macro's Name parameter reaches the page trimmed, with
// control characters gone and markup escaped (the page shows it as text);
// one longer than 100 characters is cut at 100 rather than refused, so the
// secrets still show; the issue panel carries none; and the name is part of
// what the host signed: changed after signing, the page is refused.
func TestMacroName(t *testing.T) {
	h := newHarness(t)
	conf, jira := confluenceTenant("wiki"), jiraTenant("acme")
	h.install(conf)
	h.install(jira)

	if got := macroNameOn(t, h, conf, "  Ops\tkeys\u0000 <b>prod</b>\n"); got != "Ops keys <b>prod</b>" {
		t.Errorf("name %q, want %q", got, "Ops keys <b>prod</b>")
	}
	if got := macroNameOn(t, h, conf, ""); got != "" {
		t.Errorf("an unnamed macro carries %q", got)
	}
	long := strings.Repeat("é", 150)
	if got := macroNameOn(t, h, conf, long); utf8.RuneCountInString(got) != 100 || !strings.HasPrefix(long, got) {
		t.Errorf("a 150-character name became %d characters: %q", utf8.RuneCountInString(got), got)
	}

	// The issue panel has no name, whatever its query says.
	res := h.get(h.moduleURL(jira, "GET", "/jira/panel", issuePanelQuery("10001")+"&name=Sneaky", "account-1"))
	body := readBody(res)
	if m := metaMacroName.FindStringSubmatch(body); res.StatusCode != 200 || m == nil || m[1] != "" {
		t.Errorf("issue panel: %d, macro-name %v", res.StatusCode, m)
	}

	// Tampered: signed for one name, sent with another.
	signed := h.moduleURL(conf, "GET", "/confluence/macro", macroQuery("123", "m1")+"&name=Team+keys", "account-1")
	tampered := strings.Replace(signed, "name=Team+keys", "name=Evil+keys", 1)
	if tampered == signed {
		t.Fatalf("the signed URL does not carry the name: %s", signed)
	}
	res = h.get(tampered)
	if body := readBody(res); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a tampered name: %d %s, want 401", res.StatusCode, body)
	}
}
