// Package pgtest opens PostgreSQL stores for tests: each in a schema of its
// own, created for the test and dropped after it, in the database named by
// $SECRETS_TEST_POSTGRES. `make test` sets that variable (from `make
// testdb` when it is unset). A test that needs PostgreSQL and does not get
// it fails: it is never skipped.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connect-secrets/secrets/pkg/postgres"
)

// Env is the environment variable naming the test database.
const Env = "SECRETS_TEST_POSTGRES"

// URL returns the test database's URL, failing tb when $SECRETS_TEST_POSTGRES
// is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(Env)
	if url == "" {
		tb.Fatalf("%s is not set: these tests need PostgreSQL. Run them with `make test`, or set %s to a database URL "+
			"(`make testdb` prints one, starting a throwaway server if needed), e.g. "+
			"%s='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'", Env, Env, Env)
	}
	return url
}

// NewSchema creates a uniquely named, empty schema in the test database and
// drops it, with everything in it, when the test ends.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	url := URL(tb)
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "secrets_test_" + hex.EncodeToString(b[:])
	exec(tb, url, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	tb.Cleanup(func() {
		exec(tb, url, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	return schema
}

// exec runs one statement on a connection of its own.
func exec(tb testing.TB, url, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("pgtest: connecting to %s: %v", Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// MustOpenTest opens a fresh, empty store in a new schema of the test
// database, and closes it and drops the schema when the test ends.
func MustOpenTest(tb testing.TB) *postgres.Store {
	tb.Helper()
	return MustOpenTestWith(tb, postgres.Options{})
}

// MustOpenTestWith is MustOpenTest with opts; when opts.Schema is empty, a
// new schema is made for the test.
func MustOpenTestWith(tb testing.TB, opts postgres.Options) *postgres.Store {
	tb.Helper()
	url := URL(tb)
	if opts.Schema == "" {
		opts.Schema = NewSchema(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, url, opts)
	if err != nil {
		tb.Fatalf("pgtest: postgres.Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
