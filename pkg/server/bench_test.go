package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The hot authenticated reads, called in process (no sockets) so that the
// figures are the server's own CPU and allocations per request. The load
// script behind `make bench` measures the same routes over HTTP.

// BenchmarkListSecrets is GET /api/secrets with 20 secrets in the container.
func BenchmarkListSecrets(b *testing.B) {
	h := newHarness(b)
	a := jiraTenant("acme")
	h.install(a)
	tok := h.issueSession(a, "1", "alice")
	for i := range 20 {
		h.newSecret(tok, fmt.Sprintf("Secret number %d", i), "content", "password-1")
	}
	req := httptest.NewRequest("GET", "/api/secrets", nil)
	req.Header.Set("Authorization", "JWT "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Secret number 19") {
			b.Fatalf("list: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkModulePage is the Jira issue panel opened with a signed host
// URL: host JWT and qsh verification, the page and its session token.
func BenchmarkModulePage(b *testing.B) {
	h := newHarness(b)
	a := jiraTenant("acme")
	h.install(a)
	u, err := url.Parse(h.moduleURL(a, "GET", "/jira/panel", issuePanelQuery("1"), "alice"))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", u.RequestURI(), nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("page: %d %s", w.Code, w.Body)
		}
	}
}
