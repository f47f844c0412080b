package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/backend"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/rs/zerolog"
)

const (
	titleMarker   = "TITLE-MARKER"
	contentMarker = "CONTENT-MARKER"
	password      = "password-1"
	// dbPassword is a PostgreSQL password some tests put in a store URL
	// (the test server trusts its clients, so it is never checked).
	dbPassword = "DB-PASSWORD-MARKER"
)

// fixture is a stopped secretsd's data directory: a database and, next to
// it, the development key file master.key that secretsctl finds by default.
// The database is the bbolt file data, or the PostgreSQL store url names.
type fixture struct {
	dir, data, keyFile string
	url                string // the store, as --store takes it
	kdf                *seal.KDF
	secrets            []stored // every secret, to unlock after key changes
}

type stored struct {
	actor secrets.Actor
	id    string
}

// newFixture creates four tenants in a bbolt file: tenant-a (jira, 2
// secrets), tenant-b (confluence, 1 secret), tenant-c (uninstalled 60 days
// ago) and tenant-d (uninstalled yesterday).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := emptyFixture(t)
	f.populate(t)
	return f
}

// newPostgresFixture is newFixture's tenants in a fresh schema of the test
// database (its URL names the schema), with the key file in a directory of
// its own.
func newPostgresFixture(t *testing.T) *fixture {
	t.Helper()
	f := emptyFixture(t)
	f.url = schemaURL(t, pgtest.NewSchema(t))
	f.populate(t)
	return f
}

