package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/backend"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// siteSecret is a secret of the migration fixture, with its own password.
type siteSecret struct {
	stored
	password string
}

// lived is what the migration fixture did, to look for on the copy.
type lived struct {
	secrets    []siteSecret
	lockedBy   string // an unlock token that LockSecret revoked
	locked     siteSecret
	sessionKey []byte
	audit      map[string][]secrets.AuditEvent // by tenant, newest first
	attempts   map[string]int                  // failed attempts by secret id
	policy     secrets.Policy                  // site-1's
}

// newMigrationFixture is a bbolt file that secretsd's users have lived in:
// three sites installed with signed installs (one uninstalled since), two
// secrets each with passwords of their own (one expiring), unlocks, failed
// attempts, a locked unlock token, a site policy and the session key, so
// that every bucket holds something.
func newMigrationFixture(t *testing.T) (*fixture, *lived) {
	t.Helper()
	f := emptyFixture(t)
	db := f.open(t, f.keyFile)
	now := time.Now().UTC().Truncate(time.Second)
	l := &lived{audit: map[string][]secrets.AuditEvent{}, attempts: map[string]int{}}
	var err error
	if l.sessionKey, err = db.SessionKey(ctx); err != nil {
		t.Fatal(err)
	}
	sites := []struct {
		clientKey string
		product   secrets.Product
		container string
	}{
		{"site-1", secrets.ProductJira, "jira:issue:10001"},
		{"site-2", secrets.ProductConfluence, "confluence:page:77:macro-1"},
		{"site-3", secrets.ProductJira, "jira:issue:3"},
	}
	for i, s := range sites {
		inst := &secrets.Installation{
			ClientKey: s.clientKey, Product: s.product, AppKey: "com.example", SharedSecret: "SHARED-SECRET-MARKER-" + s.clientKey,
			BaseURL: "https://" + s.clientKey + ".atlassian.net", State: secrets.StateInstalled, InstalledAt: now, UpdatedAt: now,
		}
		ev := secrets.SignedEvent{IssuedAt: now, ExpiresAt: now.Add(3 * time.Minute),
			TokenID: sha256.Sum256([]byte("token " + s.clientKey)), BodyHash: sha256.Sum256([]byte("body " + s.clientKey))}
		if _, err := db.Install(ctx, inst, ev); err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			a := secrets.Actor{ClientKey: s.clientKey, AccountID: "alice", Container: secrets.Container(s.container)}
			in := secrets.NewSecret{Title: titleMarker, Content: contentMarker, Password: fmt.Sprintf("pw-%s-%d-long", s.clientKey, j)}
			if j == 1 {
				in.ExpiresAt = now.Add(48 * time.Hour)
			}
			created, err := db.CreateSecret(ctx, a, in)
			if err != nil {
				t.Fatal(err)
			}
			sec := siteSecret{stored{a, created.ID}, in.Password}
			l.secrets = append(l.secrets, sec)
			if _, err := db.UnlockSecret(ctx, a, sec.id, sec.password); err != nil {
				t.Fatal(err)
			}
			// Someone else guesses, and is counted.
			m := a
			m.AccountID = "mallory"
			for range i + 1 {
				if _, err := db.UnlockSecret(ctx, m, sec.id, "not the password"); !isCode(err, secrets.CodeWrongPassword) {
					t.Fatalf("wrong password: err = %v", err)
				}
			}
		}
	}
	// A locked unlock: its token must stay refused on the copy.
	l.locked = l.secrets[0]
	u, err := db.UnlockSecret(ctx, l.locked.actor, l.locked.id, l.locked.password)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.LockSecret(ctx, l.locked.actor, l.locked.id, u.UnlockToken); err != nil {
		t.Fatal(err)
	}
	l.lockedBy = u.UnlockToken
	l.policy = secrets.DefaultPolicy()
	l.policy.MinPasswordLen, l.policy.LockoutThreshold = 12, 7
	if err := db.SetSitePolicy(ctx, "site-1", "admin", l.policy); err != nil {
		t.Fatal(err)
	}
	if err := db.SetInstallationState(ctx, "site-3", secrets.StateUninstalled, now); err != nil {
		t.Fatal(err)
	}
	l.audit, l.attempts = history(t, db.Engine)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return f, l
}

