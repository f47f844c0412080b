package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connect-secrets/secrets/pkg/store"
)

// migration is one numbered file of the migrations directory.
type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]+)_[A-Za-z0-9_]+\.sql$`)

// loadMigrations reads fsys's migrations directory in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("postgres: migrations: %s is not named NNNN_name.sql", e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migrations: bad version in %s", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("postgres: migrations: %s and %s share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("postgres: migrations: %w", err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies the migrations of fsys the database lacks, under an
// advisory lock on the schema, then checks that every bucket has its table.
func migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return dbError(ctx, err)
	}
	// A session lock, released by the unlock below or, should this
	// process die, with the connection. Keyed by the schema, so stores
	// in different schemas of one database do not wait for each other.
	const lockKey = `hashtextextended('github.com/connect-secrets/secrets/pkg/postgres migrate ' || coalesce(current_schema(), ''), 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`); err != nil {
		conn.Release()
		return fmt.Errorf("postgres: migrations: lock: %w", dbError(ctx, err))
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`); err != nil {
			// Closing the connection releases the lock.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("postgres: migrations: %w", dbError(ctx, err))
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrations: %w", dbError(ctx, err))
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: the simple protocol, which runs a file of
			// several statements.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, dbError(ctx, err))
		}
	}
	var missing []string
	err = conn.QueryRow(ctx, `SELECT coalesce(array_agg(t), '{}') FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL`,
		tableNames()).Scan(&missing)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", dbError(ctx, err))
	}
	if len(missing) > 0 {
		return fmt.Errorf("postgres: the schema lacks the tables %v: a bucket without a migration", missing)
	}
	return nil
}

// tableNames is the table of every bucket.
func tableNames() []string {
	var names []string
	for _, b := range store.TenantBuckets {
		names = append(names, table(b))
	}
	for _, b := range store.GlobalBuckets {
		names = append(names, table(b))
	}
	return names
}

// table is the name of bucket b's table. Bucket names are the closed set
// pkg/store declares, lower-case letters only, so the name is a plain
// identifier.
func table(b store.Bucket) string { return "b_" + string(b) }
