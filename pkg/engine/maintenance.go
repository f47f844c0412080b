package engine

// Maintenance: what the operator tool (cmd/secretsctl) and the janitor need
// beyond the service interfaces, on any store: per-tenant statistics,
// checking every sealed record, re-wrapping tenant keys after a master-key
// rotation and purging uninstalled tenants. Nothing here returns a title, a
// body, a shared secret or key material.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// TenantStats summarises one tenant for operators. No content, no titles.
type TenantStats struct {
	ClientKey     string
	Product       secrets.Product
	State         secrets.State
	CloudID       string
	InstalledAt   time.Time
	UpdatedAt     time.Time
	UninstalledAt time.Time // zero unless State is secrets.StateUninstalled
	Secrets       int
	AuditEvents   int
	Containers    int    // issues and macros that hold secrets
	MasterKeyID   uint32 // keyring key that wraps the tenant key
}

// TenantStats returns the statistics of every tenant, in client key order.
// It fails, naming the tenant, if a tenant's installation record does not
// open; Verify then says what is wrong.
func (e *Engine) TenantStats(ctx context.Context) ([]TenantStats, error) {
	var out []TenantStats
	err := e.st.View(ctx, func(tx store.Tx) error {
		out = out[:0]
		return tx.Tenants(func(tenant string) error {
			keyID, err := wrappedKeyID(tx, tenant)
			if err != nil {
				return err
			}
			inst, err := e.installation(tx, tenant)
			if err != nil {
				return fmt.Errorf("engine: tenant %q: installation record: %w", tenant, operatorError(err))
			}
			st := TenantStats{
				ClientKey: tenant, Product: inst.Product, State: inst.State, CloudID: inst.CloudID,
				InstalledAt: inst.InstalledAt, UpdatedAt: inst.UpdatedAt, UninstalledAt: inst.UninstalledAt,
				MasterKeyID: keyID,
			}
			if st.Secrets, err = count(tx, tenant, store.Secrets); err != nil {
				return err
			}
			if st.AuditEvents, err = count(tx, tenant, store.Audit); err != nil {
				return err
			}
			seen := map[string]bool{}
			err = tx.Scan(tenant, store.Containers, store.Range{}, func(key, _ []byte) error {
				if len(key) > 32 {
					seen[string(key[:32])] = true
				}
				return nil
			})
			st.Containers = len(seen)
			out = append(out, st)
			return err
		})
	})
	return out, err
}

func count(tx store.Tx, tenant string, b store.Bucket) (int, error) {
	n := 0
	err := tx.Scan(tenant, b, store.Range{}, func(_, _ []byte) error { n++; return nil })
	return n, err
}