// history reads the audit log and failed-attempt counts of the installed
// sites (an uninstalled site's admin sees nothing).
func history(t *testing.T, e *engine.Engine) (map[string][]secrets.AuditEvent, map[string]int) {
	t.Helper()
	audit, attempts := map[string][]secrets.AuditEvent{}, map[string]int{}
	for _, ck := range []string{"site-1", "site-2"} {
		page, err := e.AuditLog(ctx, ck, secrets.AuditQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		audit[ck] = page.Events
		all, err := e.FindAllSecrets(ctx, ck, secrets.SecretQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all.Secrets {
			attempts[s.ID] = s.FailedAttempts
		}
	}
	return audit, attempts
}

func isCode(err error, code secrets.Code) bool {
	var e *secrets.Error
	return errors.As(err, &e) && e.Code == code
}

// openPostgresEngine opens the store at url as secretsd does, with the
// keyring in keyFile.
func openPostgresEngine(t *testing.T, url, keyFile string, kdf *seal.KDF) *engine.Engine {
	t.Helper()
	kr, err := seal.LoadKeyringFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := backend.Open(ctx, url, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return engine.New(st, kr, kdf, secrets.DefaultPolicy())
}

// TestMigrate: a bbolt file migrated into a fresh PostgreSQL schema is the
// same database: every secret unlocks with its password, verify passes, the
// audit log, the attempt counters, the policy, the session key and the
// revocations are there, audit numbering goes on after the last copied
// event, and a second migration into the same target is refused.
func TestMigrate(t *testing.T) {
	f, l := newMigrationFixture(t)
	target := schemaURL(t, pgtest.NewSchema(t))
	u, _ := url.Parse(target)
	u.User = url.UserPassword(u.User.Username(), dbPassword) // printed redacted
	target = u.String()

	r := run(t, nil, "migrate", "--from", f.data, "--to", target)
	r.want(t, 0, "source "+f.data+": 3 tenants and", "no problems",
		"copied "+f.data+" into postgres://postgres:xxxxx@", "in one transaction",
		"read back: every bucket matches the source", "verified postgres://", "Next steps")
	for _, line := range []string{"audit", "secrets", "bodies", "attempts", "revoked", "app", "expiry", "tenant"} {
		if !strings.Contains(r.stdout, "  "+line+" ") {
			t.Errorf("the report has no line for %s", line)
		}
	}

	// The operator tools see the same database in both stores.
	bolt := run(t, nil, "tenants", "--json", "--data", f.data)
	pg := run(t, nil, "tenants", "--json", "--store", target, "--master-key-file", f.keyFile)
	if bolt.stdout != pg.stdout || pg.code != 0 {
		t.Errorf("tenants --json differs:\nbbolt %s\npostgres %s", bolt.stdout, pg.stdout)
	}

	e := openPostgresEngine(t, target, f.keyFile, f.kdf)
	report, err := e.Verify(ctx)
	if err != nil || len(report.Problems) > 0 || report.Tenants != 3 {
		t.Fatalf("Verify on the copy = %+v, %v", report, err)
	}
	audit, attempts := history(t, e)
	if !reflect.DeepEqual(audit, l.audit) {
		t.Errorf("audit logs differ:\ncopy   %+v\nsource %+v", audit, l.audit)
	}
	if !reflect.DeepEqual(attempts, l.attempts) {
		t.Errorf("failed attempts: copy %v, source %v", attempts, l.attempts)
	}
	if p, err := e.SitePolicy(ctx, "site-1"); err != nil || p != l.policy {
		t.Errorf("site-1 policy on the copy = %+v, %v; want %+v", p, err, l.policy)
	}
	if k, err := e.SessionKey(ctx); err != nil || string(k) != string(l.sessionKey) {
		t.Errorf("session key on the copy differs (%v): every session would end", err)
	}
	up := secrets.SecretUpdate{Title: titleMarker, Content: contentMarker, Version: 1}
	if _, err := e.UpdateSecret(ctx, l.locked.actor, l.locked.id, l.lockedBy, up); !isCode(err, secrets.CodeUnlockRequired) {
		t.Errorf("the locked unlock token on the copy: err = %v, want unlock_required", err)
	}
	for _, s := range l.secrets {
		if s.actor.ClientKey == "site-3" {
			continue // uninstalled: nobody may unlock it, here as there
		}
		got, err := e.UnlockSecret(ctx, s.actor, s.id, s.password)
		if err != nil || got.Content != contentMarker {
			t.Fatalf("unlock %s of %s on the copy: %v", s.id, s.actor.ClientKey, err)
		}
	}
	// Audit numbering went on after the copied events, in order.
	after, _ := history(t, e)
	for ck, events := range after {
		before := l.audit[ck]
		if len(events) < len(before) || !reflect.DeepEqual(events[len(events)-len(before):], before) {
			t.Errorf("%s: the copied events are no longer the oldest, in order", ck)
		}
		for i := 1; i < len(events); i++ {
			if events[i-1].Seq <= events[i].Seq {
				t.Errorf("%s: event %d has seq %d after %d", ck, i, events[i-1].Seq, events[i].Seq)
			}
		}
		if len(events) == len(before) {
			t.Errorf("%s: the unlocks on the copy were not audited", ck)
		}
	}

	// A second run finds the target in use and changes nothing.
	r = run(t, nil, "migrate", "--from", f.data, "--to", target)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "is not empty") || !strings.Contains(r.stderr, "changed nothing") {
		t.Errorf("second migrate: stderr %q", r.stderr)
	}
	if again, err := e.Verify(ctx); err != nil || again.Records != report.Records+len(l.secrets)-2 {
		// The unlocks above added one audit event per unlocked secret.
		t.Errorf("after the refused migrate: %+v, %v (had %d records)", again, err, report.Records)
	}
}

// TestMigrateRefuses: the wrong command lines, a running secretsd, a wrong
// keyring and a target that is in use are refused before anything is
// written.
func TestMigrateRefuses(t *testing.T) {
	f := newFixture(t)
	target := schemaURL(t, pgtest.NewSchema(t))
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no --from", []string{"--to", target}, 2, "--from is required"},
		{"no --to", []string{"--from", f.data}, 2, "--to is required"},
		{"--to bbolt", []string{"--from", f.data, "--to", "bolt://" + filepath.Join(t.TempDir(), "x.db")}, 2, "must be a postgres:// URL"},
		{"--to a file", []string{"--from", f.data, "--to", filepath.Join(t.TempDir(), "x.db")}, 2, "must be a postgres:// URL"},
		{"--to mysql", []string{"--from", f.data, "--to", "mysql://u:" + dbPassword + "@db/x"}, 2, "must be a postgres:// URL"},
		{"--from missing", []string{"--from", filepath.Join(f.dir, "nope.db"), "--to", target}, 1, "nope.db does not exist"},
		{"--from a directory", []string{"--from", f.dir, "--to", target}, 1, "is not a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"migrate"}, tc.args...)...)
			r.want(t, tc.code)
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tc.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(f.dir, "nope.db")); !errors.Is(err, os.ErrNotExist) {
		t.Error("migrate created the missing --from file")
	}

	t.Run("secretsd running", func(t *testing.T) {
		running := f.open(t, f.keyFile)
		r := run(t, nil, "migrate", "--from", f.data, "--to", target)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "held by another process") || !strings.Contains(r.stderr, "stop secretsd first") {
			t.Errorf("stderr %q", r.stderr)
		}
		running.Close()
	})
	t.Run("wrong keyring", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.key")
		if err := seal.GenerateKeyFile(other); err != nil {
			t.Fatal(err)
		}
		r := run(t, nil, "migrate", "--from", f.data, "--to", target, "--master-key-file", other)
		r.want(t, 1, "tenant key does not open with the master keyring")
		if !strings.Contains(r.stderr, "nothing was copied") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	// After all that, the target is still empty: the migration runs.
	run(t, nil, "migrate", "--from", f.data, "--to", target).want(t, 0, "verified", "4 tenants")

	t.Run("target in use by secretsd", func(t *testing.T) {
		// secretsd started on an empty database writes its session key
		// at once: that database is in use.
		other := schemaURL(t, pgtest.NewSchema(t))
		e := openPostgresEngine(t, other, f.keyFile, nil)
		if _, err := e.SessionKey(ctx); err != nil {
			t.Fatal(err)
		}
		r := run(t, nil, "migrate", "--from", f.data, "--to", other)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "records in app") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}
