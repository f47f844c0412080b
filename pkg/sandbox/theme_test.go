package sandbox_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestThemeParam checks that ?theme= picks the colour mode of every sandbox
// page (light when absent), that the page's toggle starts in it, and that an
// unknown theme is refused rather than silently shown light.
func TestThemeParam(t *testing.T) {
	en := newEnv(t)
	mode := regexp.MustCompile(`<html lang="en" data-color-mode="([a-z]*)">`)
	toggle := regexp.MustCompile(`<button type="button" class="theme-toggle" id="sandbox-theme-toggle" aria-pressed="(true|false)">`)
	for _, page := range []string{
		"/dev/", "/dev/jira/browse/DEV-1", "/dev/confluence/wiki/spaces/DEV/pages/123", "/dev/jira/admin", "/dev/confluence/wiki/admin",
	} {
		for _, tc := range []struct{ query, mode, pressed string }{
			{"", "light", "false"},
			{"theme=light", "light", "false"},
			{"theme=dark", "dark", "true"},
		} {
			t.Run(page+"?"+tc.query, func(t *testing.T) {
				res, body := en.get(page + "?" + tc.query)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", res.StatusCode, body)
				}
				if m := mode.FindStringSubmatch(body); m == nil || m[1] != tc.mode {
					t.Errorf("colour mode %v, want %q", m, tc.mode)
				}
				if m := toggle.FindStringSubmatch(body); m == nil || m[1] != tc.pressed {
					t.Errorf("toggle aria-pressed %v, want %q", m, tc.pressed)
				}
			})
		}
		t.Run(page+"?theme=purple", func(t *testing.T) {
			res, body := en.get(page + "?theme=purple")
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "unknown sandbox theme") {
				t.Errorf("status %d, want 400 naming the theme: %s", res.StatusCode, body)
			}
		})
	}
}

// TestTokensCoverTheApp checks that the design tokens the stand-ins give a
// themed frame define, in the light set and in the dark set, every --ds-*
// token the app's stylesheet reads: one missing would show its light
// fallback in the dark theme.
func TestTokensCoverTheApp(t *testing.T) {
	en := newEnv(t)
	res, tokens := en.get("/dev/tokens.css")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	app, err := os.ReadFile("../../static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`var\((--ds-[a-z0-9-]+)`).FindAllStringSubmatch(string(app), -1) {
		used[m[1]] = true
	}
	if len(used) < 20 {
		t.Fatalf("found only %d tokens in app.css", len(used))
	}
	for _, set := range []string{"light", "dark"} {
		start := strings.Index(tokens, `html[data-color-mode="`+set+`"] {`)
		if start < 0 {
			t.Fatalf("tokens.css has no %s set", set)
		}
		block := tokens[start:]
		block = block[:strings.Index(block, "}")]
		for tok := range used {
			if !regexp.MustCompile(`(?m)^\s*` + tok + `:\s*#[0-9a-f]{6}([0-9a-f]{2})?;`).MatchString(block) {
				t.Errorf("the %s set does not define %s", set, tok)
			}
		}
	}
}
