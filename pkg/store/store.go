// Package store is the storage contract the engine is written on: serializable
// transactions over a closed set of buckets of opaque bytes, most of them
// scoped to one tenant, plus a lease for background work.
//
// A backend stores and returns bytes; it knows no business rule. Everything
// that says anything about a tenant's users or content arrives here already
// sealed by pkg/seal (with its location bound as associated data), and index
// keys arrive as keyed MACs. Hashicorp Vault's physical backends are the
// model: the barrier above seals, the backend below stores.
//
// # Transactions and who retries
//
// Update runs its function in one serializable read-write transaction: every
// rule the engine decides by reading and then writing (a counted attempt, a
// version-checked edit, lifecycle ordering) is decided inside one call and can
// never interleave with another. A backend whose database reports a
// serialization failure or a deadlock (PostgreSQL) rolls back and runs the
// function again, a bounded number of times, then returns ErrBusy. So the
// function passed to Update may run more than once: it must have no effect
// outside the transaction (no audit, no counters, no channel sends) other than
// ones that are safe to repeat. The engine never retries; it maps ErrBusy to
// "unavailable, try again".
//
// View runs its function in a read-only transaction that sees one consistent
// snapshot.
//
// Slices a Tx returns belong to the caller and stay valid after the
// transaction ends. Slices a caller passes in may be reused once the call
// returns.
package store

import (
	"context"
	"errors"
	"time"
)

// Bucket names one kind of record. The set is closed and declared here, once:
// a backend creates storage for each of them and for nothing else.
type Bucket string

// Tenant buckets: every key lives under one tenant, and DeleteTenant removes
// all of them at once.
const (
	// Tenant holds the tenant's fixed records, under the keys KeyMeta,
	// KeyTenantKey and KeySettings.
	Tenant Bucket = "tenant"
	// Secrets maps a secret id to its sealed record (metadata, password KDF
	// parameters, wrapped data key).
	Secrets Bucket = "secrets"
	// Bodies maps a secret id to its body, sealed with the secret's data key.
	Bodies Bucket = "bodies"
	// Containers is the index of secrets by container: the key is
	// mac(container) ‖ secret id, the value empty.
	Containers Bucket = "containers"
	// Attempts maps mac(secret, account) to a sealed failed-unlock counter.
	Attempts Bucket = "attempts"
	// Audit maps an 8-byte big-endian sequence (from NextSequence) to a
	// sealed event.
	Audit Bucket = "audit"
	// Revoked maps the id of a revoked unlock capability to the 8-byte
	// big-endian Unix second after which the entry may be dropped.
	Revoked Bucket = "revoked"
)

// Global buckets are not scoped to a tenant: pass the empty tenant.
const (
	// App holds application-wide records, such as the wrapped session key.
	App Bucket = "app"
	// Expiry is the index of secrets by expiry time: the key is the 8-byte
	// big-endian Unix second ‖ tenant ‖ 0x00 ‖ secret id, the value empty.
	// The janitor scans it up to now instead of opening every record.
	Expiry Bucket = "expiry"
)

// Fixed keys of the Tenant bucket.
var (
	KeyMeta      = []byte("meta")     // sealed installation record
	KeyTenantKey = []byte("key")      // tenant key wrapped by the master keyring
	KeySettings  = []byte("settings") // sealed site policy; absent: defaults
)

// TenantBuckets lists the tenant-scoped buckets; GlobalBuckets the others.
var (
	TenantBuckets = []Bucket{Tenant, Secrets, Bodies, Containers, Attempts, Audit, Revoked}
	GlobalBuckets = []Bucket{App, Expiry}
)

// Global reports whether b is a global bucket.
func (b Bucket) Global() bool { return b == App || b == Expiry }

// Valid reports whether b is one of the declared buckets.
func (b Bucket) Valid() bool {
	for _, x := range TenantBuckets {
		if b == x {
			return true
		}
	}
	return b.Global()
}

// Limits every backend accepts; the engine stays within them.
const (
	MaxTenantLen = 255       // bytes of a tenant id
	MaxKeyLen    = 512       // bytes of a key
	MaxValueLen  = 16 << 20  // bytes of a value
	MaxSequence  = 1<<63 - 1 // a sequence number (a signed 64-bit column holds it)
)

// Errors a backend returns. Match them with errors.Is.
var (
	// ErrNoTenant: a tenant-scoped operation named a tenant that does not
	// exist (never created, or deleted).
	ErrNoTenant = errors.New("store: no such tenant")
	// ErrBusy: the transaction kept failing to serialize against concurrent
	// ones, or the database is overloaded; the caller may try again later.
	ErrBusy = errors.New("store: busy")
	// ErrReadOnly: a write in a View transaction or on a read-only store.
	ErrReadOnly = errors.New("store: read-only")
	// ErrInvalid: a malformed argument (unknown bucket, a tenant bucket used
	// without a tenant or the reverse, an empty or oversized key or tenant).
	ErrInvalid = errors.New("store: invalid argument")
	// Stop, returned by a Scan or Tenants callback, ends the iteration early
	// without an error.
	Stop = errors.New("store: stop iteration")
)

