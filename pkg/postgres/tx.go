package postgres

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connect-secrets/secrets/pkg/store"
)

// tx is a store.Tx on one pgx transaction.
type tx struct {
	ctx      context.Context
	tx       pgx.Tx
	seq      *pgxpool.Pool // the counters' pool (Store.seq)
	readOnly bool
	// err is the first error the database returned. PostgreSQL aborts the
	// transaction on any error, so every later statement fails with it,
	// and Commit is not attempted.
	err error
}

// fail records a database error and returns it.
func (t *tx) fail(err error) error {
	err = dbError(t.ctx, err)
	if t.err == nil {
		t.err = err
	}
	return err
}

// statements are the SQL of one bucket, built once.
type statements struct {
	get, put, delete, next string
	// sequence reads the counter of next; setSequence raises it.
	sequence, setSequence string
}

// bucketSQL maps every bucket to its statements. Tenant buckets check that
// the tenant exists in the same statement, so Get and Put cost one round
// trip and a missing tenant is an answer (ErrNoTenant), not an error that
// aborts the transaction.
var bucketSQL = func() map[store.Bucket]statements {
	const exists = `EXISTS (SELECT 1 FROM tenants WHERE id = $1::bytea)`
	m := map[store.Bucket]statements{}
	for _, b := range store.TenantBuckets {
		tb := table(b)
		m[b] = statements{
			get: `SELECT ` + exists + `, (SELECT v FROM ` + tb + ` WHERE tenant = $1::bytea AND k = $2::bytea)`,
			put: `INSERT INTO ` + tb + ` (tenant, k, v) SELECT $1::bytea, $2::bytea, $3::bytea WHERE ` + exists +
				` ON CONFLICT (tenant, k) DO UPDATE SET v = excluded.v`,
			delete: `WITH d AS (DELETE FROM ` + tb + ` WHERE tenant = $1::bytea AND k = $2::bytea) SELECT ` + exists,
			next: `INSERT INTO tenant_sequences AS s (tenant, bucket, n) SELECT $1::bytea, $2::text, 1 WHERE ` + exists +
				` ON CONFLICT (tenant, bucket) DO UPDATE SET n = s.n + 1 RETURNING n`,
			sequence: `SELECT ` + exists + `, (SELECT n FROM tenant_sequences WHERE tenant = $1::bytea AND bucket = $2::text)`,
			setSequence: `INSERT INTO tenant_sequences AS s (tenant, bucket, n) SELECT $1::bytea, $2::text, $3::bigint WHERE ` + exists +
				` ON CONFLICT (tenant, bucket) DO UPDATE SET n = greatest(s.n, excluded.n)`,
		}
	}
	for _, b := range store.GlobalBuckets {
		tb := table(b)
		m[b] = statements{
			get:    `SELECT true, (SELECT v FROM ` + tb + ` WHERE k = $1::bytea)`,
			put:    `INSERT INTO ` + tb + ` (k, v) VALUES ($1::bytea, $2::bytea) ON CONFLICT (k) DO UPDATE SET v = excluded.v`,
			delete: `DELETE FROM ` + tb + ` WHERE k = $1::bytea`,
			next: `INSERT INTO global_sequences AS s (bucket, n) VALUES ($1::text, 1)
				ON CONFLICT (bucket) DO UPDATE SET n = s.n + 1 RETURNING n`,
			sequence: `SELECT true, (SELECT n FROM global_sequences WHERE bucket = $1::text)`,
			setSequence: `INSERT INTO global_sequences AS s (bucket, n) VALUES ($1::text, $2::bigint)
				ON CONFLICT (bucket) DO UPDATE SET n = greatest(s.n, excluded.n)`,
		}
	}
	return m
}()

// args is the statement arguments for tenant and b, then rest.
func args(tenant string, b store.Bucket, rest ...any) []any {
	if b.Global() {
		return rest
	}
	return append([]any{[]byte(tenant)}, rest...)
}

// check validates an operation's arguments and whether the transaction can
// still run statements.
func (t *tx) check(tenant string, b store.Bucket, key []byte, write bool) error {
	if err := store.CheckArgs(tenant, b, key); err != nil {
		return err
	}
	if write && t.readOnly {
		return store.ErrReadOnly
	}
	return t.err
}

// Get returns a copy of key's value, or nil.
func (t *tx) Get(tenant string, b store.Bucket, key []byte) ([]byte, error) {
	if err := t.check(tenant, b, key, false); err != nil {
		return nil, err
	}
	var (
		ok bool
		v  []byte
	)
	if err := t.tx.QueryRow(t.ctx, bucketSQL[b].get, args(tenant, b, key)...).Scan(&ok, &v); err != nil {
		return nil, t.fail(err)
	}
	if !ok {
		return nil, store.ErrNoTenant
	}
	return v, nil
}

