package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// ListSecrets returns one page of the container's secrets, oldest first.
// Expired secrets are left out (the janitor deletes them). The container's
// records are read whole and sorted: the site's cap on secrets per
// container bounds them, and the index is keyed by id, not by age.
func (e *Engine) ListSecrets(ctx context.Context, a secrets.Actor, q secrets.ListQuery) (*secrets.SecretList, error) {
	limit := q.Limit
	if limit == 0 {
		limit = secrets.DefaultListLimit
	}
	if limit < 1 || limit > secrets.MaxListLimit {
		return nil, secrets.Errorf(secrets.CodeInvalid, "limit must be 1 to %d.", secrets.MaxListLimit)
	}
	after, err := parseListCursor(q.After)
	if err != nil {
		return nil, err
	}
	now := e.Now()
	var page *secrets.SecretList
	err = e.view(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, a)
		if err != nil {
			return err
		}
		prefix := containerPrefix(k, string(a.Container))
		if after != nil {
			page, _, err = e.listPage(tx, k, a, prefix, limit, after, now)
			return err
		}
		// A first page: the one kept for this list version, while it is
		// current (listcache.go).
		version, err := tx.Get(a.ClientKey, store.Tenant, listVersionKey(prefix))
		if err != nil {
			return err
		}
		kd := keptPageKey(a.ClientKey, prefix, limit)
		if version != nil {
			if v, ok := e.decoded.get(kd, k, version); ok && now.Before(v.(*keptPage).validUntil) {
				page = v.(*keptPage).list
				return nil
			}
		}
		var validUntil time.Time
		page, validUntil, err = e.listPage(tx, k, a, prefix, limit, nil, now)
		if err == nil && version != nil {
			e.decoded.put(kd, k, version, &keptPage{list: page, validUntil: validUntil})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// listPage builds a page of the container's list from its records, and
// says until when it is right if nothing is written: the earliest expiry
// among the container's secrets, at most listPageMaxAge from now.
func (e *Engine) listPage(tx store.Tx, k *seal.TenantKey, a secrets.Actor, prefix []byte, limit int, after *listCursor, now time.Time) (*secrets.SecretList, time.Time, error) {
	validUntil := now.Add(listPageMaxAge)
	// Pointers to the cached, immutable metadata: cheap to collect and sort;
	// only the page returned is copied out.
	found := make([]*listMeta, 0, 32)
	err := tx.Scan(a.ClientKey, store.Containers, store.Range{Prefix: prefix}, func(key, _ []byte) error {
		m, err := e.listMeta(tx, k, a.ClientKey, key[len(prefix):])
		if err != nil {
			return err
		}
		if m == nil || m.container != string(a.Container) {
			return nil // index entry of a secret deleted in this tx's past: harmless
		}
		if exp := m.meta.ExpiresAt; !exp.IsZero() {
			if !now.Before(exp) {
				return nil
			}
			if exp.Before(validUntil) {
				validUntil = exp
			}
		}
		if after == nil || after.before(m.meta) {
			found = append(found, m)
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	slices.SortFunc(found, func(x, y *listMeta) int {
		if c := x.meta.CreatedAt.Compare(y.meta.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.meta.ID, y.meta.ID)
	})
	page := &secrets.SecretList{}
	if len(found) > limit {
		found = found[:limit]
		last := found[limit-1].meta
		page.Next = listCursor{createdAt: last.CreatedAt, id: last.ID}.String()
	}
	page.Secrets = make([]secrets.Secret, len(found))
	for i, m := range found {
		page.Secrets[i] = m.meta
	}
	return page, validUntil, nil
}

// listMeta returns what the list shows of a secret record, from the decoded
// cache while the record's bytes are unchanged; nil when it is missing.
func (e *Engine) listMeta(tx store.Tx, k *seal.TenantKey, tenant string, id []byte) (*listMeta, error) {
	v, err := tx.Get(tenant, store.Secrets, id)
	if err != nil || v == nil {
		return nil, err
	}
	kd := decodedKey{kind: kindListMeta, tenant: tenant, id: string(id)}
	if m, ok := e.decoded.get(kd, k, v); ok {
		return m.(*listMeta), nil
	}
	var rec secretRecord
	if err := openJSON(k, tenant, v, secretAD(tenant, kd.id), &rec); err != nil {
		return nil, err
	}
	m := &listMeta{meta: rec.meta(), container: rec.Container}
	e.decoded.put(kd, k, v, m)
	return m, nil
}

// listCursor is a position in a container's list: the creation time and id
// of the last secret of a page. On the wire it is base64url of the time in
// Unix nanoseconds (8 bytes, big-endian) followed by the id.
type listCursor struct {
	createdAt time.Time
	id        string
}

func (c listCursor) String() string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(c.id)), uint64(c.createdAt.UnixNano()))
	return base64.RawURLEncoding.EncodeToString(append(b, c.id...))
}

// before reports whether the cursor's position is before m in list order.
func (c *listCursor) before(m secrets.Secret) bool {
	if d := c.createdAt.Compare(m.CreatedAt); d != 0 {
		return d < 0
	}
	return c.id < m.ID
}

// maxListCursorLen is the longest cursor listCursor.String writes (8 bytes
// and a 64-byte id, in base64url), with room to spare.
const maxListCursorLen = 128

// parseListCursor reads a ListQuery.After; "" is the start (nil).
func parseListCursor(s string) (*listCursor, error) {
	if s == "" {
		return nil, nil
	}
	var b []byte
	var err error
	if len(s) <= maxListCursorLen {
		b, err = base64.RawURLEncoding.DecodeString(s)
	}
	if len(s) > maxListCursorLen || err != nil || len(b) <= 8 || !secrets.ValidSecretID(string(b[8:])) {
		return nil, secrets.Errorf(secrets.CodeInvalid, "The list cursor is not valid; start again without one.")
	}
	return &listCursor{createdAt: time.Unix(0, int64(binary.BigEndian.Uint64(b))), id: string(b[8:])}, nil
}

// CreateSecret stores a new secret in the actor's container.
func (e *Engine) CreateSecret(ctx context.Context, a secrets.Actor, in secrets.NewSecret) (*secrets.Secret, error) {
	if !a.Container.HoldsSecrets() {
		return nil, secrets.Errorf(secrets.CodeForbidden, "Secrets can only be added to an issue or a page.")
	}
	if err := requireLicence(a); err != nil {
		return nil, err
	}
	if err := secrets.ValidateTitle(in.Title); err != nil {
		return nil, err
	}
	if err := secrets.ValidateContent(in.Content); err != nil {
		return nil, err
	}
	now := e.Now()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return nil, secrets.Errorf(secrets.CodeInvalid, "The expiry must be in the future.")
	}
	policy, err := e.checkBeforeCreate(ctx, a)
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
	params, wrapped, err := e.wrapDEK(ctx, a, in.Password, dek, id)
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
		ExpiresAt: in.ExpiresAt.UTC(), Location: a.Location, KDF: params, WrappedDEK: wrapped, Padded: true,
	}
	if rec.ExpiresAt.IsZero() && policy.DefaultExpiry > 0 {
		rec.ExpiresAt = now.Add(policy.DefaultExpiry).UTC()
	}
	err = e.update(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, a)
		if err != nil {
			return err
		}
		if err := checkContainerRoom(tx, k, a, policy); err != nil {
			return err
		}
		if err := putSecret(tx, k, a.ClientKey, rec, nil); err != nil {
			return err
		}
		if err := tx.Put(a.ClientKey, store.Bodies, []byte(id), body); err != nil {
			return err
		}
		return audit(tx, k, a.ClientKey, actorEvent(now, secrets.EventCreated, a, id))
	})
	if err != nil {
		return nil, err
	}
	m := rec.meta()
	return &m, nil
}

