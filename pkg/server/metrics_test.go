package server_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// TestOpsMetrics: /metrics on the ops listener exposes request counts and
// latency by route, unlock outcomes, the KDF queue, tenants by state and the
// database size — and no id, user or secret.
func TestOpsMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(h *harness, d *server.Deps) {
		d.Metrics = server.NewMetrics(reg, server.MetricSources{
			KDF:           func() (int64, int64, uint64, time.Duration) { return 3, 2, 7, 1500 * time.Millisecond },
			DBSize:        h.db.Size,
			Installations: h.installs,
		})
	})
	tn := jiraTenant("acme")
	h.install(tn)
	tok := h.issueSession(tn, "1", "alice")
	id := h.newSecret(tok, "TITLE-MARKER", "c", "password-1")
	h.api("POST", "/api/secrets/"+id+"/unlock", tok, map[string]string{"password": "wrong-password"})
	h.unlock(tok, id, "password-1")

	ops := httptest.NewServer(server.OpsHandler(server.OpsDeps{
		Ready: h.db.Ping, Backup: h.db.Backup, Logger: zerolog.Nop(),
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}))
	defer ops.Close()
	res := h.get(ops.URL + "/metrics")
	b, _ := io.ReadAll(res.Body)
	body := string(b)
	for _, want := range []string{
		`secrets_http_requests_total{method="POST",route="/api/secrets/:id/unlock",status="200"} 1`,
		`secrets_http_requests_total{method="POST",route="/api/secrets/:id/unlock",status="403"} 1`,
		`secrets_http_request_duration_seconds_bucket{method="GET",route="/jira/panel"`,
		`secrets_unlocks_total{outcome="ok"} 1`,
		`secrets_unlocks_total{outcome="wrong_password"} 1`,
		`secrets_kdf_queue_depth 3`,
		`secrets_kdf_running 2`,
		`secrets_kdf_derivations_total 7`,
		`secrets_kdf_wait_seconds_total 1.5`,
		`secrets_tenants{state="installed"} 1`,
		`secrets_db_size_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, leak := range []string{id, "alice", "TITLE-MARKER", tn.clientKey, tn.secret} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics contains %q", leak)
		}
	}
}