// Put sets key to value.
func (t *tx) Put(tenant string, b store.Bucket, key, value []byte) error {
	if err := t.check(tenant, b, key, true); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // a nil []byte would be NULL
	}
	tag, err := t.tx.Exec(t.ctx, bucketSQL[b].put, args(tenant, b, key, value)...)
	if err != nil {
		return t.fail(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNoTenant
	}
	return nil
}

// Delete removes key.
func (t *tx) Delete(tenant string, b store.Bucket, key []byte) error {
	if err := t.check(tenant, b, key, true); err != nil {
		return err
	}
	if b.Global() {
		if _, err := t.tx.Exec(t.ctx, bucketSQL[b].delete, key); err != nil {
			return t.fail(err)
		}
		return nil
	}
	var ok bool
	if err := t.tx.QueryRow(t.ctx, bucketSQL[b].delete, []byte(tenant), key).Scan(&ok); err != nil {
		return t.fail(err)
	}
	if !ok {
		return store.ErrNoTenant
	}
	return nil
}

// NextSequence increments the bucket's counter.
func (t *tx) NextSequence(tenant string, b store.Bucket) (uint64, error) {
	if err := t.check(tenant, b, nil, true); err != nil {
		return 0, err
	}
	// The counter moves in a statement of its own, committed at once, not
	// in this transaction: every write of a tenant records an audit event
	// numbered from one counter row, and under SERIALIZABLE two
	// transactions that both update a row cannot both commit, so a busy
	// tenant's writers failed each other until they ran out of retries. A
	// number taken by a transaction that then rolls back is skipped, which
	// the contract allows. Only a tenant this transaction created itself
	// (not visible to others yet) is counted inside it: nobody else can
	// contend for its row.
	var n int64
	err := t.seq.QueryRow(t.ctx, bucketSQL[b].next, args(tenant, b, string(b))...).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		err = t.tx.QueryRow(t.ctx, bucketSQL[b].next, args(tenant, b, string(b))...).Scan(&n)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, store.ErrNoTenant
	}

	if err != nil {
		return 0, t.fail(err)
	}
	return uint64(n), nil
}

// Sequence reads the bucket's counter; a counter without a row is 0.
func (t *tx) Sequence(tenant string, b store.Bucket) (uint64, error) {
	if err := t.check(tenant, b, nil, false); err != nil {
		return 0, err
	}
	var (
		ok bool
		n  *int64
	)
	if err := t.tx.QueryRow(t.ctx, bucketSQL[b].sequence, args(tenant, b, string(b))...).Scan(&ok, &n); err != nil {
		return 0, t.fail(err)
	}
	if !ok {
		return 0, store.ErrNoTenant
	}
	if n == nil {
		return 0, nil
	}
	return uint64(*n), nil
}

// SetSequence raises the bucket's counter to n (a bigint, hence
// store.MaxSequence).
func (t *tx) SetSequence(tenant string, b store.Bucket, n uint64) error {
	if err := t.check(tenant, b, nil, true); err != nil {
		return err
	}
	if n > math.MaxInt64 {
		return store.ErrInvalid
	}
	tag, err := t.tx.Exec(t.ctx, bucketSQL[b].setSequence, args(tenant, b, string(b), int64(n))...)
	if err != nil {
		return t.fail(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNoTenant
	}
	return nil
}

// Scan pages.
const (
	scanPageRows  = 256
	scanPageBytes = 4 << 20 // stop reading a page once its values reach this
)

// Scan reads the range a page at a time, each page one index range scan
// that resumes after the last key of the page before, and calls fn between
// pages, so fn may run statements of its own.
func (t *tx) Scan(tenant string, b store.Bucket, r store.Range, fn func(key, value []byte) error) error {
	if err := t.check(tenant, b, nil, false); err != nil {
		return err
	}
	if !b.Global() {
		ok, err := t.tenantExists(tenant)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNoTenant
		}
	}
	lo, hi := bounds(r)
	if lo != nil && hi != nil && bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	var cursor []byte
	for {
		page, more, err := t.scanPage(tenant, b, lo, hi, cursor, r.Reverse)
		if err != nil {
			return err
		}
		for _, e := range page {
			if !r.Contains(e.k) {
				continue
			}
			if err := fn(e.k, e.v); err != nil {
				if errors.Is(err, store.Stop) {
					return nil
				}
				return err
			}
		}
		if !more {
			return nil
		}
		cursor = page[len(page)-1].k
	}
}

// entry is one row of a scan page.
type entry struct{ k, v []byte }

