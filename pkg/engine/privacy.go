package engine

// Personal-data reporting (issue 13). Atlassian asks apps that store
// account ids to report them periodically and to erase the data of every
// account the report says is closed. The job here collects the distinct
// account ids a tenant's records hold, reports those not reported within
// the cycle period in batches of at most MaxReportBatch, and erases closed
// ones. One replica at a time does it (a lease, like the janitor), and its
// progress (when each account was last reported, when to retry after a
// 429) is a sealed record in the tenant bucket, so a restart resumes.
//
// Facts about Atlassian's API taken from the brief and not found in the
// docs searched (Atlassian's user-privacy guide names the reporting API but
// not these details): the batch limit of 90, the Cycle-Period response
// header, and Retry-After on 429. The transport
// (Connect JWT or Forge app token) is the PersonalDataReporter's business.

import (
	"context"
	"errors"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// MaxReportBatch is the most accounts one report request carries.
const MaxReportBatch = 90

// DefaultCyclePeriod is how long after reporting an account it is reported
// again, unless the API says otherwise (Cycle-Period).
const DefaultCyclePeriod = 7 * 24 * time.Hour

// PrivacyLease is the lease the reporting job holds while it works.
const PrivacyLease = "privacy"

// ClosedAccount replaces the account id of a closed account in records
// that keep the rest (a secret's creator or updater).
const ClosedAccount = "closed-account"

// keyPrivacy is the tenant-bucket key of the sealed reporting state.
var keyPrivacy = []byte("privacy")

// closedRevocationTTL bounds how long a closed account's outstanding
// unlock tokens are refused; it exceeds any unlock token's lifetime.
const closedRevocationTTL = 31 * 24 * time.Hour

// ReportedAccount is one account of a report: its id and when our data
// about it last changed.
type ReportedAccount struct {
	AccountID string    `json:"accountId"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ReportResult is the API's answer to one batch.
type ReportResult struct {
	Closed      []string      // accounts to erase
	CyclePeriod time.Duration // 0: keep the current one
}

// RetryAfterError is a reporter's answer to a 429: try again after After.
type RetryAfterError struct{ After time.Duration }

func (e *RetryAfterError) Error() string { return "personal data report: rate limited" }

// ErrNotReportable, from a reporter, means it cannot report for this
// tenant (e.g. a Forge installation to a Connect-only reporter): the
// tenant is skipped quietly and tried again next pass.
var ErrNotReportable = errors.New("engine: tenant not reportable by this reporter")

// PersonalDataReporter sends one batch of a tenant's accounts to
// Atlassian, signed for that tenant.
type PersonalDataReporter interface {
	ReportAccounts(ctx context.Context, tenant string, accounts []ReportedAccount) (ReportResult, error)
}

// privacyState is the sealed progress of reporting for one tenant.
type privacyState struct {
	Reported    map[string]time.Time `json:"r,omitempty"` // account → last reported
	RetryAt     time.Time            `json:"ra,omitzero"` // after a 429
	CyclePeriod time.Duration        `json:"cp,omitempty"`
}

func privacyAD(tenant string) []byte { return seal.AD("privacy", tenant) }

// PrivacyReport is what one reporting pass did.
type PrivacyReport struct {
	Held     bool // this replica held the lease
	Batches  int  // requests sent
	Reported int  // accounts reported
	Closed   int  // accounts erased
	Deferred int  // tenants left for later after a 429
}

// RunPrivacyReport does one reporting pass over every tenant if holder
// gets the lease. A 429 defers only its tenant, until its Retry-After.
func (e *Engine) RunPrivacyReport(ctx context.Context, holder string, ttl time.Duration, rep PersonalDataReporter) (PrivacyReport, error) {
	var r PrivacyReport
	held, err := e.st.Lease(ctx, PrivacyLease, holder, ttl)
	if err != nil || !held {
		return r, err
	}
	r.Held = true
	var tenants []string
	if err := e.view(ctx, func(tx store.Tx) error {
		tenants = tenants[:0]
		return tx.Tenants(func(t string) error { tenants = append(tenants, t); return nil })
	}); err != nil {
		return r, err
	}
	// One site's failure (its host down, no way to sign for it) does not
	// hold up the others; the first error is returned after all are tried.
	var first error
	for _, t := range tenants {
		if err := e.reportTenant(ctx, t, rep, &r); err != nil && first == nil {
			first = err
		}
	}
	return r, first
}

func (e *Engine) reportTenant(ctx context.Context, tenant string, rep PersonalDataReporter, r *PrivacyReport) error {
	now := e.Now()
	var st privacyState
	held := map[string]time.Time{}
	err := e.view(ctx, func(tx store.Tx) error {
		clear(held)
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		if st, err = readPrivacy(tx, k, tenant); err != nil {
			return err
		}
		return collectAccounts(tx, k, tenant, held)
	})
	if secrets.ErrorCode(err) == secrets.CodeNotFound {
		return nil // no installation key: nothing of ours to report
	} else if err != nil {
		return err
	}
	if now.Before(st.RetryAt) {
		r.Deferred++
		return nil
	}
	cycle := st.CyclePeriod
	if cycle <= 0 {
		cycle = DefaultCyclePeriod
	}
	var due []ReportedAccount
	for id, at := range held {
		if last, ok := st.Reported[id]; !ok || !now.Before(last.Add(cycle)) {
			if at.IsZero() {
				at = now
			}
			due = append(due, ReportedAccount{AccountID: id, UpdatedAt: at})
		}
	}
	for len(due) > 0 {
		batch := due[:min(len(due), MaxReportBatch)]
		due = due[len(batch):]
		res, err := rep.ReportAccounts(ctx, tenant, batch)
		r.Batches++
		var ra *RetryAfterError
		if errors.Is(err, ErrNotReportable) {
			return nil
		} else if errors.As(err, &ra) {
			r.Deferred++
			return e.savePrivacy(ctx, tenant, func(s *privacyState) { s.RetryAt = now.Add(ra.After) })
		} else if err != nil {
			return err
		}
		r.Reported += len(batch)
		closed := map[string]bool{}
		for _, id := range res.Closed {
			closed[id] = true
		}
		if err := e.update(ctx, func(tx store.Tx) error {
			k, err := e.tenantKey(tx, tenant)
			if err != nil {
				return err
			}
			s, err := readPrivacy(tx, k, tenant)
			if err != nil {
				return err
			}
			if s.Reported == nil {
				s.Reported = map[string]time.Time{}
			}
			for _, a := range batch {
				if closed[a.AccountID] {
					delete(s.Reported, a.AccountID)
					if err := eraseAccount(tx, k, tenant, a.AccountID, now); err != nil {
						return err
					}
				} else {
					s.Reported[a.AccountID] = now
				}
			}
			if res.CyclePeriod > 0 {
				s.CyclePeriod = res.CyclePeriod
			}
			s.RetryAt = time.Time{}
			return writePrivacy(tx, k, tenant, s)
		}); err != nil {
			return err
		}
		r.Closed += len(closed)
	}
	return nil
}

func (e *Engine) savePrivacy(ctx context.Context, tenant string, fn func(*privacyState)) error {
	return e.update(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		s, err := readPrivacy(tx, k, tenant)
		if err != nil {
			return err
		}
		fn(&s)
		return writePrivacy(tx, k, tenant, s)
	})
}

func readPrivacy(tx store.Tx, k *seal.TenantKey, tenant string) (privacyState, error) {
	var s privacyState
	v, err := tx.Get(tenant, store.Tenant, keyPrivacy)
	if err != nil || v == nil {
		return s, err
	}
	return s, openJSON(k, tenant, v, privacyAD(tenant), &s)
}

func writePrivacy(tx store.Tx, k *seal.TenantKey, tenant string, s privacyState) error {
	v, err := sealJSON(k, s, privacyAD(tenant))
	if err != nil {
		return err
	}
	return tx.Put(tenant, store.Tenant, keyPrivacy, v)
}

// collectAccounts adds to held every account id the tenant's secrets,
// audit log and per-user attempt counters name, with the latest time our
// data about it changed (zero when a counter is all we hold: its failures
// carry no time). Attempt keys and unlock tokens hold ids only as MACs or
// in tokens that are never stored, so they add nothing.
func collectAccounts(tx store.Tx, k *seal.TenantKey, tenant string, held map[string]time.Time) error {
	note := func(id string, at time.Time) {
		if id == "" || id == ClosedAccount {
			return
		}
		if at.After(held[id]) {
			held[id] = at
		} else if _, ok := held[id]; !ok {
			held[id] = at
		}
	}
	if err := tx.Scan(tenant, store.Secrets, store.Range{}, func(id, v []byte) error {
		var rec secretRecord
		if err := openJSON(k, tenant, v, secretAD(tenant, string(id)), &rec); err != nil {
			return err
		}
		note(rec.CreatedBy, rec.CreatedAt)
		note(rec.UpdatedBy, rec.UpdatedAt)
		return nil
	}); err != nil {
		return err
	}
	if err := tx.Scan(tenant, store.Audit, store.Range{}, func(key, v []byte) error {
		var ev secrets.AuditEvent
		if len(key) != 8 {
			return nil
		}
		if err := openJSON(k, tenant, v, auditAD(tenant, seqFromKey(key)), &ev); err != nil {
			return err
		}
		note(ev.AccountID, ev.Time)
		return nil
	}); err != nil {
		return err
	}
	// A secret's own counter decodes with no AccountID and is skipped.
	return tx.Scan(tenant, store.Attempts, store.Range{}, func(key, v []byte) error {
		var ua userAttempts
		if err := openJSON(k, tenant, v, attemptAD(tenant, key), &ua); err != nil {
			return err
		}
		note(ua.AccountID, time.Time{})
		return nil
	})
}

func seqFromKey(key []byte) uint64 {
	var n uint64
	for _, b := range key {
		n = n<<8 | uint64(b)
	}
	return n
}

// eraseAccount removes a closed account's id from every record of the
// tenant: secrets keep their content and password but name ClosedAccount,
// audit events lose the id, its attempt counters go, and unlock tokens it
// still holds are refused (closedAccountKey in the Revoked bucket).
func eraseAccount(tx store.Tx, k *seal.TenantKey, tenant, account string, now time.Time) error {
	var ids []string
	if err := tx.Scan(tenant, store.Secrets, store.Range{}, func(id, _ []byte) error {
		ids = append(ids, string(id))
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		if err := tx.Delete(tenant, store.Attempts, userAttemptKey(k, id, account)); err != nil {
			return err
		}
		old, err := readSecret(tx, k, tenant, id)
		if err != nil {
			return err
		}
		if old.CreatedBy != account && old.UpdatedBy != account {
			continue
		}
		rec := *old
		if rec.CreatedBy == account {
			rec.CreatedBy = ClosedAccount
		}
		if rec.UpdatedBy == account {
			rec.UpdatedBy = ClosedAccount
		}
		if err := putSecret(tx, k, tenant, &rec, old); err != nil {
			return err
		}
	}
	type resealed struct {
		key []byte
		ev  secrets.AuditEvent
	}
	var events []resealed
	if err := tx.Scan(tenant, store.Audit, store.Range{}, func(key, v []byte) error {
		if len(key) != 8 {
			return nil
		}
		var ev secrets.AuditEvent
		if err := openJSON(k, tenant, v, auditAD(tenant, seqFromKey(key)), &ev); err != nil {
			return err
		}
		if ev.AccountID == account {
			ev.AccountID = ""
			events = append(events, resealed{append([]byte(nil), key...), ev})
		}
		return nil
	}); err != nil {
		return err
	}
	for _, r := range events {
		v, err := sealJSON(k, r.ev, auditAD(tenant, r.ev.Seq))
		if err != nil {
			return err
		}
		if err := tx.Put(tenant, store.Audit, r.key, v); err != nil {
			return err
		}
	}
	until := uint64(now.Add(closedRevocationTTL).Unix())
	return tx.Put(tenant, store.Revoked, closedAccountKey(k, account), seqKey(until))
}

// closedAccountKey is the Revoked-bucket key that refuses every unlock
// token of a closed account: a MAC, so the id itself is not stored.
func closedAccountKey(k *seal.TenantKey, account string) []byte {
	return k.MAC("closed-account", account)[:16] // the size of a capability id, which Verify expects
}