// MasterKeyIDsInUse returns, for each keyring id that wraps at least one
// tenant key (or the session key), how many it wraps. A key id absent from
// the map wraps nothing and may be retired. It reads only envelope headers.
func (e *Engine) MasterKeyIDsInUse(ctx context.Context) (map[uint32]int, error) {
	ids := map[uint32]int{}
	err := e.st.View(ctx, func(tx store.Tx) error {
		clear(ids)
		if v, err := tx.Get("", store.App, keySessionKey); err != nil {
			return err
		} else if v != nil {
			id, err := seal.EnvelopeKeyID(v)
			if err != nil {
				return fmt.Errorf("engine: the stored session key is not a sealed envelope: %w", err)
			}
			ids[id]++
		}
		return tx.Tenants(func(tenant string) error {
			id, err := wrappedKeyID(tx, tenant)
			if err != nil {
				return err
			}
			ids[id]++
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// RewrapTenantKeys re-wraps every tenant key (and the session key) with
// keyring's primary key, in one transaction: all or none. keyring must open
// every stored key, so after Keyring.Rotate it holds the old keys and the
// new one. Tenant keys themselves do not change, so no record is
// re-encrypted and no session or unlock ends. Keys already under the
// primary are left as they are. It returns how many keys were re-wrapped.
// From then on the engine seals new tenant keys with keyring.
func (e *Engine) RewrapTenantKeys(ctx context.Context, keyring *seal.Keyring) (int, error) {
	if keyring == nil {
		return 0, errors.New("engine: rewrap: a keyring is required")
	}
	primary := keyring.PrimaryID()
	n := 0
	rewrap := func(tx store.Tx, tenant string, b store.Bucket, key, ad []byte, what string) error {
		wrapped, err := tx.Get(tenant, b, key)
		if err != nil || wrapped == nil {
			return err
		}
		id, err := seal.EnvelopeKeyID(wrapped)
		if err != nil {
			return fmt.Errorf("engine: rewrap: %s is not a sealed envelope: %w", what, err)
		}
		// Opened even when already under the primary, so a run that
		// reports success has proved every key opens with keyring.
		raw, err := keyring.Open(wrapped, ad)
		if err != nil {
			return fmt.Errorf("engine: rewrap: %s (wrapped by master key %d) does not open with the new keyring: %w", what, id, err)
		}
		defer clear(raw)
		if id == primary {
			return nil
		}
		v, err := keyring.Seal(raw, ad)
		if err != nil {
			return err
		}
		n++
		return tx.Put(tenant, b, key, v)
	}
	err := e.st.Update(ctx, func(tx store.Tx) error {
		n = 0
		if err := rewrap(tx, "", store.App, keySessionKey, sessionKeyAD(), "the session key"); err != nil {
			return err
		}
		var tenants []string
		if err := tx.Tenants(func(t string) error { tenants = append(tenants, t); return nil }); err != nil {
			return err
		}
		for _, t := range tenants {
			if err := rewrap(tx, t, store.Tenant, store.KeyTenantKey, tenantKeyAD(t), fmt.Sprintf("tenant %q's key", t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	e.keyring.Store(keyring)
	return n, nil
}

// UninstalledBefore returns the tenants PurgeUninstalled would delete with
// the same before, without deleting anything.
func (e *Engine) UninstalledBefore(ctx context.Context, before time.Time) ([]string, error) {
	var due []string
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		due, err = e.uninstalledBefore(tx, before)
		return err
	})
	return due, err
}

// PurgeUninstalled deletes every tenant uninstalled at or before before,
// all in one transaction, and returns their ids. A tenant that was
// re-installed is not uninstalled and stays. If any tenant's installation
// record does not open, nothing is deleted: a record that cannot be read
// cannot be judged due.
func (e *Engine) PurgeUninstalled(ctx context.Context, before time.Time) ([]string, error) {
	var purged []string
	err := e.st.Update(ctx, func(tx store.Tx) error {
		due, err := e.uninstalledBefore(tx, before)
		if err != nil {
			return err
		}
		for _, t := range due {
			if err := tx.DeleteTenant(t); err != nil {
				return fmt.Errorf("engine: purge tenant %q: %w", t, err)
			}
			if err := deleteExpiryEntries(tx, t); err != nil {
				return err
			}
		}
		purged = due
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range purged {
		e.forgetTenantKey(t)
	}
	return purged, nil
}

// uninstalledBefore lists the tenants due for purging. An uninstalled record
// without an uninstall time is not due: nothing says how long it has been
// gone (Verify reports it).
func (e *Engine) uninstalledBefore(tx store.Tx, before time.Time) ([]string, error) {
	var due []string
	err := tx.Tenants(func(t string) error {
		inst, err := e.installation(tx, t)
		if err != nil {
			return fmt.Errorf("engine: tenant %q: installation record: %w", t, operatorError(err))
		}
		if inst.State == secrets.StateUninstalled && !inst.UninstalledAt.IsZero() && !inst.UninstalledAt.After(before) {
			due = append(due, t)
		}
		return nil
	})
	return due, err
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Tenants  int // tenants examined
	Records  int // values examined
	Problems []VerifyProblem
}

// VerifyProblem is one record that is not as it should be. Key is printable
// (hex for binary keys); no value is ever quoted.
type VerifyProblem struct {
	Tenant, Bucket, Key, Reason string
}

// Fixed reasons of VerifyProblem. They name what is wrong, never the bytes.
const (
	reasonMissing         = "missing"
	reasonTenantKey       = "tenant key does not open with the master keyring"
	reasonDoesNotOpen     = "does not open with the tenant key (damaged, tampered or moved)"
	reasonWrongTenant     = "installation record names another client key"
	reasonBadProduct      = "installation record has an unknown product"
	reasonBadState        = "installation record has an unknown state"
	reasonNoUninstallTime = "uninstalled without an uninstall time (never purged)"
	reasonWrongID         = "record id does not match its key"
	reasonBadKDF          = "password KDF parameters are invalid"
	reasonBadDEK          = "wrapped data key is not a well-formed envelope"
	reasonBadContainer    = "container is malformed"
	reasonNoBody          = "body missing"
	reasonBadBody         = "body is not a well-formed envelope"
	reasonOrphanBody      = "body without a secret record"
	reasonNotIndexed      = "secret missing from its container index"
	reasonIndexDangling   = "index entry points at a missing secret"
	reasonIndexMisplaced  = "index entry is under another container"
	reasonBadAuditKey     = "audit key is not an 8-byte sequence number"
	reasonAuditSeq        = "audit event sequence does not match its key"
	reasonNotExpiryIndex  = "secret with an expiry missing from the expiry index"
	reasonBadRevocation   = "revocation entry is malformed"
	reasonSessionKey      = "session key does not open with the master keyring"
)

// Verify opens every sealed record with the keys and reports every one that
// fails; it changes nothing. Per tenant: the tenant key (unwrapped with the
// keyring, never from the cache), the installation record, the settings,
// every secret record (opens, decodes, valid KDF parameters, a well-formed
// wrapped DEK), every body (a well-formed envelope: it cannot be opened
// without the password), every audit event and attempt counter; index
// entries point at existing secrets in the right container, every secret is
// indexed, and every expiring one is in the expiry index. A tenant whose
// key does not open is reported once and not examined further.
//
// An error means Verify could not run to the end; problems found are in the
// report.
func (e *Engine) Verify(ctx context.Context) (*VerifyReport, error) {
	r := &VerifyReport{}
	keyring := e.keyring.Load()
	err := e.st.View(ctx, func(tx store.Tx) error {
		*r = VerifyReport{}
		if v, err := tx.Get("", store.App, keySessionKey); err != nil {
			return err
		} else if v != nil {
			r.Records++
			if raw, err := keyring.Open(v, sessionKeyAD()); err != nil {
				r.problem("", string(store.App), string(keySessionKey), reasonSessionKey)
			} else {
				clear(raw)
			}
		}
		expiring := map[string]bool{}
		if err := tx.Scan("", store.Expiry, store.Range{}, func(k, _ []byte) error {
			expiring[string(k[min(8, len(k)):])] = true
			return nil
		}); err != nil {
			return err
		}
		return tx.Tenants(func(t string) error {
			r.Tenants++
			v := tenantVerifier{r: r, tx: tx, tenant: t, expiring: expiring}
			return v.run(keyring)
		})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *VerifyReport) problem(tenant, bucket, key, reason string) {
	r.Problems = append(r.Problems, VerifyProblem{Tenant: tenant, Bucket: bucket, Key: key, Reason: reason})
}

type tenantVerifier struct {
	r        *VerifyReport
	tx       store.Tx
	tenant   string
	k        *seal.TenantKey
	expiring map[string]bool
}

func (v *tenantVerifier) problem(b store.Bucket, key, reason string) {
	v.r.problem(v.tenant, string(b), key, reason)
}

func (v *tenantVerifier) open(b store.Bucket, key string, sealed, ad []byte, dst any) bool {
	v.r.Records++
	if err := openJSON(v.k, v.tenant, sealed, ad, dst); err != nil {
		v.problem(b, key, reasonDoesNotOpen)
		return false
	}
	return true
}

func (v *tenantVerifier) run(keyring *seal.Keyring) error {
	tx, t := v.tx, v.tenant
	wrapped, err := tx.Get(t, store.Tenant, store.KeyTenantKey)
	if err != nil {
		return err
	}
	v.r.Records++
	if wrapped == nil {
		v.problem(store.Tenant, string(store.KeyTenantKey), reasonMissing)
		return nil
	}
	raw, err := keyring.Open(wrapped, tenantKeyAD(t))
	if err != nil {
		v.problem(store.Tenant, string(store.KeyTenantKey), reasonTenantKey)
		return nil
	}
	v.k, err = seal.NewTenantKey(raw)
	clear(raw)
	if err != nil {
		return err
	}
	// Installation record.
	meta, err := tx.Get(t, store.Tenant, store.KeyMeta)
	if err != nil {
		return err
	}
	var inst secrets.Installation
	if meta == nil {
		v.problem(store.Tenant, string(store.KeyMeta), reasonMissing)
	} else if v.open(store.Tenant, string(store.KeyMeta), meta, metaAD(t), &inst) {
		switch {
		case inst.ClientKey != t:
			v.problem(store.Tenant, string(store.KeyMeta), reasonWrongTenant)
		case !inst.Product.Valid():
			v.problem(store.Tenant, string(store.KeyMeta), reasonBadProduct)
		case !validState(inst.State):
			v.problem(store.Tenant, string(store.KeyMeta), reasonBadState)
		case inst.State == secrets.StateUninstalled && inst.UninstalledAt.IsZero():
			v.problem(store.Tenant, string(store.KeyMeta), reasonNoUninstallTime)
		}
	}
	if s, err := tx.Get(t, store.Tenant, store.KeySettings); err != nil {
		return err
	} else if s != nil {
		var p secrets.Policy
		v.open(store.Tenant, string(store.KeySettings), s, settingsAD(t), &p)
	}
	// Secrets, their bodies and their index entries.
	indexed := map[string]string{} // secret id → mac(container) it is indexed under
	if err := tx.Scan(t, store.Containers, store.Range{}, func(key, _ []byte) error {
		v.r.Records++
		if len(key) <= 32 {
			v.problem(store.Containers, hex.EncodeToString(key), reasonBadContainer)
			return nil
		}
		indexed[string(key[32:])] = string(key[:32])
		return nil
	}); err != nil {
		return err
	}
	records := map[string]bool{}
	if err := tx.Scan(t, store.Secrets, store.Range{}, func(key, val []byte) error {
		id := string(key)
		records[id] = true
		var rec secretRecord
		if !v.open(store.Secrets, keyString(key), val, secretAD(t, id), &rec) {
			return nil
		}
		switch {
		case rec.ID != id:
			v.problem(store.Secrets, keyString(key), reasonWrongID)
		case rec.KDF.Validate() != nil:
			v.problem(store.Secrets, keyString(key), reasonBadKDF)
		case !wellFormed(rec.WrappedDEK):
			v.problem(store.Secrets, keyString(key), reasonBadDEK)
		case !secrets.Container(rec.Container).HoldsSecrets():
			v.problem(store.Secrets, keyString(key), reasonBadContainer)
		}
		if mac, ok := indexed[id]; !ok {
			v.problem(store.Containers, keyString(key), reasonNotIndexed)
		} else if mac != string(containerPrefix(v.k, rec.Container)) {
			v.problem(store.Containers, keyString(key), reasonIndexMisplaced)
		}
		if !rec.ExpiresAt.IsZero() && !v.expiring[t+"\x00"+id] {
			v.problem(store.Expiry, keyString(key), reasonNotExpiryIndex)
		}
		return nil
	}); err != nil {
		return err
	}
	for id := range indexed {
		if !records[id] {
			v.problem(store.Containers, keyString([]byte(id)), reasonIndexDangling)
		}
	}
	bodies := map[string]bool{}
	if err := tx.Scan(t, store.Bodies, store.Range{}, func(key, val []byte) error {
		v.r.Records++
		bodies[string(key)] = true
		if !records[string(key)] {
			v.problem(store.Bodies, keyString(key), reasonOrphanBody)
		} else if !wellFormed(val) {
			v.problem(store.Bodies, keyString(key), reasonBadBody)
		}
		return nil
	}); err != nil {
		return err
	}
	for id := range records {
		if !bodies[id] {
			v.problem(store.Bodies, keyString([]byte(id)), reasonNoBody)
		}
	}
	// Audit and attempts.
	if err := tx.Scan(t, store.Audit, store.Range{}, func(key, val []byte) error {
		if len(key) != 8 {
			v.r.Records++
			v.problem(store.Audit, keyString(key), reasonBadAuditKey)
			return nil
		}
		var ev secrets.AuditEvent
		if v.open(store.Audit, strconv.FormatUint(seqOf(key), 10), val, auditAD(t, seqOf(key)), &ev) && ev.Seq != seqOf(key) {
			v.problem(store.Audit, strconv.FormatUint(seqOf(key), 10), reasonAuditSeq)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := tx.Scan(t, store.Attempts, store.Range{}, func(key, val []byte) error {
		var any map[string]any
		v.open(store.Attempts, hex.EncodeToString(key), val, attemptAD(t, key), &any)
		return nil
	}); err != nil {
		return err
	}
	return tx.Scan(t, store.Revoked, store.Range{}, func(key, val []byte) error {
		v.r.Records++
		if len(key) != 16 || len(val) != 8 {
			v.problem(store.Revoked, hex.EncodeToString(key), reasonBadRevocation)
		}
		return nil
	})
}

func validState(s secrets.State) bool {
	switch s {
	case secrets.StateInstalled, secrets.StateEnabled, secrets.StateDisabled, secrets.StateUninstalled:
		return true
	}
	return false
}

// wellFormed reports whether b is an envelope under a raw key (key id 0),
// as data keys and password keys are.
func wellFormed(b []byte) bool {
	id, err := seal.EnvelopeKeyID(b)
	return err == nil && id == 0
}

// operatorError unwraps an internal error for an operator, who may see the
// cause (it never holds a secret value).
func operatorError(err error) error {
	var e *secrets.Error
	if errors.As(err, &e) && e.Code == secrets.CodeInternal && e.Err != nil {
		return e.Err
	}
	return err
}

// wrappedKeyID returns the keyring id that wraps a tenant's key.
func wrappedKeyID(tx store.Tx, tenant string) (uint32, error) {
	wrapped, err := tx.Get(tenant, store.Tenant, store.KeyTenantKey)
	if err != nil {
		return 0, err
	}
	if wrapped == nil {
		return 0, fmt.Errorf("engine: tenant %q has no key", tenant)
	}
	id, err := seal.EnvelopeKeyID(wrapped)
	if err != nil {
		return 0, fmt.Errorf("engine: tenant %q: stored key is not a sealed envelope: %w", tenant, err)
	}
	return id, nil
}

// keyString prints a key: as is when it is printable UTF-8, else as hex.
func keyString(k []byte) string {
	if utf8.Valid(k) {
		printable := true
		for _, r := range string(k) {
			if r < 0x20 || r == 0x7f {
				printable = false
				break
			}
		}
		if printable {
			return string(k)
		}
	}
	return hex.EncodeToString(k)
}
