package server_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// TestUninstallRetention: an uninstalled site's data is kept and a signed
// re-install restores it; once retention has elapsed (a test clock) the
// tenant is purged and its data is gone from the file itself.
func TestUninstallRetention(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	ctx := context.Background()
	h.installs.Now = func() time.Time { return now }
	// purge is what the janitor does after retention: erase, then compact.
	purge := func() ([]string, error) {
		purged, err := h.installs.PurgeUninstalled(ctx, now.Add(-30*24*time.Hour))
		if err == nil && len(purged) > 0 {
			err = h.db.Compact(ctx)
		}
		return purged, err
	}
	tn := jiraTenant("leaving")
	stay := jiraTenant("staying")
	h.install(tn)
	h.install(stay)
	tok := h.issueSession(tn, "1", "alice")
	id := h.newSecret(tok, "TITLE-OF-LEAVER", "BODY-OF-LEAVER", "password-1")
	stayTok := h.issueSession(stay, "1", "bob")
	stayID := h.newSecret(stayTok, "kept", "kept body", "password-1")

	if res := h.lifecycle(tn, "uninstalled", tn.payload("uninstalled"), installOpts{}); res.StatusCode != 204 {
		t.Fatalf("uninstalled: %d", res.StatusCode)
	}
	wantAPI(t, h.api("GET", "/api/secrets", tok, nil), 401, "unauthorized")

	// Within retention nothing is purged, and a signed re-install restores
	// access to the same data.
	now = now.Add(29 * 24 * time.Hour)
	if purged, err := purge(); err != nil || len(purged) != 0 {
		t.Fatalf("purged within retention: %v %v", purged, err)
	}
	h.install(tn)
	tok = h.issueSession(tn, "1", "alice")
	if u := h.unlock(tok, id, "password-1"); u.str("content") != "BODY-OF-LEAVER" {
		t.Fatalf("after re-install: %s", u.raw)
	}

	// Uninstalled again, and retention elapses.
	if res := h.lifecycle(tn, "uninstalled", tn.payload("uninstalled"), installOpts{}); res.StatusCode != 204 {
		t.Fatalf("uninstalled: %d", res.StatusCode)
	}
	now = now.Add(30*24*time.Hour + time.Second)
	purged, err := purge()
	if err != nil || len(purged) != 1 || purged[0] != tn.clientKey {
		t.Fatalf("purge: %v %v", purged, err)
	}
	if h.stored(tn.clientKey) != nil {
		t.Fatal("purged tenant still registered")
	}
	raw, err := os.ReadFile(h.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{tn.clientKey, id} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the file still contains %q after the purge", s)
		}
	}
	// The other tenant is untouched, and the server keeps serving after the
	// file was compacted underneath it.
	if u := h.unlock(stayTok, stayID, "password-1"); u.str("content") != "kept body" {
		t.Fatalf("other tenant after purge: %s", u.raw)
	}
	// A fresh install of the purged site starts empty.
	h.install(tn)
	if r := h.api("GET", "/api/secrets", h.issueSession(tn, "1", "alice"), nil); len(r.body["secrets"].([]any)) != 0 {
		t.Fatalf("re-install after purge sees old data: %s", r.raw)
	}
}
