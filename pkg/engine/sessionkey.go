package engine

import (
	"context"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/store"
)

// keySessionKey is the App-bucket key of the session-token key, wrapped by
// the master keyring.
var keySessionKey = []byte("session-key")

func sessionKeyAD() []byte { return seal.AD("session-key") }

// SessionKey returns the key our session tokens are signed with, creating it
// on first use. It is random and stored wrapped by the master keyring, so
// every replica signs with the same key and a master-key rotation (which
// re-wraps it) or a rolling restart logs nobody out. Deriving it from the
// keyring's primary, as before, did.
func (e *Engine) SessionKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := e.st.Update(ctx, func(tx store.Tx) error {
		wrapped, err := tx.Get("", store.App, keySessionKey)
		if err != nil {
			return err
		}
		if wrapped == nil {
			raw, err := seal.RandomKey()
			if err != nil {
				return err
			}
			if wrapped, err = e.keyring.Load().Seal(raw, sessionKeyAD()); err != nil {
				return err
			}
			if err := tx.Put("", store.App, keySessionKey, wrapped); err != nil {
				return err
			}
			key = raw
			return nil
		}
		key, err = e.keyring.Load().Open(wrapped, sessionKeyAD())
		return err
	})
	return key, err
}
