package engine

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// secretRecord is a secret as stored, sealed with the tenant key.
type secretRecord struct {
	ID             string         `json:"id"`
	Container      string         `json:"c"`
	Title          string         `json:"t"`
	Version        int            `json:"v"`
	KeyEpoch       int            `json:"e"` // bumps with each password change
	CreatedAt      time.Time      `json:"ca"`
	CreatedBy      string         `json:"cb"`
	UpdatedAt      time.Time      `json:"ua"`
	UpdatedBy      string         `json:"ub"`
	ExpiresAt      time.Time      `json:"xa,omitzero"`
	Location       string         `json:"l,omitempty"` // container label for admins
	LastUnlockedAt time.Time      `json:"lu,omitzero"`
	KDF            seal.KDFParams `json:"kdf"`
	WrappedDEK     []byte         `json:"dek"` // DEK sealed by the password key
	// Padded: the body's plaintext is padded to a size class (see padBody).
	// Records written before padding have false and an unpadded body.
	Padded bool `json:"pb,omitempty"`
}

func (r *secretRecord) meta() secrets.Secret {
	return secrets.Secret{
		ID: r.ID, Title: r.Title, Version: r.Version,
		CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy,
		UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy,
		ExpiresAt: r.ExpiresAt,
	}
}

func isExpired(rec *secretRecord, now time.Time) bool {
	return !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt)
}

