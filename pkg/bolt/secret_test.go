package bolt_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

var ctx = context.Background()

func actorFor(tenant, user, ctr string) secrets.Actor {
	return secrets.Actor{ClientKey: tenant, AccountID: user, Container: secrets.Container(ctr)}
}

func (e *env) create(tb testing.TB, a secrets.Actor, title, content, password string) *secrets.Secret {
	tb.Helper()
	s, err := e.secrets.CreateSecret(ctx, a, secrets.NewSecret{Title: title, Content: content, Password: password})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (e *env) unlock(tb testing.TB, a secrets.Actor, id, password string) *secrets.Unlocked {
	tb.Helper()
	u, err := e.secrets.UnlockSecret(ctx, a, id, password)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// rawBody returns a secret's stored body ciphertext, read with bbolt from a
// hot copy of the file, as an attacker holding the file would.
func (e *env) rawBody(tb testing.TB, tenant, id string) []byte {
	tb.Helper()
	copyPath := filepath.Join(tb.TempDir(), "copy.db")
	f, err := os.Create(copyPath)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.db.Backup(f, nil); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	var out []byte
	withRaw(tb, copyPath, func(tx *bbolt.Tx) error {
		out = bytes.Clone(tx.Bucket([]byte("tenants")).Bucket([]byte(tenant)).Bucket([]byte("bodies")).Get([]byte(id)))
		return nil
	}, false)
	return out
}

func withRaw(tb testing.TB, path string, fn func(*bbolt.Tx) error, write bool) {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if write {
		err = db.Update(fn)
	} else {
		err = db.View(fn)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

func TestSecretLifecycle(t *testing.T) {
	for _, ctr := range []string{"jira:issue:10001", "confluence:page:77:macro-a"} {
		t.Run(ctr, func(t *testing.T) {
			e := MustOpen(t)
			e.install(t, "tenant-a", secrets.Container(ctr).Product())
			a := actorFor("tenant-a", "alice", ctr)

			s := e.create(t, a, "Prod DB", "postgres://u:p@db", "correct horse")
			if s.Version != 1 || s.CreatedBy != "alice" || !secrets.ValidSecretID(s.ID) {
				t.Fatalf("created %+v", s)
			}
			list, err := e.secrets.ListSecrets(ctx, a)
			if err != nil || len(list) != 1 || list[0].Title != "Prod DB" {
				t.Fatalf("list = %+v, %v", list, err)
			}

			_, err = e.secrets.UnlockSecret(ctx, a, s.ID, "wrong horse")
			wantCode(t, err, secrets.CodeWrongPassword)

			u := e.unlock(t, a, s.ID, "correct horse")
			if u.Content != "postgres://u:p@db" || u.UnlockToken == "" || !u.ExpiresAt.After(e.clock.Now()) {
				t.Fatalf("unlocked %+v", u)
			}

			edited, err := e.secrets.UpdateSecret(ctx, a, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "Prod DB v2", Content: "new body", Version: 1})
			if err != nil || edited.Version != 2 || edited.Content != "new body" || edited.UnlockToken == u.UnlockToken {
				t.Fatalf("edit = %+v, %v", edited, err)
			}
			// The old token was for version 1.
			_, err = e.secrets.UpdateSecret(ctx, a, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "x", Content: "y", Version: 2})
			wantCode(t, err, secrets.CodeUnlockRequired)
			// A stale version with a current token is a conflict.
			_, err = e.secrets.UpdateSecret(ctx, a, s.ID, edited.UnlockToken, secrets.SecretUpdate{Title: "x", Content: "y", Version: 1})
			wantCode(t, err, secrets.CodeConflict)

			bodyBefore := e.rawBody(t, "tenant-a", s.ID)
			if err := e.secrets.ChangePassword(ctx, a, s.ID, edited.UnlockToken, "battery staple"); err != nil {
				t.Fatal(err)
			}
			if after := e.rawBody(t, "tenant-a", s.ID); !bytes.Equal(bodyBefore, after) {
				t.Error("changing the password re-encrypted the body")
			}
			_, err = e.secrets.UnlockSecret(ctx, a, s.ID, "correct horse")
			wantCode(t, err, secrets.CodeWrongPassword)
			u2 := e.unlock(t, a, s.ID, "battery staple")
			if u2.Content != "new body" || u2.Version != 2 {
				t.Fatalf("after password change: %+v", u2)
			}

			if err := e.secrets.LockSecret(ctx, a, s.ID, u2.UnlockToken); err != nil {
				t.Fatal(err)
			}
			wantCode(t, e.secrets.DeleteSecret(ctx, a, s.ID, u2.UnlockToken), secrets.CodeUnlockRequired)

			u3 := e.unlock(t, a, s.ID, "battery staple")
			if err := e.secrets.DeleteSecret(ctx, a, s.ID, u3.UnlockToken); err != nil {
				t.Fatal(err)
			}
			_, err = e.secrets.UnlockSecret(ctx, a, s.ID, "battery staple")
			wantCode(t, err, secrets.CodeNotFound)
			if list, _ := e.secrets.ListSecrets(ctx, a); len(list) != 0 {
				t.Errorf("deleted secret still listed: %+v", list)
			}
		})
	}
}

func TestIsolation(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	e.install(t, "tenant-b", secrets.ProductJira)
	e.install(t, "tenant-c", secrets.ProductConfluence)
	alice := actorFor("tenant-a", "alice", "jira:issue:1")
	s := e.create(t, alice, "t", "c", "password-1")
	u := e.unlock(t, alice, s.ID, "password-1")

	others := map[string]secrets.Actor{
		"other tenant":    actorFor("tenant-b", "alice", "jira:issue:1"),
		"other issue":     actorFor("tenant-a", "alice", "jira:issue:2"),
		"other macro":     actorFor("tenant-c", "alice", "confluence:page:1:m2"),
		"admin container": actorFor("tenant-a", "alice", "admin"),
	}
	for name, a := range others {
		t.Run(name, func(t *testing.T) {
			_, err := e.secrets.UnlockSecret(ctx, a, s.ID, "password-1")
			wantCode(t, err, secrets.CodeNotFound)
			// Alice's own unlock token does not carry over to another
			// container: the secret is simply not there.
			_, err = e.secrets.UpdateSecret(ctx, a, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "x", Content: "y", Version: 1})
			wantCode(t, err, secrets.CodeNotFound)
			wantCode(t, e.secrets.ChangePassword(ctx, a, s.ID, u.UnlockToken, "password-2"), secrets.CodeNotFound)
			wantCode(t, e.secrets.DeleteSecret(ctx, a, s.ID, u.UnlockToken), secrets.CodeNotFound)
			list, _ := e.secrets.ListSecrets(ctx, a)
			if len(list) != 0 {
				t.Errorf("%s lists %d secrets", name, len(list))
			}
		})
	}
	t.Run("another user's unlock token", func(t *testing.T) {
		bob := actorFor("tenant-a", "bob", "jira:issue:1")
		_, err := e.secrets.UpdateSecret(ctx, bob, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "x", Content: "y", Version: 1})
		wantCode(t, err, secrets.CodeUnlockRequired)
		wantCode(t, e.secrets.ChangePassword(ctx, bob, s.ID, u.UnlockToken, "password-2"), secrets.CodeUnlockRequired)
		wantCode(t, e.secrets.DeleteSecret(ctx, bob, s.ID, u.UnlockToken), secrets.CodeUnlockRequired)
	})
	t.Run("nothing changed through other containers", func(t *testing.T) {
		if got := e.unlock(t, alice, s.ID, "password-1"); got.Content != "c" || got.Version != 1 {
			t.Fatalf("secret after refused calls: %+v", got)
		}
	})
	t.Run("two macros on one page", func(t *testing.T) {
		m1 := actorFor("tenant-c", "alice", "confluence:page:9:m1")
		m2 := actorFor("tenant-c", "alice", "confluence:page:9:m2")
		e.create(t, m1, "in m1", "c", "password-1")
		e.create(t, m2, "in m2", "c", "password-1")
		l1, _ := e.secrets.ListSecrets(ctx, m1)
		l2, _ := e.secrets.ListSecrets(ctx, m2)
		if len(l1) != 1 || l1[0].Title != "in m1" || len(l2) != 1 || l2[0].Title != "in m2" {
			t.Errorf("m1 %+v, m2 %+v", l1, l2)
		}
	})
}

