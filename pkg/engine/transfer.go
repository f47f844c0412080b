package engine

// Moving one tenant to another deployment (data residency, issue 13.3):
// one deployment and master keyring per realm, and a tenant that moves
// realm moves as its sealed bytes. Only its tenant key is re-wrapped, and
// only through seal's transfer box: sealed by the source for the
// destination's transfer key, so it never exists unwrapped outside the two
// processes. The steps, the same whether secretsctl or the migration hooks
// drive them:
//
//  1. ExportTenant at the source: a TenantExport of every record, sequence
//     and expiry index entry, its tenant key sealed for the destination,
//     and a digest of all of it sealed with the tenant key. The source is
//     not changed and goes on serving.
//  2. ImportTenant at the destination: the tenant key is opened with the
//     destination's keyring and the source's transfer key, the digest is
//     checked (a tampered or truncated export is refused before anything is
//     written), the tenant is written in one transaction and verified
//     (VerifyTenant). It returns a receipt, sealed with the tenant key.
//  3. CommitMove at the source, given the receipt (which only a holder of
//     the tenant key can have made, i.e. the destination after verifying):
//     the source's copy is deleted. Or DiscardImport at the destination:
//     the copy is deleted, and the source, untouched, stays the tenant's.
//
// Writes at the source between export and commit are not in the copy:
// Atlassian runs realm migrations while the site is down, and an operator
// moving a tenant by hand should disable it first.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// ExportFormat names the format of TenantExport.
const ExportFormat = "secrets-tenant-export/1"

// MaxExportBytes bounds an encoded export the engine reads.
const MaxExportBytes = 1 << 30

// TenantExport is one tenant on its way to another deployment. Values are
// the stored sealed bytes; nothing in it opens without the tenant key, and
// the tenant key opens only at the destination.
type TenantExport struct {
	Format     string    `json:"format"`
	Tenant     string    `json:"tenant"`
	ExportedAt time.Time `json:"exportedAt"`
	// From and To are the source's and the destination's transfer keys.
	From string `json:"from"`
	To   string `json:"to"`
	// TenantKey is the tenant key sealed for To by From.
	TenantKey []byte         `json:"tenantKey"`
	Records   []ExportRecord `json:"records"`
	// Sequences are the tenant's counters, by bucket.
	Sequences map[store.Bucket]uint64 `json:"sequences"`
	// Expiry are the tenant's keys in the global expiry index.
	Expiry [][]byte `json:"expiry"`
	// Digest is a SHA-256 of everything above, sealed with the tenant key.
	Digest []byte `json:"digest"`
}

// ExportRecord is one stored value of the tenant.
type ExportRecord struct {
	Bucket store.Bucket `json:"b"`
	Key    []byte       `json:"k"`
	Value  []byte       `json:"v"`
}

// ImportReceipt says that a destination imported and verified an export.
// Sealed with the tenant key, it can only come from a holder of that key.
type ImportReceipt struct {
	Tenant string `json:"tenant"`
	Sealed []byte `json:"sealed"`
}

func exportDigestAD(tenant string) []byte { return seal.AD("tenant-export", tenant) }
func receiptAD(tenant string) []byte      { return seal.AD("tenant-import-receipt", tenant) }

func errExport(format string, args ...any) error {
	return secrets.Errorf(secrets.CodeInvalid, format, args...)
}

// TransferKey is the public transfer key of this engine's keyring, which a
// source needs to export a tenant to this deployment.
func (e *Engine) TransferKey() (seal.TransferKey, error) { return e.keyring.Load().TransferPublicKey() }