// schemaURL is the test database's URL with schema as its search_path, the
// way an operator would point secretsd and secretsctl at a schema.
func schemaURL(t *testing.T, schema string) string {
	t.Helper()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatalf("%s: %v", pgtest.Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// emptyFixture is a directory with a key file and no database yet.
func emptyFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	return fixtureAt(t, filepath.Join(dir, "secrets.db"), filepath.Join(dir, "master.key"))
}

// fixtureAt is emptyFixture with the database and key file where a
// deployment keeps them (the runbook's paths, under a temporary root).
func fixtureAt(t *testing.T, data, keyFile string) *fixture {
	t.Helper()
	f := &fixture{dir: filepath.Dir(data), data: data, keyFile: keyFile}
	f.url = "bolt://" + f.data
	for _, d := range []string{filepath.Dir(data), filepath.Dir(keyFile)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := seal.GenerateKeyFile(f.keyFile); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.kdf, err = seal.NewKDF(4*int64(seal.MinKDFParams.Memory)*1024, seal.MinKDFParams); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) populate(t *testing.T) {
	t.Helper()
	db := f.open(t, f.keyFile)
	installs := db
	svc := db
	now := time.Now().UTC()
	for _, tc := range []struct {
		clientKey   string
		product     secrets.Product
		containers  []string
		uninstalled time.Duration // ago; 0: still installed
	}{
		{"tenant-a", secrets.ProductJira, []string{"jira:issue:1", "jira:issue:2"}, 0},
		{"tenant-b", secrets.ProductConfluence, []string{"confluence:page:7:m1"}, 0},
		{"tenant-c", secrets.ProductJira, nil, 60 * 24 * time.Hour},
		{"tenant-d", secrets.ProductJira, nil, 24 * time.Hour},
	} {
		inst := &secrets.Installation{
			ClientKey: tc.clientKey, Product: tc.product, AppKey: "com.example",
			SharedSecret: "SHARED-SECRET-MARKER-" + tc.clientKey, BaseURL: "https://" + tc.clientKey + ".atlassian.net",
			State: secrets.StateInstalled, InstalledAt: now.Add(-90 * 24 * time.Hour), UpdatedAt: now.Add(-90 * 24 * time.Hour),
		}
		if err := installs.SaveInstallation(ctx, inst); err != nil {
			t.Fatal(err)
		}
		for _, ctr := range tc.containers {
			a := secrets.Actor{ClientKey: tc.clientKey, AccountID: "alice", Container: secrets.Container(ctr)}
			s, err := svc.CreateSecret(ctx, a, secrets.NewSecret{Title: titleMarker, Content: contentMarker, Password: password})
			if err != nil {
				t.Fatal(err)
			}
			f.secrets = append(f.secrets, stored{a, s.ID})
		}
		if tc.uninstalled > 0 {
			if err := installs.SetInstallationState(ctx, tc.clientKey, secrets.StateUninstalled, now.Add(-tc.uninstalled)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

var ctx = context.Background()

// open opens the store for writing with the keyring in keyFile, as
// secretsd does at start, and closes it with the test.
func (f *fixture) open(t *testing.T, keyFile string) *database {
	t.Helper()
	kr, err := seal.LoadKeyringFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := backend.Open(ctx, f.url, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := &database{Engine: engine.New(st, kr, f.kdf, secrets.DefaultPolicy()), st: st}
	t.Cleanup(func() { db.Close() })
	return db
}

// unlockAll starts "secretsd" with keyFile and unlocks every secret with its
// password.
func (f *fixture) unlockAll(t *testing.T, keyFile string) {
	t.Helper()
	db := f.open(t, keyFile)
	defer db.Close()
	svc := db
	for _, s := range f.secrets {
		u, err := svc.UnlockSecret(ctx, s.actor, s.id, password)
		if err != nil {
			t.Fatalf("unlock %s with %s: %v", s.id, filepath.Base(keyFile), err)
		}
		if u.Content != contentMarker {
			t.Fatalf("unlock %s: content %q", s.id, u.Content)
		}
	}
}

// result is what a secretsctl run printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

// run runs secretsctl as main does, with only the given environment.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(ctx, args, &stdout, &stderr, func(k string) string { return env[k] })
	code := exitCode(err, &stderr)
	r := result{stdout.String(), stderr.String(), code}
	// The log is the test's own: it shows the command line, but not a
	// database password some tests put in a URL.
	t.Logf("secretsctl %s → %d\n%s%s", strings.ReplaceAll(strings.Join(args, " "), dbPassword, "xxxxx"), code, r.stdout, r.stderr)
	// Whatever happened, nothing secret is ever printed.
	for _, marker := range []string{titleMarker, contentMarker, "SHARED-SECRET-MARKER", password, dbPassword} {
		if strings.Contains(r.stdout+r.stderr, marker) {
			t.Errorf("output contains %q", marker)
		}
	}
	return r
}

// want checks the exit status and that stdout contains every string.
func (r result) want(t *testing.T, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	for _, s := range contains {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout does not contain %q:\n%s", s, r.stdout)
		}
	}
}

// env points secretsctl at the fixture through the environment, as an
// operator's shell would.
func (f *fixture) env() map[string]string { return map[string]string{"SECRETS_DATA": f.data} }

func TestUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		stdout   string // substring; "" for none expected
		stderrRE string // substring of the one error line
	}{
		{nil, 2, "", "no command given"},
		{[]string{"help"}, 0, "rotate-master-key", ""},
		{[]string{"--help"}, 0, "Commands:", ""},
		{[]string{"help", "backup"}, 0, "-offline", ""},
		{[]string{"backup", "-h"}, 0, "Usage: secretsctl backup --out FILE", ""},
		{[]string{"help"}, 0, "migrate", ""},
		{[]string{"migrate", "-h"}, 0, "Usage: secretsctl migrate --from FILE --to postgres://", ""},
		{[]string{"verify", "-h"}, 0, "-store", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"tenants", "--nope"}, 2, "", "tenants: flag provided but not defined: -nope (see 'secretsctl tenants -h')"},
		{[]string{"tenants", "extra"}, 2, "", `unexpected arguments ["extra"]`},
		{[]string{"backup"}, 2, "", "--out is required"},
		{[]string{"rotate-master-key"}, 2, "", "--out is required"},
		{[]string{"retire-master-key", "--id", "0", "--out", "x"}, 2, "", "--id must be"},
		{[]string{"retire-master-key", "--id", "4294967296", "--out", "x"}, 2, "", "--id must be"},
		{[]string{"purge", "--retention", "a month"}, 2, "", "--retention"},
		{[]string{"purge", "--retention", "-1h"}, 2, "", "--retention"},
		{[]string{"backup", "--out", "x", "--backup-addr", "ftp://host"}, 2, "", "--backup-addr"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit status %d, want %d", r.code, tc.code)
			}
			if tc.stdout != "" && !strings.Contains(r.stdout, tc.stdout) {
				t.Errorf("stdout %q does not contain %q", r.stdout, tc.stdout)
			}
			if tc.stderrRE != "" {
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				last := lines[len(lines)-1]
				if !strings.HasPrefix(last, "secretsctl: ") || !strings.Contains(last, tc.stderrRE) {
					t.Errorf("error line %q does not contain %q", last, tc.stderrRE)
				}
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{&usageError{cmd: "stats", err: errors.New("bad")}, 2, "secretsctl: stats: bad (see 'secretsctl stats -h')\n"},
		{fmt.Errorf("verify: %w", errors.New("2 problems found")), 1, "secretsctl: verify: 2 problems found\n"},
		{errors.Join(errors.New("one"), errors.New("two")), 1, "secretsctl: one two\n"},
		{fmt.Errorf("backup: %w", context.Canceled), 1, "secretsctl: interrupted: backup: context canceled\n"},
	}
	for _, tc := range tests {
		var stderr bytes.Buffer
		if got := exitCode(tc.err, &stderr); got != tc.code || stderr.String() != tc.stderr {
			t.Errorf("exitCode(%v) = %d, %q; want %d, %q", tc.err, got, stderr.String(), tc.code, tc.stderr)
		}
	}
}

func TestTenants(t *testing.T) {
	f := newFixture(t)
	r := run(t, f.env(), "tenants")
	r.want(t, 0, "CLIENT KEY", "UNINSTALLED AT", "4 tenants")
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasPrefix(lines[1], "tenant-a") || !strings.Contains(lines[1], "jira") || !strings.Contains(lines[1], "installed") {
		t.Errorf("tenant-a line: %q", lines[1])
	}
	if fields := strings.Fields(lines[3]); fields[0] != "tenant-c" || fields[2] != "uninstalled" || fields[len(fields)-1] == "-" {
		t.Errorf("tenant-c line: %q", lines[3])
	}

	r = run(t, f.env(), "tenants", "--json")
	r.want(t, 0)
	var got []tenantJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		clientKey, product, state string
		secrets, audit            int
	}{
		{"tenant-a", "jira", "installed", 2, 2},
		{"tenant-b", "confluence", "installed", 1, 1},
		{"tenant-c", "jira", "uninstalled", 0, 0},
		{"tenant-d", "jira", "uninstalled", 0, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tenants, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ClientKey != w.clientKey || g.Product != w.product || g.State != w.state || g.Secrets != w.secrets || g.AuditEvents != w.audit || g.MasterKeyID != 1 {
			t.Errorf("tenant %d = %+v, want %+v", i, g, w)
		}
		if (w.state == "uninstalled") == g.UninstalledAt.IsZero() {
			t.Errorf("tenant %d: uninstalledAt %v with state %s", i, g.UninstalledAt, g.State)
		}
	}
}

func TestStats(t *testing.T) {
	f := newFixture(t)
	r := run(t, nil, "stats", "--data", f.data, "--master-key-file", f.keyFile)
	r.want(t, 0,
		"4: 2 installed, 0 enabled, 0 disabled, 2 uninstalled",
		"secrets             3",
		"audit events        3",
		"key 1 wraps 4 tenant keys",
		"1 (primary 1)",
	)

	r = run(t, f.env(), "stats", "--json")
	r.want(t, 0)
	var got statsJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(f.data)
	if got.Tenants != 4 || got.Secrets != 3 || got.AuditEvents != 3 || got.TenantsByState["uninstalled"] != 2 ||
		got.MasterKeysInUse["1"] != 4 || got.FileBytes != fi.Size() || got.KeyringPrimary != 1 {
		t.Errorf("stats = %+v", got)
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	run(t, f.env(), "verify").want(t, 0, "checked 4 tenants and", "no problems")

	// The wrong keyring opens no tenant key: every tenant is a problem.
	other := filepath.Join(t.TempDir(), "other.key")
	if err := seal.GenerateKeyFile(other); err != nil {
		t.Fatal(err)
	}
	r := run(t, f.env(), "verify", "--master-key-file", other)
	r.want(t, 1, "TENANT", "tenant-a  tenant/key", "tenant key does not open with the master keyring", "4 problems")
	if !strings.Contains(r.stderr, "4 problems found") {
		t.Errorf("stderr %q", r.stderr)
	}

	// A missing key file is one clear error, not a new key.
	r = run(t, f.env(), "verify", "--master-key-file", filepath.Join(f.dir, "nope.key"))
	r.want(t, 1)
	if _, err := os.Stat(filepath.Join(f.dir, "nope.key")); !errors.Is(err, os.ErrNotExist) {
		t.Error("secretsctl created a key file")
	}
}

func TestCommandsNeedSecretsdStopped(t *testing.T) {
	f := newFixture(t)
	f.open(t, f.keyFile) // secretsd is running
	out := filepath.Join(f.dir, "new.key")
	r := run(t, f.env(), "rotate-master-key", "--out", out)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "held by another process") || !strings.Contains(r.stderr, "needs secretsd stopped") {
		t.Errorf("stderr %q", r.stderr)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Error("rotate-master-key wrote a key file although it could not run")
	}
}

func TestRotateAndRetireMasterKey(t *testing.T) {
	f := newFixture(t)
	newKey := filepath.Join(f.dir, "master-2.key")

	r := run(t, f.env(), "rotate-master-key", "--out", newKey)
	r.want(t, 0, "master keys 1, 2, new primary key 2", "re-wrapped 4 tenant keys with key 2",
		"Next steps", "--master-key-file "+newKey, "retire-master-key", "--out FINAL-KEYFILE")
	fi, err := os.Stat(newKey)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key file: %v, %v", fi, err)
	}
	kr, err := seal.LoadKeyringFile(newKey)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kr.IDs(), []uint32{1, 2}) || kr.PrimaryID() != 2 {
		t.Errorf("new keyring: ids %v, primary %d", kr.IDs(), kr.PrimaryID())
	}
	if tmps, _ := filepath.Glob(filepath.Join(f.dir, "*.tmp")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
	f.unlockAll(t, newKey)
	// The tenant keys are re-wrapped: the old file opens none of them.
	run(t, f.env(), "verify", "--master-key-file", f.keyFile).want(t, 1, "4 problems")
	run(t, f.env(), "stats", "--master-key-file", newKey).want(t, 0, "key 2 wraps 4 tenant keys")

	t.Run("refuses to overwrite", func(t *testing.T) {
		before, _ := os.ReadFile(newKey)
		run(t, f.env(), "rotate-master-key", "--out", newKey).want(t, 1)
		if after, _ := os.ReadFile(newKey); !bytes.Equal(before, after) {
			t.Error("key file changed")
		}
	})
	t.Run("refuses the wrong keyring", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.key")
		if err := seal.GenerateKeyFile(other); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out.key")
		r := run(t, f.env(), "rotate-master-key", "--master-key-file", other, "--out", out)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "wrapped by master key 2") {
			t.Errorf("stderr %q", r.stderr)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Error("wrote a key file for the wrong keyring")
		}
	})

	final := filepath.Join(f.dir, "master-final.key")
	t.Run("retire refuses the primary", func(t *testing.T) {
		r := run(t, f.env(), "retire-master-key", "--master-key-file", newKey, "--id", "2", "--out", final)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "primary") {
			t.Errorf("stderr %q", r.stderr)
		}
		run(t, f.env(), "retire-master-key", "--master-key-file", newKey, "--id", "7", "--out", final).want(t, 1)
		if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
			t.Error("wrote a key file although it refused")
		}
	})

	run(t, f.env(), "retire-master-key", "--master-key-file", newKey, "--id", "1", "--out", final).
		want(t, 0, "master keys 2, primary key 2; key 1 retired")
	kr, err = seal.LoadKeyringFile(final)
	if err != nil || !slices.Equal(kr.IDs(), []uint32{2}) {
		t.Fatalf("final keyring: %v, %v", kr.IDs(), err)
	}
	if fi, err := os.Stat(final); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("final key file: %v, %v", fi, err)
	}
	f.unlockAll(t, final)
	run(t, f.env(), "verify", "--master-key-file", final).want(t, 0, "no problems")
}

