package bolt

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// unlockSession is what an unlock token stands for: one user's right to act on
// one version of one secret until expires, and the secret's data key, so an
// edit or a password change needs no second key derivation.
//
// Sessions live in memory only: a restart asks users to unlock again, which
// costs them a password and leaks nothing.
type unlockSession struct {
	clientKey, accountID, secretID string
	container                      string // where the secret was unlocked
	version                        int    // secret version the token was issued for
	keyEpoch                       int    // password generation the token was issued under
	dek                            []byte // the secret's data key; wiped on removal
	expires                        time.Time
}

// unlockSessions holds live unlock sessions keyed by the SHA-256 of their
// token, so a memory dump does not hand out usable tokens.
type unlockSessions struct {
	mu       sync.Mutex
	sessions map[[32]byte]*unlockSession
	max      int
}

func newUnlockSessions(max int) *unlockSessions {
	return &unlockSessions{sessions: map[[32]byte]*unlockSession{}, max: max}
}

// add stores s and returns its new token.
func (u *unlockSessions) add(s *unlockSession, now time.Time) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.sessions) >= u.max {
		u.sweepLocked(now)
	}
	if len(u.sessions) >= u.max {
		// Still full of live sessions: drop the one closest to expiry rather
		// than refuse the user who just proved the password.
		var oldest [32]byte
		var at time.Time
		for k, v := range u.sessions {
			if at.IsZero() || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		u.removeLocked(oldest)
	}
	u.sessions[sha256.Sum256([]byte(token))] = s
	return token, nil
}

// get returns a copy of the live session of token if it belongs to this
// tenant, user, container and secret; nil otherwise. The DEK in the copy is
// a copy too, which the caller wipes.
func (u *unlockSessions) get(token, clientKey, accountID, container, secretID string, now time.Time) *unlockSession {
	if token == "" || len(token) > 128 {
		return nil
	}
	h := sha256.Sum256([]byte(token))
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.sessions[h]
	if s == nil {
		return nil
	}
	if !now.Before(s.expires) {
		u.removeLocked(h)
		return nil
	}
	if !eq(s.clientKey, clientKey) || !eq(s.accountID, accountID) || !eq(s.container, container) || !eq(s.secretID, secretID) {
		return nil
	}
	c := *s
	c.dek = append([]byte(nil), s.dek...)
	return &c
}

// remove revokes token.
func (u *unlockSessions) remove(token string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.removeLocked(sha256.Sum256([]byte(token)))
}

// rekey moves the session of token to a new password epoch; every other
// session of the secret is revoked, so a password change logs out everyone
// who unlocked with the old password except the one who changed it.
func (u *unlockSessions) rekey(token, clientKey, secretID string, epoch int) {
	keep := sha256.Sum256([]byte(token))
	u.mu.Lock()
	defer u.mu.Unlock()
	for h, s := range u.sessions {
		if s.clientKey == clientKey && s.secretID == secretID {
			if h == keep {
				s.keyEpoch = epoch
			} else {
				u.removeLocked(h)
			}
		}
	}
}

// revokeSecret revokes every session of a secret (after delete).
func (u *unlockSessions) revokeSecret(clientKey, secretID string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for h, s := range u.sessions {
		if s.clientKey == clientKey && s.secretID == secretID {
			u.removeLocked(h)
		}
	}
}

func (u *unlockSessions) sweepLocked(now time.Time) {
	for h, s := range u.sessions {
		if !now.Before(s.expires) {
			u.removeLocked(h)
		}
	}
}

// sweep drops expired sessions; the janitor calls it periodically.
func (u *unlockSessions) sweep(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sweepLocked(now)
}

func (u *unlockSessions) removeLocked(h [32]byte) {
	if s := u.sessions[h]; s != nil {
		clear(s.dek)
		delete(u.sessions, h)
	}
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// dekKey turns a raw DEK into the AEAD key that seals the body.
func dekKey(dek []byte) (*seal.Key, error) { return seal.NewKey(0, dek) }