// ExportTenant exports tenant for the deployment whose transfer key is to.
// It reads one snapshot and changes nothing.
func (e *Engine) ExportTenant(ctx context.Context, tenant string, to seal.TransferKey) (*TenantExport, error) {
	kr := e.keyring.Load()
	from, err := kr.TransferPublicKey()
	if err != nil {
		return nil, err
	}
	if from == to {
		return nil, errExport("The destination's transfer key is this deployment's own: export to another deployment.")
	}
	x := &TenantExport{Format: ExportFormat, Tenant: tenant, ExportedAt: e.Now().UTC().Truncate(time.Second),
		From: from.String(), To: to.String(), Sequences: map[store.Bucket]uint64{}}
	var k *seal.TenantKey
	err = e.view(ctx, func(tx store.Tx) error {
		x.Records, x.Expiry = nil, nil
		if store.CheckTenant(tenant) != nil {
			return errNoInstallation()
		}
		if ok, err := tx.TenantExists(tenant); err != nil {
			return err
		} else if !ok {
			return errNoInstallation()
		}
		wrapped, err := tx.Get(tenant, store.Tenant, store.KeyTenantKey)
		if err != nil {
			return err
		}
		if k, err = e.tenantKey(tx, tenant); err != nil {
			return err
		}
		if x.TenantKey, err = kr.SealForTransfer(wrapped, tenantKeyAD(tenant), to); err != nil {
			return secrets.Internal(fmt.Errorf("engine: seal tenant key of %q for transfer: %w", tenant, err))
		}
		for _, b := range store.TenantBuckets {
			err := tx.Scan(tenant, b, store.Range{}, func(key, value []byte) error {
				if b == store.Tenant && (bytes.Equal(key, store.KeyTenantKey) || bytes.Equal(key, keyMove)) {
					return nil
				}
				x.Records = append(x.Records, ExportRecord{Bucket: b, Key: key, Value: value})
				return nil
			})
			if err != nil {
				return err
			}
			n, err := tx.Sequence(tenant, b)
			if err != nil {
				return err
			}
			if n > 0 {
				x.Sequences[b] = n
			}
		}
		return tx.Scan("", store.Expiry, store.Range{}, func(key, _ []byte) error {
			if t, _, err := parseExpiryKey(key); err == nil && t == tenant {
				x.Expiry = append(x.Expiry, key)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if x.Digest, err = k.Seal(x.digest(), exportDigestAD(tenant)); err != nil {
		return nil, secrets.Internal(err)
	}
	return x, nil
}

// digest hashes every field but Digest, each length-prefixed, so no two
// exports share one.
func (x *TenantExport) digest() []byte {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte(x.Format))
	field([]byte(x.Tenant))
	field(binary.BigEndian.AppendUint64(nil, uint64(x.ExportedAt.Unix())))
	field([]byte(x.From))
	field([]byte(x.To))
	field(x.TenantKey)
	field(binary.BigEndian.AppendUint64(nil, uint64(len(x.Records))))
	for _, r := range x.Records {
		field([]byte(r.Bucket))
		field(r.Key)
		field(r.Value)
	}
	buckets := make([]string, 0, len(x.Sequences))
	for b := range x.Sequences {
		buckets = append(buckets, string(b))
	}
	slices.Sort(buckets)
	field(binary.BigEndian.AppendUint64(nil, uint64(len(buckets))))
	for _, b := range buckets {
		field([]byte(b))
		field(binary.BigEndian.AppendUint64(nil, x.Sequences[store.Bucket(b)]))
	}
	field(binary.BigEndian.AppendUint64(nil, uint64(len(x.Expiry))))
	for _, k := range x.Expiry {
		field(k)
	}
	return h.Sum(nil)
}

// MarshalExport encodes x for a file.
func MarshalExport(x *TenantExport) ([]byte, error) { return json.Marshal(x) }

// ParseExport decodes an export file. Its contents are checked by
// ImportTenant, which trusts nothing in it until the digest opens.
func ParseExport(b []byte) (*TenantExport, error) {
	if len(b) > MaxExportBytes {
		return nil, errExport("The export is larger than %d bytes.", MaxExportBytes)
	}
	var x TenantExport
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil || dec.More() {
		return nil, errExport("The file is not a tenant export (it does not decode).")
	}
	if x.Format != ExportFormat {
		return nil, errExport("The file is not a tenant export of format %s.", ExportFormat)
	}
	return &x, nil
}

// checkShape refuses an export whose records could not have come from an
// ExportTenant, before any of it is written.
func (x *TenantExport) checkShape() error {
	if store.CheckTenant(x.Tenant) != nil {
		return errExport("The export names no valid tenant.")
	}
	for _, r := range x.Records {
		if !r.Bucket.Valid() || r.Bucket.Global() || store.CheckArgs(x.Tenant, r.Bucket, r.Key) != nil ||
			len(r.Value) > store.MaxValueLen || r.Value == nil ||
			(r.Bucket == store.Tenant && (bytes.Equal(r.Key, store.KeyTenantKey) || bytes.Equal(r.Key, keyMove))) {
			return errExport("The export holds a record the app never writes.")
		}
	}
	for b, n := range x.Sequences {
		if !b.Valid() || b.Global() || n > store.MaxSequence {
			return errExport("The export holds an invalid sequence.")
		}
	}
	for _, k := range x.Expiry {
		if t, _, err := parseExpiryKey(k); err != nil || t != x.Tenant || store.CheckArgs("", store.Expiry, k) != nil {
			return errExport("The export holds an expiry entry of another tenant.")
		}
	}
	return nil
}

// openExport checks that x came from the source with transfer key from,
// for this deployment, unchanged, and returns its tenant key wrapped by
// this deployment's keyring, and the tenant key.
func (e *Engine) openExport(x *TenantExport, from seal.TransferKey) ([]byte, *seal.TenantKey, error) {
	kr := e.keyring.Load()
	self, err := kr.TransferPublicKey()
	if err != nil {
		return nil, nil, err
	}
	switch {
	case x.From != from.String():
		return nil, nil, errExport("The export was made by another deployment than the source named.")
	case x.To != self.String():
		return nil, nil, errExport("The export was made for another deployment's transfer key (another master keyring, or one rotated since).")
	}
	if err := x.checkShape(); err != nil {
		return nil, nil, err
	}
	wrapped, err := kr.OpenTransfer(x.TenantKey, tenantKeyAD(x.Tenant), from)
	if err != nil {
		return nil, nil, errExport("The export's tenant key does not open here: it was sealed for another keyring or altered.")
	}
	raw, err := kr.Open(wrapped, tenantKeyAD(x.Tenant))
	if err != nil {
		return nil, nil, secrets.Internal(err)
	}
	defer clear(raw)
	k, err := seal.NewTenantKey(raw)
	if err != nil {
		return nil, nil, secrets.Internal(err)
	}
	sum, err := k.Open(x.Digest, exportDigestAD(x.Tenant))
	if err != nil || !bytes.Equal(sum, x.digest()) {
		return nil, nil, errExport("The export was altered after it was made: its digest does not match.")
	}
	return wrapped, k, nil
}

// ImportTenant writes the tenant of x, exported by the deployment with
// transfer key from for this one, into this engine's store in one
// transaction, then verifies it. A tenant that exists here already is
// CodeConflict; an export that does not open or was altered is
// CodeInvalid, and nothing is written. With problems in the report the
// copy stays for inspection; DiscardImport removes it. The receipt is for
// the source's CommitMove.
func (e *Engine) ImportTenant(ctx context.Context, x *TenantExport, from seal.TransferKey) (*VerifyReport, *ImportReceipt, error) {
	wrapped, k, err := e.openExport(x, from)
	if err != nil {
		return nil, nil, err
	}
	err = e.update(ctx, func(tx store.Tx) error {
		created, err := tx.CreateTenant(x.Tenant)
		if err != nil {
			return err
		}
		if !created {
			return secrets.Errorf(secrets.CodeConflict, "Tenant %q exists here already: roll back or delete it first.", x.Tenant)
		}
		if err := tx.Put(x.Tenant, store.Tenant, store.KeyTenantKey, wrapped); err != nil {
			return err
		}
		for _, r := range x.Records {
			if err := tx.Put(x.Tenant, r.Bucket, r.Key, r.Value); err != nil {
				return err
			}
		}
		for b, n := range x.Sequences {
			if err := tx.SetSequence(x.Tenant, b, n); err != nil {
				return err
			}
		}
		for _, key := range x.Expiry {
			if err := tx.Put("", store.Expiry, key, []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	report, err := e.VerifyTenant(ctx, x.Tenant)
	if err != nil {
		return nil, nil, err
	}
	if len(report.Problems) > 0 {
		return report, nil, nil
	}
	sealed, err := k.Seal(x.digest(), receiptAD(x.Tenant))
	if err != nil {
		return nil, nil, secrets.Internal(err)
	}
	return report, &ImportReceipt{Tenant: x.Tenant, Sealed: sealed}, nil
}

// DiscardImport (a rollback, at the destination) deletes the tenant that
// ImportTenant wrote from x, and refuses any other tenant of that name. It
// reads only x's Tenant and Digest.
func (e *Engine) DiscardImport(ctx context.Context, x *TenantExport) error {
	return e.deleteMoved(ctx, x.Tenant, x.Digest, nil, nil)
}

// CommitMove (at the source) deletes the source's copy of the tenant once
// the destination's receipt for x opens with the tenant's key here; the
// destination is then the tenant's only home.
func (e *Engine) CommitMove(ctx context.Context, x *TenantExport, receipt *ImportReceipt) error {
	if receipt == nil || receipt.Tenant != x.Tenant {
		return errExport("The receipt is not for this tenant.")
	}
	return e.deleteMoved(ctx, x.Tenant, x.Digest, receipt, x.digest())
}

// deleteMoved deletes tenant if sealedDigest opens with its key (it is the
// tenant the export was made of or from) and, with a receipt, if the
// receipt confirms the export whose digest is sum.
func (e *Engine) deleteMoved(ctx context.Context, tenant string, sealedDigest []byte, receipt *ImportReceipt, sum []byte) error {
	if store.CheckTenant(tenant) != nil {
		return errExport("The export names no valid tenant.")
	}
	err := e.update(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		if _, err := k.Open(sealedDigest, exportDigestAD(tenant)); err != nil {
			return secrets.Errorf(secrets.CodeConflict, "Tenant %q here is not the one this export holds.", tenant)
		}
		if receipt != nil {
			got, err := k.Open(receipt.Sealed, receiptAD(tenant))
			if err != nil || !bytes.Equal(got, sum) {
				return errExport("The receipt does not match this export: the destination has not confirmed the import.")
			}
		}
		if err := tx.DeleteTenant(tenant); err != nil {
			return err
		}
		return deleteExpiryEntries(tx, tenant)
	})
	if errors.Is(err, store.ErrNoTenant) {
		return errNoInstallation()
	}
	if err == nil {
		e.forgetTenantKey(tenant)
	}
	return err
}

// VerifyTenant is Verify for one tenant.
func (e *Engine) VerifyTenant(ctx context.Context, tenant string) (*VerifyReport, error) {
	r := &VerifyReport{}
	keyring := e.keyring.Load()
	err := e.st.View(ctx, func(tx store.Tx) error {
		*r = VerifyReport{}
		if ok, err := tx.TenantExists(tenant); err != nil || !ok {
			if err == nil {
				err = errNoInstallation()
			}
			return err
		}
		expiring := map[string]bool{}
		if err := tx.Scan("", store.Expiry, store.Range{}, func(k, _ []byte) error {
			expiring[string(k[min(8, len(k)):])] = true
			return nil
		}); err != nil {
			return err
		}
		r.Tenants = 1
		v := tenantVerifier{r: r, tx: tx, tenant: tenant, expiring: expiring}
		return v.run(keyring)
	})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return r, nil
}
