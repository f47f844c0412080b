package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// fakeReporter stands in for Atlassian's report endpoint: it records each
// batch, answers some accounts closed, and can rate-limit the next call.
type fakeReporter struct {
	mu      sync.Mutex
	batches [][]ReportedAccount
	closed  map[string]bool
	limit   time.Duration // >0: the next call gets a 429 with this Retry-After
	cycle   time.Duration
}

func (f *fakeReporter) ReportAccounts(_ context.Context, _ string, accounts []ReportedAccount) (ReportResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit > 0 {
		after := f.limit
		f.limit = 0
		return ReportResult{}, &RetryAfterError{After: after}
	}
	f.batches = append(f.batches, append([]ReportedAccount(nil), accounts...))
	var r ReportResult
	for _, a := range accounts {
		if f.closed[a.AccountID] {
			r.Closed = append(r.Closed, a.AccountID)
		}
	}
	r.CyclePeriod = f.cycle
	return r, nil
}

func (f *fakeReporter) reported() map[string]int {
	n := map[string]int{}
	for _, b := range f.batches {
		for _, a := range b {
			n[a.AccountID]++
		}
	}
	return n
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestPrivacyBatches: 200 accounts go out in 3 batches of at most 90, each
// once; a second pass within the cycle period reports nobody; one after it
// reports everyone again.
func TestPrivacyBatches(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		for i := range 200 {
			create(t, e, secrets.Actor{ClientKey: "site-a", AccountID: fmt.Sprintf("acct-%03d", i), Container: secrets.Container(fmt.Sprintf("jira:issue:%d", i))}, "c", "password-1")
		}
		c := &clock{time.Now()}
		e.Now = c.now
		f := &fakeReporter{}
		r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f)
		if err != nil || !r.Held || r.Reported != 200 {
			t.Fatalf("pass: %+v %v", r, err)
		}
		if len(f.batches) != 3 {
			t.Fatalf("%d batches, want 3", len(f.batches))
		}
		for _, b := range f.batches {
			if len(b) > MaxReportBatch {
				t.Fatalf("batch of %d", len(b))
			}
		}
		got := f.reported()
		if len(got) != 200 {
			t.Fatalf("%d distinct accounts reported", len(got))
		}
		for id, n := range got {
			if n != 1 {
				t.Fatalf("%s reported %d times", id, n)
			}
		}
		c.t = c.t.Add(DefaultCyclePeriod - time.Minute)
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Reported != 0 {
			t.Fatalf("within the cycle: %+v %v", r, err)
		}
		c.t = c.t.Add(2 * time.Minute)
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Reported != 200 {
			t.Fatalf("after the cycle: %+v %v", r, err)
		}
	})
}

// TestPrivacyLease: a replica that does not hold the lease reports nothing.
func TestPrivacyLease(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		a, b := replica(t, st, kr), replica(t, st, kr)
		installed(t, a, "site-a", secrets.ProductJira)
		create(t, a, alice("jira:issue:1"), "c", "password-1")
		f := &fakeReporter{}
		if r, err := a.RunPrivacyReport(ctx, "a", time.Hour, f); err != nil || !r.Held {
			t.Fatalf("A: %+v %v", r, err)
		}
		if r, err := b.RunPrivacyReport(ctx, "b", time.Hour, f); err != nil || r.Held || len(f.batches) != 1 {
			t.Fatalf("B while A holds the lease: %+v %v, %d batches", r, err, len(f.batches))
		}
	})
}

// TestPrivacyRetryAfter: after a 429 nothing is sent to the tenant before
// Retry-After has passed; then the report goes out.
func TestPrivacyRetryAfter(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		create(t, e, alice("jira:issue:1"), "c", "password-1")
		c := &clock{time.Now()}
		e.Now = c.now
		f := &fakeReporter{limit: time.Hour}
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Deferred != 1 || r.Reported != 0 {
			t.Fatalf("429: %+v %v", r, err)
		}
		c.t = c.t.Add(59 * time.Minute)
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Batches != 0 || r.Deferred != 1 {
			t.Fatalf("before Retry-After: %+v %v", r, err)
		}
		c.t = c.t.Add(2 * time.Minute)
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Reported != 1 {
			t.Fatalf("after Retry-After: %+v %v", r, err)
		}
	})
}

