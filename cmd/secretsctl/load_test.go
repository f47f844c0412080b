package main

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/rs/zerolog"
)

// TestBackupUnderWriteLoad: a backup taken through the ops listener while
// secrets are being written passes verify, and a fresh server on the copy
// unlocks every secret the copy holds — at least all written before the
// backup began.
func TestBackupUnderWriteLoad(t *testing.T) {
	f := newFixture(t)
	db := f.open(t, f.keyFile)
	svc := db
	srv := httptest.NewServer(server.BackupHandler(server.BackupDeps{Backup: db.file().Backup, Token: []byte(testBackupToken), Logger: zerolog.Nop()}))
	defer srv.Close()

	var mu sync.Mutex
	written := append([]stored(nil), f.secrets...)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			a := secrets.Actor{ClientKey: "tenant-a", AccountID: "writer", Container: secrets.Container(fmt.Sprintf("jira:issue:load-%d", w))}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s, err := svc.CreateSecret(ctx, a, secrets.NewSecret{Title: fmt.Sprintf("load %d", i), Content: contentMarker, Password: password})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				written = append(written, stored{a, s.ID})
				mu.Unlock()
			}
		})
	}
	// Let the writers get going, then back up while they write.
	for {
		mu.Lock()
		n := len(written)
		mu.Unlock()
		if n >= len(f.secrets)+4 {
			break
		}
		runtime.Gosched()
	}
	mu.Lock()
	before := len(written)
	mu.Unlock()
	out := filepath.Join(t.TempDir(), "backup.db")
	run(t, tokenEnv(t), "backup", "--ops-addr", srv.Listener.Addr().String(), "--out", out).want(t, 0)
	close(stop)
	wg.Wait()

	run(t, nil, "verify", "--data", out, "--master-key-file", f.keyFile).want(t, 0, "no problems")

	// A fresh server on the copy.
	kr, err := seal.LoadKeyringFile(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := bolt.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	rsvc := engine.New(rdb, kr, f.kdf, secrets.DefaultPolicy())
	present := 0
	for i, s := range written {
		u, err := rsvc.UnlockSecret(ctx, s.actor, s.id, password)
		if secrets.ErrorCode(err) == secrets.CodeNotFound && i >= before {
			continue // written after the backup's snapshot
		}
		if err != nil || u.Content != contentMarker {
			t.Fatalf("secret %d of %d (%s) in the backup: %v", i, len(written), s.id, err)
		}
		present++
	}
	if present < before {
		t.Fatalf("backup holds %d secrets, want at least the %d written before it began", present, before)
	}
	t.Logf("backup under load: %d secrets written, %d in the copy", len(written), present)
}
