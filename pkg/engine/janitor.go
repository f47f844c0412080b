package engine

import (
	"context"
	"encoding/binary"
	"maps"
	"slices"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// SweepExpired deletes every secret past its expiry, in every tenant, by
// walking the expiry index up to now (never by opening every record), and
// returns how many it deleted. Each tenant's deletions and their audit
// events commit together; tenants are deleted from in batches of about
// sweepBatch secrets per transaction, and between batches the sweep rests
// (Engine.JanitorShare).
func (e *Engine) SweepExpired(ctx context.Context) (int, error) {
	return e.sweepExpired(ctx, time.Time{})
}

// sweepBatch is about how many expired secrets one transaction of a sweep
// deletes: a commit (and its fsync) per tenant made a sweep of secrets
// spread over 10,000 tenants 10,000 commits.
const sweepBatch = 256

// sweepExpired is SweepExpired, stopping between batches once stopAt (if
// not zero) has passed; the next pass deletes the rest.
func (e *Engine) sweepExpired(ctx context.Context, stopAt time.Time) (int, error) {
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
	tenants := slices.Sorted(maps.Keys(due))
	n := 0
	pace := pacer{share: e.JanitorShare, until: stopAt}
	for len(tenants) > 0 {
		if !stopAt.IsZero() && !time.Now().Before(stopAt) {
			break
		}
		batch, size := 0, 0
		for batch < len(tenants) && (batch == 0 || size+len(due[tenants[batch]]) <= sweepBatch) {
			size += len(due[tenants[batch]])
			batch++
		}
		began := time.Now()
		deleted := 0
		err := e.update(ctx, func(tx store.Tx) error {
			deleted = 0
			for _, t := range tenants[:batch] {
				d, err := e.deleteExpired(tx, t, due[t], now)
				if err != nil {
					return err
				}
				deleted += d
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += deleted
		if tenants = tenants[batch:]; len(tenants) > 0 {
			if err := pace.rest(ctx, time.Since(began)); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// deleteExpired deletes the given secrets of a tenant if they are still
// expired; index entries whose secret is gone or not expired (its expiry
// changed) are dropped or left to the record's own entry.
func (e *Engine) deleteExpired(tx store.Tx, tenant string, ids []string, now time.Time) (int, error) {
	k, err := e.tenantKey(tx, tenant)
	if secrets.ErrorCode(err) == secrets.CodeNotFound {
		return 0, nil // purged meanwhile; its entries went with it
	} else if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		rec, err := readSecret(tx, k, tenant, id)
		if secrets.ErrorCode(err) == secrets.CodeNotFound {
			continue
		} else if err != nil {
			return n, err
		}
		if !isExpired(rec, now) {
			continue
		}
		if err := deleteSecret(tx, k, tenant, rec); err != nil {
			return n, err
		}
		if err := audit(tx, k, tenant, recordEvent(now, secrets.EventExpired, "", rec)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// DefaultJanitorShare is Engine.JanitorShare's default: a sweep is busy
// at most a hundredth of the time it takes. Chosen by BenchmarkListAtScale
// on a 2-core machine (1,000,000 secrets, 10,000 of them expired, list
// ns/op beside a sweep against none): a share of 0.1 cost the lists 11 to
// 50 %, 0.02 cost 11 to 16 %, 0.01 cost 0 to 5 %; each batch disturbs the
// lists more than its own time suggests (its commit, the fsync). Nothing is
// lost by a slow sweep: an expired secret is left out of lists and refused
// on unlock from the second it expires; the sweep only removes its bytes.
// A sweep that outlasts its lease stops and the next pass goes on.
const DefaultJanitorShare = 0.01

// pacer keeps a background pass to a share of wall time: after each step it
// rests long enough that the time spent working stays at most share of the
// time elapsed. A sweep of a million secrets that all expired at once then
// takes longer, and the requests served meanwhile hardly notice it (issue
// 11: list throughput within 5 % during a pass); a sweep of a few is as
// quick as ever, since rests under a millisecond are carried over, not
// slept.
type pacer struct {
	share float64       // 0 < share < 1 paces; anything else does not
	owed  time.Duration // rest not yet taken
	until time.Time     // if not zero, no rest lasts beyond it
}

// rest takes the rest owed for a step that worked for d, or returns ctx's
// error if ctx ends first.
func (p *pacer) rest(ctx context.Context, d time.Duration) error {
	if p.share <= 0 || p.share >= 1 {
		return nil
	}
	p.owed += time.Duration(float64(d) * (1 - p.share) / p.share)
	if p.owed < time.Millisecond {
		return nil
	}
	d = p.owed
	p.owed = 0
	if !p.until.IsZero() {
		d = min(d, time.Until(p.until))
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	// A paced sweep of very many secrets ends while the lease still holds,
	// so passes on two replicas never overlap; the next pass goes on.
	if r.Expired, err = e.sweepExpired(ctx, time.Now().Add(ttl*3/4)); err != nil {
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
