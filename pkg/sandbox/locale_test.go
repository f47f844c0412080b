package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// langCases are page URL queries and the locale and zone the app must be
// told: a valid choice passes, anything else keeps the default.
var langCases = []struct {
	name, query string
	loc, tz     string
}{
	{"no choice", "", "en-US", "UTC"},
	{"German in Berlin", "&loc=de-DE&tz=Europe%2FBerlin", "de-DE", "Europe/Berlin"},
	{"three-part zone and script subtag", "&loc=zh-Hant-TW&tz=America%2FArgentina%2FSalta", "zh-Hant-TW", "America/Argentina/Salta"},
	{"offset zone", "&loc=fr&tz=Etc%2FGMT%2B5", "fr", "Etc/GMT+5"},
	{"markup in both", "&loc=%3Cscript%3E&tz=%22%3E%3Cb%3E", "en-US", "UTC"},
	{"path traversal zone", "&loc=de-DE&tz=..%2F..%2Fetc%2Fpasswd", "de-DE", "UTC"},
	{"too long tag", "&loc=de-DEDEDEDEDE-x-aaaaaaaaaa&tz=Europe%2FBerlin%2FMitte%2FMore", "en-US", "UTC"},
	{"underscore locale and spaces", "&loc=de_DE&tz=Europe%2F+Berlin", "en-US", "UTC"},
}

func TestConnectPagesPassTheChosenLocaleAndZone(t *testing.T) {
	en := newEnv(t)
	for _, page := range []struct{ name, path string }{
		{"issue", "/dev/jira/browse/DEV-1?as=user"},
		{"confluence page", "/dev/confluence/wiki/spaces/DEV/pages/123?as=user"},
		{"admin", "/dev/jira/admin?as=admin"},
	} {
		for _, tc := range langCases {
			t.Run(page.name+"/"+tc.name, func(t *testing.T) {
				res, body := en.get(page.path + tc.query)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", res.StatusCode, body)
				}
				frames := elements(body, "iframe")
				if len(frames) == 0 {
					t.Fatal("no iframe")
				}
				for _, f := range frames {
					// The app verifies the URL (so loc and tz are in the
					// qsh) and sees the chosen values.
					res, view := en.get(f["src"])
					if res.StatusCode != http.StatusOK {
						t.Fatalf("the app refused the iframe URL of %s: %s", f["id"], view)
					}
					var mv moduleView
					if err := json.Unmarshal([]byte(view), &mv); err != nil {
						t.Fatal(err)
					}
					if got := mv.Query["loc"]; len(got) != 1 || got[0] != tc.loc {
						t.Errorf("%s: loc %q, want %q", f["id"], got, tc.loc)
					}
					if got := mv.Query["tz"]; len(got) != 1 || got[0] != tc.tz {
						t.Errorf("%s: tz %q, want %q", f["id"], got, tc.tz)
					}
				}
			})
		}
	}
}

func TestConnectLocaleIsBoundIntoTheQSH(t *testing.T) {
	en := newEnv(t)
	_, body := en.get("/dev/jira/browse/DEV-1?as=user&loc=de-DE&tz=Europe%2FBerlin")
	src, err := url.Parse(elements(body, "iframe")[0]["src"])
	if err != nil {
		t.Fatal(err)
	}
	q := src.Query()
	q.Set("tz", "UTC")
	src.RawQuery = q.Encode()
	if res, _ := en.get(src.String()); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the app accepted an iframe URL whose tz was changed: status %d", res.StatusCode)
	}
}

func TestForgePagesPutTheChosenLocaleAndZoneInTheContext(t *testing.T) {
	en := newForgeEnv(t)
	for _, page := range []struct{ name, path, frame string }{
		{"issue", "/dev/forge/jira/browse/DEV-1?as=user", "secrets-panel"},
		{"confluence page", "/dev/forge/confluence/spaces/DEV/pages/123?as=user", "secrets-macro-a"},
		{"admin", "/dev/forge/jira/admin?as=admin", "secrets-admin"},
	} {
		for _, tc := range langCases {
			t.Run(page.name+"/"+tc.name, func(t *testing.T) {
				frame, ok := en.frames(page.path + tc.query)[page.frame]
				if !ok {
					t.Fatalf("no frame %s", page.frame)
				}
				status, body, _ := en.get("/dev/forge/context?frame=" + frame)
				var ctx map[string]any
				if err := json.Unmarshal([]byte(body), &ctx); err != nil || status != http.StatusOK {
					t.Fatalf("context: %d %s", status, body)
				}
				if ctx["locale"] != tc.loc || ctx["timezone"] != tc.tz {
					t.Errorf("context locale %v timezone %v, want %q %q", ctx["locale"], ctx["timezone"], tc.loc, tc.tz)
				}
			})
		}
	}
}
