// Package postgres is the storage contract of pkg/store on PostgreSQL, for
// running many stateless secretsd replicas on one database. It stores and
// returns the same sealed bytes under the same keys as pkg/bolt, so a bbolt
// file copies into it verbatim.
//
// # Schema
//
// The schema is versioned: numbered migrations (migrations/0001_init.sql, …)
// are embedded in the binary, and Open applies the ones a database lacks, each
// in its own transaction, recording it in schema_migrations. Open holds a
// session advisory lock (pg_advisory_lock, keyed by the schema) meanwhile, so
// N replicas starting at once apply every migration once, and a migration that
// fails leaves the schema and its version as they were. Migrations only add:
// a replica of the previous release keeps working on a migrated schema during
// a rolling upgrade.
//
//	tenants (id bytea)                         the tenant registry
//	b_<bucket> (tenant bytea, k bytea, v bytea) one per store.TenantBuckets,
//	                                            primary key (tenant, k), the tenant
//	                                            a foreign key ON DELETE CASCADE
//	b_app, b_expiry (k bytea, v bytea)          the global buckets, primary key k
//	tenant_sequences, global_sequences          NextSequence counters
//	leases (name, holder, expires_at)           Store.Lease, timed by now()
//	schema_migrations (version, name, applied_at)
//
// Tenant ids, keys and values are bytea, so keys compare in byte order (as
// the contract requires) whatever the database's collation. DeleteTenant is
// one DELETE FROM tenants; the cascade removes every key of every bucket.
// Scan is an index range scan (k >= from AND k < to, the prefix turned into
// the same kind of bounds) read in pages of bounded size, so its callback may
// run further statements in the same transaction.
//
// # Transactions and retries
//
// Update runs its function in a SERIALIZABLE transaction. When PostgreSQL
// reports a serialization failure (SQLSTATE 40001) or a deadlock (40P01),
// whether to a statement inside the function or at commit, the transaction
// is rolled back and the function runs again after a jittered, exponentially
// growing pause (1 ms doubling up to 100 ms, each pause drawn uniformly below
// its cap), up to Options.MaxAttempts runs in all; then Update returns an
// error matching store.ErrBusy. A statement cancelled by the statement
// timeout, a lock that could not be taken, or too many connections is
// returned as store.ErrBusy at once, without a retry. The engine above never
// retries (see pkg/store).
//
// View runs its function in a REPEATABLE READ READ ONLY transaction: one
// snapshot, taken at its first statement, and never a serialization failure.
//
// Get and Put are single statements (the tenant's existence checked in the
// same statement), prepared once per connection by pgx's statement cache.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connect-secrets/secrets/pkg/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Defaults of Options, used for its zero fields.
const (
	DefaultConnectTimeout   = 10 * time.Second
	DefaultStatementTimeout = 10 * time.Second
	DefaultMaxAttempts      = 20
)

// DefaultMaxConns is the pool size used when neither Options.MaxConns nor the
// URL's pool_max_conns sets one: max(4, number of CPUs), pgxpool's default.
func DefaultMaxConns() int32 { return max(4, int32(runtime.NumCPU())) }

// Options configures Open. A zero field takes the URL's setting when the URL
// has one (pool_max_conns, connect_timeout, statement_timeout, search_path)
// and its default otherwise.
type Options struct {
	// MaxConns is the size of the connection pool; default
	// DefaultMaxConns(). Each replica holds up to this many connections.
	MaxConns int32
	// ConnectTimeout bounds dialling and authenticating one connection;
	// default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// StatementTimeout is set as statement_timeout on every session; a
	// statement running longer fails with store.ErrBusy. Default
	// DefaultStatementTimeout; negative: none.
	StatementTimeout time.Duration
	// Schema, when set, is the session's search_path: every table lives in
	// it. The schema must exist. Tests use it to get a fresh, empty store
	// in a shared database.
	Schema string
	// MaxAttempts bounds how many times Update runs its function when the
	// transaction fails to serialize; default DefaultMaxAttempts.
	MaxAttempts int
}

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// seq is a small pool of its own for NextSequence's counters, which are
	// advanced outside the transaction that asks (see tx.NextSequence). Its
	// own pool: a transaction holding a connection of pool never waits for
	// another connection of pool, so a full pool cannot deadlock.
	seq         *pgxpool.Pool
	maxAttempts int
}

// seqConns is the size of the counters' pool: each use is one short
// statement.
const seqConns = 4

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string), applies the schema migrations it lacks and returns
// the store.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	return open(ctx, url, opts, migrations)
}