// scanPage reads the keys in [lo, hi) after cursor (before it when
// reverse), and reports whether there may be more.
func (t *tx) scanPage(tenant string, b store.Bucket, lo, hi, cursor []byte, reverse bool) ([]entry, bool, error) {
	var (
		where []string
		argv  []any
	)
	arg := func(v any) string {
		argv = append(argv, v)
		return "$" + strconv.Itoa(len(argv)) + "::bytea"
	}
	if !b.Global() {
		where = append(where, "tenant = "+arg([]byte(tenant)))
	}
	switch {
	case cursor != nil && !reverse:
		where = append(where, "k > "+arg(cursor))
	case lo != nil:
		where = append(where, "k >= "+arg(lo))
	}
	switch {
	case cursor != nil && reverse:
		where = append(where, "k < "+arg(cursor))
	case hi != nil:
		where = append(where, "k < "+arg(hi))
	}
	q := "SELECT k, v FROM " + table(b)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY k"
	if reverse {
		q += " DESC"
	}
	q += " LIMIT " + strconv.Itoa(scanPageRows)

	rows, err := t.tx.Query(t.ctx, q, argv...)
	if err != nil {
		return nil, false, t.fail(err)
	}
	defer rows.Close()
	var (
		page []entry
		size int
	)
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.k, &e.v); err != nil {
			return nil, false, t.fail(err)
		}
		page = append(page, e)
		size += len(e.v)
		if size >= scanPageBytes {
			// Large values: a short page, and the next resumes here.
			return page, true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, t.fail(err)
	}
	return page, len(page) == scanPageRows, nil
}

// bounds turns a range into one inclusive lower and one exclusive upper
// bound on keys, nil for none.
func bounds(r store.Range) (lo, hi []byte) {
	lo, hi = r.From, r.To
	if len(r.Prefix) > 0 {
		if lo == nil || bytes.Compare(r.Prefix, lo) > 0 {
			lo = r.Prefix
		}
		if end := prefixEnd(r.Prefix); end != nil && (hi == nil || bytes.Compare(end, hi) < 0) {
			hi = end
		}
	}
	return lo, hi
}

// prefixEnd is the least key greater than every key beginning with prefix,
// or nil when there is none (the prefix is all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// CreateTenant inserts the tenant unless it exists.
func (t *tx) CreateTenant(tenant string) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	if t.readOnly {
		return false, store.ErrReadOnly
	}
	if t.err != nil {
		return false, t.err
	}
	tag, err := t.tx.Exec(t.ctx, `INSERT INTO tenants (id) VALUES ($1::bytea) ON CONFLICT (id) DO NOTHING`, []byte(tenant))
	if err != nil {
		return false, t.fail(err)
	}
	return tag.RowsAffected() == 1, nil
}

// TenantExists reports whether the tenant exists.
func (t *tx) TenantExists(tenant string) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	if t.err != nil {
		return false, t.err
	}
	return t.tenantExists(tenant)
}

func (t *tx) tenantExists(tenant string) (bool, error) {
	var ok bool
	if err := t.tx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1::bytea)`, []byte(tenant)).Scan(&ok); err != nil {
		return false, t.fail(err)
	}
	return ok, nil
}

// DeleteTenant deletes the tenant; the foreign keys cascade to its buckets
// and sequences.
func (t *tx) DeleteTenant(tenant string) error {
	if err := store.CheckTenant(tenant); err != nil {
		return err
	}
	if t.readOnly {
		return store.ErrReadOnly
	}
	if t.err != nil {
		return t.err
	}
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM tenants WHERE id = $1::bytea`, []byte(tenant))
	if err != nil {
		return t.fail(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNoTenant
	}
	return nil
}

// tenantPage is how many tenant ids Tenants reads at a time.
const tenantPage = 512

// Tenants reads tenant ids a page at a time in byte order and calls fn
// between pages.
func (t *tx) Tenants(fn func(tenant string) error) error {
	if t.err != nil {
		return t.err
	}
	var after []byte
	for {
		var (
			rows pgx.Rows
			err  error
		)
		if after == nil {
			rows, err = t.tx.Query(t.ctx, `SELECT id FROM tenants ORDER BY id LIMIT `+strconv.Itoa(tenantPage))
		} else {
			rows, err = t.tx.Query(t.ctx, `SELECT id FROM tenants WHERE id > $1::bytea ORDER BY id LIMIT `+strconv.Itoa(tenantPage), after)
		}
		if err != nil {
			return t.fail(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return t.fail(err)
		}
		for _, id := range ids {
			if err := fn(string(id)); err != nil {
				if errors.Is(err, store.Stop) {
					return nil
				}
				return err
			}
		}
		if len(ids) < tenantPage {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

var _ store.Tx = (*tx)(nil)
