// Package bolt is the embedded default backend: pkg/store on one bbolt file.
//
// It stores the bytes the engine gives it and knows no business rule: every
// value arrives sealed by pkg/engine and every index key as a keyed MAC, so
// the file reveals neither content nor issue, page or account ids. The master
// keyring never reaches this package.
//
// bbolt allows one writer at a time, so every Update is serializable by
// construction and is never retried here; one process owns the file (a second
// one fails at Open with ErrInUse). For many replicas use pkg/postgres.
//
// Beyond the contract it offers what only a file can: a consistent hot copy
// (Backup), compaction after a purge (Compact) and a page-level check
// (CheckStructure).
package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// ErrInUse is returned (wrapped) by Open and OpenReadOnly when another
// process, such as a running secretsd, holds the database file.
var ErrInUse = errors.New("bolt: the database is in use")

// DB is an open database file.
type DB struct {
	// swap guards b: every transaction holds it for reading; Compact holds
	// it for writing while it replaces the file.
	swap sync.RWMutex
	b    *bbolt.DB

	// Now is the clock of leases; tests replace it.
	Now func() time.Time
}

// Open opens (creating if needed) the database at path, with 0600
// permissions, creates the top-level buckets and converts an older layout.
// It fails after 2 s with ErrInUse if another process holds the file.
func Open(path string) (*DB, error) { return open(path, openTimeout) }

// openTimeout is how long Open and OpenReadOnly wait for another process to
// release the file: long enough for a restart to overlap the old process's
// last moments, short enough that a second instance fails at once.
const openTimeout = 2 * time.Second

// inUse is the error of an open that timed out on the file lock. bbolt says
// only "timeout"; an operator needs to hear who holds the file and what to
// change, so the message names both.
func inUse(path string, advice string) error {
	msg := fmt.Sprintf("%s is held by another process, probably a running secretsd", path)
	if advice != "" {
		msg += "; " + advice
	}
	return fmt.Errorf("%w: %s", ErrInUse, msg)
}

func open(path string, timeout time.Duration) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: create data directory: %w", err)
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, inUse(path, "stop it, or start this one with another --data (and its own --addr, --ops-addr and --backup-addr)")
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := b.Update(prepare); err != nil {
		b.Close()
		return nil, fmt.Errorf("bolt: prepare %s: %w", path, err)
	}
	return &DB{b: b, Now: time.Now}, nil
}

// OpenReadOnly opens a database file (e.g. a backup) for reading only. It
// never creates or changes the file, so a mistyped path is an error rather
// than a new empty database. It takes a shared lock and fails after 2 s with
// ErrInUse if a writer holds the file. Writes fail with store.ErrReadOnly.
// A file in an older layout must be opened for writing once first.
func OpenReadOnly(path string) (*DB, error) { return openReadOnly(path, openTimeout) }

func openReadOnly(path string, timeout time.Duration) (*DB, error) {
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, bbolt.ErrTimeout) {
		// The callers (secretsctl) know what to do instead and add it.
		return nil, inUse(path, "")
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := b.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketTenants) == nil {
			return fmt.Errorf("bolt: %s is a bbolt file but not a Secrets database (no tenants bucket)", path)
		}
		if v := readLayout(tx); v != layoutVersion {
			return fmt.Errorf("bolt: %s has layout version %d; open it with secretsd (or any secretsctl command that writes) once to convert it to %d", path, v, layoutVersion)
		}
		return nil
	}); err != nil {
		b.Close()
		return nil, err
	}
	return &DB{b: b, Now: time.Now}, nil
}

// Close closes the database file. Pending transactions finish first.
func (db *DB) Close() error {
	db.swap.Lock()
	defer db.swap.Unlock()
	return db.b.Close()
}

// Path is the database file's path.
func (db *DB) Path() string {
	db.swap.RLock()
	defer db.swap.RUnlock()
	return db.b.Path()
}

// view runs fn in a read transaction.
func (db *DB) view(fn func(*bbolt.Tx) error) error {
	db.swap.RLock()
	defer db.swap.RUnlock()
	return db.b.View(fn)
}

