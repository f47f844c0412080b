package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/connect-secrets/secrets/pkg/store"
	bbolt "go.etcd.io/bbolt"
)

var _ store.Store = (*DB)(nil)

var errReadOnly = fmt.Errorf("%w: the database is open read-only", store.ErrReadOnly)

// View runs fn in a read transaction.
func (db *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.view(func(tx *bbolt.Tx) error { return fn(&boltTx{tx: tx, ctx: ctx}) })
}

// Update runs fn in a write transaction. bbolt has one writer at a time, so
// the transaction is serializable and fn runs exactly once.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.update(func(tx *bbolt.Tx) error { return fn(&boltTx{tx: tx, ctx: ctx, writable: true}) })
}

// Lease grants holder the named lease for ttl by db.Now. One process owns
// the file, so the lease only matters to callers within it, but it behaves
// as the contract says.
func (db *DB) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return false, store.ErrInvalid
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	held := false
	err := db.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAdapter)
		key := []byte(leasePrefix + name)
		now := db.Now()
		if v := b.Get(key); len(v) >= 8 {
			until := time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
			if string(v[8:]) != holder && now.Before(until) {
				return nil
			}
		}
		v := binary.BigEndian.AppendUint64(nil, uint64(now.Add(ttl).UnixNano()))
		held = true
		return b.Put(key, append(v, holder...))
	})
	return held, err
}

// boltTx is a store.Tx over one bbolt transaction.
type boltTx struct {
	tx       *bbolt.Tx
	ctx      context.Context
	writable bool

	// A read-only transaction remembers the last bucket it opened: bbolt
	// caches sub-buckets only in writable transactions, and a list reads
	// many keys of one bucket.
	lastTenant string
	lastBucket store.Bucket
	last       *bbolt.Bucket
	// lastCursor is a cursor of last, for Gets: bbolt's Bucket.Get makes a
	// cursor, and its search stack, per call; Seek on one cursor reuses it.
	lastCursor *bbolt.Cursor
}

// bucket returns the bbolt bucket of (tenant, b), creating a missing tenant
// sub-bucket when create is set. It returns nil, nil for a sub-bucket that
// does not exist yet (reads see it as empty).
func (t *boltTx) bucket(tenant string, b store.Bucket, create bool) (*bbolt.Bucket, error) {
	if !t.writable && t.last != nil && t.lastBucket == b && t.lastTenant == tenant {
		return t.last, nil
	}
	bk, err := t.openBucket(tenant, b, create)
	if !t.writable && bk != nil {
		t.lastTenant, t.lastBucket, t.last, t.lastCursor = tenant, b, bk, nil
	}
	return bk, err
}

// get is bk.Get, through the remembered cursor when bk is the last bucket
// of a read-only transaction.
func (t *boltTx) get(bk *bbolt.Bucket, key []byte) []byte {
	if t.writable || bk != t.last {
		return bk.Get(key)
	}
	if t.lastCursor == nil {
		t.lastCursor = bk.Cursor()
	}
	k, v := t.lastCursor.Seek(key)
	if !bytes.Equal(k, key) {
		return nil
	}
	return v // nil for a nested bucket, as Get
}

func (t *boltTx) openBucket(tenant string, b store.Bucket, create bool) (*bbolt.Bucket, error) {
	if b.Global() {
		return t.tx.Bucket([]byte(b)), nil
	}
	tb := t.tx.Bucket(bucketTenants).Bucket([]byte(tenant))
	if tb == nil {
		return nil, store.ErrNoTenant
	}
	if b == store.Tenant {
		return tb, nil
	}
	if sub := tb.Bucket([]byte(b)); sub != nil || !create {
		return sub, nil
	}
	return tb.CreateBucket([]byte(b))
}

func (t *boltTx) check(tenant string, b store.Bucket, key []byte, write bool) error {
	if err := store.CheckArgs(tenant, b, key); err != nil {
		return err
	}
	if !b.Global() {
		if err := store.CheckTenant(tenant); err != nil {
			return err
		}
	}
	if write && !t.writable {
		return store.ErrReadOnly
	}
	return t.ctx.Err()
}

