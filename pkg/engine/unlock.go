package engine

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// capability is what an unlock token stands for: one user's right to act on
// one version of one secret in one container until Expires, with the
// secret's data key, so an edit or a password change needs no second key
// derivation. It is sealed with the tenant key (see the package doc), and
// the token is that envelope, base64url.
type capability struct {
	ID        []byte `json:"i"` // random; the key of a revocation
	Account   string `json:"a"`
	Container string `json:"c"`
	Secret    string `json:"s"`
	Version   int    `json:"v"`
	Epoch     int    `json:"e"`
	IssuedAt  int64  `json:"t"` // Unix nanoseconds
	Expires   int64  `json:"x"` // Unix seconds
	DEK       []byte `json:"k"`
}

// maxTokenLen bounds what is decoded; real tokens are about 350 bytes.
const maxTokenLen = 2048

func issueCapability(k *seal.TenantKey, a secrets.Actor, rec *secretRecord, dek []byte, now, expires time.Time) (string, error) {
	c := capability{
		ID: make([]byte, 16), Account: a.AccountID, Container: string(a.Container), Secret: rec.ID,
		Version: rec.Version, Epoch: rec.KeyEpoch, IssuedAt: now.UnixNano(), Expires: expires.Unix(), DEK: dek,
	}
	if _, err := rand.Read(c.ID); err != nil {
		return "", err
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	defer clear(plain)
	sealed, err := k.Seal(plain, unlockAD(a.ClientKey))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openCapability returns the capability of token if it opens under the
// tenant's key and names this actor, container and secret, and has not
// expired. It does not consult the store; checkCapability does.
func openCapability(k *seal.TenantKey, a secrets.Actor, id, token string, now time.Time) *capability {
	if token == "" || len(token) > maxTokenLen {
		return nil
	}
	sealed, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil
	}
	plain, err := k.Open(sealed, unlockAD(a.ClientKey))
	if err != nil {
		return nil
	}
	defer clear(plain)
	var c capability
	if json.Unmarshal(plain, &c) != nil || len(c.DEK) != 32 || len(c.ID) != 16 {
		return nil
	}
	if !eq(c.Account, a.AccountID) || !eq(c.Container, string(a.Container)) || !eq(c.Secret, id) || now.Unix() >= c.Expires {
		clear(c.DEK)
		return nil
	}
	return &c
}

// checkCapability checks, in the caller's transaction, what a capability
// cannot know by itself: that it was not locked, that the installation has
// not revoked tokens since it was issued, and that the secret is still at
// the password and version it was issued for. It returns the current record.
func checkCapability(tx store.Tx, k *seal.TenantKey, inst *secrets.Installation, a secrets.Actor, c *capability, now time.Time) (*secretRecord, error) {
	revoked, err := tx.Get(a.ClientKey, store.Revoked, c.ID)
	if err != nil {
		return nil, err
	}
	if revoked == nil { // a closed account's tokens all die (privacy.go)
		if revoked, err = tx.Get(a.ClientKey, store.Revoked, closedAccountKey(k, c.Account)); err != nil {
			return nil, err
		}
	}
	if revoked != nil || time.Unix(0, c.IssuedAt).Before(inst.TokensValidFrom) {
		return nil, unlockRequired()
	}
	rec, err := containerSecret(tx, k, a, c.Secret)
	if err != nil {
		return nil, err
	}
	if isExpired(rec, now) {
		return nil, notFound()
	}
	if c.Epoch != rec.KeyEpoch {
		return nil, unlockRequired()
	}
	if c.Version != rec.Version {
		return nil, conflict()
	}
	return rec, nil
}

// revokeCapability records c as revoked until it would have expired.
func revokeCapability(tx store.Tx, tenant string, c *capability) error {
	return tx.Put(tenant, store.Revoked, c.ID, binary.BigEndian.AppendUint64(nil, uint64(c.Expires)))
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
