package engine

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// SweepExpired deletes every secret past its expiry, in every tenant, by
// walking the expiry index up to now (never by opening every record), and
// returns how many it deleted. Each tenant's deletions and their audit
// events commit together.
func (e *Engine) SweepExpired(ctx context.Context) (int, error) {
	now := e.Now()
	due := map[string][]string{}
	err := e.st.View(ctx, func(tx store.Tx) error {
		clear(due)
		to := binary.BigEndian.AppendUint64(nil, uint64(now.Unix()+1))
		return tx.Scan("", store.Expiry, store.Range{To: to}, func(key, _ []byte) error {
			tenant, id, err := parseExpiryKey(key)
			if err == nil {
				due[tenant] = append(due[tenant], id)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for tenant, ids := range due {
		deleted, err := e.deleteExpired(ctx, tenant, ids, now)
		n += deleted
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// deleteExpired deletes the given secrets of a tenant if they are still
// expired; index entries whose secret is gone or not expired (its expiry
// changed) are dropped or left to the record's own entry.
func (e *Engine) deleteExpired(ctx context.Context, tenant string, ids []string, now time.Time) (int, error) {
	n := 0
	err := e.update(ctx, func(tx store.Tx) error {
		n = 0
		k, err := e.tenantKey(tx, tenant)
		if secrets.ErrorCode(err) == secrets.CodeNotFound {
			return nil // purged meanwhile; its entries went with it
		} else if err != nil {
			return err
		}
		for _, id := range ids {
			rec, err := readSecret(tx, k, tenant, id)
			if secrets.ErrorCode(err) == secrets.CodeNotFound {
				continue
			} else if err != nil {
				return err
			}
			if !isExpired(rec, now) {
				continue
			}
			if err := deleteSecret(tx, k, tenant, rec); err != nil {
				return err
			}
			if err := audit(tx, k, tenant, recordEvent(now, secrets.EventExpired, "", rec)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// IndexExpiries adds every expiring secret to the expiry index. Stores
// written before the index existed need it once; running it again changes
// nothing. It returns how many entries it wrote.
func (e *Engine) IndexExpiries(ctx context.Context) (int, error) {
	n := 0
	err := e.update(ctx, func(tx store.Tx) error {
		n = 0
		var tenants []string
		if err := tx.Tenants(func(t string) error { tenants = append(tenants, t); return nil }); err != nil {
			return err
		}
		for _, t := range tenants {
			k, err := e.tenantKey(tx, t)
			if err != nil {
				return err
			}
			var keys [][]byte
			err = tx.Scan(t, store.Secrets, store.Range{}, func(id, v []byte) error {
				var rec secretRecord
				if err := openJSON(k, t, v, secretAD(t, string(id)), &rec); err != nil {
					return err
				}
				if !rec.ExpiresAt.IsZero() {
					keys = append(keys, expiryKey(rec.ExpiresAt, t, rec.ID))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, key := range keys {
				if v, err := tx.Get("", store.Expiry, key); err != nil {
					return err
				} else if v == nil {
					if err := tx.Put("", store.Expiry, key, []byte{}); err != nil {
						return err
					}
					n++
				}
			}
		}
		return nil
	})
	return n, err
}

// DropStaleRevocations forgets lock revocations and remembered install
// tokens whose tokens have expired anyway.
func (e *Engine) DropStaleRevocations(ctx context.Context) (int, error) {
	now := e.Now().Unix()
	stale := func(v []byte) bool { return len(v) >= 8 && int64(binary.BigEndian.Uint64(v[:8])) < now }
	n := 0
	err := e.update(ctx, func(tx store.Tx) error {
		n = 0
		var drop [][]byte
		if err := tx.Scan("", store.App, store.Range{Prefix: []byte(installTokenPrefix)}, func(k, v []byte) error {
			if stale(v) {
				drop = append(drop, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range drop {
			if err := tx.Delete("", store.App, k); err != nil {
				return err
			}
			n++
		}
		var tenants []string
		if err := tx.Tenants(func(t string) error { tenants = append(tenants, t); return nil }); err != nil {
			return err
		}
		for _, t := range tenants {
			drop = drop[:0]
			if err := tx.Scan(t, store.Revoked, store.Range{}, func(k, v []byte) error {
				if stale(v) {
					drop = append(drop, k)
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range drop {
				if err := tx.Delete(t, store.Revoked, k); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}

// JanitorLease is the name of the lease the janitor holds while it works,
// so one replica at a time does it.
const JanitorLease = "janitor"

// JanitorReport is what one janitor pass did.
type JanitorReport struct {
	Held    bool     // this replica held the lease and did the work
	Expired int      // secrets deleted at expiry
	Purged  []string // tenants erased after their retention
	Dropped int      // stale revocations and install-token records dropped
}

// RunJanitor does one pass of background work if holder gets the lease:
// expired secrets, stale revocations, and tenants uninstalled longer than
// retention ago. The lease outlives the pass (ttl), so replicas whose
// passes overlap skip theirs.
func (e *Engine) RunJanitor(ctx context.Context, holder string, ttl, retention time.Duration) (JanitorReport, error) {
	var r JanitorReport
	held, err := e.st.Lease(ctx, JanitorLease, holder, ttl)
	if err != nil || !held {
		return r, err
	}
	r.Held = true
	if r.Expired, err = e.SweepExpired(ctx); err != nil {
		return r, err
	}
	if r.Dropped, err = e.DropStaleRevocations(ctx); err != nil {
		return r, err
	}
	if retention > 0 {
		r.Purged, err = e.PurgeUninstalled(ctx, e.Now().Add(-retention))
	}
	return r, err
}

// keyExpiryIndexed marks, in the App bucket, a store whose expiry index is
// complete.
var keyExpiryIndexed = []byte("expiry-indexed")

// EnsureExpiryIndex builds the expiry index once for a store written before
// it existed (a bbolt file of an older version); on an indexed store it
// reads one key. Replicas starting together may both build it: IndexExpiries
// is idempotent.
func (e *Engine) EnsureExpiryIndex(ctx context.Context) error {
	var done bool
	if err := e.st.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get("", store.App, keyExpiryIndexed)
		done = v != nil
		return err
	}); err != nil || done {
		return err
	}
	if _, err := e.IndexExpiries(ctx); err != nil {
		return err
	}
	return e.st.Update(ctx, func(tx store.Tx) error {
		return tx.Put("", store.App, keyExpiryIndexed, []byte{1})
	})
}