// Get returns a copy of the value: bbolt's slices are only valid while the
// transaction is open.
func (t *boltTx) Get(tenant string, b store.Bucket, key []byte) ([]byte, error) {
	if err := t.check(tenant, b, key, false); err != nil {
		return nil, err
	}
	bk, err := t.bucket(tenant, b, false)
	if err != nil || bk == nil {
		return nil, err
	}
	// In the tenant bucket's root, a key may name a sub-bucket: bbolt gives
	// such a key a nil value, so it reads as missing, not as a record.
	v := t.get(bk, key)
	if v == nil {
		return nil, nil
	}
	return append([]byte{}, v...), nil
}

// Put stores a copy of value (bbolt keeps the slice until commit).
func (t *boltTx) Put(tenant string, b store.Bucket, key, value []byte) error {
	if err := t.check(tenant, b, key, true); err != nil {
		return err
	}
	if len(value) > store.MaxValueLen {
		return store.ErrInvalid
	}
	bk, err := t.bucket(tenant, b, true)
	if err != nil {
		return err
	}
	if b == store.Tenant && bk.Bucket(key) != nil {
		return store.ErrInvalid
	}
	return bk.Put(bytes.Clone(key), append([]byte{}, value...))
}

func (t *boltTx) Delete(tenant string, b store.Bucket, key []byte) error {
	if err := t.check(tenant, b, key, true); err != nil {
		return err
	}
	bk, err := t.bucket(tenant, b, false)
	if err != nil || bk == nil {
		return err
	}
	if b == store.Tenant && bk.Bucket(key) != nil {
		return nil
	}
	return bk.Delete(key)
}

