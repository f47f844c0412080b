// Package bolt stores the Secrets app's data in one bbolt file and implements
// the service interfaces of pkg/secrets on top of it.
//
// Every value that says anything about a tenant's users or content is sealed
// (pkg/seal) with that tenant's key before it is written, with its location
// bound as associated data; the tenant key itself is stored wrapped by the
// master keyring, which never enters the file. Index keys are keyed MACs, so
// the file reveals neither issue, page nor account ids.
//
// Public methods open a transaction (View for reads, Update for writes) and
// call small helpers that take the *bbolt.Tx; bytes are copied out before a
// transaction ends.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// DB is the open database with the master keyring that unlocks it.
type DB struct {
	// swap guards b: every transaction holds it for reading; Compact holds
	// it for writing while it replaces the file.
	swap    sync.RWMutex
	b       *bbolt.DB
	keyring atomic.Pointer[seal.Keyring] // swapped by RewrapTenantKeys

	// Now is the clock; tests replace it.
	Now func() time.Time

	mu         sync.RWMutex
	tenantKeys map[string]cachedTenantKey // unwrapped tenant keys, by client key
}

// cachedTenantKey is an unwrapped tenant key with the wrapped bytes it came
// from. A cache entry is used only while the stored bytes are the same, so a
// purged and re-installed tenant (a new key) can never be served a stale one,
// whatever the order of transactions.
type cachedTenantKey struct {
	wrapped []byte
	key     *seal.TenantKey
}

// newDB wraps an open bbolt handle.
func newDB(b *bbolt.DB, keyring *seal.Keyring) *DB {
	db := &DB{b: b, Now: time.Now, tenantKeys: map[string]cachedTenantKey{}}
	db.keyring.Store(keyring)
	return db
}

// Open opens (creating if needed) the database at path, with 0600
// permissions, and creates the top-level buckets. It fails fast if another
// process holds the file.
func Open(path string, keyring *seal.Keyring) (*DB, error) {
	if keyring == nil {
		return nil, errors.New("bolt: a keyring is required")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: create data directory: %w", err)
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := b.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTenants)
		return err
	}); err != nil {
		b.Close()
		return nil, fmt.Errorf("bolt: create buckets: %w", err)
	}
	return newDB(b, keyring), nil
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

// tenantBucket returns the bucket of a tenant, or a not_found error.
func tenantBucket(tx *bbolt.Tx, clientKey string) (*bbolt.Bucket, error) {
	b := tx.Bucket(bucketTenants).Bucket([]byte(clientKey))
	if b == nil {
		return nil, secrets.Errorf(secrets.CodeNotFound, "No such installation.")
	}
	return b, nil
}

// tenantKey returns the unwrapped key of a tenant, from the cache when the
// stored wrapped key is the one the cache entry came from, or by unwrapping
// it. Unwrapping is the only master-key operation on the request path.
func (db *DB) tenantKey(tx *bbolt.Tx, clientKey string) (*seal.TenantKey, error) {
	b, err := tenantBucket(tx, clientKey)
	if err != nil {
		return nil, err
	}
	wrapped := b.Get(keyTenant)
	if wrapped == nil {
		return nil, secrets.Internal(fmt.Errorf("bolt: tenant %q has no key", clientKey))
	}
	db.mu.RLock()
	c, ok := db.tenantKeys[clientKey]
	db.mu.RUnlock()
	if ok && bytes.Equal(c.wrapped, wrapped) {
		return c.key, nil
	}
	raw, err := db.keyring.Load().Open(wrapped, tenantKeyAD(clientKey))
	if err != nil {
		return nil, secrets.Internal(fmt.Errorf("bolt: unwrap tenant key: %w", err))
	}
	defer clear(raw)
	k, err := seal.NewTenantKey(raw)
	if err != nil {
		return nil, secrets.Internal(err)
	}
	db.mu.Lock()
	db.tenantKeys[clientKey] = cachedTenantKey{wrapped: bytes.Clone(wrapped), key: k}
	db.mu.Unlock()
	return k, nil
}

func (db *DB) forgetTenantKey(clientKey string) {
	db.mu.Lock()
	delete(db.tenantKeys, clientKey)
	db.mu.Unlock()
}

// Associated data for each kind of sealed value: the value's location, so a
// value copied to another key, bucket or tenant no longer opens.
func tenantKeyAD(clientKey string) []byte { return seal.AD("tenant-key", clientKey) }
func metaAD(clientKey string) []byte      { return seal.AD("meta", clientKey) }
func settingsAD(clientKey string) []byte  { return seal.AD("settings", clientKey) }
func secretAD(clientKey, id string) []byte {
	return seal.AD("secret", clientKey, id)
}
func dekAD(clientKey, id string) []byte { return seal.AD("dek", clientKey, id) }
func bodyAD(clientKey, id string, version int) []byte {
	return seal.AD("body", clientKey, id, fmt.Sprint(version))
}
func auditAD(clientKey string, seq uint64) []byte {
	return seal.AD("audit", clientKey, fmt.Sprint(seq))
}

// PurgeExpiredTenants deletes every tenant uninstalled longer than
// retention ago (by db.Now) and, when it deleted any, compacts the file so
// their data is gone from disk. It returns the purged client keys.
func (db *DB) PurgeExpiredTenants(ctx context.Context, retention time.Duration) ([]string, error) {
	purged, err := db.PurgeUninstalled(ctx, db.Now().Add(-retention))
	if err != nil || len(purged) == 0 {
		return purged, err
	}
	return purged, db.Compact(ctx)
}
