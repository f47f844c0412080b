package bolt

import (
	"context"
	"encoding/binary"
	"sort"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// AdminService implements secrets.AdminService on the same store and unlock
// sessions as a SecretService, so an admin's delete also ends everyone's
// unlocks of that secret.
type AdminService struct {
	s *SecretService
}

var _ secrets.AdminService = (*AdminService)(nil)

// NewAdminService returns the admin service over svc's data.
func NewAdminService(svc *SecretService) *AdminService { return &AdminService{s: svc} }

// FindAllSecrets returns a page of the site's secrets, newest first.
func (as *AdminService) FindAllSecrets(ctx context.Context, clientKey string, q secrets.SecretQuery) (*secrets.SecretPage, error) {
	db := as.s.db
	now := db.Now()
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 100)
	search := strings.ToLower(strings.TrimSpace(q.Search))
	var all []secrets.SecretInfo
	err := db.view(func(tx *bbolt.Tx) error {
		tb, k, err := db.activeTenant(tx, clientKey)
		if err != nil {
			return err
		}
		return tb.Bucket(bucketSecrets).ForEach(func(id, _ []byte) error {
			rec, err := db.secretRecord(tx, tb, clientKey, string(id))
			if err != nil {
				return err
			}
			if isExpired(rec, now) {
				return nil
			}
			if search != "" && !strings.Contains(strings.ToLower(rec.Title), search) && !strings.Contains(strings.ToLower(rec.Location), search) {
				return nil
			}
			info := secrets.SecretInfo{
				Secret: rec.meta(), Container: secrets.Container(rec.Container),
				Location: rec.Location, LastUnlockedAt: rec.LastUnlockedAt,
			}
			if b := tb.Bucket(bucketAttempts).Bucket(k.MAC("attempts", rec.ID)); b != nil {
				err := b.ForEach(func(_, v []byte) error {
					at, err := decodeAttempts(v)
					if err != nil {
						return err
					}
					info.FailedAttempts += at.failures
					info.Locked = info.Locked || at.lockedUntil.After(now)
					return nil
				})
				if err != nil {
					return err
				}
			}
			all = append(all, info)
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.After(all[j].CreatedAt)
		}
		return all[i].ID < all[j].ID
	})
	page := &secrets.SecretPage{Total: len(all)}
	if off := max(q.Offset, 0); off < len(all) {
		page.Secrets = all[off:min(off+limit, len(all))]
	}
	return page, nil
}

// AdminDeleteSecret deletes a secret without its password.
func (as *AdminService) AdminDeleteSecret(ctx context.Context, clientKey, adminAccountID, id string) error {
	err := as.onSecret(clientKey, adminAccountID, id, secrets.EventAdminDeleted, deleteSecret)
	if err == nil {
		as.s.unlocks.revokeSecret(clientKey, id)
	}
	return err
}

// ResetLockout forgets the failed attempts of every user on a secret.
func (as *AdminService) ResetLockout(ctx context.Context, clientKey, adminAccountID, id string) error {
	return as.onSecret(clientKey, adminAccountID, id, secrets.EventLockoutReset, func(tb *bbolt.Bucket, k *seal.TenantKey, rec *secretRecord) error {
		err := tb.Bucket(bucketAttempts).DeleteBucket(k.MAC("attempts", rec.ID))
		if err != nil && err != bbolt.ErrBucketNotFound {
			return err
		}
		return nil
	})
}

// onSecret runs an admin action on a secret of the site, whatever its
// container, and audits it, in one transaction.
func (as *AdminService) onSecret(clientKey, adminAccountID, id string, ev secrets.EventType, action func(*bbolt.Bucket, *seal.TenantKey, *secretRecord) error) error {
	if !secrets.ValidSecretID(id) {
		return notFound()
	}
	db := as.s.db
	now := db.Now()
	return db.update(func(tx *bbolt.Tx) error {
		tb, k, err := db.activeTenant(tx, clientKey)
		if err != nil {
			return err
		}
		rec, err := db.secretRecord(tx, tb, clientKey, id)
		if err != nil {
			return err
		}
		if err := action(tb, k, rec); err != nil {
			return err
		}
		return db.audit(tx, tb, clientKey, adminEvent(now, ev, adminAccountID, rec))
	})
}

// SitePolicy returns the site's policy.
func (as *AdminService) SitePolicy(ctx context.Context, clientKey string) (secrets.Policy, error) {
	return as.s.policy(clientKey)
}

// SetSitePolicy stores the site's policy, sealed.
func (as *AdminService) SetSitePolicy(ctx context.Context, clientKey, adminAccountID string, p secrets.Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	db := as.s.db
	now := db.Now()
	return db.update(func(tx *bbolt.Tx) error {
		tb, _, err := db.activeTenant(tx, clientKey)
		if err != nil {
			return err
		}
		v, err := db.sealJSON(tx, clientKey, p, settingsAD(clientKey))
		if err != nil {
			return err
		}
		if err := tb.Put(keySettings, v); err != nil {
			return err
		}
		return db.audit(tx, tb, clientKey, secrets.AuditEvent{Time: now, Type: secrets.EventPolicyChanged, AccountID: adminAccountID})
	})
}

// AuditLog returns a page of the site's audit log, newest first.
func (as *AdminService) AuditLog(ctx context.Context, clientKey string, q secrets.AuditQuery) (*secrets.AuditPage, error) {
	db := as.s.db
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	page := &secrets.AuditPage{}
	err := db.view(func(tx *bbolt.Tx) error {
		tb, _, err := db.activeTenant(tx, clientKey)
		if err != nil {
			return err
		}
		c := tb.Bucket(bucketAudit).Cursor()
		var k, v []byte
		if q.Before > 0 {
			var start [8]byte
			binary.BigEndian.PutUint64(start[:], q.Before)
			k, v = c.Seek(start[:])
			// Seek lands on Before itself or the next key; step back below it.
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && binary.BigEndian.Uint64(k) >= q.Before {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}
		for ; k != nil; k, v = c.Prev() {
			seq := binary.BigEndian.Uint64(k)
			var ev secrets.AuditEvent
			if err := db.openJSON(tx, clientKey, v, auditAD(clientKey, seq), &ev); err != nil {
				return err
			}
			if !q.To.IsZero() && !ev.Time.Before(q.To) {
				continue
			}
			if !q.From.IsZero() && ev.Time.Before(q.From) {
				break // the log is in time order: nothing older matches
			}
			if (q.Type != "" && ev.Type != q.Type) || (q.SecretID != "" && ev.SecretID != q.SecretID) || (q.AccountID != "" && ev.AccountID != q.AccountID) {
				continue
			}
			if len(page.Events) == limit {
				page.Next = page.Events[limit-1].Seq
				break
			}
			page.Events = append(page.Events, ev)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

func adminEvent(now time.Time, typ secrets.EventType, admin string, rec *secretRecord) secrets.AuditEvent {
	return secrets.AuditEvent{Time: now, Type: typ, AccountID: admin, SecretID: rec.ID, Container: secrets.Container(rec.Container), Location: rec.Location}
}
