package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

var ctx = context.Background()

// backends lists the stores the engine's tests run on; each returns a
// fresh, empty store. PostgreSQL joins it in backends_postgres_test.go.
var backends = map[string]func(t *testing.T) store.Store{
	"bolt": func(t *testing.T) store.Store {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "secrets.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	},
}

// each runs fn once per backend.
func each(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
}

func testKeyring(t testing.TB) *seal.Keyring {
	t.Helper()
	kr, err := seal.ParseKeyring([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// replica returns an engine on st, as one secretsd process would be.
func replica(t testing.TB, st store.Store, kr *seal.Keyring) *Engine {
	t.Helper()
	kdf, err := seal.NewKDF(8*int64(seal.MinKDFParams.Memory)*1024, seal.MinKDFParams)
	if err != nil {
		t.Fatal(err)
	}
	return New(st, kr, kdf, secrets.DefaultPolicy())
}

func installed(t testing.TB, e *Engine, clientKey string, p secrets.Product) {
	t.Helper()
	now := time.Now()
	err := e.SaveInstallation(ctx, &secrets.Installation{
		ClientKey: clientKey, Product: p, SharedSecret: "s", State: secrets.StateInstalled,
		InstalledAt: now.Add(-time.Hour), UpdatedAt: now, TokensValidFrom: now.Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func alice(container string) secrets.Actor {
	return secrets.Actor{ClientKey: "site-a", AccountID: "alice", Container: secrets.Container(container)}
}

func wantCode(t *testing.T, err error, want secrets.Code) {
	t.Helper()
	if got := secrets.ErrorCode(err); got != want {
		t.Fatalf("got %q (%v), want %q", got, err, want)
	}
}

func create(t *testing.T, e *Engine, a secrets.Actor, content, password string) string {
	t.Helper()
	s, err := e.CreateSecret(ctx, a, secrets.NewSecret{Title: "db", Content: content, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// TestReplicas: an unlock made on one replica works on another; an edit on
// a third; a lock on any revokes it everywhere.
func TestReplicas(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		a, b, c := replica(t, st, kr), replica(t, st, kr), replica(t, st, kr)
		installed(t, a, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		id := create(t, a, who, "body", "password-1")

		u, err := a.UnlockSecret(ctx, who, id, "password-1")
		if err != nil || u.Content != "body" {
			t.Fatalf("unlock on A: %v %+v", err, u)
		}
		u2, err := b.UpdateSecret(ctx, who, id, u.UnlockToken, secrets.SecretUpdate{Title: "db", Content: "edited", Version: 1})
		if err != nil {
			t.Fatalf("edit on B with A's token: %v", err)
		}
		// A's token was for version 1: dead by construction.
		_, err = c.UpdateSecret(ctx, who, id, u.UnlockToken, secrets.SecretUpdate{Title: "db", Content: "x", Version: 2})
		wantCode(t, err, secrets.CodeConflict)
		// Lock on C ends B's fresh token on A.
		if err := c.LockSecret(ctx, who, id, u2.UnlockToken); err != nil {
			t.Fatal(err)
		}
		wantCode(t, a.DeleteSecret(ctx, who, id, u2.UnlockToken), secrets.CodeUnlockRequired)
		u3, err := a.UnlockSecret(ctx, who, id, "password-1")
		if err != nil || u3.Content != "edited" {
			t.Fatalf("re-unlock: %v", err)
		}
		if err := c.DeleteSecret(ctx, who, id, u3.UnlockToken); err != nil {
			t.Fatal(err)
		}
		_, err = b.UnlockSecret(ctx, who, id, "password-1")
		wantCode(t, err, secrets.CodeNotFound)
	})
}

// TestDecodedCacheFollowsStore: the list serves decoded records only while
// the store holds the bytes they came from: another replica's edit shows at
// once, a record's bytes swapped for another's fail to open instead of
// showing what was cached, and a disabled site is refused although its
// installation was cached while it was enabled.
func TestDecodedCacheFollowsStore(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		a, b := replica(t, st, kr), replica(t, st, kr)
		installed(t, a, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		id := create(t, a, who, "body", "password-1")
		other := create(t, a, who, "other", "password-1")
		titles := func() []string {
			t.Helper()
			l, err := a.ListSecrets(ctx, who, secrets.ListQuery{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range l.Secrets {
				out = append(out, m.Title)
			}
			return out
		}
		titles() // A has both decoded now
		u, err := b.UnlockSecret(ctx, who, id, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.UpdateSecret(ctx, who, id, u.UnlockToken, secrets.SecretUpdate{Title: "renamed on B", Content: "x", Version: 1}); err != nil {
			t.Fatal(err)
		}
		if got := titles(); !slices.Contains(got, "renamed on B") {
			t.Fatalf("A lists %q after B's edit", got)
		}

		// Someone with the database puts one record's bytes under the other's
		// id. That is no engine write, so no new list version: the kept first
		// page may still be served, for at most listPageMaxAge; then the
		// records are checked again and the swap is caught.
		if err := st.Update(ctx, func(tx store.Tx) error {
			v, err := tx.Get("site-a", store.Secrets, []byte(other))
			if err != nil {
				return err
			}
			return tx.Put("site-a", store.Secrets, []byte(id), v)
		}); err != nil {
			t.Fatal(err)
		}
		a.Now = func() time.Time { return time.Now().Add(listPageMaxAge) }
		_, err = a.ListSecrets(ctx, who, secrets.ListQuery{})
		wantCode(t, err, secrets.CodeInternal)

		if err := b.SetInstallationState(ctx, "site-a", secrets.StateDisabled, time.Now()); err != nil {
			t.Fatal(err)
		}
		_, err = a.ListSecrets(ctx, who, secrets.ListQuery{})
		wantCode(t, err, secrets.CodeUnauthorized)
	})
}

// TestKeptListPage: a container's first page is kept between requests,
// and every change to the container, made on any replica, is on the next
// list: a create, an edit, a delete, and a secret's expiry, which is no
// write at all.
func TestKeptListPage(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		a, b := replica(t, st, kr), replica(t, st, kr)
		installed(t, a, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		titles := func(q secrets.ListQuery) []string {
			t.Helper()
			l, err := a.ListSecrets(ctx, who, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range l.Secrets {
				out = append(out, m.Title)
			}
			return out
		}
		first, err := b.CreateSecret(ctx, who, secrets.NewSecret{Title: "first", Content: "x", Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		l1, err := a.ListSecrets(ctx, who, secrets.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if l2, err := a.ListSecrets(ctx, who, secrets.ListQuery{}); err != nil || l2 != l1 {
			t.Fatalf("second list: %p %v, want the kept page %p", l2, err, l1)
		}
		// An expiring secret, created on B.
		soon := time.Now().Add(time.Hour)
		if _, err := b.CreateSecret(ctx, who, secrets.NewSecret{Title: "expiring", Content: "x", Password: "password-1", ExpiresAt: soon}); err != nil {
			t.Fatal(err)
		}
		if got := titles(secrets.ListQuery{}); !slices.Equal(got, []string{"first", "expiring"}) {
			t.Fatalf("after B's create, A lists %q", got)
		}
		u, err := b.UnlockSecret(ctx, who, first.ID, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.UpdateSecret(ctx, who, first.ID, u.UnlockToken, secrets.SecretUpdate{Title: "renamed", Content: "y", Version: 1}); err != nil {
			t.Fatal(err)
		}
		if got := titles(secrets.ListQuery{}); !slices.Equal(got, []string{"renamed", "expiring"}) {
			t.Fatalf("after B's edit, A lists %q", got)
		}
		// A smaller page is a page of its own, not the kept one cut.
		if got := titles(secrets.ListQuery{Limit: 1}); !slices.Equal(got, []string{"renamed"}) {
			t.Fatalf("limit 1: %q", got)
		}
		// Expiry changes the list with no write.
		a.Now = func() time.Time { return soon }
		if got := titles(secrets.ListQuery{}); !slices.Equal(got, []string{"renamed"}) {
			t.Fatalf("at the expiry, A lists %q", got)
		}
		a.Now = time.Now
		u, err = b.UnlockSecret(ctx, who, first.ID, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.DeleteSecret(ctx, who, first.ID, u.UnlockToken); err != nil {
			t.Fatal(err)
		}
		if got := titles(secrets.ListQuery{}); !slices.Equal(got, []string{"expiring"}) {
			t.Fatalf("after B's delete, A lists %q", got)
		}
		// Another container's list is its own.
		if l, err := a.ListSecrets(ctx, alice("jira:issue:2"), secrets.ListQuery{}); err != nil || len(l.Secrets) != 0 {
			t.Fatalf("issue 2 lists %v %v", l, err)
		}
	})
}

// TestUnlockTokenBinding: a token works only for its user, container,
// secret and tenant.
func TestUnlockTokenBinding(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		installed(t, e, "site-b", secrets.ProductJira)
		who := alice("jira:issue:1")
		id := create(t, e, who, "body", "password-1")
		other := create(t, e, who, "other", "password-1")
		u, err := e.UnlockSecret(ctx, who, id, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		bob := who
		bob.AccountID = "bob"
		wantCode(t, e.DeleteSecret(ctx, bob, id, u.UnlockToken), secrets.CodeUnlockRequired)
		wantCode(t, e.DeleteSecret(ctx, who, other, u.UnlockToken), secrets.CodeUnlockRequired)
		elsewhere := alice("jira:issue:2")
		wantCode(t, e.DeleteSecret(ctx, elsewhere, id, u.UnlockToken), secrets.CodeNotFound)
		siteB := who
		siteB.ClientKey = "site-b"
		wantCode(t, e.DeleteSecret(ctx, siteB, id, u.UnlockToken), secrets.CodeNotFound)
		tampered := u.UnlockToken[:len(u.UnlockToken)-2] + "AA"
		wantCode(t, e.DeleteSecret(ctx, who, id, tampered), secrets.CodeUnlockRequired)
		e.Now = func() time.Time { return time.Now().Add(11 * time.Minute) }
		wantCode(t, e.DeleteSecret(ctx, who, id, u.UnlockToken), secrets.CodeUnlockRequired)
	})
}

// TestPasswordChangeNewDataKey: after a password change, the old record and
// the old password open nothing written after it, and old tokens die.
func TestPasswordChangeNewDataKey(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		id := create(t, e, who, "before", "password-1")
		var oldRec []byte
		_ = st.View(ctx, func(tx store.Tx) error { oldRec, _ = tx.Get("site-a", store.Secrets, []byte(id)); return nil })
		u, _ := e.UnlockSecret(ctx, who, id, "password-1")
		u2, err := e.ChangePassword(ctx, who, id, u.UnlockToken, "password-2")
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.LockSecret(ctx, who, id, u.UnlockToken), "") // idempotent
		_, err = e.UpdateSecret(ctx, who, id, u.UnlockToken, secrets.SecretUpdate{Title: "db", Content: "x", Version: 1})
		wantCode(t, err, secrets.CodeUnlockRequired)
		u3, err := e.UpdateSecret(ctx, who, id, u2.UnlockToken, secrets.SecretUpdate{Title: "db", Content: "after", Version: 1})
		if err != nil {
			t.Fatal(err)
		}
		_ = u3
		// The old record's DEK, opened with the old password, does not open
		// the new body.
		var rec secretRecord
		var body []byte
		if err := st.View(ctx, func(tx store.Tx) error {
			k, err := e.tenantKey(tx, "site-a")
			if err != nil {
				return err
			}
			body, _ = tx.Get("site-a", store.Bodies, []byte(id))
			return openJSON(k, "site-a", oldRec, secretAD("site-a", id), &rec)
		}); err != nil {
			t.Fatal(err)
		}
		dek, err := e.unwrapDEK(ctx, who, "password-1", &rec)
		if err != nil {
			t.Fatal(err)
		}
		rec.Version = 2
		if _, err := openBody(dek, body, &rec, "site-a"); err == nil {
			t.Fatal("the old password's data key opened content written after the change")
		}
		got, err := e.UnlockSecret(ctx, who, id, "password-2")
		if err != nil || got.Content != "after" {
			t.Fatalf("new password: %v", err)
		}
	})
}

// TestLockoutAcrossReplicas: parallel wrong passwords spread over replicas
// admit exactly the threshold before the lockout.
func TestLockoutAcrossReplicas(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		reps := []*Engine{replica(t, st, kr), replica(t, st, kr), replica(t, st, kr)}
		installed(t, reps[0], "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		id := create(t, reps[0], who, "body", "password-1")
		var mu sync.Mutex
		codes := map[secrets.Code]int{}
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				_, err := reps[i%3].UnlockSecret(ctx, who, id, "wrong-password")
				mu.Lock()
				codes[secrets.ErrorCode(err)]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[secrets.CodeWrongPassword] != 5 || codes[secrets.CodeLocked] != 7 {
			t.Fatalf("codes %v, want 5 wrong_password and 7 locked", codes)
		}
		// Another user is not locked out.
		bob := who
		bob.AccountID = "bob"
		if _, err := reps[1].UnlockSecret(ctx, bob, id, "password-1"); err != nil {
			t.Fatalf("bob: %v", err)
		}
	})
}

// TestBusyKDFTakesAttemptBack: an attempt counted but never tried (the key
// derivation queue refused it) does not count against the user.
func TestBusyKDFTakesAttemptBack(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		id := create(t, e, who, "body", "password-1")
		e.KDFWait = time.Nanosecond
		for range 6 {
			_, err := e.UnlockSecret(ctx, who, id, "wrong-password")
			wantCode(t, err, secrets.CodeUnavailable)
		}
		e.KDFWait = 30 * time.Second
		_, err := e.UnlockSecret(ctx, who, id, "wrong-password")
		var se *secrets.Error
		if !errors.As(err, &se) || se.Code != secrets.CodeWrongPassword || se.AttemptsLeft == nil || *se.AttemptsLeft != 4 {
			t.Fatalf("after refused derivations: %v", err)
		}
	})
}

// countingStore counts write transactions.
type countingStore struct {
	store.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

// TestFullKDFQueueRefusesBeforeWriting: an unlock the derivation queue
// refuses is a 429 that writes nothing (no attempt counted and taken back),
// so a flood of refused unlocks cannot tie up the store's writes that the
// admitted ones need; and the user's attempts are untouched.
func TestFullKDFQueueRefusesBeforeWriting(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		cs := &countingStore{Store: st}
		kdf, err := seal.NewKDF(int64(seal.MinKDFParams.Memory)*1024, seal.MinKDFParams, seal.WithQueueLimits(1, 16, 256))
		if err != nil {
			t.Fatal(err)
		}
		e := New(cs, testKeyring(t), kdf, secrets.DefaultPolicy())
		installed(t, e, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		id := create(t, e, who, "body", "password-1")

		// One long derivation holds the whole budget; one of alice's waits
		// behind it, which is her whole share of the queue.
		long := seal.MinKDFParams
		long.Time, long.Salt = 64, make([]byte, 16) // the most allowed: about a second
		held := make(chan error, 1)
		go func() {
			_, err := kdf.DeriveKeyFor(ctx, seal.Requester{Tenant: "site-b", User: "bob"}, []byte("pw"), long)
			held <- err
		}()
		for kdf.Stats().Running == 0 {
			select {
			case err := <-held:
				t.Fatalf("the long derivation did not run: %v", err)
			default:
				runtime.Gosched()
			}
		}
		queuedCtx, cancelQueued := context.WithCancel(ctx)
		queued := make(chan error, 1)
		short := seal.MinKDFParams
		short.Salt = make([]byte, 16)
		go func() {
			_, err := kdf.DeriveKeyFor(queuedCtx, seal.Requester{Tenant: "site-a", User: "alice"}, []byte("pw"), short)
			queued <- err
		}()
		for kdf.Stats().Waiting == 0 {
			select {
			case err := <-queued:
				t.Fatalf("alice's derivation did not queue: %v", err)
			default:
				runtime.Gosched()
			}
		}

		before := cs.updates.Load()
		uctx := seal.WithRequester(ctx, seal.Requester{Tenant: "site-a", User: "alice"})
		_, err = e.UnlockSecret(uctx, who, id, "password-1")
		wantCode(t, err, secrets.CodeRateLimited)
		if n := cs.updates.Load() - before; n != 0 {
			t.Errorf("a refused unlock ran %d write transactions, want none", n)
		}
		if kdf.Stats().Running != 1 {
			t.Fatal("the long derivation ended before the refused unlock was checked; the test proves nothing")
		}

		cancelQueued()
		<-queued
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		_, err = e.UnlockSecret(uctx, who, id, "wrong-password")
		var se *secrets.Error
		if !errors.As(err, &se) || se.Code != secrets.CodeWrongPassword || se.AttemptsLeft == nil || *se.AttemptsLeft != 4 {
			t.Fatalf("after the refused unlock: %v", err)
		}
	})
}

// TestGuessingAcrossAccounts: guesses from many accounts hit a per-secret
// ceiling and raise an audit alert.
func TestGuessingAcrossAccounts(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		owner := alice("jira:issue:1")
		id := create(t, e, owner, "body", "password-1")
		locked := false
		for i := range 30 {
			guesser := owner
			guesser.AccountID = fmt.Sprintf("guesser-%d", i)
			_, err := e.UnlockSecret(ctx, guesser, id, "wrong-password")
			if secrets.ErrorCode(err) == secrets.CodeLocked {
				locked = true
				break
			}
		}
		if !locked {
			t.Fatal("30 accounts guessed without a secret-wide lockout")
		}
		page, err := e.AuditLog(ctx, "site-a", secrets.AuditQuery{Type: secrets.EventGuessingSuspected})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("alert events: %v %+v", err, page)
		}
		all, err := e.FindAllSecrets(ctx, "site-a", secrets.SecretQuery{})
		if err != nil || all.Secrets[0].FailingAccounts < alertAccounts || !all.Secrets[0].Locked {
			t.Fatalf("admin view: %v %+v", err, all)
		}
		if err := e.ResetLockout(ctx, "site-a", "admin", id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.UnlockSecret(ctx, owner, id, "password-1"); err != nil {
			t.Fatalf("after reset: %v", err)
		}
	})
}

// TestCorrectUnlocksNeverLock: a team unlocking a secret with its right
// password many times a day is neither locked out by the secret-wide
// ceiling nor reported as guessing; the ceiling counts failures only.
func TestCorrectUnlocksNeverLock(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		owner := alice("jira:issue:1")
		id := create(t, e, owner, "body", "password-1")
		ceiling := secretCeiling(secrets.DefaultPolicy())
		for i := range ceiling + 5 {
			who := owner
			who.AccountID = fmt.Sprintf("teammate-%d", i%3)
			if _, err := e.UnlockSecret(ctx, who, id, "password-1"); err != nil {
				t.Fatalf("correct unlock %d of %d (ceiling %d): %v", i+1, ceiling+5, ceiling, err)
			}
		}
		page, err := e.AuditLog(ctx, "site-a", secrets.AuditQuery{Type: secrets.EventGuessingSuspected})
		if err != nil || len(page.Events) != 0 {
			t.Fatalf("correct unlocks raised a guessing alert: %v %+v", err, page)
		}
		// One wrong guess each from three accounts still does.
		for i := range 3 {
			who := owner
			who.AccountID = fmt.Sprintf("teammate-%d", i)
			_, err := e.UnlockSecret(ctx, who, id, "wrong-password")
			wantCode(t, err, secrets.CodeWrongPassword)
		}
		page, err = e.AuditLog(ctx, "site-a", secrets.AuditQuery{Type: secrets.EventGuessingSuspected})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("three failing accounts: %v %+v", err, page)
		}
	})
}

// TestLifecycleOrdering: the rules decided inside one transaction.
func TestLifecycleOrdering(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		t0 := time.Now().Truncate(time.Second)
		ev := func(iat time.Time, token, body string) secrets.SignedEvent {
			return secrets.SignedEvent{IssuedAt: iat, ExpiresAt: iat.Add(3 * time.Minute), TokenID: [32]byte([]byte(fmt.Sprintf("%-32s", token))), BodyHash: [32]byte([]byte(fmt.Sprintf("%-32s", body)))}
		}
		inst := func(secret string) *secrets.Installation {
			return &secrets.Installation{ClientKey: "site-a", Product: secrets.ProductJira, SharedSecret: secret, State: secrets.StateInstalled, InstalledAt: t0, UpdatedAt: t0}
		}
		if _, err := e.Install(ctx, inst("first"), ev(t0, "tok1", "body1")); err != nil {
			t.Fatal(err)
		}
		// The very same request again: accepted, nothing changes.
		if _, err := e.Install(ctx, inst("first"), ev(t0, "tok1", "body1")); err != nil {
			t.Fatalf("retry: %v", err)
		}
		// The same token with an attacker's body: refused.
		_, err := e.Install(ctx, inst("attacker"), ev(t0, "tok1", "body2"))
		wantCode(t, err, secrets.CodeUnauthorized)
		// A different token signed in the same second: not newer.
		_, err = e.Install(ctx, inst("attacker"), ev(t0, "tok2", "body2"))
		wantCode(t, err, secrets.CodeUnauthorized)
		// Another product's callback on this tenant.
		wantCode(t, e.Uninstall(ctx, "site-a", secrets.ProductConfluence, ev(t0.Add(time.Second), "u1", "b")), secrets.CodeForbidden)
		if got, _ := e.FindInstallation(ctx, "site-a"); got.SharedSecret != "first" || got.State != secrets.StateInstalled {
			t.Fatalf("after refused events: %+v", got)
		}
		// Uninstall, then a late disabled: still uninstalled, with its time.
		if err := e.Uninstall(ctx, "site-a", secrets.ProductJira, ev(t0.Add(time.Second), "u1", "b")); err != nil {
			t.Fatal(err)
		}
		if err := e.SetInstallationState(ctx, "site-a", secrets.StateDisabled, time.Now()); err != nil {
			t.Fatal(err)
		}
		got, _ := e.FindInstallation(ctx, "site-a")
		if got.State != secrets.StateUninstalled || got.UninstalledAt.IsZero() {
			t.Fatalf("late disabled: %+v", got)
		}
		// A re-install, then the old uninstall replayed: refused.
		if _, err := e.Install(ctx, inst("second"), ev(t0.Add(2*time.Second), "tok3", "body3")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.Uninstall(ctx, "site-a", secrets.ProductJira, ev(t0.Add(time.Second), "u1", "b")), secrets.CodeUnauthorized)
		if got, _ := e.FindInstallation(ctx, "site-a"); got.State != secrets.StateInstalled {
			t.Fatalf("replayed uninstall: %+v", got)
		}
	})
}

// TestLifecycleRace: a disabled racing an uninstalled never leaves the
// tenant disabled without an uninstall time.
func TestLifecycleRace(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		for i := range 20 {
			a, b := replica(t, st, kr), replica(t, st, kr)
			ck := fmt.Sprintf("site-%d", i)
			if err := a.SaveInstallation(ctx, &secrets.Installation{ClientKey: ck, Product: secrets.ProductJira, State: secrets.StateInstalled}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Go(func() { _ = a.Uninstall(ctx, ck, secrets.ProductJira, secrets.SignedEvent{IssuedAt: time.Now()}) })
			wg.Go(func() { _ = b.SetInstallationState(ctx, ck, secrets.StateDisabled, time.Now()) })
			wg.Wait()
			got, _ := a.FindInstallation(ctx, ck)
			if got.State != secrets.StateUninstalled || got.UninstalledAt.IsZero() {
				t.Fatalf("round %d: %s with uninstall time %v", i, got.State, got.UninstalledAt)
			}
		}
	})
}

// TestTokensBeforeUninstallDie: sessions and unlocks from before an
// uninstall do not come back with a re-install.
func TestTokensBeforeUninstallDie(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
		if _, err := e.Install(ctx, &secrets.Installation{ClientKey: "site-a", Product: secrets.ProductJira, State: secrets.StateInstalled, InstalledAt: t0}, secrets.SignedEvent{IssuedAt: t0, TokenID: [32]byte{1}}); err != nil {
			t.Fatal(err)
		}
		who := alice("jira:issue:1")
		who.Since = t0
		id := create(t, e, who, "body", "password-1")
		u, _ := e.UnlockSecret(ctx, who, id, "password-1")
		if err := e.Uninstall(ctx, "site-a", secrets.ProductJira, secrets.SignedEvent{IssuedAt: t0.Add(time.Second), TokenID: [32]byte{2}}); err != nil {
			t.Fatal(err)
		}
		e.Now = func() time.Time { return time.Now().Add(2 * time.Second) }
		if _, err := e.Install(ctx, &secrets.Installation{ClientKey: "site-a", Product: secrets.ProductJira, State: secrets.StateInstalled}, secrets.SignedEvent{IssuedAt: t0.Add(2 * time.Second), TokenID: [32]byte{3}}); err != nil {
			t.Fatal(err)
		}
		_, err := e.ListSecrets(ctx, who, secrets.ListQuery{})
		wantCode(t, err, secrets.CodeUnauthorized)
		fresh := alice("jira:issue:1")
		fresh.Since = time.Now().Add(2 * time.Second)
		wantCode(t, e.DeleteSecret(ctx, fresh, id, u.UnlockToken), secrets.CodeUnlockRequired)
	})
}

