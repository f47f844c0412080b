package main

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestPostgresStore: the reading commands, purge and the key commands work
// on a PostgreSQL store named by $SECRETS_STORE or --store, the reading
// ones while secretsd serves from it.
func TestPostgresStore(t *testing.T) {
	f := newPostgresFixture(t)
	env := map[string]string{"SECRETS_STORE": f.url, "SECRETS_MASTER_KEY_FILE": f.keyFile}

	running := f.open(t, f.keyFile) // secretsd is serving
	run(t, env, "verify").want(t, 0, "checked 4 tenants and", "in postgres://", "no problems")
	run(t, env, "tenants").want(t, 0, "tenant-a", "tenant-d", "4 tenants")
	run(t, nil, "stats", "--store", f.url, "--master-key-file", f.keyFile).
		want(t, 0, "(PostgreSQL)", "4: 2 installed, 0 enabled, 0 disabled, 2 uninstalled", "key 1 wraps 4 tenant keys")
	r := run(t, env, "stats", "--json")
	r.want(t, 0)
	var got statsJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Store != "postgres" || got.FileBytes != 0 || got.Tenants != 4 || got.Secrets != 3 || !strings.HasPrefix(got.Database, "postgres://") {
		t.Errorf("stats = %+v", got)
	}
	if strings.Contains(r.stdout, "fileBytes") {
		t.Error("stats --json has a file size for PostgreSQL")
	}
	if _, err := running.Verify(ctx); err != nil {
		t.Fatalf("secretsd's store after the reading commands: %v", err)
	}

	// purge needs no stop on PostgreSQL (the janitor does the same), and
	// has no file to compact.
	run(t, env, "purge", "--dry-run").want(t, 0, "would purge tenant-c\n", "nothing deleted")
	r = run(t, env, "purge")
	r.want(t, 0, "purged tenant-c\n", "purged 1 tenant")
	if strings.Contains(r.stdout, "compacted") {
		t.Error("purge compacted a PostgreSQL store")
	}
	run(t, env, "tenants").want(t, 0, "3 tenants")
	if err := running.Close(); err != nil {
		t.Fatal(err)
	}

	// Key rotation, with every replica stopped.
	newKey := filepath.Join(f.dir, "master-2.key")
	run(t, env, "rotate-master-key", "--out", newKey).
		want(t, 0, "re-wrapped 3 tenant keys with key 2", "secretsctl verify --store 'postgres://", "retire-master-key --store 'postgres://")
	f.unlockAll(t, newKey)
	run(t, env, "verify").want(t, 1, "tenant key does not open with the master keyring", "3 problems")
	run(t, env, "verify", "--master-key-file", newKey).want(t, 0, "no problems")

	// Retiring only reads: it may run beside replicas on the new keyring.
	running = f.open(t, newKey)
	final := filepath.Join(f.dir, "master-3.key")
	run(t, env, "retire-master-key", "--master-key-file", newKey, "--id", "1", "--out", final).
		want(t, 0, "master keys 2, primary key 2; key 1 retired")
	running.Close()
	f.unlockAll(t, final)
}

// TestStoreFlag: --store and $SECRETS_STORE name the store as secretsd's do,
// except that --data on the command line beats $SECRETS_STORE; a store URL's
// password is never printed.
func TestStoreFlag(t *testing.T) {
	f := newFixture(t)
	pg := newPostgresFixture(t)
	withPassword := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), dbPassword)
		return u.String()
	}

	t.Run("bolt URL", func(t *testing.T) {
		run(t, nil, "verify", "--store", "bolt://"+f.data, "--master-key-file", f.keyFile).
			want(t, 0, "checked 4 tenants", "in "+f.data+":")
	})
	t.Run("--data beats the environment", func(t *testing.T) {
		env := map[string]string{"SECRETS_STORE": pg.url}
		run(t, env, "verify", "--data", f.data).want(t, 0, "in "+f.data+":")
		// --master-key-file defaults to master.key next to --data.
		run(t, env, "tenants", "--data", f.data).want(t, 0, "4 tenants")
	})
	t.Run("--store beats --data", func(t *testing.T) {
		run(t, nil, "verify", "--data", f.data, "--store", pg.url, "--master-key-file", pg.keyFile).
			want(t, 0, "in postgres://")
	})
	t.Run("password redacted", func(t *testing.T) {
		env := map[string]string{"SECRETS_STORE": withPassword(pg.url), "SECRETS_MASTER_KEY_FILE": pg.keyFile}
		run(t, env, "verify").want(t, 0, ":xxxxx@", "no problems")
		run(t, env, "stats").want(t, 0, ":xxxxx@")
		// A database that does not answer: the error names it, without
		// the password.
		env["SECRETS_STORE"] = "postgres://secrets:" + dbPassword + "@127.0.0.1:1/secrets?connect_timeout=2"
		r := run(t, env, "tenants")
		r.want(t, 1)
		if !strings.Contains(r.stderr, "secrets:xxxxx@127.0.0.1:1") {
			t.Errorf("stderr %q does not name the store", r.stderr)
		}
		r = run(t, env, "backup", "--out", filepath.Join(t.TempDir(), "b.db"))
		r.want(t, 1)
		if !strings.Contains(r.stderr, "pg_dump") {
			t.Errorf("backup on PostgreSQL: stderr %q", r.stderr)
		}
	})
	t.Run("bad URLs", func(t *testing.T) {
		for _, store := range []string{"mysql://db/secrets", "bolt://", "./data/secrets.db"} {
			r := run(t, map[string]string{"SECRETS_STORE": store}, "verify", "--master-key-file", f.keyFile)
			r.want(t, 2)
			if !strings.Contains(r.stderr, "bolt://") {
				t.Errorf("--store %q: stderr %q", store, r.stderr)
			}
		}
	})
	t.Run("backup finds a bolt store", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "backup.db")
		run(t, map[string]string{"SECRETS_STORE": "bolt://" + f.data}, "backup", "--offline", "--out", out).
			want(t, 0, "backup of "+f.data, "4 tenants")
	})
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://secrets:" + dbPassword + "@db:5432/secrets?sslmode=require", "postgres://secrets:xxxxx@db:5432/secrets?sslmode=require"},
		{"postgresql://secrets:p%40ss%2F" + dbPassword + "@db/secrets", "postgresql://secrets:xxxxx@db/secrets"},
		{"postgres://secrets@db/secrets?sslmode=disable", "postgres://secrets@db/secrets?sslmode=disable"},
		{"postgres://db/secrets", "postgres://db/secrets"},
		{"postgres://db/secrets?password=" + dbPassword + "&sslmode=disable", "postgres://db/secrets?password=xxxxx&sslmode=disable"},
		{"postgres://secrets:" + dbPassword + "@db:port/secrets", "postgres://… (not a URL)"},
	}
	for _, tc := range tests {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(redact(tc.in), dbPassword) {
			t.Errorf("redact(%q) keeps the password", tc.in)
		}
	}
}
