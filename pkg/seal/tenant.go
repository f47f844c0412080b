package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
)

// HKDF info strings for the two tenant subkeys. They are part of the stored
// format: changing one makes every existing record or index key unreadable.
const (
	tenantSealInfo  = "secrets/tenant/seal-v1"
	tenantIndexInfo = "secrets/tenant/index-v1"
)

// TenantKey is one installation's key: 32 random bytes, wrapped by the master
// Keyring and stored in the database. It is never used directly; HKDF-SHA256
// derives two independent subkeys from it, one that seals the tenant's records
// (a Key with id 0) and one that MACs index keys, so that no single key serves
// both as an encryption key and as a MAC key.
//
// A TenantKey is safe for concurrent use.
type TenantKey struct {
	seal *Key
	// index is behind a pointer so that reflection-based printing of a
	// copied struct shows an address, not the key.
	index *[keySize]byte

	// memo remembers MACs of (label, value) pairs asked for on every request
	// (a container's key prefix), see MemoMAC. A pointer, like index, so the
	// value receivers that redact printing copy no lock.
	memo *macMemo
}

// macMemo is MemoMAC's bounded map.
type macMemo struct {
	mu sync.RWMutex
	m  map[[2]string][]byte
}

// memoLimit bounds a TenantKey's remembered MACs: a tenant's busy containers
// fit, and a request choosing values at will can cost at most this much.
const memoLimit = 512

// NewTenantKey returns the tenant key for raw, which must be exactly 32 bytes
// (see RandomKey). raw is not retained, so the caller may clear it afterwards.
func NewTenantKey(raw []byte) (*TenantKey, error) {
	if len(raw) != keySize {
		return nil, fmt.Errorf("seal: tenant key is %d bytes, want %d", len(raw), keySize)
	}
	sealRaw := hkdfKey(raw, tenantSealInfo)
	defer clear(sealRaw)
	sealKey, err := NewKey(0, sealRaw)
	if err != nil {
		return nil, err
	}
	indexRaw := hkdfKey(raw, tenantIndexInfo)
	defer clear(indexRaw)
	t := &TenantKey{seal: sealKey, index: new([keySize]byte), memo: &macMemo{}}
	copy(t.index[:], indexRaw)
	return t, nil
}

// Seal seals one of the tenant's records. ad must name the record's location
// (tenant, bucket, id; see AD) so that the value cannot be moved elsewhere.
func (t *TenantKey) Seal(plaintext, ad []byte) ([]byte, error) {
	return t.seal.Seal(plaintext, ad)
}

// Open opens a record sealed by Seal with the same tenant key and ad. Any
// failure, including a value sealed by another tenant, is ErrOpen.
func (t *TenantKey) Open(envelope, ad []byte) ([]byte, error) {
	return t.seal.Open(envelope, ad)
}

// MAC returns HMAC-SHA256 (32 bytes) under the tenant's index subkey over
// AD(parts...). It makes index keys, such as a bucket key for a container or
// for a (secret, account) pair, that are stable for the tenant but reveal
// neither the ids they stand for nor whether two tenants index the same id.
func (t *TenantKey) MAC(parts ...string) []byte {
	h := hmac.New(sha256.New, t.index[:])
	h.Write(AD(parts...))
	return h.Sum(nil)
}

// String returns "[redacted]". Like Key's, the method has a value receiver so
// a TenantKey printed by value is redacted too.
func (TenantKey) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (TenantKey) GoString() string { return redacted }

// Format prints "[redacted]" for every verb.
func (TenantKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MemoMAC is MAC(label, value), remembered for the key's most used pairs, for
// index keys computed on every request: an HMAC is two SHA-256 keyings and four
// allocations, a map hit none. The result is shared; callers must not modify
// it (its capacity is its length, so an append copies). The memo starts over
// when full, so it stays bounded whatever values requests bring.
func (t *TenantKey) MemoMAC(label, value string) []byte {
	k, memo := [2]string{label, value}, t.memo
	memo.mu.RLock()
	m, ok := memo.m[k]
	memo.mu.RUnlock()
	if ok {
		return m
	}
	m = t.MAC(label, value)
	m = m[:len(m):len(m)]
	memo.mu.Lock()
	if memo.m == nil || len(memo.m) >= memoLimit {
		memo.m = make(map[[2]string][]byte)
	}
	memo.m[k] = m
	memo.mu.Unlock()
	return m
}