// update runs fn in a write transaction, committed when fn returns nil.
func (db *DB) update(fn func(*bbolt.Tx) error) error {
	db.swap.RLock()
	defer db.swap.RUnlock()
	if db.b.IsReadOnly() {
		return errReadOnly
	}
	return db.b.Update(fn)
}

// Compact rewrites the database into a fresh file and replaces the old one,
// so the pages that deleted data (a purged tenant) once occupied are gone
// from disk, not merely free for reuse. Transactions wait meanwhile. The new
// file is complete and synced before the rename, so a crash leaves either
// the old file or the new one.
func (db *DB) Compact(ctx context.Context) error {
	db.swap.Lock()
	defer db.swap.Unlock()
	if db.b.IsReadOnly() {
		return bbolt.ErrDatabaseReadOnly
	}
	path := db.b.Path()
	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("bolt: compact: %w", err)
	}
	if err := bbolt.Compact(dst, db.b, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("bolt: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("bolt: compact: %w", err)
	}
	if err := ctx.Err(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := db.b.Close(); err != nil {
		return fmt.Errorf("bolt: compact: close: %w", err)
	}
	renameErr := os.Rename(tmp, path)
	if renameErr == nil {
		syncDir(filepath.Dir(path))
	}
	// Reopen whichever file is in place now: the compacted one, or the
	// untouched original if the rename failed.
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("bolt: compact: reopen %s: %w", path, err)
	}
	db.b = b
	if renameErr != nil {
		os.Remove(tmp)
		return fmt.Errorf("bolt: compact: %w", renameErr)
	}
	return nil
}

// syncDir makes a rename in dir durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Ping reports whether the database answers a read transaction.
func (db *DB) Ping(ctx context.Context) error {
	return db.view(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketTenants) == nil {
			return errors.New("bolt: tenants bucket missing")
		}
		return ctx.Err()
	})
}

// Backup writes a consistent copy of the whole database to w while the
// database stays online, and returns the number of bytes written. size, if
// not nil, learns the copy's exact length before writing starts.
func (db *DB) Backup(w io.Writer, size func(int64)) (int64, error) {
	var n int64
	err := db.view(func(tx *bbolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Size is the size of the database file in bytes.
func (db *DB) Size() int64 {
	var n int64
	_ = db.view(func(tx *bbolt.Tx) error { n = tx.Size(); return nil })
	return n
}

// CheckStructure runs bbolt's page-level consistency check (every page
// reachable exactly once or free, keys in order) and counts the tenants. It
// reads no sealed value and needs no key: it tells a torn or truncated copy
// from a whole one; whether the records open is Verify's job. The error, if
// any, quotes bbolt's first finding, which names pages and keys, never
// values.
func (db *DB) CheckStructure(ctx context.Context) (tenants int, err error) {
	err = db.checkTx(func(tx *bbolt.Tx) error {
		n, first := checkPages(tx)
		if n > 0 {
			return fmt.Errorf("bolt: page check: %d problems, the first: %v", n, first)
		}
		tenants = countKeys(tx.Bucket(bucketTenants))
		return ctx.Err()
	})
	return tenants, err
}

// checkTx runs fn in a transaction in which bbolt's tx.Check is safe. Check
// reads the freelist, which writers change, so in a database open for
// writing it needs the write lock; the write transaction is rolled back.
func (db *DB) checkTx(fn func(*bbolt.Tx) error) error {
	db.swap.RLock()
	defer db.swap.RUnlock()
	tx, err := db.b.Begin(!db.b.IsReadOnly())
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// checkPages runs tx.Check to the end and returns how many problems it found
// and the first.
func checkPages(tx *bbolt.Tx) (n int, first error) {
	for err := range tx.Check() {
		if n == 0 {
			first = err
		}
		n++
	}
	return n, first
}
func countKeys(b *bbolt.Bucket) int {
	if b == nil {
		return 0
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}
