package main

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/rs/zerolog"
)

// TestMissingMasterKey: a command on a backup copied elsewhere finds no
// master.key beside it and says which flag to pass, not "stat …: no such
// file".
func TestMissingMasterKey(t *testing.T) {
	f := newFixture(t)
	backup := filepath.Join(t.TempDir(), "backup.db")
	run(t, f.env(), "backup", "--offline", "--out", backup).want(t, 0)
	wantKey := filepath.Join(filepath.Dir(backup), "master.key")

	for _, args := range [][]string{
		{"verify", "--data", backup},
		{"tenants", "--data", backup},
		{"stats", "--data", backup},
		{"rotate-master-key", "--data", backup, "--out", filepath.Join(t.TempDir(), "new.key")},
	} {
		r := run(t, nil, args...)
		r.want(t, 1)
		want := "no master key at " + wantKey + ": pass --master-key-file"
		if !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "stat ") {
			t.Errorf("%s: stderr %q, want %q", args[0], r.stderr, want)
		}
	}
	// An explicit --master-key-file that is not there is named the same way.
	missing := filepath.Join(t.TempDir(), "gone.key")
	r := run(t, nil, "verify", "--data", backup, "--master-key-file", missing)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "no master key at "+missing+": pass --master-key-file") {
		t.Errorf("stderr %q", r.stderr)
	}
	// With the key, the same backup reads.
	run(t, nil, "tenants", "--data", backup, "--master-key-file", f.keyFile).want(t, 0, "4 tenants")
}

// TestReadingCommandsWhileSecretsdRuns: tenants and stats on a file a running
// secretsd holds read a hot copy through its backup listener when given the
// token file, and otherwise refuse naming the flags that fix it.
func TestReadingCommandsWhileSecretsdRuns(t *testing.T) {
	f := newFixture(t)
	db := f.open(t, f.keyFile) // secretsd is running
	srv := httptest.NewServer(server.BackupHandler(server.BackupDeps{Backup: db.file().Backup, Token: []byte(testBackupToken), Logger: zerolog.Nop()}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	t.Run("refused without a token, with the fix", func(t *testing.T) {
		for _, cmd := range []string{"tenants", "stats"} {
			r := run(t, f.env(), cmd)
			r.want(t, 1)
			for _, want := range []string{"held by another process", "probably a running secretsd", "--backup-token-file", "--backup-addr"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("%s: stderr %q does not say %q", cmd, r.stderr, want)
				}
			}
		}
	})

	tmpBefore := hotCopies(t)
	t.Run("through the backup listener", func(t *testing.T) {
		r := run(t, f.env(), "tenants", "--backup-addr", addr, "--backup-token-file", tokenFile(t))
		r.want(t, 0, "tenant-a", "tenant-b", "tenant-c", "tenant-d", "4 tenants")
		r = run(t, f.env(), "stats", "--backup-addr", addr, "--backup-token-file", tokenFile(t))
		r.want(t, 0, "read as a hot copy from http://"+addr+"/backup", "4: 2 installed, 0 enabled, 0 disabled, 2 uninstalled", "key 1 wraps 4 tenant keys")
	})
	t.Run("token file from the environment", func(t *testing.T) {
		env := tokenEnv(t, "SECRETS_DATA", f.data, "SECRETS_BACKUP_ADDR", addr)
		run(t, env, "tenants", "--json").want(t, 0, `"clientKey": "tenant-a"`)
	})
	t.Run("a wrong token is refused", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "wrong.token")
		if err := os.WriteFile(wrong, []byte(strings.Repeat("w", 40)), 0o600); err != nil {
			t.Fatal(err)
		}
		r := run(t, f.env(), "stats", "--backup-addr", addr, "--backup-token-file", wrong)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "token was refused") || strings.Contains(r.stderr, "wwww") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	// The hot copies are as sensitive as the database: none is left behind.
	if after := hotCopies(t); len(after) != len(tmpBefore) {
		t.Errorf("hot copies left in %s: %v", os.TempDir(), after)
	}
}

// tokenFile writes testBackupToken to a file and returns its path.
func tokenFile(t *testing.T) string {
	t.Helper()
	return tokenEnv(t)["SECRETS_BACKUP_TOKEN_FILE"]
}

// hotCopies lists the temporary directories of hot copies.
func hotCopies(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(os.TempDir(), "secretsctl-hot-copy-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRetireWithoutID: without --id, retire-master-key drops every key but
// the primary that wraps nothing, says which, and keeps (and names) any key
// still in use; with nothing to drop it writes nothing.
func TestRetireWithoutID(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(f.dir, "out.key")

	r := run(t, f.env(), "retire-master-key", "--out", out)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "holds only its primary key 1: nothing to retire") {
		t.Errorf("stderr %q", r.stderr)
	}
	noFile(t, out)

	// Keys 1, 2 (primary 2) with every tenant key re-wrapped by 2, then a
	// key 3 added without a re-wrap: 1 is unused, 2 still in use.
	rotated := filepath.Join(f.dir, "rotated.key")
	run(t, f.env(), "rotate-master-key", "--out", rotated).want(t, 0)
	threeKeys := filepath.Join(f.dir, "three.key")
	writeRotated(t, rotated, threeKeys)

	r = run(t, f.env(), "retire-master-key", "--master-key-file", threeKeys, "--out", out)
	r.want(t, 0, "master keys 2, 3, primary key 3; key 1 retired", "kept key 2, still in use (key 2 wraps 4 tenant keys)")
	kr, err := seal.LoadKeyringFile(out)
	if err != nil || !slices.Equal(kr.IDs(), []uint32{2, 3}) || kr.PrimaryID() != 3 {
		t.Fatalf("keyring %v: %v", kr.IDs(), err)
	}
	f.unlockAll(t, out)

	// Only key 2 left besides the primary, and it is in use: refused.
	out2 := filepath.Join(f.dir, "out2.key")
	r = run(t, f.env(), "retire-master-key", "--master-key-file", out, "--out", out2)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "every old key still wraps tenant keys (key 2 wraps 4 tenant keys)") {
		t.Errorf("stderr %q", r.stderr)
	}
	noFile(t, out2)
}

// writeRotated writes the keyring in from, plus a new primary key, to to,
// without re-wrapping anything: as if a rotation stopped after its first step.
func writeRotated(t *testing.T, from, to string) {
	t.Helper()
	kr, err := seal.LoadKeyringFile(from)
	if err != nil {
		t.Fatal(err)
	}
	next, err := kr.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, next.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s was written (%v)", path, err)
	}
}
