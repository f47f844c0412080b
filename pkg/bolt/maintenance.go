package bolt

// Maintenance: what the operator tool (cmd/secretsctl) and the server's
// janitor need beyond the service interfaces. Opening a copy read-only,
// per-tenant statistics, checking every sealed record, re-wrapping tenant
// keys after a master-key rotation and purging uninstalled tenants. Nothing
// here returns a title, a body, a shared secret or key material.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// ErrInUse is returned (wrapped) by OpenReadOnly when another process, such
// as a running secretsd, holds the database file open for writing.
var ErrInUse = errors.New("bolt: the database is in use by another process")

// OpenReadOnly opens a database file (e.g. a backup) for reading only. It
// never creates or changes the file, so a mistyped path is an error rather
// than a new empty database. It takes a shared lock and fails after 2s with
// ErrInUse if a writer holds the file. Methods that write fail with
// bbolt.ErrDatabaseReadOnly.
//
// keyring opens the tenant keys; an empty keyring (new(seal.Keyring)) is
// enough for Backup, Size and CheckStructure, which read no sealed value.
func OpenReadOnly(path string, keyring *seal.Keyring) (*DB, error) {
	if keyring == nil {
		return nil, errors.New("bolt: a keyring is required")
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := b.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketTenants) == nil {
			return fmt.Errorf("bolt: %s is a bbolt file but not a Secrets database (no tenants bucket)", path)
		}
		return nil
	}); err != nil {
		b.Close()
		return nil, err
	}
	return newDB(b, keyring), nil
}

// TenantStats summarises one tenant for operators. No content, no titles.
type TenantStats struct {
	ClientKey     string
	Product       secrets.Product
	State         secrets.State
	InstalledAt   time.Time
	UpdatedAt     time.Time
	UninstalledAt time.Time // zero unless State is secrets.StateUninstalled
	Secrets       int
	AuditEvents   int
	Containers    int    // issues and macros that hold (or held) secrets
	MasterKeyID   uint32 // keyring key that wraps the tenant key
}

// TenantStats returns the statistics of every tenant, in client key order.
// It fails, naming the tenant, if a tenant's installation record does not
// open; Verify then says what is wrong.
func (db *DB) TenantStats(ctx context.Context) ([]TenantStats, error) {
	var out []TenantStats
	err := db.view(func(tx *bbolt.Tx) error {
		tenants := tx.Bucket(bucketTenants)
		return tenants.ForEachBucket(func(ck []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			clientKey := string(ck)
			tb := tenants.Bucket(ck)
			keyID, err := wrappedKeyID(tb, clientKey)
			if err != nil {
				return err
			}
			inst, err := db.installation(tx, clientKey)
			if err != nil {
				return fmt.Errorf("bolt: tenant %q: installation record: %w", clientKey, operatorError(err))
			}
			out = append(out, TenantStats{
				ClientKey:     clientKey,
				Product:       inst.Product,
				State:         inst.State,
				InstalledAt:   inst.InstalledAt,
				UpdatedAt:     inst.UpdatedAt,
				UninstalledAt: inst.UninstalledAt,
				Secrets:       countKeys(tb.Bucket(bucketSecrets)),
				AuditEvents:   countKeys(tb.Bucket(bucketAudit)),
				Containers:    countKeys(tb.Bucket(bucketContainers)),
				MasterKeyID:   keyID,
			})
			return nil
		})
	})
	return out, err
}