// checkBeforeCreate returns the site's policy and refuses a create into a
// full container before any key is derived.
func (e *Engine) checkBeforeCreate(ctx context.Context, a secrets.Actor) (secrets.Policy, error) {
	var p secrets.Policy
	err := e.view(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, a)
		if err != nil {
			return err
		}
		if p, err = e.policyIn(tx, k, a.ClientKey); err != nil {
			return err
		}
		return checkContainerRoom(tx, k, a, p)
	})
	return p, err
}

// checkContainerRoom refuses a secret beyond the site's cap per container.
func checkContainerRoom(tx store.Tx, k *seal.TenantKey, a secrets.Actor, p secrets.Policy) error {
	limit := p.SecretsPerContainer()
	n := 0
	err := tx.Scan(a.ClientKey, store.Containers, store.Range{Prefix: containerPrefix(k, string(a.Container))}, func(_, _ []byte) error {
		if n++; n >= limit {
			return store.Stop
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n >= limit {
		return secrets.Errorf(secrets.CodeInvalid, "This place already holds %d secrets, the most your site allows. Delete one first.", limit)
	}
	return nil
}

// UnlockSecret opens a secret with its password.
//
// The failed-attempt counters go up before the password is tried and the
// user's goes back to zero only on success, so a flood of parallel guesses
// cannot slip past the threshold while key derivations are in flight, on
// any number of replicas.
func (e *Engine) UnlockSecret(ctx context.Context, a secrets.Actor, id, password string) (*secrets.Unlocked, error) {
	if !secrets.ValidSecretID(id) {
		return nil, notFound()
	}
	if len(password) == 0 || len(password) > secrets.MaxPasswordLen {
		return nil, secrets.Errorf(secrets.CodeInvalid, "The password must be 1 to %d bytes.", secrets.MaxPasswordLen)
	}
	// A derivation the queue would refuse is refused before the attempt is
	// counted: counting and taking it back are two writes, which a flood of
	// refused calls would spend at the expense of the unlocks that run.
	if err := e.kdf.Refuses(seal.RequesterFrom(ctx)); err != nil {
		return nil, kdfError(err)
	}
	now := e.Now()
	var policy secrets.Policy
	var rec *secretRecord
	var body []byte
	var counted userAttempts
	err := e.update(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, a)
		if err != nil {
			return err
		}
		if policy, err = e.policyIn(tx, k, a.ClientKey); err != nil {
			return err
		}
		if rec, err = containerSecret(tx, k, a, id); err != nil {
			return err
		}
		if isExpired(rec, now) {
			return notFound()
		}
		if body, err = tx.Get(a.ClientKey, store.Bodies, []byte(id)); err != nil {
			return err
		}
		counted, err = countAttempt(tx, k, a, id, policy, now)
		return err
	})
	if err != nil {
		return nil, err
	}

	dek, err := e.unwrapDEK(ctx, a, password, rec)
	if errors.Is(err, errWrongPassword) {
		return nil, e.failedUnlock(ctx, a, id, policy, counted)
	}
	if err != nil {
		e.takeBack(ctx, a, id, policy)
		return nil, err
	}
	defer clear(dek)
	content, err := openBody(dek, body, rec, a.ClientKey)
	if err != nil {
		return nil, err
	}

	// Upgrade the password key's parameters while we hold the password.
	var upgradeKDF seal.KDFParams
	var upgradeDEK []byte
	if rec.KDF.Weaker(e.kdf.Defaults()) {
		if p, w, err := e.wrapDEK(ctx, a, password, dek, id); err == nil {
			upgradeKDF, upgradeDEK = p, w
		}
	}
	var token string
	var expires time.Time
	var cur *secretRecord
	err = e.update(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, a)
		if err != nil {
			return err
		}
		if err := settleSuccess(tx, k, a, id, policy); err != nil {
			return err
		}
		if cur, err = containerSecret(tx, k, a, id); err != nil {
			return err
		}
		if cur.KeyEpoch != rec.KeyEpoch || cur.Version != rec.Version {
			// Changed while we derived: the content we opened is stale.
			return conflict()
		}
		old := *cur
		cur.LastUnlockedAt = now
		if upgradeDEK != nil {
			cur.KDF, cur.WrappedDEK = upgradeKDF, upgradeDEK
		}
		if err := putSecret(tx, k, a.ClientKey, cur, &old); err != nil {
			return err
		}
		expires = now.Add(policy.UnlockTTL)
		if token, err = issueCapability(k, a, cur, dek, now, expires); err != nil {
			return err
		}
		return audit(tx, k, a.ClientKey, actorEvent(now, secrets.EventUnlocked, a, id))
	})
	if err != nil {
		return nil, err
	}
	return &secrets.Unlocked{Secret: cur.meta(), Content: content, UnlockToken: token, ExpiresAt: expires}, nil
}

