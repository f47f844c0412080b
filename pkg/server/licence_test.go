package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/forge/platform"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/rs/zerolog"
)

// newLicensedHarness is a Connect harness with licensing on. Its licence
// checker asks the host on every page load and refresh, so a test changes
// a site's licence by telling the fake host.
func newLicensedHarness(t *testing.T) *harness {
	return newHarness(t, func(h *harness, d *server.Deps) {
		h.configure = func(c *server.Config) { c.Licensing = true }
		d.Licences = &connect.LicenceChecker{Client: h.host.client(), TTL: time.Nanosecond}
	})
}

func siteHost(tn tenant) string {
	u, _ := url.Parse(tn.baseURL)
	return u.Host
}

// withLic is a module query with the host's lic parameter set to v.
func withLic(q, v string) string { return strings.Replace(q, "lic=none", "lic="+v, 1) }

// licenceCase is what every licence test checks in one mode: with the
// licence inactive, create, edit and password change are refused with 403
// licence_inactive, while list, unlock, lock and delete work.
type licenceCase struct {
	api    func(method, path string, body any, headers ...string) apiResult
	prefix string // "/api" or "/forge/api"
}

func (lc licenceCase) checkInactive(t *testing.T, id, password string) {
	t.Helper()
	base := lc.prefix + "/secrets/" + id
	r := lc.api("POST", lc.prefix+"/secrets", map[string]string{"title": "New", "content": "c", "password": "password-new-1"})
	wantAPI(t, r, http.StatusForbidden, "licence_inactive")
	if msg, _ := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "licence") || !strings.Contains(msg, "deleted") {
		t.Errorf("refusal message does not explain itself: %q", msg)
	}
	if r := lc.api("GET", lc.prefix+"/secrets", nil); r.status != http.StatusOK || !strings.Contains(r.raw, id) {
		t.Fatalf("list with an inactive licence: %d %s", r.status, r.raw)
	}
	u := lc.api("POST", base+"/unlock", map[string]string{"password": password})
	if u.status != http.StatusOK || u.str("content") != "the body" {
		t.Fatalf("unlock with an inactive licence: %d %s", u.status, u.raw)
	}
	ut := u.str("unlockToken")
	wantAPI(t, lc.api("PUT", base, map[string]any{"title": "Edited", "content": "new", "version": 1}, "X-Unlock-Token", ut), http.StatusForbidden, "licence_inactive")
	wantAPI(t, lc.api("PUT", base+"/password", map[string]string{"password": "password-new-2"}, "X-Unlock-Token", ut), http.StatusForbidden, "licence_inactive")
	// Nothing was changed by the refused writes.
	if u := lc.api("POST", base+"/unlock", map[string]string{"password": password}); u.status != http.StatusOK || u.str("content") != "the body" || u.body["version"] != float64(1) {
		t.Fatalf("after refused writes: %d %s", u.status, u.raw)
	}
	wantAPI(t, lc.api("POST", base+"/lock", nil, "X-Unlock-Token", ut), http.StatusNoContent, "")
	ut = lc.api("POST", base+"/unlock", map[string]string{"password": password}).str("unlockToken")
	wantAPI(t, lc.api("DELETE", base, nil, "X-Unlock-Token", ut), http.StatusNoContent, "")
	wantAPI(t, lc.api("POST", base+"/unlock", map[string]string{"password": password}), http.StatusNotFound, "not_found")
}

// TestLicenceConnect: in Connect mode the licence the host confirms
// decides; the lic parameter alone does not.
func TestLicenceConnect(t *testing.T) {
	h := newLicensedHarness(t)
	for _, tn := range []tenant{jiraTenant("paid"), confluenceTenant("paidwiki")} {
		t.Run(string(tn.product), func(t *testing.T) {
			h.install(tn)
			path, query := "/jira/panel", issuePanelQuery("1")
			if tn.product == "confluence" {
				path, query = "/confluence/macro", macroQuery("1", "m")
			}
			h.host.setLicence(siteHost(tn), true)
			active := h.session(tn, path, withLic(query, "active"), "alice")
			id := h.newSecret(active, "Prod DB", "the body", "password-1")

			h.host.setLicence(siteHost(tn), false)
			// The host's hint says active, the licence endpoint says not:
			// the endpoint wins.
			token := h.session(tn, path, withLic(query, "active"), "alice")
			licenceCase{prefix: "/api", api: func(m, p string, b any, hs ...string) apiResult { return h.api(m, p, token, b, hs...) }}.checkInactive(t, id, "password-1")

			admin := h.adminSession(tn, "admin-1")
			if r := h.api("GET", "/api/admin/licence", admin, nil); r.status != 200 || r.body["state"] != "inactive" || r.body["licensing"] != true {
				t.Errorf("admin licence state: %d %s", r.status, r.raw)
			}
			if r := h.api("GET", "/api/admin/licence", token, nil); r.status != http.StatusForbidden {
				t.Errorf("licence state from a panel session: %d %s", r.status, r.raw)
			}

			// The licence is bought again: the next page load may write.
			h.host.setLicence(siteHost(tn), true)
			again := h.session(tn, path, withLic(query, "active"), "alice")
			h.newSecret(again, "Back", "c", "password-1")
		})
	}
}

