package bolt

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	bbolt "go.etcd.io/bbolt"
)

// attempts is the failed-unlock state of one user on one secret. It is kept
// per (secret, user) so one user's failures never lock anyone else out, and
// stored so a restart does not reset a lockout.
type attempts struct {
	failures    int
	lockedUntil time.Time
}

// attemptKeys returns the bucket and key of (secret, user); both are MACs,
// so the file shows neither the secret id pairing nor the account id.
func attemptKeys(k *seal.TenantKey, secretID, accountID string) (bucket, key []byte) {
	return k.MAC("attempts", secretID), k.MAC("account", accountID)
}

func attemptsOf(tb *bbolt.Bucket, k *seal.TenantKey, secretID, accountID string) (attempts, error) {
	bk, key := attemptKeys(k, secretID, accountID)
	b := tb.Bucket(bucketAttempts).Bucket(bk)
	if b == nil {
		return attempts{}, nil
	}
	v := b.Get(key)
	if v == nil {
		return attempts{}, nil
	}
	return decodeAttempts(v)
}

// decodeAttempts reads a stored attempts value: failures and the lock time,
// 8 bytes each, big-endian.
func decodeAttempts(v []byte) (attempts, error) {
	if len(v) != 16 {
		return attempts{}, errors.New("bolt: malformed attempts record")
	}
	at := attempts{failures: int(binary.BigEndian.Uint64(v[:8]))}
	if ns := int64(binary.BigEndian.Uint64(v[8:])); ns != 0 {
		at.lockedUntil = time.Unix(0, ns)
	}
	return at, nil
}

func (at attempts) put(tb *bbolt.Bucket, k *seal.TenantKey, secretID, accountID string) error {
	bk, key := attemptKeys(k, secretID, accountID)
	b, err := tb.Bucket(bucketAttempts).CreateBucketIfNotExists(bk)
	if err != nil {
		return err
	}
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v[:8], uint64(at.failures))
	if !at.lockedUntil.IsZero() {
		binary.BigEndian.PutUint64(v[8:], uint64(at.lockedUntil.UnixNano()))
	}
	return b.Put(key, v)
}

func clearAttempts(tb *bbolt.Bucket, k *seal.TenantKey, secretID, accountID string) error {
	bk, key := attemptKeys(k, secretID, accountID)
	if b := tb.Bucket(bucketAttempts).Bucket(bk); b != nil {
		return b.Delete(key)
	}
	return nil
}