// TestRetireRefusesKeyInUse: a rotated keyring whose tenant keys were never
// re-wrapped (say the re-wrap crashed) must not lose its old key.
func TestRetireRefusesKeyInUse(t *testing.T) {
	f := newFixture(t)
	kr, err := seal.LoadKeyringFile(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := kr.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	rotatedFile := filepath.Join(f.dir, "rotated.key")
	if err := os.WriteFile(rotatedFile, rotated.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Written first, the rotated keyring opens the database whether or
	// not the re-wrap happened.
	f.unlockAll(t, rotatedFile)

	out := filepath.Join(f.dir, "retired.key")
	r := run(t, f.env(), "retire-master-key", "--master-key-file", rotatedFile, "--id", "1", "--out", out)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "key 1 still wraps 4 tenant keys") {
		t.Errorf("stderr %q", r.stderr)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Error("wrote a keyring without a key in use")
	}
}

// TestKeyCommandsRefuseForeignKeyring: a keyring from another environment
// has the same key id 1 but opens nothing here; no key file may be made
// from it.
func TestKeyCommandsRefuseForeignKeyring(t *testing.T) {
	f := newFixture(t)
	foreign := filepath.Join(t.TempDir(), "foreign.key")
	if err := seal.GenerateKeyFile(foreign); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.key")
	r := run(t, f.env(), "rotate-master-key", "--master-key-file", foreign, "--out", out)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "does not open this database") {
		t.Errorf("stderr %q", r.stderr)
	}

	kr, err := seal.LoadKeyringFile(foreign)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := kr.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(foreign, rotated.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, f.env(), "retire-master-key", "--master-key-file", foreign, "--id", "1", "--out", out)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "does not open this database") {
		t.Errorf("stderr %q", r.stderr)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Error("wrote a key file from a foreign keyring")
	}
	f.unlockAll(t, f.keyFile)
}

