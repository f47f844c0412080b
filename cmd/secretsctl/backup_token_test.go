package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/rs/zerolog"
)

// testBackupToken is the backup token of the tests' backup listeners.
const testBackupToken = "test-backup-token-0123456789abcdef0123456789"

// tokenEnv writes testBackupToken to a file and returns the environment that
// names it, plus any extra name/value pairs.
func tokenEnv(t *testing.T, kv ...string) map[string]string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "backup.token")
	if err := os.WriteFile(p, []byte(testBackupToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SECRETS_BACKUP_TOKEN_FILE": p}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// TestBackupNeedsToken: secretsctl sends the token from its file; a wrong
// one, none, or a server without a token all end without a backup file.
func TestBackupNeedsToken(t *testing.T) {
	f := newFixture(t)
	db := f.open(t, f.keyFile)
	srv := httptest.NewServer(server.BackupHandler(server.BackupDeps{Backup: db.file().Backup, Token: []byte(testBackupToken), Logger: zerolog.Nop()}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	dir := t.TempDir()

	out := filepath.Join(dir, "ok.db")
	run(t, tokenEnv(t), "backup", "--backup-addr", addr, "--out", out).want(t, 0, "4 tenants")

	wrong := filepath.Join(dir, "wrong.token")
	os.WriteFile(wrong, []byte(strings.Repeat("x", 40)), 0o600)
	out = filepath.Join(dir, "wrong.db")
	r := run(t, map[string]string{"SECRETS_BACKUP_TOKEN_FILE": wrong}, "backup", "--backup-addr", addr, "--out", out)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "token was refused") || strings.Contains(r.stderr, "xxxx") {
		t.Errorf("stderr %q", r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused backup left a file")
	}
	run(t, nil, "backup", "--backup-addr", addr, "--out", filepath.Join(dir, "none.db")).want(t, 2)

	off := httptest.NewServer(server.BackupHandler(server.BackupDeps{Backup: db.file().Backup, Logger: zerolog.Nop()}))
	defer off.Close()
	r = run(t, tokenEnv(t), "backup", "--backup-addr", off.Listener.Addr().String(), "--out", filepath.Join(dir, "off.db"))
	r.want(t, 1)
	if !strings.Contains(r.stderr, "refuses backups") {
		t.Errorf("stderr %q", r.stderr)
	}
}