func TestLockout(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	alice := actorFor("tenant-a", "alice", "jira:issue:1")
	bob := actorFor("tenant-a", "bob", "jira:issue:1")
	s := e.create(t, alice, "t", "c", "right-password")

	for i := 1; i <= 5; i++ {
		_, err := e.secrets.UnlockSecret(ctx, alice, s.ID, "wrong-password")
		wantCode(t, err, secrets.CodeWrongPassword)
		var se *secrets.Error
		if !asError(err, &se) || se.AttemptsLeft == nil || *se.AttemptsLeft != 5-i {
			t.Fatalf("attempt %d: attemptsLeft = %v", i, se.AttemptsLeft)
		}
	}
	_, err := e.secrets.UnlockSecret(ctx, alice, s.ID, "right-password")
	wantCode(t, err, secrets.CodeLocked)
	var se *secrets.Error
	if !asError(err, &se) || se.RetryAfter <= 0 || se.RetryAfter > time.Minute {
		t.Fatalf("RetryAfter = %v", se.RetryAfter)
	}

	// Another user is not locked out.
	e.unlock(t, bob, s.ID, "right-password")

	// A restart does not reset the lockout.
	e.reopen(t)
	_, err = e.secrets.UnlockSecret(ctx, alice, s.ID, "right-password")
	wantCode(t, err, secrets.CodeLocked)

	// After the lockout, one more failure doubles it.
	e.clock.Advance(61 * time.Second)
	_, err = e.secrets.UnlockSecret(ctx, alice, s.ID, "wrong-password")
	wantCode(t, err, secrets.CodeWrongPassword)
	_, err = e.secrets.UnlockSecret(ctx, alice, s.ID, "right-password")
	if !asError(err, &se) || se.Code != secrets.CodeLocked || se.RetryAfter <= time.Minute || se.RetryAfter > 2*time.Minute {
		t.Fatalf("second lockout: %v", err)
	}
	e.clock.Advance(2*time.Minute + time.Second)
	e.unlock(t, alice, s.ID, "right-password")
	// Success resets the count.
	_, err = e.secrets.UnlockSecret(ctx, alice, s.ID, "wrong-password")
	if !asError(err, &se) || *se.AttemptsLeft != 4 {
		t.Fatalf("after success: %v", err)
	}
}

