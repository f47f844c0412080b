package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// closeEnv closes the database so the test can change the file with bbolt
// directly, as an attacker or a bad disk would.
func closeEnv(tb testing.TB, e *env) {
	tb.Helper()
	if err := e.db.Close(); err != nil {
		tb.Fatal(err)
	}
	e.db = nil
}

// mustOpenReadOnly opens path read-only with keyring and closes it with the
// test.
func mustOpenReadOnly(tb testing.TB, path string, keyring *seal.Keyring) *bolt.DB {
	tb.Helper()
	db, err := bolt.OpenReadOnly(path, keyring)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// rawTenant returns tenants/<clientKey> of a raw bbolt transaction.
func rawTenant(tx *bbolt.Tx, clientKey string) *bbolt.Bucket {
	return tx.Bucket([]byte("tenants")).Bucket([]byte(clientKey))
}

// flipLast flips the last byte of a stored value (inside the AEAD tag, so
// the value still looks like an envelope but can no longer open).
func flipLast(b *bbolt.Bucket, key []byte) error {
	v := bytes.Clone(b.Get(key))
	if v == nil {
		return fmt.Errorf("no value at %q", key)
	}
	v[len(v)-1] ^= 0x01
	return b.Put(key, v)
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func TestTenantStats(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-b", secrets.ProductConfluence)
	e.install(t, "tenant-a", secrets.ProductJira)
	a1 := actorFor("tenant-a", "alice", "jira:issue:1")
	a2 := actorFor("tenant-a", "alice", "jira:issue:2")
	e.create(t, a1, "one", "c", "password-1")
	s := e.create(t, a1, "two", "c", "password-1")
	e.create(t, a2, "three", "c", "password-1")
	e.unlock(t, a1, s.ID, "password-1")
	uninstalled := e.clock.Now().Add(time.Hour)
	if err := e.installs.SetInstallationState(ctx, "tenant-b", secrets.StateUninstalled, uninstalled); err != nil {
		t.Fatal(err)
	}

	got, err := e.db.TenantStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	installed := e.clock.Now()
	want := []bolt.TenantStats{
		{
			ClientKey: "tenant-a", Product: secrets.ProductJira, State: secrets.StateInstalled,
			InstalledAt: installed, UpdatedAt: installed,
			Secrets: 3, AuditEvents: 4, Containers: 2, MasterKeyID: 1,
		},
		{
			ClientKey: "tenant-b", Product: secrets.ProductConfluence, State: secrets.StateUninstalled,
			InstalledAt: installed, UpdatedAt: uninstalled, UninstalledAt: uninstalled,
			MasterKeyID: 1,
		},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tenants, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ClientKey != w.ClientKey || g.Product != w.Product || g.State != w.State ||
			!g.InstalledAt.Equal(w.InstalledAt) || !g.UpdatedAt.Equal(w.UpdatedAt) || !g.UninstalledAt.Equal(w.UninstalledAt) ||
			g.Secrets != w.Secrets || g.AuditEvents != w.AuditEvents || g.Containers != w.Containers || g.MasterKeyID != w.MasterKeyID {
			t.Errorf("tenant %d:\n got %+v\nwant %+v", i, g, w)
		}
	}

	ids, err := e.db.MasterKeyIDsInUse(ctx)
	if err != nil || len(ids) != 1 || ids[1] != 2 {
		t.Errorf("MasterKeyIDsInUse = %v, %v; want map[1:2]", ids, err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	s := e.create(t, a, "title", "content", "password-1")

	t.Run("in use", func(t *testing.T) {
		// e.db holds the file for writing, as a running secretsd does.
		start := time.Now()
		_, err := bolt.OpenReadOnly(e.path, e.keyring)
		if !errors.Is(err, bolt.ErrInUse) {
			t.Fatalf("err = %v, want ErrInUse", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v to give up", d)
		}
	})

	closeEnv(t, e)
	t.Run("reads, never writes", func(t *testing.T) {
		db := mustOpenReadOnly(t, e.path, e.keyring)
		inst, err := bolt.NewInstallationService(db).FindInstallation(ctx, "tenant-a")
		if err != nil || inst.ClientKey != "tenant-a" {
			t.Fatalf("FindInstallation = %v, %v", inst, err)
		}
		// Two readers at once: the lock is shared.
		mustOpenReadOnly(t, e.path, e.keyring)
		svc := bolt.NewSecretService(db, e.kdf, secrets.DefaultPolicy())
		if _, err := svc.CreateSecret(ctx, a, secrets.NewSecret{Title: "t", Content: "c", Password: "password-2"}); err == nil {
			t.Error("CreateSecret succeeded on a read-only database")
		}
		if list, err := svc.ListSecrets(ctx, a); err != nil || len(list) != 1 || list[0].ID != s.ID {
			t.Errorf("ListSecrets = %v, %v", list, err)
		}
	})
	t.Run("missing file is not created", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.db")
		if _, err := bolt.OpenReadOnly(path, e.keyring); err == nil {
			t.Fatal("opened a missing file")
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat after failed open: %v", err)
		}
	})
	t.Run("not a Secrets database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		other, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		other.Close()
		if _, err := bolt.OpenReadOnly(path, e.keyring); err == nil || !strings.Contains(err.Error(), "not a Secrets database") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("nil keyring", func(t *testing.T) {
		if _, err := bolt.OpenReadOnly(e.path, nil); err == nil {
			t.Error("opened without a keyring")
		}
	})
}

func TestCheckStructure(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	e.install(t, "tenant-b", secrets.ProductJira)
	e.create(t, actorFor("tenant-a", "alice", "jira:issue:1"), "t", "c", "password-1")

	// Live, in a database open for writing.
	if n, err := e.db.CheckStructure(ctx); err != nil || n != 2 {
		t.Errorf("live: CheckStructure = %d, %v; want 2 tenants", n, err)
	}
	// On a backup, read-only, with no key at all.
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Backup(f, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := mustOpenReadOnly(t, path, new(seal.Keyring))
	if n, err := db.CheckStructure(ctx); err != nil || n != 2 {
		t.Errorf("backup: CheckStructure = %d, %v; want 2 tenants", n, err)
	}
}

func TestVerifyClean(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	e.install(t, "tenant-b", secrets.ProductConfluence)
	e.install(t, "tenant-c", secrets.ProductJira) // no secrets at all
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	s := e.create(t, a, "one", "body", "password-1")
	e.create(t, actorFor("tenant-b", "bob", "confluence:page:1:m1"), "two", "body", "password-2")
	if _, err := e.secrets.UnlockSecret(ctx, a, s.ID, "wrong-password"); secrets.ErrorCode(err) != secrets.CodeWrongPassword {
		t.Fatal(err) // leaves a failed-attempt counter for Verify to check
	}
	u := e.unlock(t, actorFor("tenant-a", "bob", "jira:issue:1"), s.ID, "password-1")
	if _, err := e.secrets.UpdateSecret(ctx, actorFor("tenant-a", "bob", "jira:issue:1"), s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "one", Content: "body 2", Version: 1}); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, db *bolt.DB) {
		r, err := db.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Problems) != 0 || r.Tenants != 3 || r.Records < 15 {
			t.Errorf("Verify = %+v, want 3 tenants, no problems", r)
		}
	}
	t.Run("live", func(t *testing.T) { check(t, e.db) })
	closeEnv(t, e)
	t.Run("read-only", func(t *testing.T) { check(t, mustOpenReadOnly(t, e.path, e.keyring)) })
}

// TestVerifyFindsDamage damages one record at a time with bbolt directly and
// checks that Verify names it, without failing or reporting bytes.
func TestVerifyFindsDamage(t *testing.T) {
	type fixture struct {
		s1, s2   *secrets.Secret
		index    []byte // the containers/ sub-bucket of jira:issue:1 in tenant-a
		attempts []byte // the attempts/ sub-bucket of s1 in tenant-a
	}
	const title, content = "TITLE-MARKER", "CONTENT-MARKER"
	tests := []struct {
		name   string
		damage func(tx *bbolt.Tx, f fixture) error
		want   func(f fixture) bolt.VerifyProblem // Reason is not compared
	}{
		{
			name: "secret record flipped",
			damage: func(tx *bbolt.Tx, f fixture) error {
				return flipLast(rawTenant(tx, "tenant-a").Bucket([]byte("secrets")), []byte(f.s1.ID))
			},
			want: func(f fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-a", Bucket: "secrets", Key: f.s1.ID}
			},
		},
		{
			name: "audit event flipped",
			damage: func(tx *bbolt.Tx, f fixture) error {
				return flipLast(rawTenant(tx, "tenant-a").Bucket([]byte("audit")), seqKey(2))
			},
			want: func(fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-a", Bucket: "audit", Key: "2"}
			},
		},
		{
			name: "tenant key flipped",
			damage: func(tx *bbolt.Tx, f fixture) error {
				return flipLast(rawTenant(tx, "tenant-a"), []byte("key"))
			},
			want: func(fixture) bolt.VerifyProblem { return bolt.VerifyProblem{Tenant: "tenant-a", Key: "key"} },
		},
		{
			name: "installation record flipped",
			damage: func(tx *bbolt.Tx, f fixture) error {
				return flipLast(rawTenant(tx, "tenant-a"), []byte("meta"))
			},
			want: func(fixture) bolt.VerifyProblem { return bolt.VerifyProblem{Tenant: "tenant-a", Key: "meta"} },
		},
		{
			name: "settings unreadable",
			damage: func(tx *bbolt.Tx, f fixture) error {
				meta := rawTenant(tx, "tenant-a").Get([]byte("meta")) // sealed, but for another location
				return rawTenant(tx, "tenant-a").Put([]byte("settings"), bytes.Clone(meta))
			},
			want: func(fixture) bolt.VerifyProblem { return bolt.VerifyProblem{Tenant: "tenant-a", Key: "settings"} },
		},
		{
			name: "body header damaged",
			damage: func(tx *bbolt.Tx, f fixture) error {
				b := rawTenant(tx, "tenant-a").Bucket([]byte("bodies"))
				v := bytes.Clone(b.Get([]byte(f.s1.ID)))
				v[0] ^= 0xff // version byte
				return b.Put([]byte(f.s1.ID), v)
			},
			want: func(f fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-a", Bucket: "bodies", Key: f.s1.ID}
			},
		},
		{
			name: "body deleted",
			damage: func(tx *bbolt.Tx, f fixture) error {
				return rawTenant(tx, "tenant-a").Bucket([]byte("bodies")).Delete([]byte(f.s1.ID))
			},
			want: func(f fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-a", Bucket: "bodies", Key: f.s1.ID}
			},
		},
		{
			name: "index entry deleted",
			damage: func(tx *bbolt.Tx, f fixture) error {
				return rawTenant(tx, "tenant-a").Bucket([]byte("containers")).Bucket(f.index).Delete([]byte(f.s1.ID))
			},
			want: func(f fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-a", Bucket: "secrets", Key: f.s1.ID}
			},
		},
		{
			name: "index entry dangling",
			damage: func(tx *bbolt.Tx, f fixture) error {
				return rawTenant(tx, "tenant-a").Bucket([]byte("containers")).Bucket(f.index).Put([]byte("no-such-secret"), nil)
			},
			want: func(f fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-a", Bucket: fmt.Sprintf("containers/%x", f.index), Key: "no-such-secret"}
			},
		},
		{
			name: "index entry under another container",
			damage: func(tx *bbolt.Tx, f fixture) error {
				// s2 lives in jira:issue:2; list it under issue 1 as well.
				return rawTenant(tx, "tenant-a").Bucket([]byte("containers")).Bucket(f.index).Put([]byte(f.s2.ID), nil)
			},
			want: func(f fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-a", Bucket: fmt.Sprintf("containers/%x", f.index), Key: f.s2.ID}
			},
		},
		{
			name: "record copied into another tenant",
			damage: func(tx *bbolt.Tx, f fixture) error {
				v := rawTenant(tx, "tenant-a").Bucket([]byte("secrets")).Get([]byte(f.s1.ID))
				return rawTenant(tx, "tenant-b").Bucket([]byte("secrets")).Put([]byte(f.s1.ID), bytes.Clone(v))
			},
			want: func(f fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-b", Bucket: "secrets", Key: f.s1.ID}
			},
		},
		{
			name: "attempt counter malformed",
			damage: func(tx *bbolt.Tx, f fixture) error {
				return rawTenant(tx, "tenant-a").Bucket([]byte("attempts")).Bucket(f.attempts).Put([]byte("short"), []byte{1, 2, 3})
			},
			want: func(f fixture) bolt.VerifyProblem {
				return bolt.VerifyProblem{Tenant: "tenant-a", Bucket: fmt.Sprintf("attempts/%x", f.attempts), Key: "short"}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := MustOpen(t)
			e.install(t, "tenant-a", secrets.ProductJira)
			e.install(t, "tenant-b", secrets.ProductJira)
			a1 := actorFor("tenant-a", "alice", "jira:issue:1")
			var f fixture
			f.s1 = e.create(t, a1, title, content, "password-1") // audit 1
			f.s2 = e.create(t, actorFor("tenant-a", "alice", "jira:issue:2"), title, content, "password-1")
			if _, err := e.secrets.UnlockSecret(ctx, a1, f.s1.ID, "wrong-password"); secrets.ErrorCode(err) != secrets.CodeWrongPassword {
				t.Fatal(err)
			}
			closeEnv(t, e)
			// The index and attempt bucket names are MACs under the tenant
			// key; find them the way an attacker would, by looking.
			withRaw(t, e.path, func(tx *bbolt.Tx) error {
				containers := rawTenant(tx, "tenant-a").Bucket([]byte("containers"))
				if err := containers.ForEachBucket(func(k []byte) error {
					if containers.Bucket(k).Get([]byte(f.s1.ID)) != nil {
						f.index = bytes.Clone(k)
					}
					return nil
				}); err != nil {
					return err
				}
				return rawTenant(tx, "tenant-a").Bucket([]byte("attempts")).ForEachBucket(func(k []byte) error {
					f.attempts = bytes.Clone(k) // only s1 has had a failed attempt
					return nil
				})
			}, false)
			if f.index == nil || f.attempts == nil {
				t.Fatal("index or attempts bucket not found")
			}
			withRaw(t, e.path, func(tx *bbolt.Tx) error { return tc.damage(tx, f) }, true)

			r, err := mustOpenReadOnly(t, e.path, e.keyring).Verify(ctx)
			if err != nil {
				t.Fatalf("Verify failed instead of reporting: %v", err)
			}
			t.Logf("problems: %+v", r.Problems)
			want := tc.want(f)
			found := slices.ContainsFunc(r.Problems, func(p bolt.VerifyProblem) bool {
				return p.Tenant == want.Tenant && p.Bucket == want.Bucket && p.Key == want.Key && p.Reason != ""
			})
			if !found {
				t.Errorf("problems %+v\ndo not include %+v", r.Problems, want)
			}
			if s := fmt.Sprintf("%+v", r); strings.Contains(s, title) || strings.Contains(s, content) {
				t.Errorf("report shows a title or content: %s", s)
			}
			if r.Tenants != 2 {
				t.Errorf("Tenants = %d, want 2", r.Tenants)
			}
		})
	}
}

// TestVerifyTenantKeyFailureStops checks that a tenant whose key does not
// open is reported once, not once per record, and others are still checked.
func TestVerifyTenantKeyFailureStops(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "tenant-a", secrets.ProductJira)
	e.install(t, "tenant-b", secrets.ProductJira)
	e.create(t, actorFor("tenant-a", "alice", "jira:issue:1"), "t", "c", "password-1")
	closeEnv(t, e)
	withRaw(t, e.path, func(tx *bbolt.Tx) error {
		if err := flipLast(rawTenant(tx, "tenant-a"), []byte("key")); err != nil {
			return err
		}
		return flipLast(rawTenant(tx, "tenant-b"), []byte("meta"))
	}, true)
	r, err := mustOpenReadOnly(t, e.path, e.keyring).Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []bolt.VerifyProblem{{Tenant: "tenant-a", Key: "key"}, {Tenant: "tenant-b", Key: "meta"}}
	if len(r.Problems) != len(want) {
		t.Fatalf("problems = %+v, want %+v", r.Problems, want)
	}
	for i, p := range r.Problems {
		if p.Tenant != want[i].Tenant || p.Bucket != want[i].Bucket || p.Key != want[i].Key {
			t.Errorf("problem %d = %+v, want %+v", i, p, want[i])
		}
	}
}

// TestRewrapTenantKeys walks a master-key rotation: rotate, re-wrap, retire
// the old key, and every secret still opens with its password. Retiring
// without the re-wrap locks every tenant out, which is what makes the
// re-wrap matter.
func TestRewrapTenantKeys(t *testing.T) {
	e := MustOpen(t)
	old := e.keyring
	e.install(t, "tenant-a", secrets.ProductJira)
	e.install(t, "tenant-b", secrets.ProductConfluence)
	type stored struct {
		a       secrets.Actor
		id      string
		content string
	}
	var all []stored
	for i, a := range []secrets.Actor{
		actorFor("tenant-a", "alice", "jira:issue:1"),
		actorFor("tenant-a", "bob", "jira:issue:2"),
		actorFor("tenant-b", "carol", "confluence:page:1:m1"),
	} {
		content := fmt.Sprintf("content %d", i)
		s := e.create(t, a, "title", content, "password-1")
		all = append(all, stored{a, s.ID, content})
	}
	unlockAll := func(t *testing.T) {
		t.Helper()
		for _, s := range all {
			if u := e.unlock(t, s.a, s.id, "password-1"); u.Content != s.content {
				t.Errorf("secret %s: content %q, want %q", s.id, u.Content, s.content)
			}
		}
	}

	rotated, err := old.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	retired, err := rotated.Retire(old.PrimaryID())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("retiring before the re-wrap locks tenants out", func(t *testing.T) {
		closeEnv(t, e)
		r, err := mustOpenReadOnly(t, e.path, retired).Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Problems) != 2 || r.Problems[0].Key != "key" || r.Problems[1].Key != "key" {
			t.Errorf("problems = %+v, want the two tenant keys", r.Problems)
		}
		db := mustOpenReadOnly(t, e.path, retired)
		_, err = bolt.NewInstallationService(db).FindInstallation(ctx, "tenant-a")
		wantCode(t, err, secrets.CodeInternal)
	})
	e.reopen(t) // after the subtest's read-only handles are closed

	t.Run("a keyring without the old key changes nothing", func(t *testing.T) {
		if n, err := e.db.RewrapTenantKeys(ctx, retired); err == nil || n != 0 {
			t.Fatalf("RewrapTenantKeys = %d, %v; want an error", n, err)
		}
		if ids, _ := e.db.MasterKeyIDsInUse(ctx); len(ids) != 1 || ids[old.PrimaryID()] != 2 {
			t.Errorf("ids in use after a failed re-wrap: %v", ids)
		}
		unlockAll(t)
	})

	t.Run("an interrupted re-wrap changes nothing", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if n, err := e.db.RewrapTenantKeys(cancelled, rotated); !errors.Is(err, context.Canceled) || n != 0 {
			t.Fatalf("RewrapTenantKeys = %d, %v; want context.Canceled", n, err)
		}
		if ids, _ := e.db.MasterKeyIDsInUse(ctx); len(ids) != 1 || ids[old.PrimaryID()] != 2 {
			t.Errorf("ids in use after an interrupted re-wrap: %v", ids)
		}
	})

	// The database is still open with the old keyring, as in secretsctl.
	n, err := e.db.RewrapTenantKeys(ctx, rotated)
	if err != nil || n != 2 {
		t.Fatalf("RewrapTenantKeys = %d, %v; want 2", n, err)
	}
	// db now wraps new tenant keys with the new primary.
	e.install(t, "tenant-c", secrets.ProductJira)
	ids, err := e.db.MasterKeyIDsInUse(ctx)
	if err != nil || len(ids) != 1 || ids[rotated.PrimaryID()] != 3 {
		t.Errorf("MasterKeyIDsInUse = %v, %v; want only key %d, 3 times", ids, err, rotated.PrimaryID())
	}
	if n, err := e.db.RewrapTenantKeys(ctx, rotated); err != nil || n != 0 {
		t.Errorf("second RewrapTenantKeys = %d, %v; want 0", n, err)
	}
	unlockAll(t)

	for _, step := range []struct {
		name    string
		keyring *seal.Keyring
	}{{"reopened with the rotated keyring", rotated}, {"reopened with the old key retired", retired}} {
		t.Run(step.name, func(t *testing.T) {
			e.keyring = step.keyring
			e.reopen(t)
			unlockAll(t)
			r, err := e.db.Verify(ctx)
			if err != nil || len(r.Problems) != 0 {
				t.Errorf("Verify = %+v, %v", r, err)
			}
		})
	}
}

