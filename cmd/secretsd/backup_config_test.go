package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseConfigBackupToken: the backup token is read from its file and
// trimmed; a short or missing file stops the start; no file leaves it empty
// (backups refused); the backup listener defaults to loopback apart from ops.
func TestParseConfigBackupToken(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(strings.Repeat("a", 40)+"\n"), 0o600)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("hunter2\n"), 0o600)

	c, err := ParseConfig(nil, env(), io.Discard)
	if err != nil || len(c.BackupToken) != 0 || c.BackupAddr != "127.0.0.1:9091" || c.BackupAddr == c.OpsAddr {
		t.Fatalf("defaults: %v, token %d bytes, backup addr %q", err, len(c.BackupToken), c.BackupAddr)
	}
	c, err = ParseConfig([]string{"--backup-token-file", good}, env(), io.Discard)
	if err != nil || string(c.BackupToken) != strings.Repeat("a", 40) {
		t.Fatalf("good token: %v, %q", err, c.BackupToken)
	}
	c, err = ParseConfig(nil, env("SECRETS_BACKUP_TOKEN_FILE", good), io.Discard)
	if err != nil || len(c.BackupToken) != 40 {
		t.Fatalf("token from env: %v", err)
	}
	for _, f := range []string{short, filepath.Join(dir, "missing")} {
		if _, err := ParseConfig([]string{"--backup-token-file", f}, env(), io.Discard); err == nil {
			t.Errorf("--backup-token-file %s accepted", filepath.Base(f))
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}