// TestLockoutUnderConcurrency: parallel guesses cannot slip past the
// threshold while derivations are in flight.
func TestLockoutUnderConcurrency(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	a := actorFor("tenant-a", "mallory", "jira:issue:1")
	s := e.create(t, a, "t", "c", "right-password")
	var wg sync.WaitGroup
	var mu sync.Mutex
	tried := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.secrets.UnlockSecret(ctx, a, s.ID, "wrong-password")
			if secrets.ErrorCode(err) == secrets.CodeWrongPassword {
				mu.Lock()
				tried++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if tried > 5 {
		t.Errorf("%d passwords were tried; the threshold is 5", tried)
	}
}

func asError(err error, target **secrets.Error) bool {
	e, ok := err.(*secrets.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestTamperedRecords(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	e.install(t, "tenant-b", secrets.ProductJira)
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	s1 := e.create(t, a, "one", "body one", "password-1")
	s2 := e.create(t, a, "two", "body two", "password-1")
	e.db.Close()
	e.db = nil

	var original []byte
	withRaw(t, e.path, func(tx *bbolt.Tx) error {
		original = bytes.Clone(tx.Bucket([]byte("tenants")).Bucket([]byte("tenant-a")).Bucket([]byte("secrets")).Get([]byte(s1.ID)))
		return nil
	}, false)

	put := func(tenant, bucket, id string, v []byte) {
		withRaw(t, e.path, func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("tenants")).Bucket([]byte(tenant)).Bucket([]byte(bucket)).Put([]byte(id), v)
		}, true)
	}

	for i := 0; i < len(original); i += max(1, len(original)/40) {
		flipped := bytes.Clone(original)
		flipped[i] ^= 0x01
		put("tenant-a", "secrets", s1.ID, flipped)
		e.reopen(t)
		_, err := e.secrets.UnlockSecret(ctx, a, s1.ID, "password-1")
		wantCode(t, err, secrets.CodeInternal)
		if _, err := e.secrets.ListSecrets(ctx, a); secrets.ErrorCode(err) != secrets.CodeInternal {
			t.Fatalf("byte %d flipped: list gave %v", i, err)
		}
		e.db.Close()
		e.db = nil
	}

	// A record copied under another id does not open.
	put("tenant-a", "secrets", s1.ID, original)
	put("tenant-a", "secrets", s2.ID, original)
	e.reopen(t)
	_, err := e.secrets.UnlockSecret(ctx, a, s2.ID, "password-1")
	wantCode(t, err, secrets.CodeInternal)
	if u := e.unlock(t, a, s1.ID, "password-1"); u.Content != "body one" {
		t.Fatalf("restored record: %q", u.Content)
	}
	e.db.Close()
	e.db = nil

	// A record copied into another tenant does not open there.
	put("tenant-b", "secrets", s1.ID, original)
	e.reopen(t)
	b := actorFor("tenant-b", "alice", "jira:issue:1")
	_, err = e.secrets.UnlockSecret(ctx, b, s1.ID, "password-1")
	if c := secrets.ErrorCode(err); c != secrets.CodeInternal && c != secrets.CodeNotFound {
		t.Fatalf("copied into tenant-b: %v", err)
	}
}

func TestBodySwapFails(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	s := e.create(t, a, "one", "version one", "password-1")
	u := e.unlock(t, a, s.ID, "password-1")
	old := e.rawBody(t, "tenant-a", s.ID)
	if _, err := e.secrets.UpdateSecret(ctx, a, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "one", Content: "version two", Version: 1}); err != nil {
		t.Fatal(err)
	}
	// Rolling the body back to version one's ciphertext must not open as
	// version two.
	e.db.Close()
	e.db = nil
	withRaw(t, e.path, func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("tenants")).Bucket([]byte("tenant-a")).Bucket([]byte("bodies")).Put([]byte(s.ID), old)
	}, true)
	e.reopen(t)
	_, err := e.secrets.UnlockSecret(ctx, a, s.ID, "password-1")
	wantCode(t, err, secrets.CodeInternal)
}

