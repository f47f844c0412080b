package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
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
}

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
	t := &TenantKey{seal: sealKey, index: new([keySize]byte)}
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
