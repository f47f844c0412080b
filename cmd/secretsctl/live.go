package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/connect-secrets/secrets/pkg/backend"
	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/seal"
)

// liveFlags let a reading command (tenants, stats) read a bbolt file that a
// running secretsd holds: bbolt admits no reader beside its writer, so the
// command reads a hot copy from secretsd's backup listener instead, as
// backup does.
type liveFlags struct {
	fs        *flagSet
	addr      string
	tokenFile string
}

func (c *cli) liveFlags(fs *flagSet) *liveFlags {
	l := &liveFlags{fs: fs}
	fs.StringVar(&l.addr, "backup-addr", c.env("SECRETS_BACKUP_ADDR", "127.0.0.1:9091"), "bbolt while secretsd runs: its backup listener, host:port or http URL ($SECRETS_BACKUP_ADDR)")
	fs.StringVar(&l.tokenFile, "backup-token-file", c.env("SECRETS_BACKUP_TOKEN_FILE", ""), "bbolt while secretsd runs: read a hot copy through its backup listener with this token file ($SECRETS_BACKUP_TOKEN_FILE)")
	return l
}

// adviceLive is what to do when secretsd holds the file and no token file
// is known: the flags that make the command work beside it.
const adviceLive = "pass --backup-token-file FILE (the token file secretsd reads; add --backup-addr HOST:PORT unless its backup listener is on 127.0.0.1:9091) to read a hot copy through secretsd, or stop secretsd, or pass --data a backup"

// openForReading opens the store for a reading command. A bbolt file is read
// through secretsd's backup listener when --backup-token-file is on the
// command line, or when secretsd holds the file and a token file comes from
// $SECRETS_BACKUP_TOKEN_FILE; otherwise it is opened read-only, and a file
// secretsd holds is refused with the flags to pass.
func (c *cli) openForReading(ctx context.Context, st *storeFlags, live *liveFlags) (*database, *seal.Keyring, error) {
	path, isBolt := strings.CutPrefix(st.url(), "bolt://")
	if !isBolt || path == "" {
		return st.openReadOnly(ctx)
	}
	kr, err := st.keyring()
	if err != nil {
		return nil, nil, err
	}
	if !isSet(live.fs, "backup-token-file") {
		db, err := st.open(ctx, kr, true, adviceLive)
		if !errors.Is(err, bolt.ErrInUse) || live.tokenFile == "" {
			return db, kr, err
		}
	}
	db, err := c.openHotCopy(ctx, path, kr, live)
	return db, kr, err
}

// openHotCopy downloads a consistent copy of the database from secretsd's
// backup listener into a private temporary directory and opens it
// read-only. Closing the database removes the copy: it is as sensitive as
// the database (sealed records, no key), so it is not left behind.
func (c *cli) openHotCopy(ctx context.Context, path string, kr *seal.Keyring, live *liveFlags) (db *database, err error) {
	u, err := backupURL(live.addr)
	if err != nil {
		return nil, usagef("--backup-addr: %v", err)
	}
	if live.tokenFile == "" {
		return nil, usagef("--backup-token-file is empty")
	}
	raw, err := os.ReadFile(live.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("--backup-token-file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	clear(raw)
	dir, err := os.MkdirTemp("", "secretsctl-hot-copy-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	tmp := filepath.Join(dir, "secrets.db")
	if _, err := writeBackup(tmp, false, func(w io.Writer) (int64, error) {
		return copyOnline(ctx, c.http, u, token, w)
	}); err != nil {
		return nil, fmt.Errorf("read %s through secretsd's backup listener: %w", printable(path), err)
	}
	st, err := backend.Open(ctx, "bolt://"+tmp, backend.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("the hot copy from %s: %w", u, err)
	}
	db = newDatabase(st, kr, true)
	db.source = fmt.Sprintf("%s, read as a hot copy from %s", path, u)
	db.cleanup = func() error { return os.RemoveAll(dir) }
	return db, nil
}