func TestValidation(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	for name, in := range map[string]secrets.NewSecret{
		"empty title":    {Title: "", Content: "c", Password: "password-1"},
		"blank title":    {Title: "   ", Content: "c", Password: "password-1"},
		"long title":     {Title: strings.Repeat("é", 201), Content: "c", Password: "password-1"},
		"huge content":   {Title: "t", Content: strings.Repeat("x", 128<<10+1), Password: "password-1"},
		"short password": {Title: "t", Content: "c", Password: "1234567"},
		"huge password":  {Title: "t", Content: "c", Password: strings.Repeat("p", 1025)},
		"invalid utf8":   {Title: "t\xff", Content: "c", Password: "password-1"},
		"past expiry":    {Title: "t", Content: "c", Password: "password-1", ExpiresAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.secrets.CreateSecret(ctx, a, in)
			wantCode(t, err, secrets.CodeInvalid)
		})
	}
	if list, _ := e.secrets.ListSecrets(ctx, a); len(list) != 0 {
		t.Errorf("invalid input stored %d secrets", len(list))
	}
	// Boundaries that are allowed.
	e.create(t, a, strings.Repeat("é", 200), strings.Repeat("x", 128<<10), "12345678")
	_, err := e.secrets.UnlockSecret(ctx, a, "not-an-id", "password-1")
	wantCode(t, err, secrets.CodeNotFound)
}

func TestExpiry(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	s, err := e.secrets.CreateSecret(ctx, a, secrets.NewSecret{Title: "t", Content: "c", Password: "password-1", ExpiresAt: e.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	keep := e.create(t, a, "keep", "c", "password-1")
	u := e.unlock(t, a, s.ID, "password-1")
	e.clock.Advance(time.Hour)
	n, err := e.secrets.SweepExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	_, err = e.secrets.UnlockSecret(ctx, a, s.ID, "password-1")
	wantCode(t, err, secrets.CodeNotFound)
	_, err = e.secrets.UpdateSecret(ctx, a, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "x", Content: "y", Version: 1})
	if c := secrets.ErrorCode(err); c != secrets.CodeUnlockRequired && c != secrets.CodeNotFound {
		t.Errorf("update of expired secret: %v", err)
	}
	list, _ := e.secrets.ListSecrets(ctx, a)
	if len(list) != 1 || list[0].ID != keep.ID {
		t.Errorf("list after expiry: %+v", list)
	}
}

func TestUnlockExpires(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	s := e.create(t, a, "t", "c", "password-1")
	u := e.unlock(t, a, s.ID, "password-1")
	e.clock.Advance(10 * time.Minute)
	_, err := e.secrets.UpdateSecret(ctx, a, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "x", Content: "y", Version: 1})
	wantCode(t, err, secrets.CodeUnlockRequired)
}

func TestPasswordChangeRevokesOthers(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	alice := actorFor("tenant-a", "alice", "jira:issue:1")
	bob := actorFor("tenant-a", "bob", "jira:issue:1")
	s := e.create(t, alice, "t", "c", "password-1")
	ua := e.unlock(t, alice, s.ID, "password-1")
	ub := e.unlock(t, bob, s.ID, "password-1")
	if err := e.secrets.ChangePassword(ctx, alice, s.ID, ua.UnlockToken, "password-2"); err != nil {
		t.Fatal(err)
	}
	_, err := e.secrets.UpdateSecret(ctx, bob, s.ID, ub.UnlockToken, secrets.SecretUpdate{Title: "x", Content: "y", Version: 1})
	wantCode(t, err, secrets.CodeUnlockRequired)
	// Alice's own unlock still works.
	if _, err := e.secrets.UpdateSecret(ctx, alice, s.ID, ua.UnlockToken, secrets.SecretUpdate{Title: "x", Content: "y", Version: 1}); err != nil {
		t.Fatal(err)
	}
}
