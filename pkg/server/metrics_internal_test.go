package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/prometheus/client_golang/prometheus"
)

// countingInstalls answers ListInstallations from a list, counting calls.
type countingInstalls struct {
	secrets.InstallationService // nil: only ListInstallations is called
	calls                       int
	list                        []*secrets.Installation
	err                         error
}

func (c *countingInstalls) ListInstallations(context.Context) ([]*secrets.Installation, error) {
	c.calls++
	return c.list, c.err
}

// TestTenantCountIsKept: scrapes within a minute share one count of the
// installations; a later scrape counts again, and a failed count is not
// kept.
func TestTenantCountIsKept(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	src := &countingInstalls{list: []*secrets.Installation{{State: secrets.StateInstalled}, {State: secrets.StateDisabled}}}
	col := &tenantCollector{installs: src, now: func() time.Time { return now },
		desc: prometheus.NewDesc("secrets_tenants", "Installations by lifecycle state.", []string{"state"}, nil)}
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	scrape := func() string {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			return "error: " + err.Error()
		}
		var b strings.Builder
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if m.GetGauge().GetValue() > 0 {
					b.WriteString(m.GetLabel()[0].GetValue() + " ")
				}
			}
		}
		return b.String()
	}
	for range 5 {
		scrape()
	}
	if src.calls != 1 {
		t.Fatalf("5 scrapes within a minute listed the installations %d times, want 1", src.calls)
	}
	src.list = append(src.list, &secrets.Installation{State: secrets.StateUninstalled})
	now = now.Add(tenantCountTTL)
	if got := scrape(); src.calls != 2 || !strings.Contains(got, "uninstalled") {
		t.Fatalf("after a minute: %d lists, %q", src.calls, got)
	}
	src.err = errors.New("store down")
	now = now.Add(tenantCountTTL)
	if got := scrape(); !strings.HasPrefix(got, "error") {
		t.Fatalf("a failed count gave %q", got)
	}
	src.err = nil
	scrape()
	if src.calls != 4 {
		t.Fatalf("the scrape after a failure did not count again: %d lists", src.calls)
	}
}