func (t *boltTx) Scan(tenant string, b store.Bucket, r store.Range, fn func(key, value []byte) error) error {
	if err := t.check(tenant, b, nil, false); err != nil {
		return err
	}
	bk, err := t.bucket(tenant, b, false)
	if err != nil || bk == nil {
		return err
	}
	c := bk.Cursor()
	var k, v []byte
	// Position at the first key in range and walk towards the other end.
	lo, hi := r.From, r.To
	if len(r.Prefix) > 0 {
		if lo == nil || bytes.Compare(r.Prefix, lo) > 0 {
			lo = r.Prefix
		}
		if end := prefixEnd(r.Prefix); end != nil && (hi == nil || bytes.Compare(end, hi) < 0) {
			hi = end
		}
	}
	if !r.Reverse {
		if lo != nil {
			k, v = c.Seek(lo)
		} else {
			k, v = c.First()
		}
	} else {
		if hi != nil {
			k, v = c.Seek(hi)
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && bytes.Compare(k, hi) >= 0 {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}
	}
	for k != nil {
		if !r.Reverse && hi != nil && bytes.Compare(k, hi) >= 0 {
			return nil
		}
		if r.Reverse && lo != nil && bytes.Compare(k, lo) < 0 {
			return nil
		}
		if v != nil && r.Contains(k) { // v == nil: a sub-bucket, not a record
			if err := t.ctx.Err(); err != nil {
				return err
			}
			err := fn(append([]byte{}, k...), append([]byte{}, v...))
			if errors.Is(err, store.Stop) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if r.Reverse {
			k, v = c.Prev()
		} else {
			k, v = c.Next()
		}
	}
	return nil
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func (t *boltTx) NextSequence(tenant string, b store.Bucket) (uint64, error) {
	if err := t.check(tenant, b, nil, true); err != nil {
		return 0, err
	}
	bk, err := t.bucket(tenant, b, true)
	if err != nil {
		return 0, err
	}
	return bk.NextSequence()
}

// Sequence is the bbolt bucket's own sequence; a tenant sub-bucket not
// created yet has none.
func (t *boltTx) Sequence(tenant string, b store.Bucket) (uint64, error) {
	if err := t.check(tenant, b, nil, false); err != nil {
		return 0, err
	}
	bk, err := t.bucket(tenant, b, false)
	if err != nil || bk == nil {
		return 0, err
	}
	return bk.Sequence(), nil
}

func (t *boltTx) SetSequence(tenant string, b store.Bucket, n uint64) error {
	if err := t.check(tenant, b, nil, true); err != nil {
		return err
	}
	if n > store.MaxSequence {
		return store.ErrInvalid
	}
	bk, err := t.bucket(tenant, b, true)
	if err != nil {
		return err
	}
	if n <= bk.Sequence() {
		return nil
	}
	return bk.SetSequence(n)
}

func (t *boltTx) CreateTenant(tenant string) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	if !t.writable {
		return false, store.ErrReadOnly
	}
	tenants := t.tx.Bucket(bucketTenants)
	if tenants.Bucket([]byte(tenant)) != nil {
		return false, nil
	}
	_, err := tenants.CreateBucket([]byte(tenant))
	return err == nil, err
}

func (t *boltTx) TenantExists(tenant string) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	return t.tx.Bucket(bucketTenants).Bucket([]byte(tenant)) != nil, nil
}

func (t *boltTx) DeleteTenant(tenant string) error {
	if err := store.CheckTenant(tenant); err != nil {
		return err
	}
	if !t.writable {
		return store.ErrReadOnly
	}
	err := t.tx.Bucket(bucketTenants).DeleteBucket([]byte(tenant))
	if errors.Is(err, bbolt.ErrBucketNotFound) {
		return store.ErrNoTenant
	}
	return err
}

func (t *boltTx) Tenants(fn func(tenant string) error) error {
	err := t.tx.Bucket(bucketTenants).ForEachBucket(func(k []byte) error {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		return fn(string(k))
	})
	if errors.Is(err, store.Stop) {
		return nil
	}
	return err
}

// prepare creates the top-level buckets and converts a file of an older
// layout, in Open's transaction.
func prepare(tx *bbolt.Tx) error {
	fresh := tx.Bucket(bucketTenants) == nil
	for _, name := range topLevel {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	v := readLayout(tx)
	switch {
	case fresh || v == layoutVersion:
	case v == 1:
		if err := convertV1(tx); err != nil {
			return fmt.Errorf("convert layout 1 to %d: %w", layoutVersion, err)
		}
	default:
		return fmt.Errorf("layout version %d is newer than this program knows (%d): upgrade secretsd", v, layoutVersion)
	}
	return tx.Bucket(bucketAdapter).Put(keyLayout, []byte{layoutVersion})
}

// readLayout returns the file's layout version; a file without one is 1.
func readLayout(tx *bbolt.Tx) int {
	b := tx.Bucket(bucketAdapter)
	if b == nil {
		return 1
	}
	if v := b.Get(keyLayout); len(v) == 1 {
		return int(v[0])
	}
	return 1
}

// convertV1 flattens layout 1's nested container index (containers/<mac>/<id>)
// into keys mac ‖ id, and drops layout 1's attempt counters, which were
// stored unsealed under a per-account MAC shared across secrets: they
// cannot be re-keyed without the account ids, and dropping them only
// forgets failed attempts counted before the upgrade.
func convertV1(tx *bbolt.Tx) error {
	tenants := tx.Bucket(bucketTenants)
	var names [][]byte
	if err := tenants.ForEachBucket(func(k []byte) error {
		names = append(names, bytes.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	for _, name := range names {
		tb := tenants.Bucket(name)
		if old := tb.Bucket([]byte(store.Containers)); old != nil {
			flat := map[string]struct{}{}
			if err := old.ForEachBucket(func(mac []byte) error {
				return old.Bucket(mac).ForEach(func(id, _ []byte) error {
					flat[string(mac)+string(id)] = struct{}{}
					return nil
				})
			}); err != nil {
				return err
			}
			if err := tb.DeleteBucket([]byte(store.Containers)); err != nil {
				return err
			}
			nb, err := tb.CreateBucket([]byte(store.Containers))
			if err != nil {
				return err
			}
			for k := range flat {
				if err := nb.Put([]byte(k), []byte{}); err != nil {
					return err
				}
			}
		}
		if tb.Bucket([]byte(store.Attempts)) != nil {
			if err := tb.DeleteBucket([]byte(store.Attempts)); err != nil {
				return err
			}
		}
	}
	return nil
}
