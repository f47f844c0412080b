package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// SecretService implements secrets.SecretService: the secrets of one
// container, on behalf of one user, with per-secret passwords.
//
// A secret's body is sealed with its own random data key (DEK); the DEK is
// sealed with a key derived from the password (argon2id through seal.KDF) and
// stored inside the secret's record, which the tenant key seals in turn.
type SecretService struct {
	db      *DB
	kdf     *seal.KDF
	unlocks *unlockSessions

	// Policy is the policy of sites that have not set their own.
	Policy secrets.Policy
	// KDFWait bounds how long a request may queue for key derivation before
	// it is answered with CodeUnavailable.
	KDFWait time.Duration
}

var _ secrets.SecretService = (*SecretService)(nil)

// NewSecretService returns the secret service of db, deriving password keys
// with kdf.
func NewSecretService(db *DB, kdf *seal.KDF, policy secrets.Policy) *SecretService {
	return &SecretService{
		db:      db,
		kdf:     kdf,
		unlocks: newUnlockSessions(100_000),
		Policy:  policy,
		KDFWait: 30 * time.Second,
	}
}

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
}

func (r *secretRecord) meta() secrets.Secret {
	return secrets.Secret{
		ID: r.ID, Title: r.Title, Version: r.Version,
		CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy,
		UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy,
		ExpiresAt: r.ExpiresAt,
	}
}

func notFound() error { return secrets.Errorf(secrets.CodeNotFound, "No such secret here.") }

func unlockRequired() error {
	return secrets.Errorf(secrets.CodeUnlockRequired, "Unlock the secret again to do this.")
}