// TestStoredShapes: what the store alone shows.
func TestStoredShapes(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		short := create(t, e, who, "x", "password-1")
		long := create(t, e, who, "a much longer secret body of some two hundred bytes ........................................................................................................", "password-1")
		other := create(t, e, who, "y", "password-1")
		for _, id := range []string{short, other} {
			_, _ = e.UnlockSecret(ctx, who, id, "wrong-password")
		}
		sizes := map[string]int{}
		var attemptKeys [][]byte
		_ = st.View(ctx, func(tx store.Tx) error {
			for _, id := range []string{short, long} {
				b, _ := tx.Get("site-a", store.Bodies, []byte(id))
				sizes[id] = len(b)
			}
			return tx.Scan("site-a", store.Attempts, store.Range{}, func(k, v []byte) error {
				if len(k) == 64 {
					attemptKeys = append(attemptKeys, k)
				}
				if len(v) < 40 {
					t.Errorf("attempt record of %d bytes: not sealed", len(v))
				}
				return nil
			})
		})
		if sizes[short] != sizes[long] {
			t.Errorf("bodies of 1 and ~200 bytes stored as %d and %d bytes", sizes[short], sizes[long])
		}
		if len(attemptKeys) != 2 {
			t.Fatalf("%d per-user attempt records, want 2", len(attemptKeys))
		}
		if string(attemptKeys[0][32:]) == string(attemptKeys[1][32:]) {
			t.Error("one user's failures on two secrets share an account MAC")
		}
	})
}

