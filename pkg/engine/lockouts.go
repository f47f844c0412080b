package engine

import (
	"context"
	"slices"
	"strings"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// Lockouts lists the failed-unlock state of one secret per account, for the
// admin page: locked-out accounts first (soonest free last), then accounts
// that only have failures counted. The secret-wide lockout, when active,
// comes first as an entry with Everyone set.
func (e *Engine) Lockouts(ctx context.Context, clientKey, id string) ([]secrets.Lockout, error) {
	if !secrets.ValidSecretID(id) {
		return nil, notFound()
	}
	now := e.Now()
	var out []secrets.Lockout
	err := e.view(ctx, func(tx store.Tx) error {
		out = out[:0]
		_, k, err := e.activeTenant(tx, adminActor(clientKey))
		if err != nil {
			return err
		}
		if _, err := readSecret(tx, k, clientKey, id); err != nil {
			return err
		}
		prefix := attemptsPrefix(k, id)
		return tx.Scan(clientKey, store.Attempts, store.Range{Prefix: prefix}, func(key, v []byte) error {
			if len(key) == len(prefix) {
				var sa secretAttempts
				if err := openJSON(k, clientKey, v, attemptAD(clientKey, key), &sa); err != nil {
					return err
				}
				if sa.LockedUntil.After(now) {
					out = append(out, secrets.Lockout{Everyone: true, Failures: sa.Failures, LockedUntil: sa.LockedUntil.UTC()})
				}
				return nil
			}
			var ua userAttempts
			if err := openJSON(k, clientKey, v, attemptAD(clientKey, key), &ua); err != nil {
				return err
			}
			if ua.Failures == 0 && !ua.LockedUntil.After(now) {
				return nil
			}
			l := secrets.Lockout{AccountID: ua.AccountID, Failures: ua.Failures}
			if ua.LockedUntil.After(now) {
				l.LockedUntil = ua.LockedUntil.UTC()
			}
			out = append(out, l)
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(x, y secrets.Lockout) int {
		if x.Everyone != y.Everyone {
			if x.Everyone {
				return -1
			}
			return 1
		}
		if c := y.LockedUntil.Compare(x.LockedUntil); c != 0 {
			return c
		}
		return strings.Compare(x.AccountID, y.AccountID)
	})
	return out, nil
}

// ResetUserLockout forgets one account's failed attempts on a secret and
// audits it with the account as the subject. The count over all users
// stays: it guards against guessing with many accounts, and "Reset
// lockout" for the whole secret clears it.
func (e *Engine) ResetUserLockout(ctx context.Context, clientKey, adminAccountID, id, accountID string) error {
	if accountID == "" || len(accountID) > maxAccountIDLen {
		return secrets.Errorf(secrets.CodeInvalid, "Name the account whose lockout to reset.")
	}
	return e.onSecret(ctx, clientKey, adminAccountID, id, secrets.EventLockoutReset, func(tx store.Tx, k *seal.TenantKey, tenant string, rec *secretRecord) error {
		return tx.Delete(tenant, store.Attempts, userAttemptKey(k, rec.ID, accountID))
	}, func(ev *secrets.AuditEvent) { ev.Subject = accountID })
}

// maxAccountIDLen bounds an account id an admin names; Atlassian's are
// under 130 characters.
const maxAccountIDLen = 200