// withCapability runs fn in an update transaction once the unlock token is
// proved for the actor and secret: fn gets the tenant key, the capability
// (its DEK) and the current record. Without a valid token, a secret of
// another tenant or container is not found, exactly like a missing one,
// before unlock_required.
func (e *Engine) withCapability(ctx context.Context, a secrets.Actor, id, token string, fn func(tx store.Tx, k *seal.TenantKey, c *capability, rec *secretRecord) error) error {
	if !secrets.ValidSecretID(id) {
		return notFound()
	}
	now := e.Now()
	return e.update(ctx, func(tx store.Tx) error {
		inst, k, err := e.activeTenant(tx, a)
		if err != nil {
			return err
		}
		c := openCapability(k, a, id, token, now)
		if c == nil {
			if _, err := containerSecret(tx, k, a, id); err != nil {
				return err
			}
			return unlockRequired()
		}
		defer clear(c.DEK)
		rec, err := checkCapability(tx, k, inst, a, c, now)
		if err != nil {
			return err
		}
		return fn(tx, k, c, rec)
	})
}

// UpdateSecret replaces the title and content of the version the caller
// unlocked, re-sealing the body with the same DEK under a new nonce.
func (e *Engine) UpdateSecret(ctx context.Context, a secrets.Actor, id, unlockToken string, in secrets.SecretUpdate) (*secrets.Unlocked, error) {
	if err := requireLicence(a); err != nil {
		return nil, err
	}
	if err := secrets.ValidateTitle(in.Title); err != nil {
		return nil, err
	}
	if err := secrets.ValidateContent(in.Content); err != nil {
		return nil, err
	}
	now := e.Now()
	var out *secrets.Unlocked
	err := e.withCapability(ctx, a, id, unlockToken, func(tx store.Tx, k *seal.TenantKey, c *capability, rec *secretRecord) error {
		if in.Version != rec.Version {
			return conflict()
		}
		policy, err := e.policyIn(tx, k, a.ClientKey)
		if err != nil {
			return err
		}
		// Checked before anything changes, so a refused expiry leaves the
		// secret exactly as it was.
		var newExpiry time.Time
		if in.ExpiresAt != nil {
			if newExpiry, err = checkUpdateExpiry(policy, *in.ExpiresAt, now); err != nil {
				return err
			}
		}
		old := *rec
		rec.Version++
		rec.Title = in.Title
		if in.ExpiresAt != nil {
			rec.ExpiresAt = newExpiry
		}
		rec.UpdatedAt, rec.UpdatedBy = now, a.AccountID
		rec.Padded = true
		body, err := sealBody(c.DEK, in.Content, a.ClientKey, id, rec.Version)
		if err != nil {
			return err
		}
		if err := tx.Put(a.ClientKey, store.Bodies, []byte(id), body); err != nil {
			return err
		}
		if err := putSecret(tx, k, a.ClientKey, rec, &old); err != nil {
			return err
		}
		expires := now.Add(policy.UnlockTTL)
		token, err := issueCapability(k, a, rec, c.DEK, now, expires)
		if err != nil {
			return err
		}
		out = &secrets.Unlocked{Secret: rec.meta(), Content: in.Content, UnlockToken: token, ExpiresAt: expires}
		return audit(tx, k, a.ClientKey, actorEvent(now, secrets.EventEdited, a, id))
	})
	return out, err
}

