package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// MetricSources are the numbers the metrics read at scrape time.
type MetricSources struct {
	// KDF reports the argon2 pool: callers waiting and running, derivations
	// done, and the total time spent waiting.
	KDF func() (waiting, running int64, completed uint64, waited time.Duration)
	// DBSize is the database file's size in bytes.
	DBSize func() int64
	// Installations lists the tenants, for counts by state.
	Installations secrets.InstallationService
}

// Metrics are the Prometheus series of secretsd. Labels are route templates,
// methods, statuses and outcome codes only: never ids, users or tenants, so
// cardinality stays bounded and nothing identifying leaves the process.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	unlocks  *prometheus.CounterVec
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer, src MetricSources) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secrets_http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "secrets_http_request_duration_seconds", Help: "HTTP request latency by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		unlocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secrets_unlocks_total", Help: "Unlock attempts by outcome (ok, wrong_password, locked, unavailable, not_found, invalid, …).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.unlocks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src.KDF != nil {
		kdf := func(pick func(w, r int64, c uint64, d time.Duration) float64) func() float64 {
			return func() float64 { w, r, c, d := src.KDF(); return pick(w, r, c, d) }
		}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "secrets_kdf_queue_depth", Help: "Unlocks waiting for key-derivation memory."},
				kdf(func(w, _ int64, _ uint64, _ time.Duration) float64 { return float64(w) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "secrets_kdf_running", Help: "Key derivations running."},
				kdf(func(_, r int64, _ uint64, _ time.Duration) float64 { return float64(r) })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "secrets_kdf_derivations_total", Help: "Key derivations completed."},
				kdf(func(_, _ int64, c uint64, _ time.Duration) float64 { return float64(c) })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "secrets_kdf_wait_seconds_total", Help: "Total time spent waiting for key-derivation memory."},
				kdf(func(_, _ int64, _ uint64, d time.Duration) float64 { return d.Seconds() })),
		)
	}
	if src.DBSize != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "secrets_db_size_bytes", Help: "Size of the database file."},
			func() float64 { return float64(src.DBSize()) }))
	}
	if src.Installations != nil {
		reg.MustRegister(&tenantCollector{installs: src.Installations, desc: prometheus.NewDesc(
			"secrets_tenants", "Installations by lifecycle state.", []string{"state"}, nil)})
	}
	return m
}

// knownMethods are the request methods that get their own label value. Any
// other method is "other": the method is chosen by an unauthenticated caller,
// and every distinct label value is a new series held in memory forever.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
	http.MethodConnect: true, http.MethodTrace: true,
}

// methodLabel is the request method if it is a standard one, else "other".
func methodLabel(method string) string {
	if knownMethods[method] {
		return method
	}
	return "other"
}

// statusLabel is the response status as a label. Statuses are ours, but a
// handler that forwards one from elsewhere must not widen the set either.
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// record counts and times one request (edge calls it). A route that is not
// one the server registered is "unmatched".
func (m *Metrics) record(route, method string, status int, elapsed time.Duration, routes func(string) bool) {
	if route == "" || !routes(route) {
		route = "unmatched"
	}
	ml := methodLabel(method)
	m.requests.WithLabelValues(route, ml, statusLabel(status)).Inc()
	m.latency.WithLabelValues(route, ml).Observe(elapsed.Seconds())
}

// unlockOutcome records how an unlock ended.
func (m *Metrics) unlockOutcome(err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = string(secrets.ErrorCode(err))
	}
	m.unlocks.WithLabelValues(outcome).Inc()
}

// tenantCollector counts installations by state. Counting reads every
// installation, so a count is kept for tenantCountTTL and scrapes in
// between (and concurrent ones) share it: at 10,000 tenants a count per
// scrape was ~100 ms of CPU, and a minute-old count of installations is
// as good to an operator.
type tenantCollector struct {
	installs secrets.InstallationService
	desc     *prometheus.Desc
	now      func() time.Time

	mu     sync.Mutex
	at     time.Time
	counts map[secrets.State]int
}

const tenantCountTTL = time.Minute

func (t *tenantCollector) Describe(ch chan<- *prometheus.Desc) { ch <- t.desc }

func (t *tenantCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := t.count()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(t.desc, err)
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(t.desc, prometheus.GaugeValue, float64(n), string(state))
	}
}

// count returns the counts by state, at most tenantCountTTL old. A failed
// count is not kept: the next scrape tries again.
func (t *tenantCollector) count() (map[secrets.State]int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	if t.counts != nil && now().Sub(t.at) < tenantCountTTL {
		return t.counts, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := t.installs.ListInstallations(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[secrets.State]int{
		secrets.StateInstalled: 0, secrets.StateEnabled: 0, secrets.StateDisabled: 0, secrets.StateUninstalled: 0,
	}
	for _, inst := range list {
		counts[inst.State]++
	}
	t.counts, t.at = counts, now()
	return counts, nil
}
