package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// TestTenantMove moves site-1 of a lived-in bbolt file into PostgreSQL
// under another master keyring: every secret unlocks there, verify passes,
// and the source is untouched (and verifies) until commit.
func TestTenantMove(t *testing.T) {
	src, l := newMigrationFixture(t)
	dst := emptyFixture(t) // its own master key
	dst.url = schemaURL(t, pgtest.NewSchema(t))
	dstFlags := []string{"--store", dst.url, "--master-key-file", dst.keyFile}
	srcFlags := []string{"--data", src.data}
	out, receipt := filepath.Join(t.TempDir(), "site-1.export"), filepath.Join(t.TempDir(), "site-1.receipt")

	dstKey := strings.TrimSpace(run(t, nil, "tenant", "transfer-key", "--master-key-file", dst.keyFile).stdout)
	srcKey := strings.TrimSpace(run(t, nil, append([]string{"tenant", "transfer-key"}, srcFlags...)...).stdout)
	if dstKey == "" || srcKey == "" || dstKey == srcKey {
		t.Fatalf("transfer keys %q and %q", srcKey, dstKey)
	}
	before, err := os.ReadFile(src.data)
	if err != nil {
		t.Fatal(err)
	}

	run(t, nil, append([]string{"tenant", "export", "--tenant", "site-1", "--to-key", dstKey, "--out", out}, srcFlags...)...).
		want(t, 0, "exported tenant site-1 from "+src.data)
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v %v", fi, err)
	}

	t.Run("refusals", func(t *testing.T) {
		wrong := emptyFixture(t) // a third keyring, a bbolt file of its own
		wrongFlags := []string{"--data", wrong.data, "--master-key-file", wrong.keyFile}
		wrong.open(t, wrong.keyFile).Close()
		r := run(t, nil, append([]string{"tenant", "import", "--in", out, "--from-key", srcKey, "--receipt", filepath.Join(t.TempDir(), "r")}, wrongFlags...)...)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "another deployment's transfer key") {
			t.Errorf("wrong keyring: %q", r.stderr)
		}
		b, _ := os.ReadFile(out)
		i := strings.Index(string(b), `"v":"`) + 10
		tampered := filepath.Join(t.TempDir(), "tampered")
		b[i] ^= 'A' ^ 'B'
		if err := os.WriteFile(tampered, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r = run(t, nil, append([]string{"tenant", "import", "--in", tampered, "--from-key", srcKey, "--receipt", filepath.Join(t.TempDir(), "r")}, dstFlags...)...)
		r.want(t, 1)
		if !strings.Contains(r.stderr, "altered") && !strings.Contains(r.stderr, "does not decode") {
			t.Errorf("tampered export: %q", r.stderr)
		}
		run(t, nil, append([]string{"tenant", "import", "--in", out, "--from-key", dstKey, "--receipt", filepath.Join(t.TempDir(), "r")}, dstFlags...)...).want(t, 1)
		run(t, nil, append([]string{"tenants", "--json"}, dstFlags...)...).want(t, 0, "[]")
	})

	run(t, nil, append([]string{"tenant", "import", "--in", out, "--from-key", srcKey, "--receipt", receipt}, dstFlags...)...).
		want(t, 0, "imported tenant site-1 into postgres://", "no problems")
	run(t, nil, append([]string{"tenant", "verify", "--tenant", "site-1"}, dstFlags...)...).want(t, 0, "no problems")

	e := openPostgresEngine(t, dst.url, dst.keyFile, dst.kdf)
	moved := 0
	for _, s := range l.secrets {
		if s.actor.ClientKey != "site-1" {
			continue
		}
		got, err := e.UnlockSecret(ctx, s.actor, s.id, s.password)
		if err != nil || got.Content != contentMarker {
			t.Fatalf("unlock %s at the destination: %v", s.id, err)
		}
		moved++
	}
	if moved != 2 {
		t.Fatalf("%d secrets of site-1 unlocked, want 2", moved)
	}
	if p, err := e.SitePolicy(ctx, "site-1"); err != nil || p != l.policy {
		t.Errorf("policy at the destination: %+v %v", p, err)
	}

	// The source is byte for byte as it was, and serves.
	if after, _ := os.ReadFile(src.data); string(after) != string(before) {
		t.Error("the source file changed before the commit")
	}
	run(t, nil, append([]string{"verify"}, srcFlags...)...).want(t, 0, "3 tenants", "no problems")

	// A forged receipt commits nothing.
	forged := filepath.Join(t.TempDir(), "forged")
	os.WriteFile(forged, []byte(`{"tenant":"site-1","sealed":"AQAAAAA="}`), 0o600)
	run(t, nil, append([]string{"tenant", "commit", "--in", out, "--receipt", forged}, srcFlags...)...).want(t, 1)
	run(t, nil, append([]string{"tenant", "commit", "--in", out, "--receipt", receipt}, srcFlags...)...).
		want(t, 0, "committed the move of tenant site-1")
	db := src.open(t, src.keyFile)
	if _, err := db.FindInstallation(ctx, "site-1"); !isCode(err, secrets.CodeNotFound) {
		t.Errorf("site-1 at the source after the commit: %v", err)
	}
	if _, err := db.FindInstallation(ctx, "site-2"); err != nil {
		t.Errorf("site-2 at the source: %v", err)
	}
}

// TestTenantRollback: a rollback removes the destination's copy and
// leaves the source as it was.
func TestTenantRollback(t *testing.T) {
	src := newFixture(t)
	dst := emptyFixture(t)
	dst.open(t, dst.keyFile).Close()
	dstFlags := []string{"--data", dst.data, "--master-key-file", dst.keyFile}
	dstKey := strings.TrimSpace(run(t, nil, "tenant", "transfer-key", "--master-key-file", dst.keyFile).stdout)
	srcKey := strings.TrimSpace(run(t, nil, "tenant", "transfer-key", "--data", src.data).stdout)
	out, receipt := filepath.Join(t.TempDir(), "x"), filepath.Join(t.TempDir(), "r")
	run(t, nil, "tenant", "export", "--tenant", "tenant-a", "--to-key", dstKey, "--out", out, "--data", src.data).want(t, 0)
	run(t, nil, append([]string{"tenant", "import", "--in", out, "--from-key", srcKey, "--receipt", receipt}, dstFlags...)...).want(t, 0)
	run(t, nil, append([]string{"tenant", "rollback", "--in", out}, dstFlags...)...).want(t, 0, "rolled back")
	run(t, nil, append([]string{"tenant", "verify", "--tenant", "tenant-a"}, dstFlags...)...).want(t, 1)
	src.unlockAll(t, src.keyFile)
	run(t, nil, "tenant", "export", "--tenant", "nobody", "--to-key", dstKey, "--out", filepath.Join(t.TempDir(), "n"), "--data", src.data).want(t, 1)
	run(t, nil, "tenant", "frobnicate").want(t, 2)
}