// longestExpiryChoice is the longest per-secret expiry the forms offer
// (pkg/server's expiryChoices); a site's own default may be longer.
const longestExpiryChoice = 365 * 24 * time.Hour

// expirySlack absorbs the time between the form computing "now + choice" in
// the browser and the server checking it, and modest clock skew.
const expirySlack = 10 * time.Minute

// checkUpdateExpiry checks a new expiry for an existing secret against the
// site policy and returns it as stored: the zero time (never) only where the
// site has no default expiry, else a time in the future no later than the
// longest choice the policy offers.
func checkUpdateExpiry(p secrets.Policy, t, now time.Time) (time.Time, error) {
	if t.IsZero() {
		if p.DefaultExpiry > 0 {
			return time.Time{}, secrets.Errorf(secrets.CodeInvalid, "This site's policy requires secrets to expire, so “never” is not allowed.")
		}
		return time.Time{}, nil
	}
	if !t.After(now) {
		return time.Time{}, secrets.Errorf(secrets.CodeInvalid, "The expiry must be in the future.")
	}
	longest := max(longestExpiryChoice, p.DefaultExpiry)
	if t.After(now.Add(longest + expirySlack)) {
		return time.Time{}, secrets.Errorf(secrets.CodeInvalid, "The expiry can be at most %d days from now.", int(longest/(24*time.Hour)))
	}
	return t.UTC(), nil
}