// TestPrivacyCyclePeriodHeader: the API's cycle period replaces the default.
func TestPrivacyCyclePeriodHeader(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		create(t, e, alice("jira:issue:1"), "c", "password-1")
		c := &clock{time.Now()}
		e.Now = c.now
		f := &fakeReporter{cycle: 24 * time.Hour}
		if _, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(25 * time.Hour)
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Reported != 1 {
			t.Fatalf("after a 1-day cycle: %+v %v", r, err)
		}
	})
}

// TestPrivacyResumes: a pass cut short (a 429 after the first batch) and a
// new engine on the same store: accounts already reported are not
// reported again before the cycle period, the rest are.
func TestPrivacyResumes(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		e := replica(t, st, kr)
		installed(t, e, "site-a", secrets.ProductJira)
		for i := range 150 {
			create(t, e, secrets.Actor{ClientKey: "site-a", AccountID: fmt.Sprintf("acct-%03d", i), Container: secrets.Container(fmt.Sprintf("jira:issue:%d", i))}, "c", "password-1")
		}
		c := &clock{time.Now()}
		e.Now = c.now
		f := &limitAfter{fakeReporter: &fakeReporter{}, ok: 1}
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Reported != MaxReportBatch || r.Deferred != 1 {
			t.Fatalf("first pass: %+v %v", r, err)
		}
		restarted := replica(t, st, kr) // the same replica, restarted
		c.t = c.t.Add(time.Minute)
		restarted.Now = c.now
		if r, err := restarted.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Reported != 150-MaxReportBatch {
			t.Fatalf("after restart: %+v %v", r, err)
		}
		for id, n := range f.reported() {
			if n != 1 {
				t.Fatalf("%s reported %d times", id, n)
			}
		}
		if len(f.reported()) != 150 {
			t.Fatalf("%d accounts reported in all", len(f.reported()))
		}
	})
}

// limitAfter answers ok calls, then one 429 with a 1-second Retry-After.
type limitAfter struct {
	*fakeReporter
	ok int
}

func (l *limitAfter) ReportAccounts(ctx context.Context, tenant string, a []ReportedAccount) (ReportResult, error) {
	if l.ok == 0 {
		l.ok = -1
		return ReportResult{}, &RetryAfterError{After: time.Second}
	}
	l.ok--
	return l.fakeReporter.ReportAccounts(ctx, tenant, a)
}

// TestPrivacyClosedErased: a closed account's id is in no record of the
// store afterwards (every record opened and searched); its secret still
// unlocks with its password; its unlock token is refused; another
// account's data is untouched.
func TestPrivacyClosedErased(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		const gone = "account-5b10ac8d82e05b22cc7d4ef5"
		closed := secrets.Actor{ClientKey: "site-a", AccountID: gone, Container: "jira:issue:1"}
		bob := secrets.Actor{ClientKey: "site-a", AccountID: "bob", Container: "jira:issue:1"}
		id := create(t, e, closed, "the content", "password-1")
		other := create(t, e, bob, "bob's", "password-2")
		u, err := e.UnlockSecret(ctx, closed, id, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		ub, err := e.UnlockSecret(ctx, bob, other, "password-2")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.UnlockSecret(ctx, closed, other, "wrong-password") // an attempt counter
		wantCode(t, err, secrets.CodeWrongPassword)
		f := &fakeReporter{closed: map[string]bool{gone: true}}
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Closed != 1 {
			t.Fatalf("pass: %+v %v", r, err)
		}
		if hits := searchStore(t, e, gone); len(hits) > 0 {
			t.Fatalf("closed account id still in: %v", hits)
		}
		if hits := searchStore(t, e, "bob"); len(hits) == 0 {
			t.Fatal("bob's id was erased too")
		}
		got, err := e.UnlockSecret(ctx, bob, id, "password-1")
		if err != nil || got.Content != "the content" || got.CreatedBy != ClosedAccount {
			t.Fatalf("unlock after erasure: %+v %v", got, err)
		}
		_, err = e.UpdateSecret(ctx, closed, id, u.UnlockToken, secrets.SecretUpdate{Title: "t", Content: "x", Version: u.Version})
		wantCode(t, err, secrets.CodeUnlockRequired)
		if _, err := e.UpdateSecret(ctx, bob, other, ub.UnlockToken, secrets.SecretUpdate{Title: "t", Content: "x", Version: ub.Version}); err != nil {
			t.Fatalf("another account's token after erasure: %v", err)
		}
		if r, err := e.Verify(ctx); err != nil || len(r.Problems) != 0 {
			t.Fatalf("verify: %v %+v", err, r)
		}
	})
}