// MasterKeyIDsInUse returns, for each keyring id that wraps at least one
// tenant key, how many it wraps. A key id absent from the map wraps nothing
// and may be retired. It reads only envelope headers, so it needs no key.
func (db *DB) MasterKeyIDsInUse(ctx context.Context) (map[uint32]int, error) {
	ids := map[uint32]int{}
	err := db.view(func(tx *bbolt.Tx) error {
		tenants := tx.Bucket(bucketTenants)
		return tenants.ForEachBucket(func(ck []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			id, err := wrappedKeyID(tenants.Bucket(ck), string(ck))
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

// RewrapTenantKeys re-wraps every tenant key with keyring's primary key, in
// one Update transaction: all tenant keys or none. keyring must open every
// stored tenant key, so after Keyring.Rotate it holds the old keys and the
// new one; a tenant key it cannot open aborts the whole re-wrap. Tenant keys
// themselves do not change, so no record is re-encrypted. Keys already
// wrapped by the primary are left as they are, which makes a second run
// after an interruption cheap. It returns how many tenant keys were
// re-wrapped. From then on db seals new tenant keys with keyring.
func (db *DB) RewrapTenantKeys(ctx context.Context, keyring *seal.Keyring) (int, error) {
	if keyring == nil {
		return 0, errors.New("bolt: rewrap: a keyring is required")
	}
	primary := keyring.PrimaryID()
	n := 0
	err := db.update(func(tx *bbolt.Tx) error {
		n = 0
		tenants := tx.Bucket(bucketTenants)
		// Collected first: bbolt forbids changing a bucket while ForEach
		// walks it, and Put into a nested bucket rewrites the parent's entry
		// for it.
		var clientKeys []string
		if err := tenants.ForEachBucket(func(ck []byte) error {
			clientKeys = append(clientKeys, string(ck))
			return nil
		}); err != nil {
			return err
		}
		for _, clientKey := range clientKeys {
			if err := ctx.Err(); err != nil {
				return err
			}
			tb := tenants.Bucket([]byte(clientKey))
			wrapped := tb.Get(keyTenant)
			id, err := wrappedKeyID(tb, clientKey)
			if err != nil {
				return err
			}
			// Opened even when already under the primary, so a run that
			// reports success has proved every tenant key opens with keyring.
			raw, err := keyring.Open(wrapped, tenantKeyAD(clientKey))
			if err != nil {
				return fmt.Errorf("bolt: rewrap: tenant %q: its key (wrapped by master key %d) does not open with the new keyring: %w", clientKey, id, err)
			}
			if id == primary {
				clear(raw)
				continue
			}
			rewrapped, err := keyring.Seal(raw, tenantKeyAD(clientKey))
			clear(raw)
			if err != nil {
				return fmt.Errorf("bolt: rewrap: tenant %q: %w", clientKey, err)
			}
			if err := tb.Put(keyTenant, rewrapped); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Swapped only after the commit: had it failed, new tenant keys would
	// be wrapped by a key the caller may never save. The cached unwrapped
	// tenant keys stay valid; re-wrapping does not change them.
	db.keyring.Store(keyring)
	return n, nil
}

// UninstalledBefore returns the client keys of the tenants PurgeUninstalled
// would delete with the same before, without deleting anything.
func (db *DB) UninstalledBefore(ctx context.Context, before time.Time) ([]string, error) {
	var due []string
	err := db.view(func(tx *bbolt.Tx) error {
		var err error
		due, err = db.uninstalledBefore(ctx, tx, before)
		return err
	})
	return due, err
}

// PurgeUninstalled deletes every tenant uninstalled at or before before, one
// DeleteBucket each, all in one transaction, and returns their client keys.
// A tenant that was re-installed is not uninstalled and stays. If any
// tenant's installation record does not open, nothing is deleted: a record
// that cannot be read cannot be judged due. The server's janitor calls it
// too.
func (db *DB) PurgeUninstalled(ctx context.Context, before time.Time) ([]string, error) {
	var purged []string
	err := db.update(func(tx *bbolt.Tx) error {
		due, err := db.uninstalledBefore(ctx, tx, before)
		if err != nil {
			return err
		}
		tenants := tx.Bucket(bucketTenants)
		for _, clientKey := range due {
			if err := tenants.DeleteBucket([]byte(clientKey)); err != nil {
				return fmt.Errorf("bolt: purge tenant %q: %w", clientKey, err)
			}
		}
		purged = due
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, clientKey := range purged {
		db.forgetTenantKey(clientKey)
	}
	return purged, nil
}

// uninstalledBefore lists the tenants due for purging. An uninstalled record
// without an uninstall time is not due: nothing says how long it has been
// gone (Verify reports it).
func (db *DB) uninstalledBefore(ctx context.Context, tx *bbolt.Tx, before time.Time) ([]string, error) {
	var due []string
	err := tx.Bucket(bucketTenants).ForEachBucket(func(ck []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		inst, err := db.installation(tx, string(ck))
		if err != nil {
			return fmt.Errorf("bolt: tenant %q: installation record: %w", ck, operatorError(err))
		}
		if inst.State == secrets.StateUninstalled && !inst.UninstalledAt.IsZero() && !inst.UninstalledAt.After(before) {
			due = append(due, string(ck))
		}
		return nil
	})
	return due, err
}

// CheckStructure runs bbolt's page-level consistency check (every page
// reachable exactly once or free, keys in order) and counts the tenants. It
// reads no sealed value and needs no key: it tells a torn or truncated copy
// from a whole one; whether the records open is Verify's job. The error, if
// any, quotes bbolt's first finding, which names pages and keys, never
// values.
func (db *DB) CheckStructure(ctx context.Context) (tenants int, err error) {
	err = db.checkTx(func(tx *bbolt.Tx) error {
		n, first := checkPages(tx)
		if n > 0 {
			return fmt.Errorf("bolt: page check: %d problems, the first: %v", n, first)
		}
		tenants = countKeys(tx.Bucket(bucketTenants))
		return ctx.Err()
	})
	return tenants, err
}

// checkTx runs fn in a transaction in which bbolt's tx.Check is safe. Check
// reads the freelist, which writers change, so in a database open for
// writing it needs the write lock; the write transaction is rolled back.
func (db *DB) checkTx(fn func(*bbolt.Tx) error) error {
	db.swap.RLock()
	defer db.swap.RUnlock()
	tx, err := db.b.Begin(!db.b.IsReadOnly())
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// checkPages runs tx.Check to the end and returns how many problems it found
// and the first.
func checkPages(tx *bbolt.Tx) (n int, first error) {
	for err := range tx.Check() {
		if n == 0 {
			first = err
		}
		n++
	}
	return n, first
}

// VerifyProblem is one record that failed verification: where it is and a
// fixed reason. It never holds the record's bytes.
type VerifyProblem struct {
	Tenant string // client key; empty for a problem with the file itself
	Bucket string // bucket path under the tenant, e.g. "secrets" or "containers/<hex>"; empty for the tenant's own values
	Key    string // record key: a secret id, an audit sequence number, "meta", or hex for binary keys
	Reason string
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Tenants  int // tenants examined
	Records  int // values examined: tenant keys, sealed records, bodies, index entries, attempt counters
	Problems []VerifyProblem
}

// Fixed reasons of VerifyProblem. They name what is wrong, never the bytes.
const (
	reasonPageStructure    = "bbolt page check failed (damaged or truncated file)"
	reasonNotBucket        = "expected a bucket, found a value"
	reasonMissing          = "missing"
	reasonMissingBucket    = "bucket missing"
	reasonTenantKey        = "tenant key does not open with the master keyring"
	reasonNotEnvelope      = "not a well-formed sealed envelope"
	reasonDoesNotOpen      = "does not open with the tenant key (damaged, tampered or moved)"
	reasonDoesNotDecode    = "opens but does not decode"
	reasonWrongTenant      = "installation record names another client key"
	reasonBadProduct       = "installation record has an unknown product"
	reasonBadState         = "installation record has an unknown state"
	reasonNoUninstallTime  = "uninstalled without an uninstall time (never purged)"
	reasonWrongID          = "record id does not match its key"
	reasonBadKDF           = "password KDF parameters are invalid"
	reasonBadDEK           = "wrapped data key is not a well-formed envelope"
	reasonBadContainer     = "container is malformed"
	reasonNoBody           = "body missing"
	reasonBadBody          = "body is not a well-formed envelope"
	reasonOrphanBody       = "body without a secret record"
	reasonNotIndexed       = "secret missing from its container index"
	reasonIndexDangling    = "index entry points at a missing secret"
	reasonIndexMisplaced   = "index entry is under another container"
	reasonIndexValue       = "index entry is not empty"
	reasonBadAuditKey      = "audit key is not an 8-byte sequence number"
	reasonAuditSeq         = "audit event sequence does not match its key"
	reasonBadAttempts      = "failed-attempt counter is malformed"
	reasonUnexpectedRecord = "unexpected value"
)

// Verify opens every sealed record with the keys and reports every one that
// fails; it changes nothing. Per tenant: the tenant key (unwrapped with the
// keyring), the installation record, the settings if present, every secret
// record (it opens, decodes, has valid KDF parameters and a well-formed
// wrapped DEK), every body (a well-formed envelope: it cannot be opened
// without the password), every audit event and every attempt counter; index
// entries point at existing secrets in the right container, and every secret
// is indexed. A tenant whose key does not open is reported once and not
// examined further. The file's page structure is checked too.
//
// The tenant keys Verify unwraps come from the file, never from db's cache,
// so a damaged stored key is found even while the database is in use. On a
// database open for writing Verify holds the write lock while it runs
// (bbolt's page check is not safe beside writers): run it on a backup or
// with the server stopped.
//
// An error means Verify could not run to the end (the context ended, the
// file could not be read); problems found are in the report, not the error.
func (db *DB) Verify(ctx context.Context) (*VerifyReport, error) {
	r := &VerifyReport{}
	keyring := db.keyring.Load()
	err := db.checkTx(func(tx *bbolt.Tx) error {
		if n, _ := checkPages(tx); n > 0 {
			r.problem("", "", "", reasonPageStructure)
		}
		tenants := tx.Bucket(bucketTenants)
		return tenants.ForEach(func(ck, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if v != nil {
				r.problem("", "tenants", keyString(ck), reasonNotBucket)
				return nil
			}
			r.Tenants++
			tv := tenantVerifier{r: r, clientKey: string(ck), tb: tenants.Bucket(ck)}
			return tv.run(ctx, keyring)
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

// tenantVerifier checks one tenant's bucket.
type tenantVerifier struct {
	r         *VerifyReport
	clientKey string
	tb        *bbolt.Bucket
	k         *seal.TenantKey

	// indexOf maps each secret whose record opened to the index bucket
	// it belongs in, mac(container).
	indexOf map[string][]byte
}

func (v *tenantVerifier) problem(bucket, key, reason string) {
	v.r.problem(v.clientKey, bucket, key, reason)
}

func (v *tenantVerifier) run(ctx context.Context, keyring *seal.Keyring) error {
	v.r.Records++
	wrapped := v.tb.Get(keyTenant)
	if wrapped == nil {
		v.problem("", string(keyTenant), reasonMissing)
		return nil
	}
	raw, err := keyring.Open(wrapped, tenantKeyAD(v.clientKey))
	if err != nil {
		v.problem("", string(keyTenant), reasonTenantKey)
		return nil
	}
	v.k, err = seal.NewTenantKey(raw)
	clear(raw)
	if err != nil {
		v.problem("", string(keyTenant), reasonTenantKey)
		return nil
	}

	v.meta()
	if sealed := v.tb.Get(keySettings); sealed != nil {
		v.r.Records++
		var p secrets.Policy
		v.open("", string(keySettings), sealed, settingsAD(v.clientKey), &p)
	}
	for _, step := range []func(context.Context) error{v.checkSecrets, v.checkBodies, v.checkIndex, v.checkAudit, v.checkAttempts} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// open opens and decodes one sealed JSON record into dst, reporting a
// failure; it reports whether dst was filled.
func (v *tenantVerifier) open(bucket, key string, sealed, ad []byte, dst any) bool {
	if _, err := seal.EnvelopeKeyID(sealed); err != nil {
		v.problem(bucket, key, reasonNotEnvelope)
		return false
	}
	plain, err := v.k.Open(sealed, ad)
	if err != nil {
		v.problem(bucket, key, reasonDoesNotOpen)
		return false
	}
	defer clear(plain)
	if err := json.Unmarshal(plain, dst); err != nil {
		v.problem(bucket, key, reasonDoesNotDecode)
		return false
	}
	return true
}

func (v *tenantVerifier) meta() {
	v.r.Records++
	sealed := v.tb.Get(keyMeta)
	if sealed == nil {
		v.problem("", string(keyMeta), reasonMissing)
		return
	}
	var inst secrets.Installation
	if !v.open("", string(keyMeta), sealed, metaAD(v.clientKey), &inst) {
		return
	}
	switch {
	case inst.ClientKey != v.clientKey:
		v.problem("", string(keyMeta), reasonWrongTenant)
	case !inst.Product.Valid():
		v.problem("", string(keyMeta), reasonBadProduct)
	case !validState(inst.State):
		v.problem("", string(keyMeta), reasonBadState)
	case inst.State == secrets.StateUninstalled && inst.UninstalledAt.IsZero():
		v.problem("", string(keyMeta), reasonNoUninstallTime)
	}
}

func validState(s secrets.State) bool {
	switch s {
	case secrets.StateInstalled, secrets.StateEnabled, secrets.StateDisabled, secrets.StateUninstalled:
		return true
	}
	return false
}

// bucket returns a sub-bucket of the tenant, reporting it if missing.
func (v *tenantVerifier) bucket(name []byte) *bbolt.Bucket {
	b := v.tb.Bucket(name)
	if b == nil {
		v.problem(string(name), "", reasonMissingBucket)
	}
	return b
}

func (v *tenantVerifier) checkSecrets(ctx context.Context) error {
	v.indexOf = map[string][]byte{}
	b := v.bucket(bucketSecrets)
	if b == nil {
		return nil
	}
	bodies := v.tb.Bucket(bucketBodies)
	name := string(bucketSecrets)
	return b.ForEach(func(key, sealed []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.r.Records++
		id := string(key)
		if sealed == nil {
			v.problem(name, keyString(key), reasonUnexpectedRecord)
			return nil
		}
		var rec secretRecord
		if !v.open(name, keyString(key), sealed, secretAD(v.clientKey, id), &rec) {
			return nil
		}
		switch {
		case rec.ID != id:
			v.problem(name, keyString(key), reasonWrongID)
		case rec.KDF.Validate() != nil:
			v.problem(name, keyString(key), reasonBadKDF)
		case !wellFormed(rec.WrappedDEK):
			v.problem(name, keyString(key), reasonBadDEK)
		case !secrets.Container(rec.Container).HoldsSecrets():
			v.problem(name, keyString(key), reasonBadContainer)
		}
		if bodies != nil {
			switch body := bodies.Get(key); {
			case body == nil:
				v.problem(string(bucketBodies), keyString(key), reasonNoBody)
			case !wellFormed(body):
				v.problem(string(bucketBodies), keyString(key), reasonBadBody)
			}
		}
		v.indexOf[id] = v.k.MAC("container", rec.Container)
		return nil
	})
}

// wellFormed reports whether b is an envelope sealed by a key outside the
// keyring (id 0): a password-derived key or a DEK. It cannot say whether
// the envelope opens; that takes the password.
func wellFormed(b []byte) bool {
	id, err := seal.EnvelopeKeyID(b)
	return err == nil && id == 0
}

// checkBodies looks for bodies whose secret record is gone; the bodies of
// existing secrets were checked with them.
func (v *tenantVerifier) checkBodies(ctx context.Context) error {
	b := v.bucket(bucketBodies)
	recs := v.tb.Bucket(bucketSecrets)
	if b == nil || recs == nil {
		return nil
	}
	return b.ForEach(func(key, _ []byte) error {
		v.r.Records++
		if recs.Get(key) == nil {
			v.problem(string(bucketBodies), keyString(key), reasonOrphanBody)
		}
		return ctx.Err()
	})
}

// checkIndex checks the container index against the secrets both ways.
func (v *tenantVerifier) checkIndex(ctx context.Context) error {
	b := v.bucket(bucketContainers)
	recs := v.tb.Bucket(bucketSecrets)
	if b == nil || recs == nil {
		return nil
	}
	indexed := map[string]bool{}
	err := b.ForEach(func(mac, val []byte) error {
		where := string(bucketContainers) + "/" + hex.EncodeToString(mac)
		if val != nil {
			v.r.Records++
			v.problem(string(bucketContainers), keyString(mac), reasonNotBucket)
			return nil
		}
		return b.Bucket(mac).ForEach(func(key, val []byte) error {
			v.r.Records++
			id := string(key)
			want, opened := v.indexOf[id]
			switch {
			case recs.Get(key) == nil:
				v.problem(where, keyString(key), reasonIndexDangling)
			case len(val) != 0:
				v.problem(where, keyString(key), reasonIndexValue)
			case opened && !bytes.Equal(want, mac):
				v.problem(where, keyString(key), reasonIndexMisplaced)
			case opened:
				indexed[id] = true
			}
			return ctx.Err()
		})
	})
	if err != nil {
		return err
	}
	for id := range v.indexOf {
		if !indexed[id] {
			v.problem(string(bucketSecrets), keyString([]byte(id)), reasonNotIndexed)
		}
	}
	return nil
}

func (v *tenantVerifier) checkAudit(ctx context.Context) error {
	b := v.bucket(bucketAudit)
	if b == nil {
		return nil
	}
	name := string(bucketAudit)
	return b.ForEach(func(key, sealed []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.r.Records++
		if len(key) != 8 || sealed == nil {
			v.problem(name, keyString(key), reasonBadAuditKey)
			return nil
		}
		seq := binary.BigEndian.Uint64(key)
		var ev secrets.AuditEvent
		if v.open(name, strconv.FormatUint(seq, 10), sealed, auditAD(v.clientKey, seq), &ev) && ev.Seq != seq {
			v.problem(name, strconv.FormatUint(seq, 10), reasonAuditSeq)
		}
		return nil
	})
}

// checkAttempts checks the shape of the failed-attempt counters; they are not
// sealed (a count and a time say nothing), only keyed by MACs.
func (v *tenantVerifier) checkAttempts(ctx context.Context) error {
	b := v.bucket(bucketAttempts)
	if b == nil {
		return nil
	}
	return b.ForEach(func(mac, val []byte) error {
		if val != nil {
			v.r.Records++
			v.problem(string(bucketAttempts), keyString(mac), reasonNotBucket)
			return nil
		}
		where := string(bucketAttempts) + "/" + hex.EncodeToString(mac)
		return b.Bucket(mac).ForEach(func(key, val []byte) error {
			v.r.Records++
			if len(val) != 16 {
				v.problem(where, keyString(key), reasonBadAttempts)
			}
			return ctx.Err()
		})
	})
}

// operatorError unwraps an internal secrets.Error to its cause. Its message
// is the generic sentence meant for the app's users; an operator needs the
// cause, which never holds key material or content either.
func operatorError(err error) error {
	var e *secrets.Error
	if errors.As(err, &e) && e.Code == secrets.CodeInternal && e.Err != nil {
		return e.Err
	}
	return err
}

// wrappedKeyID returns the keyring id that wraps a tenant's key.
func wrappedKeyID(tb *bbolt.Bucket, clientKey string) (uint32, error) {
	wrapped := tb.Get(keyTenant)
	if wrapped == nil {
		return 0, fmt.Errorf("bolt: tenant %q has no key", clientKey)
	}
	id, err := seal.EnvelopeKeyID(wrapped)
	if err != nil {
		return 0, fmt.Errorf("bolt: tenant %q: stored key is not a sealed envelope: %w", clientKey, err)
	}
	return id, nil
}

// countKeys counts the entries of a bucket (values and sub-buckets alike);
// a missing bucket has none.
func countKeys(b *bbolt.Bucket) int {
	if b == nil {
		return 0
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// keyString shows a record key to an operator: as it is when it is short
// printable ASCII (secret ids, "meta"), as hex otherwise (MACs, sequence
// numbers, anything damaged).
func keyString(k []byte) string {
	if len(k) > 0 && len(k) <= 64 {
		printable := true
		for _, c := range k {
			if c < 0x21 || c > 0x7e {
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