// ChangePassword draws a new DEK, re-seals the body under it and wraps it
// with a key derived from the new password. The key derivation runs between
// two transactions; the second one checks the token again, so a lock, edit
// or delete in between wins.
func (e *Engine) ChangePassword(ctx context.Context, a secrets.Actor, id, unlockToken, password string) (*secrets.Unlocked, error) {
	if err := requireLicence(a); err != nil {
		return nil, err
	}
	var policy secrets.Policy
	// First: is the token good, and does the password meet the policy?
	// Cheap checks before the expensive derivation.
	err := e.withCapability(ctx, a, id, unlockToken, func(tx store.Tx, k *seal.TenantKey, _ *capability, _ *secretRecord) error {
		var err error
		policy, err = e.policyIn(tx, k, a.ClientKey)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := policy.ValidatePassword(password); err != nil {
		return nil, err
	}
	dek, err := seal.RandomKey()
	if err != nil {
		return nil, secrets.Internal(err)
	}
	defer clear(dek)
	params, wrapped, err := e.wrapDEK(ctx, a, password, dek, id)
	if err != nil {
		return nil, err
	}
	now := e.Now()
	var out *secrets.Unlocked
	err = e.withCapability(ctx, a, id, unlockToken, func(tx store.Tx, k *seal.TenantKey, c *capability, rec *secretRecord) error {
		sealed, err := tx.Get(a.ClientKey, store.Bodies, []byte(id))
		if err != nil {
			return err
		}
		content, err := openBody(c.DEK, sealed, rec, a.ClientKey)
		if err != nil {
			return err
		}
		body, err := sealBody(dek, content, a.ClientKey, id, rec.Version)
		if err != nil {
			return err
		}
		old := *rec
		rec.KDF, rec.WrappedDEK, rec.Padded = params, wrapped, true
		rec.KeyEpoch++
		rec.UpdatedAt, rec.UpdatedBy = now, a.AccountID
		if err := tx.Put(a.ClientKey, store.Bodies, []byte(id), body); err != nil {
			return err
		}
		if err := putSecret(tx, k, a.ClientKey, rec, &old); err != nil {
			return err
		}
		expires := now.Add(policy.UnlockTTL)
		token, err := issueCapability(k, a, rec, dek, now, expires)
		if err != nil {
			return err
		}
		out = &secrets.Unlocked{Secret: rec.meta(), UnlockToken: token, ExpiresAt: expires}
		return audit(tx, k, a.ClientKey, actorEvent(now, secrets.EventPasswordChanged, a, id))
	})
	return out, err
}

// DeleteSecret removes a secret, its body, its index entries and its
// failed-attempt counters.
func (e *Engine) DeleteSecret(ctx context.Context, a secrets.Actor, id, unlockToken string) error {
	now := e.Now()
	return e.withCapability(ctx, a, id, unlockToken, func(tx store.Tx, k *seal.TenantKey, _ *capability, rec *secretRecord) error {
		if err := deleteSecret(tx, k, a.ClientKey, rec); err != nil {
			return err
		}
		return audit(tx, k, a.ClientKey, actorEvent(now, secrets.EventDeleted, a, id))
	})
}

// LockSecret revokes the caller's unlock token everywhere. Locking is
// idempotent: a token that is already dead (or not the caller's) changes
// nothing.
func (e *Engine) LockSecret(ctx context.Context, a secrets.Actor, id, unlockToken string) error {
	now := e.Now()
	err := e.withCapability(ctx, a, id, unlockToken, func(tx store.Tx, k *seal.TenantKey, c *capability, _ *secretRecord) error {
		if err := revokeCapability(tx, a.ClientKey, c); err != nil {
			return err
		}
		return audit(tx, k, a.ClientKey, actorEvent(now, secrets.EventLocked, a, id))
	})
	if code := secrets.ErrorCode(err); code == secrets.CodeUnlockRequired || code == secrets.CodeConflict {
		return nil
	}
	return err
}

// failedUnlock audits a wrong password (the attempt was already counted)
// and builds the error the user sees.
func (e *Engine) failedUnlock(ctx context.Context, a secrets.Actor, id string, policy secrets.Policy, counted userAttempts) error {
	now := e.Now()
	lockout := policy.LockoutFor(counted.Failures)
	err := e.update(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, a.ClientKey)
		if err != nil {
			return err
		}
		ev := actorEvent(now, secrets.EventUnlockFailed, a, id)
		if err := audit(tx, k, a.ClientKey, ev); err != nil {
			return err
		}
		alerts, err := noteFailure(tx, k, a, id)
		if err != nil {
			return err
		}
		for _, t := range alerts {
			if err := audit(tx, k, a.ClientKey, actorEvent(now, t, a, id)); err != nil {
				return err
			}
		}
		if lockout > 0 {
			ev.Type = secrets.EventLockedOut
			return audit(tx, k, a.ClientKey, ev)
		}
		return nil
	})
	if err != nil {
		return err
	}
	left := max(policy.LockoutThreshold-counted.Failures, 0)
	werr := &secrets.Error{Code: secrets.CodeWrongPassword, Message: "Wrong password.", AttemptsLeft: &left, RetryAfter: lockout}
	if policy.LockoutThreshold <= 0 {
		werr.AttemptsLeft = nil
	}
	return werr
}

