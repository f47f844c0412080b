package engine

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// adminActor is the actor of an admin call: the site, with no session age
// (the admin check against the host was made per request).
func adminActor(clientKey string) secrets.Actor { return secrets.Actor{ClientKey: clientKey} }

// FindAllSecrets returns a page of the site's secrets, newest first.
func (e *Engine) FindAllSecrets(ctx context.Context, clientKey string, q secrets.SecretQuery) (*secrets.SecretPage, error) {
	now := e.Now()
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 100)
	search := strings.ToLower(strings.TrimSpace(q.Search))
	var all []secrets.SecretInfo
	err := e.view(ctx, func(tx store.Tx) error {
		all = all[:0]
		_, k, err := e.activeTenant(tx, adminActor(clientKey))
		if err != nil {
			return err
		}
		return tx.Scan(clientKey, store.Secrets, store.Range{}, func(id, v []byte) error {
			var rec secretRecord
			if err := openJSON(k, clientKey, v, secretAD(clientKey, string(id)), &rec); err != nil {
				return err
			}
			if isExpired(&rec, now) {
				return nil
			}
			if search != "" && !strings.Contains(strings.ToLower(rec.Title), search) && !strings.Contains(strings.ToLower(rec.Location), search) {
				return nil
			}
			s, err := summarizeAttempts(tx, k, clientKey, rec.ID, now)
			if err != nil {
				return err
			}
			all = append(all, secrets.SecretInfo{
				Secret: rec.meta(), Container: secrets.Container(rec.Container),
				Location: rec.Location, LastUnlockedAt: rec.LastUnlockedAt,
				FailedAttempts: s.failures, Locked: s.locked, FailingAccounts: s.failingAccounts,
			})
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(x, y secrets.SecretInfo) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	page := &secrets.SecretPage{Total: len(all)}
	if off := max(q.Offset, 0); off < len(all) {
		page.Secrets = all[off:min(off+limit, len(all))]
	}
	return page, nil
}

// AdminDeleteSecret deletes a secret without its password. Every unlock of
// it dies with the record.
func (e *Engine) AdminDeleteSecret(ctx context.Context, clientKey, adminAccountID, id string) error {
	return e.onSecret(ctx, clientKey, adminAccountID, id, secrets.EventAdminDeleted, deleteSecret)
}

// ResetLockout forgets the failed attempts of every user on a secret.
func (e *Engine) ResetLockout(ctx context.Context, clientKey, adminAccountID, id string) error {
	return e.onSecret(ctx, clientKey, adminAccountID, id, secrets.EventLockoutReset, func(tx store.Tx, k *seal.TenantKey, tenant string, rec *secretRecord) error {
		return clearAllAttempts(tx, k, tenant, rec.ID)
	})
}

// onSecret runs an admin action on a secret of the site, whatever its
// container, and audits it, in one transaction.
// Each edit, if any, adds to the audit event (such as its subject).
func (e *Engine) onSecret(ctx context.Context, clientKey, adminAccountID, id string, ev secrets.EventType, action func(store.Tx, *seal.TenantKey, string, *secretRecord) error, edits ...func(*secrets.AuditEvent)) error {
	if !secrets.ValidSecretID(id) {
		return notFound()
	}
	now := e.Now()
	return e.update(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, adminActor(clientKey))
		if err != nil {
			return err
		}
		rec, err := readSecret(tx, k, clientKey, id)
		if err != nil {
			return err
		}
		if err := action(tx, k, clientKey, rec); err != nil {
			return err
		}
		event := recordEvent(now, ev, adminAccountID, rec)
		for _, edit := range edits {
			edit(&event)
		}
		return audit(tx, k, clientKey, event)
	})
}

// SitePolicy returns the site's policy.
func (e *Engine) SitePolicy(ctx context.Context, clientKey string) (secrets.Policy, error) {
	var p secrets.Policy
	err := e.view(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, adminActor(clientKey))
		if err != nil {
			return err
		}
		p, err = e.policyIn(tx, k, clientKey)
		return err
	})
	return p, err
}

// PolicyFor returns the policy that applies to the actor's site.
func (e *Engine) PolicyFor(ctx context.Context, a secrets.Actor) (secrets.Policy, error) {
	var p secrets.Policy
	err := e.view(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, a)
		if err != nil {
			return err
		}
		p, err = e.policyIn(tx, k, a.ClientKey)
		return err
	})
	return p, err
}

// SetSitePolicy stores the site's policy, sealed.
func (e *Engine) SetSitePolicy(ctx context.Context, clientKey, adminAccountID string, p secrets.Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	now := e.Now()
	return e.update(ctx, func(tx store.Tx) error {
		_, k, err := e.activeTenant(tx, adminActor(clientKey))
		if err != nil {
			return err
		}
		v, err := sealJSON(k, p, settingsAD(clientKey))
		if err != nil {
			return err
		}
		if err := tx.Put(clientKey, store.Tenant, store.KeySettings, v); err != nil {
			return err
		}
		return audit(tx, k, clientKey, secrets.AuditEvent{Time: now, Type: secrets.EventPolicyChanged, AccountID: adminAccountID})
	})
}

// AuditLog returns a page of the site's audit log, newest first.
func (e *Engine) AuditLog(ctx context.Context, clientKey string, q secrets.AuditQuery) (*secrets.AuditPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var page *secrets.AuditPage
	err := e.view(ctx, func(tx store.Tx) error {
		page = &secrets.AuditPage{}
		_, k, err := e.activeTenant(tx, adminActor(clientKey))
		if err != nil {
			return err
		}
		r := store.Range{Reverse: true}
		if q.Before > 0 {
			r.To = seqKey(q.Before)
		}
		return tx.Scan(clientKey, store.Audit, r, func(key, v []byte) error {
			if len(key) != 8 {
				return nil
			}
			var ev secrets.AuditEvent
			if err := openJSON(k, clientKey, v, auditAD(clientKey, seqOf(key)), &ev); err != nil {
				return err
			}
			if !q.To.IsZero() && !ev.Time.Before(q.To) {
				return nil
			}
			if !q.From.IsZero() && ev.Time.Before(q.From) {
				return store.Stop // the log is in time order: nothing older matches
			}
			if (q.Type != "" && ev.Type != q.Type) || (q.SecretID != "" && ev.SecretID != q.SecretID) || (q.AccountID != "" && ev.AccountID != q.AccountID) {
				return nil
			}
			if len(page.Events) == limit {
				page.Next = page.Events[limit-1].Seq
				return store.Stop
			}
			page.Events = append(page.Events, ev)
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// seqOf reads an audit key: the 8-byte big-endian sequence.
func seqOf(key []byte) uint64 { return binary.BigEndian.Uint64(key) }