// TestContainerCap: a container holds at most the policy's secrets.
func TestContainerCap(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		p := secrets.DefaultPolicy()
		p.MaxSecretsPerContainer = 2
		if err := e.SetSitePolicy(ctx, "site-a", "admin", p); err != nil {
			t.Fatal(err)
		}
		who := alice("jira:issue:1")
		create(t, e, who, "1", "password-1")
		create(t, e, who, "2", "password-1")
		_, err := e.CreateSecret(ctx, who, secrets.NewSecret{Title: "3", Content: "3", Password: "password-1"})
		wantCode(t, err, secrets.CodeInvalid)
		create(t, e, alice("jira:issue:2"), "elsewhere", "password-1")
	})
}

// TestListPages: a container's list comes in pages, oldest first, and a
// cursor is a position: a secret deleted or added between pages makes no
// other repeat or go missing.
func TestListPages(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		clock := time.Now()
		e.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
		var ids []string
		for i := range 5 {
			ids = append(ids, create(t, e, who, fmt.Sprint(i), "password-1"))
		}
		first, err := e.ListSecrets(ctx, who, secrets.ListQuery{Limit: 2})
		if err != nil || len(first.Secrets) != 2 || first.Next == "" {
			t.Fatalf("first page: %+v %v", first, err)
		}
		// Between pages: the first secret of the next page goes, a new one comes.
		if err := e.AdminDeleteSecret(ctx, "site-a", "admin", ids[2]); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, create(t, e, who, "5", "password-1"))
		got := []string{first.Secrets[0].ID, first.Secrets[1].ID}
		for after := first.Next; after != ""; {
			page, err := e.ListSecrets(ctx, who, secrets.ListQuery{After: after, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Secrets {
				got = append(got, m.ID)
			}
			after = page.Next
		}
		want := []string{ids[0], ids[1], ids[3], ids[4], ids[5]}
		if !slices.Equal(got, want) {
			t.Fatalf("pages gave %v, want %v", got, want)
		}
		whole, err := e.ListSecrets(ctx, who, secrets.ListQuery{})
		if err != nil || len(whole.Secrets) != 5 || whole.Next != "" {
			t.Fatalf("default page: %d secrets, next %q, %v", len(whole.Secrets), whole.Next, err)
		}
		for _, q := range []secrets.ListQuery{{Limit: -1}, {Limit: secrets.MaxListLimit + 1}, {After: "not a cursor"}, {After: "AAAAAAAAAAE"}} {
			_, err := e.ListSecrets(ctx, who, q)
			wantCode(t, err, secrets.CodeInvalid)
		}
	})
}