// ListSecrets returns the container's secrets, oldest first. Expired secrets
// are deleted on the way.
func (s *SecretService) ListSecrets(ctx context.Context, a secrets.Actor) ([]secrets.Secret, error) {
	now := s.db.Now()
	var out []secrets.Secret
	var expired []string
	err := s.db.view(func(tx *bbolt.Tx) error {
		tb, k, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		idx := tb.Bucket(bucketContainers).Bucket(k.MAC("container", string(a.Container)))
		if idx == nil {
			return nil
		}
		return idx.ForEach(func(id, _ []byte) error {
			rec, err := s.db.secretRecord(tx, tb, a.ClientKey, string(id))
			if err != nil {
				return err
			}
			if isExpired(rec, now) {
				expired = append(expired, rec.ID)
				return nil
			}
			out = append(out, rec.meta())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if len(expired) > 0 {
		if err := s.deleteExpired(a.ClientKey, expired); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// CreateSecret stores a new secret in the actor's container.
func (s *SecretService) CreateSecret(ctx context.Context, a secrets.Actor, in secrets.NewSecret) (*secrets.Secret, error) {
	if !a.Container.HoldsSecrets() {
		return nil, secrets.Errorf(secrets.CodeForbidden, "Secrets can only be added to an issue or a page.")
	}
	if err := secrets.ValidateTitle(in.Title); err != nil {
		return nil, err
	}
	if err := secrets.ValidateContent(in.Content); err != nil {
		return nil, err
	}
	now := s.db.Now()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return nil, secrets.Errorf(secrets.CodeInvalid, "The expiry must be in the future.")
	}
	policy, err := s.policy(a.ClientKey)
	if err != nil {
		return nil, err
	}
	if err := policy.ValidatePassword(in.Password); err != nil {
		return nil, err
	}

	id, err := newSecretID()
	if err != nil {
		return nil, secrets.Internal(err)
	}
	dek, err := seal.RandomKey()
	if err != nil {
		return nil, secrets.Internal(err)
	}
	defer clear(dek)
	params, wrapped, err := s.wrapDEK(ctx, in.Password, dek, a.ClientKey, id)
	if err != nil {
		return nil, err
	}
	body, err := sealBody(dek, in.Content, a.ClientKey, id, 1)
	if err != nil {
		return nil, err
	}
	rec := &secretRecord{
		ID: id, Container: string(a.Container), Title: in.Title, Version: 1,
		CreatedAt: now, CreatedBy: a.AccountID, UpdatedAt: now, UpdatedBy: a.AccountID,
		ExpiresAt: in.ExpiresAt.UTC(), Location: a.Location, KDF: params, WrappedDEK: wrapped,
	}
	if rec.ExpiresAt.IsZero() && policy.DefaultExpiry > 0 {
		rec.ExpiresAt = now.Add(policy.DefaultExpiry).UTC()
	}
	err = s.db.update(func(tx *bbolt.Tx) error {
		tb, k, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		if err := s.db.putSecretRecord(tx, tb, a.ClientKey, rec); err != nil {
			return err
		}
		if err := tb.Bucket(bucketBodies).Put([]byte(id), body); err != nil {
			return err
		}
		idx, err := tb.Bucket(bucketContainers).CreateBucketIfNotExists(k.MAC("container", string(a.Container)))
		if err != nil {
			return err
		}
		if err := idx.Put([]byte(id), nil); err != nil {
			return err
		}
		return s.db.audit(tx, tb, a.ClientKey, auditEvent(now, secrets.EventCreated, a, id))
	})
	if err != nil {
		return nil, err
	}
	m := rec.meta()
	return &m, nil
}

// UnlockSecret opens a secret with its password.
//
// The failed-attempt counter of (secret, user) goes up before the password is
// tried and back to zero only on success, so a flood of parallel guesses
// cannot slip past the threshold while key derivations are in flight.
func (s *SecretService) UnlockSecret(ctx context.Context, a secrets.Actor, id, password string) (*secrets.Unlocked, error) {
	if !secrets.ValidSecretID(id) {
		return nil, notFound()
	}
	if len(password) == 0 || len(password) > secrets.MaxPasswordLen {
		return nil, secrets.Errorf(secrets.CodeInvalid, "The password must be 1 to %d bytes.", secrets.MaxPasswordLen)
	}
	now := s.db.Now()
	var policy secrets.Policy
	var rec *secretRecord
	var body []byte
	var failures int
	err := s.db.update(func(tx *bbolt.Tx) error {
		tb, k, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		if policy, err = s.policyIn(tx, tb, a.ClientKey); err != nil {
			return err
		}
		rec, err = s.db.containerSecret(tx, tb, a, id)
		if err != nil {
			return err
		}
		if isExpired(rec, now) {
			rec = nil
			return nil
		}
		body = bytes.Clone(tb.Bucket(bucketBodies).Get([]byte(id)))
		at, err := attemptsOf(tb, k, id, a.AccountID)
		if err != nil {
			return err
		}
		if wait := at.lockedUntil.Sub(now); wait > 0 {
			return &secrets.Error{Code: secrets.CodeLocked, Message: "Too many failed attempts. Try again later.", RetryAfter: wait}
		}
		at.failures++
		failures = at.failures
		if d := policy.LockoutFor(at.failures); d > 0 {
			at.lockedUntil = now.Add(d)
		}
		return at.put(tb, k, id, a.AccountID)
	})
	if err != nil {
		return nil, err
	}
	if rec == nil {
		_ = s.deleteExpired(a.ClientKey, []string{id})
		return nil, notFound()
	}

	dek, err := s.unwrapDEK(ctx, password, rec, a.ClientKey)
	if errors.Is(err, errWrongPassword) {
		return nil, s.failedUnlock(a, id, policy, failures)
	}
	if err != nil {
		s.undoAttempt(a, id, policy)
		return nil, err
	}
	defer clear(dek)
	content, err := openBody(dek, body, a.ClientKey, id, rec.Version)
	if err != nil {
		return nil, err
	}

	// Upgrade the password key's parameters while we hold the password.
	var upgraded *secretRecord
	if rec.KDF.Weaker(s.kdf.Defaults()) {
		if params, wrapped, err := s.wrapDEK(ctx, password, dek, a.ClientKey, id); err == nil {
			u := *rec
			u.KDF, u.WrappedDEK = params, wrapped
			upgraded = &u
		}
	}
	err = s.db.update(func(tx *bbolt.Tx) error {
		tb, k, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		if err := clearAttempts(tb, k, id, a.AccountID); err != nil {
			return err
		}
		cur, err := s.db.containerSecret(tx, tb, a, id)
		if err != nil {
			return err
		}
		cur.LastUnlockedAt = now
		if upgraded != nil && cur.KeyEpoch == rec.KeyEpoch {
			cur.KDF, cur.WrappedDEK = upgraded.KDF, upgraded.WrappedDEK
		}
		if err := s.db.putSecretRecord(tx, tb, a.ClientKey, cur); err != nil {
			return err
		}
		return s.db.audit(tx, tb, a.ClientKey, auditEvent(now, secrets.EventUnlocked, a, id))
	})
	if err != nil {
		return nil, err
	}
	return s.issueUnlock(a, rec, dek, content, policy, now)
}

// UpdateSecret replaces the title and content of the version the caller
// unlocked, re-sealing the body with the same DEK under a new nonce.
func (s *SecretService) UpdateSecret(ctx context.Context, a secrets.Actor, id, unlockToken string, in secrets.SecretUpdate) (*secrets.Unlocked, error) {
	if !secrets.ValidSecretID(id) {
		return nil, notFound()
	}
	if err := secrets.ValidateTitle(in.Title); err != nil {
		return nil, err
	}
	if err := secrets.ValidateContent(in.Content); err != nil {
		return nil, err
	}
	now := s.db.Now()
	sess, err := s.authorize(a, id, unlockToken, now)
	if err != nil {
		return nil, err
	}
	defer clear(sess.dek)
	var policy secrets.Policy
	var rec *secretRecord
	err = s.db.update(func(tx *bbolt.Tx) error {
		tb, _, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		if policy, err = s.policyIn(tx, tb, a.ClientKey); err != nil {
			return err
		}
		rec, err = s.db.sessionSecret(tx, tb, a, id, sess, now)
		if err != nil {
			return err
		}
		if in.Version != rec.Version {
			return secrets.Errorf(secrets.CodeConflict, "Someone changed this secret since you opened it. Reload it and try again.")
		}
		rec.Version++
		rec.Title = in.Title
		rec.UpdatedAt, rec.UpdatedBy = now, a.AccountID
		body, err := sealBody(sess.dek, in.Content, a.ClientKey, id, rec.Version)
		if err != nil {
			return err
		}
		if err := tb.Bucket(bucketBodies).Put([]byte(id), body); err != nil {
			return err
		}
		if err := s.db.putSecretRecord(tx, tb, a.ClientKey, rec); err != nil {
			return err
		}
		return s.db.audit(tx, tb, a.ClientKey, auditEvent(now, secrets.EventEdited, a, id))
	})
	if err != nil {
		return nil, err
	}
	s.unlocks.remove(unlockToken)
	return s.issueUnlock(a, rec, sess.dek, in.Content, policy, now)
}

// ChangePassword re-wraps the secret's DEK under a key derived from the new
// password. The body is not touched. Everyone else who unlocked the secret
// with the old password must unlock again.
func (s *SecretService) ChangePassword(ctx context.Context, a secrets.Actor, id, unlockToken, password string) error {
	if !secrets.ValidSecretID(id) {
		return notFound()
	}
	policy, err := s.policy(a.ClientKey)
	if err != nil {
		return err
	}
	if err := policy.ValidatePassword(password); err != nil {
		return err
	}
	now := s.db.Now()
	sess, err := s.authorize(a, id, unlockToken, now)
	if err != nil {
		return err
	}
	defer clear(sess.dek)
	params, wrapped, err := s.wrapDEK(ctx, password, sess.dek, a.ClientKey, id)
	if err != nil {
		return err
	}
	var epoch int
	err = s.db.update(func(tx *bbolt.Tx) error {
		tb, _, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		rec, err := s.db.sessionSecret(tx, tb, a, id, sess, now)
		if err != nil {
			return err
		}
		rec.KDF, rec.WrappedDEK = params, wrapped
		rec.KeyEpoch++
		epoch = rec.KeyEpoch
		rec.UpdatedAt, rec.UpdatedBy = now, a.AccountID
		if err := s.db.putSecretRecord(tx, tb, a.ClientKey, rec); err != nil {
			return err
		}
		return s.db.audit(tx, tb, a.ClientKey, auditEvent(now, secrets.EventPasswordChanged, a, id))
	})
	if err != nil {
		return err
	}
	s.unlocks.rekey(unlockToken, a.ClientKey, id, epoch)
	return nil
}

// DeleteSecret removes a secret, its body, its index entry and its
// failed-attempt counters.
func (s *SecretService) DeleteSecret(ctx context.Context, a secrets.Actor, id, unlockToken string) error {
	if !secrets.ValidSecretID(id) {
		return notFound()
	}
	now := s.db.Now()
	sess, err := s.authorize(a, id, unlockToken, now)
	if err != nil {
		return err
	}
	defer clear(sess.dek)
	err = s.db.update(func(tx *bbolt.Tx) error {
		tb, k, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		rec, err := s.db.sessionSecret(tx, tb, a, id, sess, now)
		if err != nil {
			return err
		}
		if err := deleteSecret(tb, k, rec); err != nil {
			return err
		}
		return s.db.audit(tx, tb, a.ClientKey, auditEvent(now, secrets.EventDeleted, a, id))
	})
	if err != nil {
		return err
	}
	s.unlocks.revokeSecret(a.ClientKey, id)
	return nil
}

// authorize returns the caller's unlock session for a secret in their
// container. A valid session was opened by this user in this container, so
// no read is needed; the caller's transaction checks the secret again.
// Without one, the secret is looked up to answer not_found for a secret of
// another tenant or container, exactly like a missing one, before
// unlock_required.
func (s *SecretService) authorize(a secrets.Actor, id, unlockToken string, now time.Time) (*unlockSession, error) {
	if sess := s.unlocks.get(unlockToken, a.ClientKey, a.AccountID, string(a.Container), id, now); sess != nil {
		return sess, nil
	}
	err := s.db.view(func(tx *bbolt.Tx) error {
		tb, _, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		_, err = s.db.containerSecret(tx, tb, a, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nil, unlockRequired()
}

// LockSecret revokes the caller's unlock token. Locking is idempotent: a
// token that is already gone (or not the caller's) changes nothing.
func (s *SecretService) LockSecret(ctx context.Context, a secrets.Actor, id, unlockToken string) error {
	if !secrets.ValidSecretID(id) {
		return notFound()
	}
	now := s.db.Now()
	sess, err := s.authorize(a, id, unlockToken, now)
	if secrets.ErrorCode(err) == secrets.CodeUnlockRequired {
		return nil
	} else if err != nil {
		return err
	}
	clear(sess.dek)
	s.unlocks.remove(unlockToken)
	return s.db.update(func(tx *bbolt.Tx) error {
		tb, _, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		return s.db.audit(tx, tb, a.ClientKey, auditEvent(now, secrets.EventLocked, a, id))
	})
}

// SweepExpired deletes every secret past its expiry, in every tenant, and
// drops expired unlock sessions. It returns how many secrets it deleted.
func (s *SecretService) SweepExpired(ctx context.Context) (int, error) {
	now := s.db.Now()
	s.unlocks.sweep(now)
	due := map[string][]string{}
	err := s.db.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTenants).ForEachBucket(func(ck []byte) error {
			tb := tx.Bucket(bucketTenants).Bucket(ck)
			return tb.Bucket(bucketSecrets).ForEach(func(id, _ []byte) error {
				rec, err := s.db.secretRecord(tx, tb, string(ck), string(id))
				if err != nil {
					return err
				}
				if isExpired(rec, now) {
					due[string(ck)] = append(due[string(ck)], rec.ID)
				}
				return ctx.Err()
			})
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for ck, ids := range due {
		if err := s.deleteExpired(ck, ids); err != nil {
			return n, err
		}
		n += len(ids)
	}
	return n, nil
}

// deleteExpired deletes the given secrets if they are still expired.
func (s *SecretService) deleteExpired(clientKey string, ids []string) error {
	now := s.db.Now()
	err := s.db.update(func(tx *bbolt.Tx) error {
		tb, err := tenantBucket(tx, clientKey)
		if err != nil {
			return err
		}
		k, err := s.db.tenantKey(tx, clientKey)
		if err != nil {
			return err
		}
		for _, id := range ids {
			rec, err := s.db.secretRecord(tx, tb, clientKey, id)
			if secrets.ErrorCode(err) == secrets.CodeNotFound {
				continue
			} else if err != nil {
				return err
			}
			if !isExpired(rec, now) {
				continue
			}
			if err := deleteSecret(tb, k, rec); err != nil {
				return err
			}
			if err := s.db.audit(tx, tb, clientKey, secrets.AuditEvent{Time: now, Type: secrets.EventExpired, SecretID: id, Container: secrets.Container(rec.Container)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, id := range ids {
			s.unlocks.revokeSecret(clientKey, id)
		}
	}
	return err
}

// failedUnlock records a wrong password (the attempt was already counted)
// and builds the error the user sees.
func (s *SecretService) failedUnlock(a secrets.Actor, id string, policy secrets.Policy, failures int) error {
	now := s.db.Now()
	lockout := policy.LockoutFor(failures)
	err := s.db.update(func(tx *bbolt.Tx) error {
		tb, err := tenantBucket(tx, a.ClientKey)
		if err != nil {
			return err
		}
		ev := auditEvent(now, secrets.EventUnlockFailed, a, id)
		if err := s.db.audit(tx, tb, a.ClientKey, ev); err != nil {
			return err
		}
		if lockout > 0 {
			ev.Type = secrets.EventLockedOut
			return s.db.audit(tx, tb, a.ClientKey, ev)
		}
		return nil
	})
	if err != nil {
		return err
	}
	left := max(policy.LockoutThreshold-failures, 0)
	e := &secrets.Error{Code: secrets.CodeWrongPassword, Message: "Wrong password.", AttemptsLeft: &left, RetryAfter: lockout}
	if policy.LockoutThreshold <= 0 {
		e.AttemptsLeft = nil
	}
	return e
}

// undoAttempt takes back an attempt that was counted but never tried (the
// key derivation queue was full), so an overloaded server does not lock
// users out.
func (s *SecretService) undoAttempt(a secrets.Actor, id string, policy secrets.Policy) {
	_ = s.db.update(func(tx *bbolt.Tx) error {
		tb, k, err := s.db.activeTenant(tx, a.ClientKey)
		if err != nil {
			return err
		}
		at, err := attemptsOf(tb, k, id, a.AccountID)
		if err != nil || at.failures == 0 {
			return err
		}
		at.failures--
		if policy.LockoutFor(at.failures) == 0 {
			at.lockedUntil = time.Time{}
		}
		return at.put(tb, k, id, a.AccountID)
	})
}

// issueUnlock starts an unlock session for the record's current version.
func (s *SecretService) issueUnlock(a secrets.Actor, rec *secretRecord, dek []byte, content string, policy secrets.Policy, now time.Time) (*secrets.Unlocked, error) {
	expires := now.Add(policy.UnlockTTL)
	token, err := s.unlocks.add(&unlockSession{
		clientKey: a.ClientKey, accountID: a.AccountID, container: string(a.Container), secretID: rec.ID,
		version: rec.Version, keyEpoch: rec.KeyEpoch,
		dek: bytes.Clone(dek), expires: expires,
	}, now)
	if err != nil {
		return nil, secrets.Internal(err)
	}
	return &secrets.Unlocked{Secret: rec.meta(), Content: content, UnlockToken: token, ExpiresAt: expires}, nil
}

var errWrongPassword = errors.New("wrong password")

// wrapDEK derives a key from password with fresh parameters and seals dek
// with it.
func (s *SecretService) wrapDEK(ctx context.Context, password string, dek []byte, clientKey, id string) (seal.KDFParams, []byte, error) {
	params, err := s.kdf.NewParams()
	if err != nil {
		return params, nil, secrets.Internal(err)
	}
	kek, err := s.deriveKey(ctx, password, params)
	if err != nil {
		return params, nil, err
	}
	wrapped, err := kek.Seal(dek, dekAD(clientKey, id))
	if err != nil {
		return params, nil, secrets.Internal(err)
	}
	return params, wrapped, nil
}

// unwrapDEK derives the password key with the record's parameters and opens
// the DEK; a failure to open is errWrongPassword.
func (s *SecretService) unwrapDEK(ctx context.Context, password string, rec *secretRecord, clientKey string) ([]byte, error) {
	kek, err := s.deriveKey(ctx, password, rec.KDF)
	if err != nil {
		return nil, err
	}
	dek, err := kek.Open(rec.WrappedDEK, dekAD(clientKey, rec.ID))
	if err != nil {
		return nil, errWrongPassword
	}
	return dek, nil
}

func (s *SecretService) deriveKey(ctx context.Context, password string, params seal.KDFParams) (*seal.Key, error) {
	ctx, cancel := context.WithTimeout(ctx, s.KDFWait)
	defer cancel()
	pw := []byte(password)
	defer clear(pw)
	kek, err := s.kdf.DeriveKey(ctx, pw, params)
	switch {
	case errors.Is(err, seal.ErrBusy):
		return nil, &secrets.Error{Code: secrets.CodeUnavailable, Message: "The server is busy. Try again in a moment.", RetryAfter: 5 * time.Second}
	case err != nil:
		return nil, secrets.Internal(err)
	}
	return kek, nil
}

func sealBody(dek []byte, content, clientKey, id string, version int) ([]byte, error) {
	k, err := dekKey(dek)
	if err != nil {
		return nil, secrets.Internal(err)
	}
	return k.Seal([]byte(content), bodyAD(clientKey, id, version))
}

func openBody(dek, body []byte, clientKey, id string, version int) (string, error) {
	k, err := dekKey(dek)
	if err != nil {
		return "", secrets.Internal(err)
	}
	plain, err := k.Open(body, bodyAD(clientKey, id, version))
	if err != nil {
		return "", secrets.Internal(fmt.Errorf("bolt: open body of secret %s: %w", id, err))
	}
	return string(plain), nil
}

// auditEvent is an event by the actor on a secret.
func auditEvent(now time.Time, typ secrets.EventType, a secrets.Actor, id string) secrets.AuditEvent {
	return secrets.AuditEvent{Time: now, Type: typ, AccountID: a.AccountID, SecretID: id, Container: a.Container, Location: a.Location}
}

func isExpired(rec *secretRecord, now time.Time) bool {
	return !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt)
}

// newSecretID returns 128 random bits, URL-safe.
func newSecretID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// activeTenant returns the bucket and key of a tenant whose installation is
// active. A disabled or uninstalled tenant is unauthorized: its sessions stop
// working at once.
func (db *DB) activeTenant(tx *bbolt.Tx, clientKey string) (*bbolt.Bucket, *seal.TenantKey, error) {
	inst, err := db.installation(tx, clientKey)
	if err != nil || !inst.State.Active() {
		return nil, nil, secrets.Errorf(secrets.CodeUnauthorized, "This app is not active on your site.")
	}
	tb, err := tenantBucket(tx, clientKey)
	if err != nil {
		return nil, nil, err
	}
	k, err := db.tenantKey(tx, clientKey)
	return tb, k, err
}

func (db *DB) secretRecord(tx *bbolt.Tx, tb *bbolt.Bucket, clientKey, id string) (*secretRecord, error) {
	var rec secretRecord
	if err := db.openJSON(tx, clientKey, tb.Bucket(bucketSecrets).Get([]byte(id)), secretAD(clientKey, id), &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// containerSecret returns the secret if it lives in the actor's container;
// one that lives elsewhere is not found, exactly like a missing one.
func (db *DB) containerSecret(tx *bbolt.Tx, tb *bbolt.Bucket, a secrets.Actor, id string) (*secretRecord, error) {
	rec, err := db.secretRecord(tx, tb, a.ClientKey, id)
	if secrets.ErrorCode(err) == secrets.CodeNotFound || (err == nil && rec.Container != string(a.Container)) {
		return nil, notFound()
	}
	return rec, err
}

// sessionSecret returns the secret an unlock session may act on: in the
// actor's container, not expired, and still under the password and version
// the session was opened with.
func (db *DB) sessionSecret(tx *bbolt.Tx, tb *bbolt.Bucket, a secrets.Actor, id string, sess *unlockSession, now time.Time) (*secretRecord, error) {
	rec, err := db.containerSecret(tx, tb, a, id)
	if err != nil {
		return nil, err
	}
	if isExpired(rec, now) {
		return nil, notFound()
	}
	if sess.keyEpoch != rec.KeyEpoch {
		return nil, unlockRequired()
	}
	if sess.version != rec.Version {
		return nil, secrets.Errorf(secrets.CodeConflict, "Someone changed this secret since you opened it. Reload it and try again.")
	}
	return rec, nil
}

func (db *DB) putSecretRecord(tx *bbolt.Tx, tb *bbolt.Bucket, clientKey string, rec *secretRecord) error {
	v, err := db.sealJSON(tx, clientKey, rec, secretAD(clientKey, rec.ID))
	if err != nil {
		return err
	}
	return tb.Bucket(bucketSecrets).Put([]byte(rec.ID), v)
}

// deleteSecret removes a secret and everything keyed by it.
func deleteSecret(tb *bbolt.Bucket, k *seal.TenantKey, rec *secretRecord) error {
	id := []byte(rec.ID)
	if err := tb.Bucket(bucketSecrets).Delete(id); err != nil {
		return err
	}
	if err := tb.Bucket(bucketBodies).Delete(id); err != nil {
		return err
	}
	if idx := tb.Bucket(bucketContainers).Bucket(k.MAC("container", rec.Container)); idx != nil {
		if err := idx.Delete(id); err != nil {
			return err
		}
	}
	err := tb.Bucket(bucketAttempts).DeleteBucket(k.MAC("attempts", rec.ID))
	if err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
		return err
	}
	return nil
}
