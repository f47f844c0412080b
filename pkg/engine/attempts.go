package engine

import (
	"bytes"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// Failed unlocks are counted twice, both sealed:
//
//   - per (secret, user), so one user's failures never lock anyone else out:
//     key mac("attempts", secret) ‖ mac("attempt", secret, account). The
//     second MAC covers the secret too, so the store cannot link one user's
//     failures across secrets;
//   - per secret over all users (key mac("attempts", secret) alone), so
//     guesses do not scale with the number of accounts: past a ceiling the
//     secret is locked for everyone, with backoff, and failures from many
//     accounts raise an audit alert.
//
// Both are counted before the password is tried, in the transaction that
// reads them, so parallel guesses cannot slip past a threshold. An attempt
// whose password turns out right is taken back from the per-secret count
// (settleSuccess); only a wrong one records its account (noteFailure).

// userAttempts is one user's failed-unlock state on one secret.
type userAttempts struct {
	Failures    int       `json:"f"`
	LockedUntil time.Time `json:"l,omitzero"`
	// AccountID is whose failures these are, so an admin can see who is
	// locked out; the key is a MAC and names nobody. Sealed; empty in
	// records written before it was kept.
	AccountID string `json:"u,omitempty"`
}

// secretAttempts is a secret's failed-unlock state over all users, within a
// window.
type secretAttempts struct {
	WindowStart time.Time `json:"w"`
	Failures    int       `json:"f"`
	LockedUntil time.Time `json:"l,omitzero"`
	// Accounts holds per-secret account MACs of recent failures (bounded),
	// to tell many accounts from one.
	Accounts [][]byte `json:"a,omitempty"`
	Alerted  bool     `json:"al,omitempty"`
}

// Limits of the per-secret count.
const (
	attemptWindow        = 24 * time.Hour
	maxTrackedAccounts   = 16
	alertAccounts        = 3  // distinct failing accounts that raise an alert
	minSecretCeiling     = 10 // failures over all users before a secret-wide lockout
	secretCeilingPerUser = 4  // ceiling = this × the per-user threshold
)

// secretCeiling is how many failures over all users lock a secret for
// everyone; 0 when lockout is off.
func secretCeiling(p secrets.Policy) int {
	if p.LockoutThreshold <= 0 {
		return 0
	}
	return max(minSecretCeiling, secretCeilingPerUser*p.LockoutThreshold)
}

func attemptsPrefix(k *seal.TenantKey, secretID string) []byte {
	return k.MAC("attempts", secretID)
}

func accountMAC(k *seal.TenantKey, secretID, accountID string) []byte {
	return k.MAC("attempt", secretID, accountID)
}

func userAttemptKey(k *seal.TenantKey, secretID, accountID string) []byte {
	return append(attemptsPrefix(k, secretID), accountMAC(k, secretID, accountID)...)
}

func readSealed(tx store.Tx, k *seal.TenantKey, tenant string, key []byte, v any) (bool, error) {
	sealed, err := tx.Get(tenant, store.Attempts, key)
	if err != nil || sealed == nil {
		return false, err
	}
	return true, openJSON(k, tenant, sealed, attemptAD(tenant, key), v)
}

func writeSealed(tx store.Tx, k *seal.TenantKey, tenant string, key []byte, v any) error {
	sealed, err := sealJSON(k, v, attemptAD(tenant, key))
	if err != nil {
		return err
	}
	return tx.Put(tenant, store.Attempts, key, sealed)
}

// countAttempt is the admission check of an unlock: it refuses a locked
// user or secret, and otherwise counts the attempt as a failure in advance.
// It returns the counts after this attempt and any audit events to write.
func countAttempt(tx store.Tx, k *seal.TenantKey, a secrets.Actor, id string, p secrets.Policy, now time.Time) (userAttempts, error) {
	var ua userAttempts
	ukey := userAttemptKey(k, id, a.AccountID)
	if _, err := readSealed(tx, k, a.ClientKey, ukey, &ua); err != nil {
		return ua, err
	}
	var sa secretAttempts
	skey := attemptsPrefix(k, id)
	if _, err := readSealed(tx, k, a.ClientKey, skey, &sa); err != nil {
		return ua, err
	}
	if wait := ua.LockedUntil.Sub(now); wait > 0 {
		return ua, locked(wait)
	}
	if wait := sa.LockedUntil.Sub(now); wait > 0 {
		return ua, locked(wait)
	}
	ua.Failures++
	ua.AccountID = a.AccountID
	if d := p.LockoutFor(ua.Failures); d > 0 {
		ua.LockedUntil = now.Add(d)
	}
	if now.Sub(sa.WindowStart) > attemptWindow {
		sa = secretAttempts{WindowStart: now}
	}
	sa.Failures++
	if c := secretCeiling(p); c > 0 && sa.Failures >= c {
		d := p.LockoutBase
		for i := c; i < sa.Failures && d < p.LockoutMax; i++ {
			d *= 2
		}
		sa.LockedUntil = now.Add(min(d, p.LockoutMax))
	}
	if err := writeSealed(tx, k, a.ClientKey, ukey, ua); err != nil {
		return ua, err
	}
	return ua, writeSealed(tx, k, a.ClientKey, skey, sa)
}

// noteFailure records, once the password has been tried and was wrong,
// which account failed, and returns EventGuessingSuspected the first time
// failures come from many accounts. Only failures count here: a success
// is never evidence of guessing.
func noteFailure(tx store.Tx, k *seal.TenantKey, a secrets.Actor, id string) ([]secrets.EventType, error) {
	var sa secretAttempts
	skey := attemptsPrefix(k, id)
	if ok, err := readSealed(tx, k, a.ClientKey, skey, &sa); err != nil || !ok {
		return nil, err
	}
	am := accountMAC(k, id, a.AccountID)
	if !containsMAC(sa.Accounts, am) && len(sa.Accounts) < maxTrackedAccounts {
		sa.Accounts = append(sa.Accounts, am)
	}
	var events []secrets.EventType
	if len(sa.Accounts) >= alertAccounts && !sa.Alerted {
		sa.Alerted = true
		events = append(events, secrets.EventGuessingSuspected)
	}
	return events, writeSealed(tx, k, a.ClientKey, skey, sa)
}

// takeBackAttempt undoes countAttempt for an attempt that was counted but
// never tried (the key derivation was refused), so an overloaded server
// does not lock users out.
func takeBackAttempt(tx store.Tx, k *seal.TenantKey, a secrets.Actor, id string, p secrets.Policy) error {
	var ua userAttempts
	ukey := userAttemptKey(k, id, a.AccountID)
	if ok, err := readSealed(tx, k, a.ClientKey, ukey, &ua); err != nil || !ok || ua.Failures == 0 {
		return err
	}
	ua.Failures--
	if p.LockoutFor(ua.Failures) == 0 {
		ua.LockedUntil = time.Time{}
	}
	if err := writeSealed(tx, k, a.ClientKey, ukey, ua); err != nil {
		return err
	}
	return takeBackSecretAttempt(tx, k, a, id, p)
}

// settleSuccess is the end of an attempt whose password was right: the
// user's failures are forgotten, and the attempt counted against the
// secret over all users is taken back. Other accounts' failures stay: a
// success by one user must not reset what others have been guessing, and
// correct unlocks must never add up to a lockout.
func settleSuccess(tx store.Tx, k *seal.TenantKey, a secrets.Actor, id string, p secrets.Policy) error {
	if err := tx.Delete(a.ClientKey, store.Attempts, userAttemptKey(k, id, a.AccountID)); err != nil {
		return err
	}
	return takeBackSecretAttempt(tx, k, a, id, p)
}

func takeBackSecretAttempt(tx store.Tx, k *seal.TenantKey, a secrets.Actor, id string, p secrets.Policy) error {
	var sa secretAttempts
	skey := attemptsPrefix(k, id)
	if ok, err := readSealed(tx, k, a.ClientKey, skey, &sa); err != nil || !ok || sa.Failures == 0 {
		return err
	}
	sa.Failures--
	if c := secretCeiling(p); c == 0 || sa.Failures < c {
		sa.LockedUntil = time.Time{}
	}
	return writeSealed(tx, k, a.ClientKey, skey, sa)
}

// clearAllAttempts forgets every failure counted on a secret.
func clearAllAttempts(tx store.Tx, k *seal.TenantKey, tenant, id string) error {
	var keys [][]byte
	if err := tx.Scan(tenant, store.Attempts, store.Range{Prefix: attemptsPrefix(k, id)}, func(key, _ []byte) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return err
	}
	for _, key := range keys {
		if err := tx.Delete(tenant, store.Attempts, key); err != nil {
			return err
		}
	}
	return nil
}

// attemptSummary is what an admin sees of a secret's failures.
type attemptSummary struct {
	failures        int  // counted now, over all users
	locked          bool // some user, or everyone, is locked out
	failingAccounts int  // distinct accounts with recent failures
}

func summarizeAttempts(tx store.Tx, k *seal.TenantKey, tenant, id string, now time.Time) (attemptSummary, error) {
	var s attemptSummary
	prefix := attemptsPrefix(k, id)
	err := tx.Scan(tenant, store.Attempts, store.Range{Prefix: prefix}, func(key, v []byte) error {
		if len(key) == len(prefix) {
			var sa secretAttempts
			if err := openJSON(k, tenant, v, attemptAD(tenant, key), &sa); err != nil {
				return err
			}
			s.locked = s.locked || sa.LockedUntil.After(now)
			s.failingAccounts = len(sa.Accounts)
			return nil
		}
		var ua userAttempts
		if err := openJSON(k, tenant, v, attemptAD(tenant, key), &ua); err != nil {
			return err
		}
		s.failures += ua.Failures
		s.locked = s.locked || ua.LockedUntil.After(now)
		return nil
	})
	return s, err
}

func containsMAC(list [][]byte, m []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, m) {
			return true
		}
	}
	return false
}

func locked(wait time.Duration) error {
	return &secrets.Error{Code: secrets.CodeLocked, Message: "Too many failed attempts. Try again later.", RetryAfter: wait}
}