// takeBack returns an attempt that was counted but never tried.
func (e *Engine) takeBack(ctx context.Context, a secrets.Actor, id string, policy secrets.Policy) {
	// A fresh context: the request's may be what was cancelled, and the
	// counter must still come down.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = e.update(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, a.ClientKey)
		if err != nil {
			return err
		}
		return takeBackAttempt(tx, k, a, id, policy)
	})
}

var errWrongPassword = errors.New("wrong password")

// wrapDEK derives a key from password with fresh parameters and seals dek
// with it.
func (e *Engine) wrapDEK(ctx context.Context, a secrets.Actor, password string, dek []byte, id string) (seal.KDFParams, []byte, error) {
	params, err := e.kdf.NewParams()
	if err != nil {
		return params, nil, secrets.Internal(err)
	}
	kek, err := e.deriveKey(ctx, a, password, params)
	if err != nil {
		return params, nil, err
	}
	wrapped, err := kek.Seal(dek, dekAD(a.ClientKey, id))
	if err != nil {
		return params, nil, secrets.Internal(err)
	}
	return params, wrapped, nil
}

// unwrapDEK derives the password key with the record's parameters and opens
// the DEK; a failure to open is errWrongPassword.
func (e *Engine) unwrapDEK(ctx context.Context, a secrets.Actor, password string, rec *secretRecord) ([]byte, error) {
	kek, err := e.deriveKey(ctx, a, password, rec.KDF)
	if err != nil {
		return nil, err
	}
	dek, err := kek.Open(rec.WrappedDEK, dekAD(a.ClientKey, rec.ID))
	if err != nil {
		return nil, errWrongPassword
	}
	return dek, nil
}

func (e *Engine) deriveKey(ctx context.Context, a secrets.Actor, password string, params seal.KDFParams) (*seal.Key, error) {
	ctx, cancel := context.WithTimeout(ctx, e.KDFWait)
	defer cancel()
	pw := []byte(password)
	defer clear(pw)
	kek, err := e.kdf.DeriveKey(ctx, pw, params)
	if err != nil {
		return nil, kdfError(err)
	}
	return kek, nil
}

// kdfError is the API error for a derivation that did not run.
func kdfError(err error) error {
	var full *seal.QueueFullError
	switch {
	case errors.As(err, &full):
		// This tenant or user has its fair share queued already: refuse at
		// once, so a flood waits on itself and nobody else.
		return &secrets.Error{Code: secrets.CodeRateLimited, Message: "Too many unlocks or changes at once. Try again in a moment.", RetryAfter: max(full.RetryAfter, time.Second)}
	case errors.Is(err, seal.ErrBusy):
		return &secrets.Error{Code: secrets.CodeUnavailable, Message: "The server is busy. Try again in a moment.", RetryAfter: 5 * time.Second}
	}
	return secrets.Internal(err)
}

// newSecretID returns 128 random bits, URL-safe.
func newSecretID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
