package sandbox_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestLicenceSwitch: the switch changes what the dev sites report, in the
// module URLs they sign and at their licence endpoints, which answer only
// the app.
func TestLicenceSwitch(t *testing.T) {
	en := newEnv(t)
	addon := func(path string, s signer) (int, string) {
		res, body := en.do(http.MethodGet, path, "", func(r *http.Request) {
			if s != nil {
				s(en, r)
			}
		})
		return res.StatusCode, body
	}
	jiraAddon := jiraBase + "/rest/atlassian-connect/1/addons/" + jiraKey
	confAddon := confBase + "/rest/atlassian-connect/1/addons/" + confluenceKey
	check := func(active bool) {
		t.Helper()
		lic := map[bool]string{true: "lic=active", false: "lic=none"}[active]
		_, page := en.get("/dev/jira/browse/DEV-1?as=user")
		if src := elements(page, "iframe")[0]["src"]; !strings.Contains(src, "&"+lic+"&") {
			t.Errorf("module URL without %s: %s", lic, src)
		}
		// The fake app verified the signed URL and shows its query.
		if res, body := en.get(elements(page, "iframe")[0]["src"]); res.StatusCode != 200 || !strings.Contains(body, strings.TrimPrefix(lic, "lic=")) {
			t.Errorf("signed module URL: %d %s", res.StatusCode, body)
		}
		for _, tc := range []struct{ path, product, base string }{{jiraAddon, "jira", jiraBase}, {confAddon, "confluence", confBase}} {
			status, body := addon(tc.path, signed(map[string]string{"jira": jiraKey, "confluence": confluenceKey}[tc.product], tc.product, tc.base))
			want := map[bool]string{true: `"active":true`, false: `"active":false`}[active]
			if status != 200 || !strings.Contains(body, want) {
				t.Errorf("%s: %d %s, want %s", tc.path, status, body, want)
			}
		}
	}
	check(true)
	res, body := en.do(http.MethodPost, "/dev/licence", `{"active": false}`, jsonType)
	if res.StatusCode != 200 || !strings.Contains(body, `"active":false`) || en.sb.LicenceActive() {
		t.Fatalf("switching the licence off: %d %s", res.StatusCode, body)
	}
	check(false)
	if _, page := en.get("/dev/"); !strings.Contains(page, "Make the licence active") {
		t.Error("the index page does not offer to make the licence active again")
	}
	en.sb.SetLicence(true)
	check(true)

	t.Run("refusals", func(t *testing.T) {
		if status, _ := addon(jiraAddon, nil); status != http.StatusUnauthorized {
			t.Errorf("unsigned licence call: %d", status)
		}
		if status, _ := addon(jiraBase+"/rest/atlassian-connect/1/addons/someone.else", signed(jiraKey, "jira", jiraBase)); status != http.StatusNotFound {
			t.Errorf("another app's licence: %d", status)
		}
		if res, _ := en.do(http.MethodPost, "/dev/licence", `active=false`, func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }); res.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("form POST: %d", res.StatusCode)
		}
		if res, _ := en.do(http.MethodPost, "/dev/licence", `{}`, jsonType); res.StatusCode != http.StatusBadRequest {
			t.Errorf("POST without active: %d", res.StatusCode)
		}
		if !en.sb.LicenceActive() {
			t.Error("a refused switch changed the licence")
		}
	})
}

func jsonType(r *http.Request) { r.Header.Set("Content-Type", "application/json") }