func TestBackupOffline(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(t.TempDir(), "backup.db")
	run(t, f.env(), "backup", "--offline", "--out", out).want(t, 0, "written to "+out, "4 tenants, page check passed")
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v", fi, err)
	}
	run(t, nil, "verify", "--data", out, "--master-key-file", f.keyFile).want(t, 0, "no problems")
	run(t, nil, "tenants", "--data", out, "--master-key-file", f.keyFile).want(t, 0, "4 tenants")

	r := run(t, f.env(), "backup", "--offline", "--out", out)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "already exists; pass --force") {
		t.Errorf("stderr %q", r.stderr)
	}
	run(t, f.env(), "backup", "--offline", "--out", out, "--force").want(t, 0)

	// A running secretsd is pointed out, not waited for.
	f.open(t, f.keyFile)
	r = run(t, f.env(), "backup", "--offline", "--out", filepath.Join(t.TempDir(), "b.db"))
	r.want(t, 1)
	if !strings.Contains(r.stderr, "without --offline") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestBackupOnline(t *testing.T) {
	f := newFixture(t)
	db := f.open(t, f.keyFile) // secretsd is running, with its ops listener
	ops := func(backup func(io.Writer, func(int64)) (int64, error)) string {
		srv := httptest.NewServer(server.BackupHandler(server.BackupDeps{Backup: backup, Token: []byte(testBackupToken), Logger: zerolog.Nop()}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	good := ops(db.file().Backup)
	dir := t.TempDir()
	noFiles := func(t *testing.T, out string) {
		t.Helper()
		for _, p := range []string{out, out + ".tmp"} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left behind (%v)", p, err)
			}
		}
	}

	out := filepath.Join(dir, "online.db")
	run(t, tokenEnv(t, "SECRETS_BACKUP_ADDR", good), "backup", "--out", out).
		want(t, 0, "backup of http://"+good+"/backup written to "+out, "4 tenants")
	run(t, nil, "verify", "--data", out, "--master-key-file", f.keyFile).want(t, 0, "no problems")
	run(t, tokenEnv(t), "backup", "--ops-addr", "http://"+good, "--out", out).want(t, 1)
	run(t, tokenEnv(t), "backup", "--ops-addr", "http://"+good+"/", "--out", out, "--force").want(t, 0)

	t.Run("truncated", func(t *testing.T) {
		// Announces more than it sends, as a backup that fails midway does.
		addr := ops(func(w io.Writer, size func(int64)) (int64, error) {
			return db.file().Backup(w, func(n int64) { size(n + 4096) })
		})
		out := filepath.Join(dir, "truncated.db")
		r := run(t, tokenEnv(t), "backup", "--ops-addr", addr, "--out", out)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "cut short") {
			t.Errorf("stderr %q", r.stderr)
		}
		noFiles(t, out)
	})
	t.Run("whole but not a database", func(t *testing.T) {
		addr := ops(func(w io.Writer, size func(int64)) (int64, error) {
			junk := bytes.Repeat([]byte("not a bbolt page "), 4096)
			size(int64(len(junk)))
			n, err := w.Write(junk)
			return int64(n), err
		})
		out := filepath.Join(dir, "junk.db")
		r := run(t, tokenEnv(t), "backup", "--ops-addr", addr, "--out", out)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "the copy does not open") {
			t.Errorf("stderr %q", r.stderr)
		}
		noFiles(t, out)
	})
	t.Run("secretsd not running", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		out := filepath.Join(dir, "none.db")
		r := run(t, tokenEnv(t), "backup", "--ops-addr", addr, "--out", out)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "is it running?") {
			t.Errorf("stderr %q", r.stderr)
		}
		noFiles(t, out)
	})
	t.Run("stale tmp file", func(t *testing.T) {
		out := filepath.Join(dir, "stale.db")
		if err := os.WriteFile(out+".tmp", []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := run(t, tokenEnv(t), "backup", "--ops-addr", good, "--out", out)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "stale.db.tmp exists") {
			t.Errorf("stderr %q", r.stderr)
		}
		run(t, tokenEnv(t), "backup", "--ops-addr", good, "--out", out, "--force").want(t, 0)
		if _, err := os.Stat(out + ".tmp"); !errors.Is(err, os.ErrNotExist) {
			t.Error("tmp file left behind")
		}
	})
}

func TestPurge(t *testing.T) {
	f := newFixture(t)
	run(t, f.env(), "purge", "--dry-run").want(t, 0, "would purge tenant-c\n", "1 tenant uninstalled at or before", "nothing deleted")
	run(t, f.env(), "tenants").want(t, 0, "4 tenants")

	r := run(t, map[string]string{"SECRETS_DATA": f.data, "SECRETS_RETENTION": "720h"}, "purge")
	r.want(t, 0, "purged tenant-c\n", "purged 1 tenant uninstalled")
	if strings.Contains(r.stdout, "tenant-d") {
		t.Error("purged tenant-d, uninstalled only yesterday")
	}
	r = run(t, f.env(), "tenants")
	r.want(t, 0, "tenant-a", "tenant-b", "tenant-d", "3 tenants")
	if strings.Contains(r.stdout, "tenant-c") {
		t.Error("tenant-c still listed")
	}
	run(t, f.env(), "purge", "--retention", "1h").want(t, 0, "purged tenant-d\n")
	f.unlockAll(t, f.keyFile)
}