// searchStore opens every record of every tenant and bucket (sealed ones
// with the tenant key) and returns where needle occurs in plaintext.
func searchStore(t *testing.T, e *Engine, needle string) []string {
	t.Helper()
	var hits []string
	err := e.view(ctx, func(tx store.Tx) error {
		hits = hits[:0]
		var tenants []string
		if err := tx.Tenants(func(s string) error { tenants = append(tenants, s); return nil }); err != nil {
			return err
		}
		for _, b := range store.GlobalBuckets {
			if err := tx.Scan("", b, store.Range{}, func(k, v []byte) error {
				if bytes.Contains(k, []byte(needle)) || bytes.Contains(v, []byte(needle)) {
					hits = append(hits, fmt.Sprintf("%s/%q", b, k))
				}
				return nil
			}); err != nil {
				return err
			}
		}
		for _, tn := range tenants {
			k, err := e.tenantKey(tx, tn)
			if err != nil {
				return err
			}
			for _, b := range store.TenantBuckets {
				if err := tx.Scan(tn, b, store.Range{}, func(key, v []byte) error {
					plain := v
					if ad := adFor(tn, b, key); ad != nil {
						p, err := k.Open(v, ad)
						if err != nil {
							return fmt.Errorf("cannot open %s/%x: %v", b, key, err)
						}
						plain = p
					}
					if bytes.Contains(key, []byte(needle)) || strings.Contains(string(plain), needle) {
						hits = append(hits, fmt.Sprintf("%s/%s/%x", tn, b, key))
					}
					return nil
				}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// adFor is the associated data of a sealed record holding account data
// (nil: a value not sealed with the tenant key, searched as it is; bodies
// are sealed by their data keys and hold only content).
func adFor(tenant string, b store.Bucket, key []byte) []byte {
	switch {
	case b == store.Secrets:
		return secretAD(tenant, string(key))
	case b == store.Audit:
		return auditAD(tenant, seqFromKey(key))
	case b == store.Attempts:
		return attemptAD(tenant, key)
	case b == store.Tenant && bytes.Equal(key, store.KeyMeta):
		return metaAD(tenant)
	case b == store.Tenant && bytes.Equal(key, store.KeySettings):
		return settingsAD(tenant)
	case b == store.Tenant && bytes.Equal(key, keyPrivacy):
		return privacyAD(tenant)
	}
	return nil
}

type declining struct{}

func (declining) ReportAccounts(context.Context, string, []ReportedAccount) (ReportResult, error) {
	return ReportResult{}, ErrNotReportable
}

// TestPrivacyNotReportable: a tenant the reporter declines is skipped
// without an error and without being marked reported.
func TestPrivacyNotReportable(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		create(t, e, alice("jira:issue:1"), "c", "password-1")
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, declining{}); err != nil || r.Reported != 0 {
			t.Fatalf("declined: %+v %v", r, err)
		}
		f := &fakeReporter{}
		if r, err := e.RunPrivacyReport(ctx, "a", time.Minute, f); err != nil || r.Reported != 1 {
			t.Fatalf("then a reporter that can: %+v %v", r, err)
		}
	})
}