// TestLicenceConnectRefresh: an open page follows the licence when its
// session is refreshed, both ways.
func TestLicenceConnectRefresh(t *testing.T) {
	h := newLicensedHarness(t)
	tn := jiraTenant("refresh")
	h.install(tn)
	h.host.setLicence(siteHost(tn), true)
	token := h.session(tn, "/jira/panel", withLic(issuePanelQuery("1"), "active"), "alice")

	h.host.setLicence(siteHost(tn), false)
	r := h.api("POST", "/api/session/refresh", token, nil)
	wantAPI(t, r, http.StatusOK, "")
	lapsed := r.str("token")
	wantAPI(t, h.api("POST", "/api/secrets", lapsed, map[string]string{"title": "t", "content": "c", "password": "password-1"}), http.StatusForbidden, "licence_inactive")

	h.host.setLicence(siteHost(tn), true)
	renewed := h.api("POST", "/api/session/refresh", lapsed, nil).str("token")
	h.newSecret(renewed, "t", "c", "password-1")
}

// TestLicenceConnectOff: with licensing off (the default) the host is
// never asked and lic=none refuses nothing; the descriptor says so.
func TestLicenceConnectOff(t *testing.T) {
	h := newHarness(t)
	tn := jiraTenant("free")
	h.install(tn)
	token := h.issueSession(tn, "1", "alice") // hostParams carry lic=none
	h.newSecret(token, "t", "c", "password-1")
	for _, c := range h.host.recorded() {
		if strings.Contains(c.path, "/atlassian-connect/") {
			t.Errorf("licensing off, yet the host was asked: %s %s", c.method, c.path)
		}
	}
	if r := h.api("GET", "/api/admin/licence", h.adminSession(tn, "admin-1"), nil); r.body["licensing"] != false {
		t.Errorf("admin licence state with licensing off: %s", r.raw)
	}
	d := readBody(h.get(h.baseURL + "/jira/atlassian-connect.json"))
	if !strings.Contains(d, `"enableLicensing": false`) {
		t.Errorf("descriptor without licensing: %s", d)
	}
	on := newLicensedHarness(t)
	if d := readBody(on.get(on.baseURL + "/confluence/atlassian-connect.json")); !strings.Contains(d, `"enableLicensing": true`) {
		t.Errorf("descriptor with licensing: %s", d)
	}
}

// TestLicenceForge: in Forge mode the verified invocation token's
// app.license decides.
func TestLicenceForge(t *testing.T) {
	f := buildForgeHarness(t, zerolog.Nop(), func(d *server.Deps) { d.Forge.Licensing = true })
	yes, no := true, false
	prod := func(l *bool) platform.Install {
		in := f.jiraInstall()
		in.EnvType, in.License = "PRODUCTION", l
		return in
	}
	as := func(in platform.Install, inv platform.Invocation) func(string, string, any, ...string) apiResult {
		return func(m, p string, b any, hs ...string) apiResult {
			return f.call(m, p, f.mint(in, inv), inv.Principal, b, hs...)
		}
	}
	create := func(in platform.Install) apiResult {
		return as(in, panel(alice, "10001"))("POST", "/forge/api/secrets", map[string]string{"title": "Staging DB", "content": "the body", "password": pw})
	}

	c := create(prod(&yes))
	wantAPI(t, c, http.StatusCreated, "")
	t.Run("inactive", func(t *testing.T) {
		licenceCase{prefix: "/forge/api", api: as(prod(&no), panel(alice, "10001"))}.checkInactive(t, c.str("id"), pw)
	})
	t.Run("production without a licence", func(t *testing.T) {
		wantAPI(t, create(prod(nil)), http.StatusForbidden, "licence_inactive")
	})
	t.Run("development carries none", func(t *testing.T) {
		wantAPI(t, create(f.jiraInstall()), http.StatusCreated, "")
	})
	t.Run("admin page", func(t *testing.T) {
		r := as(prod(&no), adminPage(alice))("GET", "/forge/api/admin/licence", nil)
		if r.status != 200 || r.body["state"] != "inactive" {
			t.Errorf("admin licence state: %d %s", r.status, r.raw)
		}
		if r := as(prod(&yes), adminPage(alice))("GET", "/forge/api/admin/licence", nil); r.body["state"] != "active" {
			t.Errorf("admin licence state: %s", r.raw)
		}
	})
	t.Run("licensing off", func(t *testing.T) {
		off := newForgeHarness(t)
		in := off.jiraInstall()
		in.EnvType, in.License = "PRODUCTION", &no
		r := off.call("POST", "/forge/api/secrets", off.mint(in, panel(alice, "10001")), alice, map[string]string{"title": "t", "content": "c", "password": pw})
		wantAPI(t, r, http.StatusCreated, "")
	})
}