// Store is a database the engine can run transactions on.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a serializable read-write transaction, committed
	// when fn returns nil and rolled back otherwise. fn may run more than
	// once (see the package doc).
	Update(ctx context.Context, fn func(Tx) error) error
	// Lease grants holder the named lease for ttl, timed by the database's
	// clock, when nobody else holds it; a holder calling again renews it.
	// It reports whether holder holds the lease now. Background work runs
	// only while its replica holds the lease, so it runs once.
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the database. Transactions in flight finish first.
	Close() error
}

// Tx is one transaction. It must not be used after the function it was
// passed to returns, nor from more than one goroutine.
type Tx interface {
	// Get returns the value of key, or nil when there is none. A value is
	// never nil when present (an empty value is returned as an empty,
	// non-nil slice).
	Get(tenant string, b Bucket, key []byte) ([]byte, error)
	// Put sets key to value.
	Put(tenant string, b Bucket, key, value []byte) error
	// Delete removes key; removing a missing key is not an error.
	Delete(tenant string, b Bucket, key []byte) error
	// Scan calls fn for each key in r, in byte order of keys (reverse
	// order when r.Reverse). fn must not modify the bucket it scans;
	// collect and write after Scan returns.
	Scan(tenant string, b Bucket, r Range, fn func(key, value []byte) error) error
	// NextSequence returns a number greater than any it returned before for
	// this tenant and bucket, in transactions committed so far. Numbers
	// may be skipped.
	NextSequence(tenant string, b Bucket) (uint64, error)
	// Sequence returns the counter NextSequence counts from: the last
	// number it returned for this tenant and bucket, or what SetSequence
	// raised the counter to, as this transaction sees it; 0 when neither
	// ever ran. The next NextSequence returns a greater number. Sequence
	// changes nothing, so it also works in View.
	Sequence(tenant string, b Bucket) (uint64, error)
	// SetSequence raises the counter to n, so that NextSequence returns a
	// number greater than n from then on; a counter already at or above n
	// stays as it is (a counter never goes back). It is how a copy of a
	// store continues its logs where the original left off; an n above
	// MaxSequence is ErrInvalid.
	SetSequence(tenant string, b Bucket, n uint64) error

	// CreateTenant creates the tenant's buckets; it reports false when the
	// tenant existed already.
	CreateTenant(tenant string) (created bool, err error)
	// TenantExists reports whether the tenant exists.
	TenantExists(tenant string) (bool, error)
	// DeleteTenant removes the tenant and every key of its buckets.
	// Deleting a missing tenant returns ErrNoTenant.
	DeleteTenant(tenant string) error
	// Tenants calls fn for every tenant, in byte order of tenant ids.
	Tenants(fn func(tenant string) error) error
}

// Range selects keys of a bucket. Every condition set must hold: keys
// beginning with Prefix, at or after From, and before To. Nil fields do not
// restrict.
type Range struct {
	Prefix  []byte
	From    []byte // inclusive
	To      []byte // exclusive
	Reverse bool   // largest key first
}

// Contains reports whether key lies in r. Backends may use it to filter.
func (r Range) Contains(key []byte) bool {
	if len(r.Prefix) > 0 && (len(key) < len(r.Prefix) || string(key[:len(r.Prefix)]) != string(r.Prefix)) {
		return false
	}
	if r.From != nil && string(key) < string(r.From) {
		return false
	}
	if r.To != nil && string(key) >= string(r.To) {
		return false
	}
	return true
}

// CheckArgs validates the tenant, bucket and key of an operation the way
// every backend must, returning ErrInvalid for a malformed one.
func CheckArgs(tenant string, b Bucket, key []byte) error {
	switch {
	case !b.Valid():
		return ErrInvalid
	case b.Global() != (tenant == ""):
		return ErrInvalid
	case len(tenant) > MaxTenantLen:
		return ErrInvalid
	case key != nil && (len(key) == 0 || len(key) > MaxKeyLen):
		return ErrInvalid
	}
	return nil
}

// CheckTenant validates a tenant id: 1 to MaxTenantLen bytes, no NUL.
func CheckTenant(tenant string) error {
	if tenant == "" || len(tenant) > MaxTenantLen {
		return ErrInvalid
	}
	for i := 0; i < len(tenant); i++ {
		if tenant[i] == 0 {
			return ErrInvalid
		}
	}
	return nil
}
