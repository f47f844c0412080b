package server

import (
	"net/url"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

// signedQuery must read a signed module URL exactly as url.Values would, or
// a page could act on a parameter other than the one the host signed.
func TestSignedQueryReadsAsURLValues(t *testing.T) {
	queries := []string{
		"",
		"issueId=10001&issueKey=PROJ-1&lic=active",
		"issueKey=A%2BB+C&issueId=1",
		"issueId=1&issueId=2",
		"iss%75eId=7&issueId=8",
		"issueId&issueKey=",
		"a=1&&issueId=%E2%9C%93",
		"issueId=%zz&issueKey=ok",
		"name=Prod+DB%20keys&pageId=42&macroId=m-1",
		"issueIdx=1&xissueId=2&issueId=3",
		"=empty&issueId=+",
	}
	names := []string{"issueId", "issueKey", "lic", "name", "pageId", "macroId", ""}
	for _, raw := range queries {
		want, _ := url.ParseQuery(raw)
		for _, n := range names {
			if got := signedQuery(raw).Get(n); got != want.Get(n) {
				t.Errorf("%q: Get(%q) = %q, url.Values says %q", raw, n, got, want.Get(n))
			}
		}
	}
}

func FuzzSignedQuery(f *testing.F) {
	f.Add("issueId=1&issueKey=A%2BB", "issueId")
	f.Fuzz(func(t *testing.T, raw, name string) {
		want, err := url.ParseQuery(raw)
		if err != nil {
			return // the qsh check refuses what url.ParseQuery refuses
		}
		if got := signedQuery(raw).Get(name); got != want.Get(name) {
			t.Fatalf("%q: Get(%q) = %q, url.Values says %q", raw, name, got, want.Get(name))
		}
	})
}

// The module pages may be framed by the tenant's own site only: its base
// URL's origin and its display URL's, each once, and by nothing when
// neither is a usable origin.
func TestPageCSPFrameAncestors(t *testing.T) {
	s := &Server{}
	for _, tc := range []struct{ base, display, want string }{
		{"https://acme.atlassian.net", "", "frame-ancestors https://acme.atlassian.net"},
		{"https://acme.atlassian.net/wiki", "https://acme.atlassian.net/wiki", "frame-ancestors https://acme.atlassian.net"},
		{"https://acme.atlassian.net", "https://jira.acme.com:8443/x", "frame-ancestors https://acme.atlassian.net https://jira.acme.com:8443"},
		{"", "https://jira.acme.com", "frame-ancestors https://jira.acme.com"},
		{"not a url", "https://a b'.com", "frame-ancestors 'none'"},
	} {
		csp := s.pageCSP(&secrets.Installation{BaseURL: tc.base, DisplayURL: tc.display})
		if !strings.HasSuffix(csp, "; "+tc.want) || !strings.HasPrefix(csp, "default-src 'none'; script-src 'self' https://connect-cdn.atl-paas.net;") {
			t.Errorf("base %q display %q: CSP %q, want it to end in %q", tc.base, tc.display, csp, tc.want)
		}
	}
}
