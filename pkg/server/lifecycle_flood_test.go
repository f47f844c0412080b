package server_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/server"
)

// TestLifecycleForgedInstallFlood: 300 signed-install callbacks with fresh,
// forged kids from one address make a bounded handful of fetches at the key
// server; past the per-address limit they are refused with 429 and
// Retry-After before any verification, and nothing is installed.
func TestLifecycleForgedInstallFlood(t *testing.T) {
	clk := &clock{t: time.Now()}
	h := newHarness(t, func(h *harness, d *server.Deps) { d.Now, d.InstallKeys.Now = clk.now, clk.now })
	tn := jiraTenant("victim")
	const forged = 300
	statuses := map[int]int{}
	var retryAfter string
	for i := range forged {
		kid := fmt.Sprintf("6a1f0000-0000-4000-8000-%012d", i)
		res := h.lifecycle(tn, "installed", tn.payload("installed"), installOpts{kid: kid})
		statuses[res.StatusCode]++
		if res.StatusCode == http.StatusTooManyRequests {
			retryAfter = res.Header.Get("Retry-After")
		}
		res.Body.Close()
	}
	hits := h.keyHits.Load()
	t.Logf("%d forged installs: %d key fetches, statuses %v", forged, hits, statuses)
	if hits > 10 {
		t.Errorf("%d forged installs made %d key fetches, want at most 10", forged, hits)
	}
	if statuses[http.StatusNoContent] != 0 || statuses[http.StatusInternalServerError] != 0 {
		t.Errorf("statuses %v", statuses)
	}
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Error("no callback was rate-limited")
	} else if s, err := strconv.Atoi(retryAfter); err != nil || s < 1 {
		t.Errorf("Retry-After %q", retryAfter)
	}
	if h.stored(tn.clientKey) != nil {
		t.Error("a forged install was stored")
	}
	// A minute later the budgets have refilled and the real install (its kid
	// not yet cached) goes through; while the flood lasted it got a 503 or
	// 429, which Atlassian retries.
	clk.add(time.Minute)
	h.install(tn)
}
