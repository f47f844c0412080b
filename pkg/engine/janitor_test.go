package engine

import (
	"context"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

// TestSweepBatchesTenants: a sweep deletes every expired secret of many
// tenants in a few transactions, not one per tenant, leaves the others, and
// a sweep whose time is up stops before it starts and leaves the work for
// the next pass.
func TestSweepBatchesTenants(t *testing.T) {
	seeded := scaleStore(t, 30, 20, 50) // 300 expired, 10 in each tenant
	cs := &countingStore{Store: seeded.Store()}
	e := New(cs, testKeyring(t), seeded.kdf, seeded.Policy)
	e.Now, e.JanitorShare = seeded.Now, 1

	if n, err := e.sweepExpired(ctx, time.Now().Add(-time.Second)); err != nil || n != 0 || cs.updates.Load() != 0 {
		t.Fatalf("a sweep out of time deleted %d in %d transactions (%v), want none", n, cs.updates.Load(), err)
	}
	n, err := e.SweepExpired(ctx)
	if err != nil || n != 300 {
		t.Fatalf("sweep deleted %d (%v), want 300", n, err)
	}
	if u := cs.updates.Load(); u > 2 {
		t.Errorf("300 deletions took %d write transactions, want 2 (batches of %d)", u, sweepBatch)
	}
	if n, err := e.SweepExpired(ctx); err != nil || n != 0 {
		t.Fatalf("a second sweep deleted %d (%v), want 0", n, err)
	}
	r, err := e.Verify(ctx)
	if err != nil || len(r.Problems) != 0 {
		t.Fatalf("verify after the sweep: %v %+v", err, r)
	}
	for i := range 30 {
		who := secrets.Actor{ClientKey: scaleTenant(i), AccountID: "lister", Container: "jira:issue:1"}
		if l, err := e.ListSecrets(ctx, who, secrets.ListQuery{}); err != nil || len(l.Secrets) != 10 {
			t.Fatalf("tenant %d after the sweep: %v, %v; want the 10 that had not expired", i, l, err)
		}
	}
}

// TestPacerRests: a pacer owes (1-share)/share of each step's work as rest,
// carries rests under a millisecond over instead of sleeping them, never
// rests past its deadline, and gives up its rest when the context ends.
func TestPacerRests(t *testing.T) {
	p := pacer{share: 0.1}
	if err := p.rest(ctx, 100*time.Microsecond); err != nil || p.owed != 900*time.Microsecond {
		t.Fatalf("after 100µs of work at a share of 0.1: owed %v (%v), want 900µs", p.owed, err)
	}
	// An hour's rest is cut to nothing by a deadline that has passed
	// (were it not, the test would hang), and by a context that ended.
	p = pacer{share: 0.1, until: time.Now().Add(-time.Second)}
	if err := p.rest(ctx, time.Hour); err != nil || p.owed != 0 {
		t.Fatalf("rest past the deadline: owed %v, %v", p.owed, err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	p = pacer{share: 0.1}
	if err := p.rest(done, time.Hour); err != context.Canceled {
		t.Fatalf("rest with an ended context = %v, want context.Canceled", err)
	}
	for _, share := range []float64{0, 1, 2} {
		p = pacer{share: share}
		if err := p.rest(ctx, time.Hour); err != nil || p.owed != 0 {
			t.Fatalf("share %v paced: owed %v, %v", share, p.owed, err)
		}
	}
}