// open is Open with the migrations taken from fsys (its migrations
// directory), so tests can bring their own.
func open(ctx context.Context, url string, opts Options, fsys fs.FS) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cc := cfg.ConnConfig
	switch {
	case opts.ConnectTimeout > 0:
		cc.ConnectTimeout = opts.ConnectTimeout
	case cc.ConnectTimeout == 0:
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case opts.StatementTimeout > 0:
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	case opts.StatementTimeout < 0:
		cc.RuntimeParams["statement_timeout"] = "0"
	case cc.RuntimeParams["statement_timeout"] == "":
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	if opts.Schema != "" {
		cc.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "secretsd"
	}
	s := &Store{maxAttempts: opts.MaxAttempts}
	if s.maxAttempts <= 0 {
		s.maxAttempts = DefaultMaxAttempts
	}
	seqCfg := cfg.Copy()
	seqCfg.MaxConns, seqCfg.MinConns = seqConns, 0
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, s.pool, fsys); err != nil {
		s.pool.Close()
		return nil, err
	}
	if s.seq, err = pgxpool.NewWithConfig(ctx, seqCfg); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// Close waits for the transactions in flight and closes every connection.
func (s *Store) Close() error {
	s.pool.Close()
	s.seq.Close()
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return dbError(ctx, err)
	}
	return nil
}

// SchemaVersion returns the number of the last migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, dbError(ctx, err)
	}
	return v, nil
}

var (
	viewOptions   = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	updateOptions = pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadWrite}
)

// View runs fn in a REPEATABLE READ READ ONLY transaction.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, viewOptions, fn)
}

// Update runs fn in a SERIALIZABLE transaction, again when it fails to
// serialize, up to the attempts Options allows; then it returns ErrBusy.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.run(ctx, updateOptions, fn)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= s.maxAttempts {
			return fmt.Errorf("postgres: gave up after %d attempts: %w", attempt, err)
		}
		pause := time.Duration(rand.Int64N(int64(backoffCap(attempt)))) + 1
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("postgres: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// backoffCap is the longest pause before attempt+1: 1 ms doubling up to
// 100 ms.
func backoffCap(attempt int) time.Duration {
	d := time.Millisecond << min(attempt-1, 7)
	return min(d, 100*time.Millisecond)
}

// run runs fn once in a transaction with opts.
func (s *Store) run(ctx context.Context, opts pgx.TxOptions, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	ptx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return dbError(ctx, err)
	}
	// Rolls back when fn fails or panics; a no-op after Commit. It gets a
	// context of its own: a cancelled ctx would close the connection
	// instead of returning it to the pool.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = ptx.Rollback(rctx)
	}()
	t := &tx{ctx: ctx, tx: ptx, seq: s.seq, readOnly: opts.AccessMode == pgx.ReadOnly}
	err = fn(t)
	if t.err != nil && (err == nil || retryable(t.err)) {
		// The database aborted the transaction: nothing fn decided
		// after that can commit, and a serialization failure means
		// running fn again whatever it returned.
		return t.err
	}
	if err != nil {
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return dbError(ctx, err)
	}
	return nil
}

// Lease grants holder the named lease for ttl when it is free, expired or
// already holder's, by the database clock, in one statement.
func (s *Store) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	const q = `INSERT INTO leases AS l (name, holder, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE l.holder = excluded.holder OR l.expires_at <= now()
		RETURNING true`
	var ok bool
	err := s.pool.QueryRow(ctx, q, name, holder, ttl.Microseconds()).Scan(&ok)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, dbError(ctx, err)
	}
	return ok, nil
}

// SQLSTATE codes the store treats specially.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeQueryCanceled        = "57014" // statement_timeout, among others
	codeLockNotAvailable     = "55P03"
	codeTooManyConnections   = "53300"
)

// retryable reports whether err is a serialization failure or a deadlock:
// running the transaction again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected
}

// dbError wraps an error from pgx: ErrBusy for the failures that say "try
// again later", the context's error when ctx ended.
func dbError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("postgres: %w: %w", ctx.Err(), err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeSerializationFailure, codeDeadlockDetected, codeQueryCanceled,
			codeLockNotAvailable, codeTooManyConnections:
			return fmt.Errorf("postgres: %w: %w", store.ErrBusy, err)
		}
	}
	return fmt.Errorf("postgres: %w", err)
}