func readSecret(tx store.Tx, k *seal.TenantKey, tenant, id string) (*secretRecord, error) {
	v, err := tx.Get(tenant, store.Secrets, []byte(id))
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, notFound()
	}
	var rec secretRecord
	if err := openJSON(k, tenant, v, secretAD(tenant, id), &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// containerSecret returns the secret if it lives in the actor's container;
// one that lives elsewhere is not found, exactly like a missing one.
func containerSecret(tx store.Tx, k *seal.TenantKey, a secrets.Actor, id string) (*secretRecord, error) {
	rec, err := readSecret(tx, k, a.ClientKey, id)
	if err != nil {
		return nil, err
	}
	if rec.Container != string(a.Container) {
		return nil, notFound()
	}
	return rec, nil
}

// putSecret writes the record and keeps the container and expiry indexes
// and the container's list version (listcache.go) in step with it; old is the record it replaces (nil for a new secret).
func putSecret(tx store.Tx, k *seal.TenantKey, tenant string, rec, old *secretRecord) error {
	v, err := sealJSON(k, rec, secretAD(tenant, rec.ID))
	if err != nil {
		return err
	}
	if err := tx.Put(tenant, store.Secrets, []byte(rec.ID), v); err != nil {
		return err
	}
	if err := bumpListVersion(tx, k, tenant, rec.Container); err != nil {
		return err
	}
	if old == nil {
		if err := tx.Put(tenant, store.Containers, containerKey(k, rec.Container, rec.ID), []byte{}); err != nil {
			return err
		}
	}
	if old != nil && !old.ExpiresAt.Equal(rec.ExpiresAt) && !old.ExpiresAt.IsZero() {
		if err := tx.Delete("", store.Expiry, expiryKey(old.ExpiresAt, tenant, rec.ID)); err != nil {
			return err
		}
	}
	if !rec.ExpiresAt.IsZero() {
		return tx.Put("", store.Expiry, expiryKey(rec.ExpiresAt, tenant, rec.ID), []byte{})
	}
	return nil
}

// deleteSecret removes a secret and everything keyed by it.
func deleteSecret(tx store.Tx, k *seal.TenantKey, tenant string, rec *secretRecord) error {
	id := []byte(rec.ID)
	for _, b := range []store.Bucket{store.Secrets, store.Bodies} {
		if err := tx.Delete(tenant, b, id); err != nil {
			return err
		}
	}
	if err := tx.Delete(tenant, store.Containers, containerKey(k, rec.Container, rec.ID)); err != nil {
		return err
	}
	if err := bumpListVersion(tx, k, tenant, rec.Container); err != nil {
		return err
	}
	if !rec.ExpiresAt.IsZero() {
		if err := tx.Delete("", store.Expiry, expiryKey(rec.ExpiresAt, tenant, rec.ID)); err != nil {
			return err
		}
	}
	return clearAllAttempts(tx, k, tenant, rec.ID)
}

// containerKey is the index key of a secret in its container: the MAC of
// the container (so the store shows no issue or page id) then the id.
func containerKey(k *seal.TenantKey, container, id string) []byte {
	return append(containerPrefix(k, container), id...)
}

// containerPrefix is the MAC every record key of a container starts with.
// It is computed on every list and unlock, so it comes from the key's memo;
// callers append to it (which copies) but never write into it.
func containerPrefix(k *seal.TenantKey, container string) []byte {
	return k.MemoMAC("container", container)
}

// expiryKey orders the expiry index by time, then tenant and id.
func expiryKey(at time.Time, tenant, id string) []byte {
	key := binary.BigEndian.AppendUint64(nil, uint64(max(at.Unix(), 0)))
	key = append(key, tenant...)
	key = append(key, 0)
	return append(key, id...)
}

// parseExpiryKey splits an expiry index key.
func parseExpiryKey(key []byte) (tenant, id string, err error) {
	if len(key) < 10 {
		return "", "", errors.New("engine: malformed expiry key")
	}
	rest := key[8:]
	for i, b := range rest {
		if b == 0 {
			return string(rest[:i]), string(rest[i+1:]), nil
		}
	}
	return "", "", errors.New("engine: malformed expiry key")
}

// deleteExpiryEntries drops a tenant's expiry index entries (at purge).
func deleteExpiryEntries(tx store.Tx, tenant string) error {
	var keys [][]byte
	if err := tx.Scan("", store.Expiry, store.Range{}, func(k, _ []byte) error {
		if t, _, err := parseExpiryKey(k); err == nil && t == tenant {
			keys = append(keys, k)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete("", store.Expiry, k); err != nil {
			return err
		}
	}
	return nil
}

// Bodies are padded to a size class before sealing, so the stored length
// tells little about the content's: 4-byte length, content, zeros.
const bodyLenPrefix = 4

func padBody(content string) []byte {
	n := bodyLenPrefix + len(content)
	size := 256
	for size < n && size < 8<<10 {
		size *= 2
	}
	if size < n {
		size = (n + 8<<10 - 1) / (8 << 10) * (8 << 10)
	}
	out := make([]byte, size)
	binary.BigEndian.PutUint32(out, uint32(len(content)))
	copy(out[bodyLenPrefix:], content)
	return out
}

func unpadBody(plain []byte) ([]byte, error) {
	if len(plain) < bodyLenPrefix {
		return nil, errors.New("engine: padded body too short")
	}
	n := int(binary.BigEndian.Uint32(plain))
	if n > len(plain)-bodyLenPrefix {
		return nil, errors.New("engine: padded body length out of range")
	}
	return plain[bodyLenPrefix : bodyLenPrefix+n], nil
}

func sealBody(dek []byte, content, tenant, id string, version int) ([]byte, error) {
	k, err := seal.NewKey(0, dek)
	if err != nil {
		return nil, secrets.Internal(err)
	}
	plain := padBody(content)
	defer clear(plain)
	return k.Seal(plain, bodyAD(tenant, id, version))
}

func openBody(dek, body []byte, rec *secretRecord, tenant string) (string, error) {
	k, err := seal.NewKey(0, dek)
	if err != nil {
		return "", secrets.Internal(err)
	}
	plain, err := k.Open(body, bodyAD(tenant, rec.ID, rec.Version))
	if err != nil {
		return "", secrets.Internal(errors.New("engine: a body did not open with its data key"))
	}
	defer clear(plain)
	content := plain
	if rec.Padded {
		if content, err = unpadBody(plain); err != nil {
			return "", secrets.Internal(err)
		}
	}
	return string(content), nil
}
