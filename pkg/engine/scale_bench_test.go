package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// BenchmarkListAtScale lists one issue's 20 secrets on a bbolt store that
// holds one tenant and 20 secrets, then 10,000 tenants and 1,000,000
// secrets (SECRETS_SCALE_TENANTS × 100), then the same with janitor passes
// running beside the lists, as secretsd runs them (paced, in batches),
// deleting the 1 % of secrets that have expired, back to back until one
// finds nothing left. Only the first run of the last (-count 1, as make
// bench runs it) overlaps a pass that deletes. Issue 11's target: the list's cost the same within 10 %
// from the small store to the large one, and within 5 % with the janitor
// working. Seeding a million secrets takes about a minute; the records are
// what CreateSecret writes, but one password derivation serves them all.
func BenchmarkListAtScale(b *testing.B) {
	tenants := 10_000
	if v := os.Getenv("SECRETS_SCALE_TENANTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SECRETS_SCALE_TENANTS=%q: want a count of tenants", v)
		}
		tenants = n
	}
	small := scaleStore(b, 1, 20, 0)
	b.Run("secrets=20", func(b *testing.B) { benchList(b, small, nil) })
	large := scaleStore(b, tenants, 100, 1)
	b.Run(fmt.Sprintf("secrets=%d", tenants*100), func(b *testing.B) { benchList(b, large, nil) })
	b.Run(fmt.Sprintf("secrets=%d,janitor", tenants*100), func(b *testing.B) {
		var passes, deleted, busy atomic.Int64
		benchList(b, large, func(stop <-chan struct{}) {
			for {
				select {
				case <-stop:
					return
				default:
				}
				began := time.Now()
				r, err := large.RunJanitor(ctx, "bench", time.Minute, 0)
				busy.Add(int64(time.Since(began)))
				if err != nil {
					b.Error(err)
					return
				}
				passes.Add(1)
				deleted.Add(int64(r.Expired))
				if r.Expired == 0 {
					// Nothing left: secretsd's next pass is a minute
					// away, and the lists go on without one.
					return
				}
			}
		})
		b.ReportMetric(float64(passes.Load()), "janitor-passes")
		b.ReportMetric(float64(deleted.Load()), "expired-deleted")
		b.ReportMetric(time.Duration(busy.Load()).Seconds(), "janitor-s")
	})
}

// benchList lists the first tenant's first issue, with background running
// beside it when given.
func benchList(b *testing.B, e *Engine, background func(stop <-chan struct{})) {
	who := secrets.Actor{ClientKey: scaleTenant(0), AccountID: "lister", Container: "jira:issue:1"}
	if l, err := e.ListSecrets(ctx, who, secrets.ListQuery{}); err != nil || len(l.Secrets) != 20 {
		b.Fatalf("list: %v, %v", l, err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	if background != nil {
		go func() { defer close(done); background(stop) }()
	} else {
		close(done)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.ListSecrets(ctx, who, secrets.ListQuery{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
}

func scaleTenant(i int) string { return fmt.Sprintf("scale-%06d", i) }

// scaleStore makes a bbolt store of tenants tenants with perTenant secrets
// each, 20 to an issue; expiringPct percent of each tenant's secrets (in
// its last issues) expire a second after they are written.
func scaleStore(b testing.TB, tenants, perTenant, expiringPct int) *Engine {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "secrets.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	e := replica(b, db, testKeyring(b))
	start := time.Now()
	// One derivation for every record: what the list reads does not depend
	// on it, and seeding a million would take hours.
	params, err := e.kdf.NewParams()
	if err != nil {
		b.Fatal(err)
	}
	kek, err := e.deriveKey(ctx, secrets.Actor{ClientKey: scaleTenant(0), AccountID: "seeder"}, "password-1", params)
	if err != nil {
		b.Fatal(err)
	}
	expiring := perTenant * expiringPct / 100
	for i := range tenants {
		tenant := scaleTenant(i)
		installed(b, e, tenant, secrets.ProductJira)
		if err := e.seedSecrets(ctx, tenant, perTenant, expiring, time.Now().Add(time.Second), kek, params); err != nil {
			b.Fatal(err)
		}
	}
	if tenants > 1 {
		b.Logf("seeded %d tenants, %d secrets in %s", tenants, tenants*perTenant, time.Since(start).Round(time.Second))
	}
	if expiring > 0 {
		// Let the expiring ones expire, by the engine's clock.
		e.Now = func() time.Time { return time.Now().Add(2 * time.Second) }
	}
	return e
}
