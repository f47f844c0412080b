package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/prometheus/client_golang/prometheus"
)

// httpSeries counts the series of the secrets_http_* families in reg.
func httpSeries(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "secrets_http_") {
			n += len(mf.GetMetric())
		}
	}
	return n
}

// TestMetricsCardinalityBounded: an unauthenticated caller inventing request
// methods and paths must not mint new series. Every label value comes from a
// fixed set: known methods or "other", route templates or "unmatched".
func TestMetricsCardinalityBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(h *harness, d *server.Deps) {
		d.Metrics = server.NewMetrics(reg, server.MetricSources{
			KDF: func() (int64, int64, uint64, time.Duration) { return 0, 0, 0, 0 },
		})
	})
	send := func(method, path string) {
		req, err := http.NewRequest(method, h.baseURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.do(req).Body.Close()
	}
	// One of each kind first, so the baseline already holds the "other" and
	// "unmatched" series.
	send("GET", "/jira/atlassian-connect.json")
	send("BREW", "/jira/atlassian-connect.json")
	send("GET", "/no/such/path")
	send("BREW", "/no/such/path")
	send("POST", "/api/secrets/x/nothing")
	before := httpSeries(t, reg)

	const n = 300
	for i := range n {
		send(fmt.Sprintf("M%dX", i), "/jira/atlassian-connect.json")
		send("GET", fmt.Sprintf("/invented/%d", i))
		send(fmt.Sprintf("Q%d", i), fmt.Sprintf("/api/secrets/%d/zz%d", i, i))
		send("DELETE", fmt.Sprintf("/static/%d", i))
	}
	after := httpSeries(t, reg)
	t.Logf("series: %d before, %d after %d invented requests", before, after, 4*n)
	// A few new (route, method, status) triples of fixed values may appear
	// (DELETE on an unmatched path); invented values may not.
	if after > before+8 {
		t.Fatalf("series grew from %d to %d after %d invented methods and paths", before, after, 4*n)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "invented") || strings.HasPrefix(l.GetValue(), "M1") {
					t.Fatalf("label %s=%q came from the request", l.GetName(), l.GetValue())
				}
			}
		}
	}
}