func TestPurgeUninstalled(t *testing.T) {
	e := MustOpen(t)
	now := e.clock.Now()
	day := 24 * time.Hour
	cutoff := now.Add(-30 * day)
	for _, ck := range []string{"gone-long-ago", "gone-at-cutoff", "gone-recently", "installed", "reinstalled", "disabled"} {
		e.install(t, ck, secrets.ProductJira)
		e.create(t, actorFor(ck, "alice", "jira:issue:1"), "t", "c", "password-1")
	}
	set := func(ck string, state secrets.State, at time.Time) {
		t.Helper()
		if err := e.installs.SetInstallationState(ctx, ck, state, at); err != nil {
			t.Fatal(err)
		}
	}
	set("gone-long-ago", secrets.StateUninstalled, now.Add(-90*day))
	set("gone-at-cutoff", secrets.StateUninstalled, cutoff)
	set("gone-recently", secrets.StateUninstalled, now.Add(-day))
	set("reinstalled", secrets.StateUninstalled, now.Add(-90*day))
	set("reinstalled", secrets.StateEnabled, now.Add(-80*day))
	set("disabled", secrets.StateDisabled, now.Add(-90*day))

	want := []string{"gone-at-cutoff", "gone-long-ago"}
	if due, err := e.db.UninstalledBefore(ctx, cutoff); err != nil || !slices.Equal(due, want) {
		t.Fatalf("UninstalledBefore = %v, %v; want %v", due, err, want)
	}
	purged, err := e.db.PurgeUninstalled(ctx, cutoff)
	if err != nil || !slices.Equal(purged, want) {
		t.Fatalf("PurgeUninstalled = %v, %v; want %v", purged, err, want)
	}
	for _, ck := range want {
		_, err := e.installs.FindInstallation(ctx, ck)
		wantCode(t, err, secrets.CodeNotFound)
	}
	stats, err := e.db.TenantStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, s := range stats {
		left = append(left, s.ClientKey)
		if s.Secrets != 1 {
			t.Errorf("%s has %d secrets, want 1", s.ClientKey, s.Secrets)
		}
	}
	if wantLeft := []string{"disabled", "gone-recently", "installed", "reinstalled"}; !slices.Equal(left, wantLeft) {
		t.Errorf("left %v, want %v", left, wantLeft)
	}
	if again, err := e.db.PurgeUninstalled(ctx, cutoff); err != nil || len(again) != 0 {
		t.Errorf("second purge = %v, %v", again, err)
	}

	// A purged tenant that installs again starts afresh with a new tenant
	// key; a stale cached key would seal its records with the old one, and
	// they would not open after a restart.
	e.install(t, "gone-long-ago", secrets.ProductJira)
	a := actorFor("gone-long-ago", "alice", "jira:issue:1")
	s := e.create(t, a, "t", "fresh", "password-1")
	e.reopen(t)
	if u := e.unlock(t, a, s.ID, "password-1"); u.Content != "fresh" {
		t.Errorf("content %q", u.Content)
	}
	if r, err := e.db.Verify(ctx); err != nil || len(r.Problems) != 0 {
		t.Errorf("Verify after purge and re-install = %+v, %v", r, err)
	}
}

// TestPurgeRefusesUnreadable checks that a tenant whose record does not
// open stops the purge before anything is deleted.
func TestPurgeRefusesUnreadable(t *testing.T) {
	e := MustOpen(t)
	e.install(t, "a-damaged", secrets.ProductJira)
	e.install(t, "b-gone", secrets.ProductJira)
	if err := e.installs.SetInstallationState(ctx, "b-gone", secrets.StateUninstalled, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	closeEnv(t, e)
	withRaw(t, e.path, func(tx *bbolt.Tx) error { return flipLast(rawTenant(tx, "a-damaged"), []byte("meta")) }, true)
	e.reopen(t)
	if purged, err := e.db.PurgeUninstalled(ctx, e.clock.Now()); err == nil || len(purged) != 0 {
		t.Fatalf("PurgeUninstalled = %v, %v; want an error", purged, err)
	}
	if _, err := e.installs.FindInstallation(ctx, "b-gone"); err != nil {
		t.Errorf("b-gone was purged despite the error: %v", err)
	}
}