// TestJanitor: expiry by index, one replica at a time.
func TestJanitor(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		a, b := replica(t, st, kr), replica(t, st, kr)
		installed(t, a, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		s, err := a.CreateSecret(ctx, who, secrets.NewSecret{Title: "t", Content: "c", Password: "password-1", ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		keep := create(t, a, who, "stays", "password-1")
		later := func() time.Time { return time.Now().Add(2 * time.Hour) }
		a.Now, b.Now = later, later
		ra, err := a.RunJanitor(ctx, "a", time.Minute, 0)
		if err != nil || !ra.Held || ra.Expired != 1 {
			t.Fatalf("janitor on A: %+v %v", ra, err)
		}
		if rb, err := b.RunJanitor(ctx, "b", time.Minute, 0); err != nil || rb.Held {
			t.Fatalf("janitor on B while A holds the lease: %+v %v", rb, err)
		}
		list, _ := a.ListSecrets(ctx, who, secrets.ListQuery{})
		if len(list.Secrets) != 1 || list.Secrets[0].ID != keep {
			t.Fatalf("after sweep: %+v", list)
		}
		_, err = a.UnlockSecret(ctx, who, s.ID, "password-1")
		wantCode(t, err, secrets.CodeNotFound)
		r, err := a.Verify(ctx)
		if err != nil || len(r.Problems) != 0 {
			t.Fatalf("verify: %v %+v", err, r)
		}
	})
}

// TestSessionKeyStable: every replica gets the same session key, and a
// master-key rotation does not change it.
func TestSessionKeyStable(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		kr := testKeyring(t)
		a, b := replica(t, st, kr), replica(t, st, kr)
		ka, err := a.SessionKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := b.SessionKey(ctx)
		rotated, err := kr.Rotate()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.RewrapTenantKeys(ctx, rotated); err != nil {
			t.Fatal(err)
		}
		kc, err := replica(t, st, rotated).SessionKey(ctx)
		if err != nil || string(ka) != string(kb) || string(ka) != string(kc) || len(ka) != 32 {
			t.Fatalf("session keys differ: %v", err)
		}
	})
}
