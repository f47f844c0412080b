package postgres_test

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connect-secrets/secrets/pkg/postgres"
	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/connect-secrets/secrets/pkg/store"
	"github.com/connect-secrets/secrets/pkg/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return pgtest.MustOpenTest(t) })
}

// latest is the version of the newest embedded migration.
func latest(t *testing.T) int {
	entries, err := fs.ReadDir(postgres.Migrations, "migrations")
	if err != nil || len(entries) == 0 {
		t.Fatalf("embedded migrations: %v, %d files", err, len(entries))
	}
	return len(entries)
}

// querySchema runs a query returning one int in schema.
func querySchema(t *testing.T, schema, sql string) int {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestMigrationsOnceUnderConcurrentOpen(t *testing.T) {
	schema := pgtest.NewSchema(t)
	const n = 5
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{Schema: schema, MaxConns: 2})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	want := latest(t)
	if got := querySchema(t, schema, `SELECT count(*) FROM schema_migrations`); got != want {
		t.Fatalf("schema_migrations holds %d rows after %d concurrent Opens, want %d", got, n, want)
	}
	v, err := stores[0].SchemaVersion(context.Background())
	if err != nil || v != want {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, want)
	}
	// Every store works on the one schema.
	err = stores[1].Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.CreateTenant("t")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = stores[4].View(context.Background(), func(tx store.Tx) error {
		ok, err := tx.TenantExists("t")
		if err == nil && !ok {
			err = errors.New("tenant created through another store is missing")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFailingMigrationLeavesVersion(t *testing.T) {
	schema := pgtest.NewSchema(t)
	s := pgtest.MustOpenTestWith(t, postgres.Options{Schema: schema})
	ctx := context.Background()
	before, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	entries, _ := fs.ReadDir(postgres.Migrations, "migrations")
	for _, e := range entries {
		b, err := fs.ReadFile(postgres.Migrations, "migrations/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fsys["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
	}
	fsys["migrations/9000_broken.sql"] = &fstest.MapFile{Data: []byte(`
		CREATE TABLE half_done (x integer);
		INSERT INTO half_done VALUES (1);
		SELECT 1 / 0;
	`)}
	if _, err := postgres.OpenWithMigrations(ctx, pgtest.URL(t), postgres.Options{Schema: schema}, fsys); err == nil {
		t.Fatal("Open with a failing migration: err = nil")
	}
	after, err := s.SchemaVersion(ctx)
	if err != nil || after != before {
		t.Fatalf("SchemaVersion after a failed migration = %d, %v; want %d", after, err, before)
	}
	if got := querySchema(t, schema, `SELECT count(*) FROM pg_tables WHERE tablename = 'half_done' AND schemaname = current_schema()`); got != 0 {
		t.Fatal("the failed migration's table exists")
	}
	// The lock was released: the schema opens again.
	s2, err := postgres.Open(ctx, pgtest.URL(t), postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open after a failed migration: %v", err)
	}
	s2.Close()
}

func TestStatementTimeout(t *testing.T) {
	s := pgtest.MustOpenTestWith(t, postgres.Options{StatementTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	key := []byte("k")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateTenant("t"); err != nil {
			return err
		}
		return tx.Put("t", store.Secrets, key, []byte("v0"))
	})
	if err != nil {
		t.Fatal(err)
	}
	// One transaction holds the row lock while another's Put waits for it
	// longer than the statement timeout allows.
	locked, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put("t", store.Secrets, key, []byte("v1")); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	select {
	case <-locked:
	case err := <-held:
		t.Fatalf("locking Update: %v", err)
	}
	start := time.Now()
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.Put("t", store.Secrets, key, []byte("v2"))
	})
	waited := time.Since(start)
	close(release)
	if !errors.Is(err, store.ErrBusy) {
		t.Fatalf("Update blocked past the statement timeout: err = %v, want ErrBusy", err)
	}
	if waited > 5*time.Second {
		t.Fatalf("Update returned after %v with a 200ms statement timeout", waited)
	}
	if err := <-held; err != nil {
		t.Fatalf("locking Update: %v", err)
	}
}

func TestBusyAfterRetries(t *testing.T) {
	// One attempt: the first serialization failure is the last.
	s := pgtest.MustOpenTestWith(t, postgres.Options{MaxAttempts: 1})
	ctx := context.Background()
	key := []byte("counter")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateTenant("t"); err != nil {
			return err
		}
		return tx.Put("t", store.Attempts, key, []byte{0})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two transactions both read the counter before either writes it: one
	// of them cannot serialize.
	var read sync.WaitGroup
	read.Add(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				v, err := tx.Get("t", store.Attempts, key)
				read.Done()
				if err != nil {
					return err
				}
				read.Wait()
				return tx.Put("t", store.Attempts, key, []byte{v[0] + 1})
			})
		}()
	}
	wg.Wait()
	var ok, busy int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrBusy):
			busy++
		default:
			t.Fatalf("Update: %v", err)
		}
	}
	if ok != 1 || busy != 1 {
		t.Fatalf("%d committed and %d busy, want 1 and 1", ok, busy)
	}
}

func TestRetriedUntilSerialized(t *testing.T) {
	// The same conflict with the default budget: both commit, the second
	// on its second run.
	s := pgtest.MustOpenTest(t)
	ctx := context.Background()
	key := []byte("counter")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateTenant("t"); err != nil {
			return err
		}
		return tx.Put("t", store.Attempts, key, []byte{0})
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		runs int
		read sync.WaitGroup
		wg   sync.WaitGroup
	)
	read.Add(2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				mu.Lock()
				runs++
				mu.Unlock()
				v, err := tx.Get("t", store.Attempts, key)
				if first {
					first = false
					read.Done()
					read.Wait()
				}
				if err != nil {
					return err
				}
				return tx.Put("t", store.Attempts, key, []byte{v[0] + 1})
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	var got []byte
	err = s.View(ctx, func(tx store.Tx) error {
		var err error
		got, err = tx.Get("t", store.Attempts, key)
		return err
	})
	if err != nil || len(got) != 1 || got[0] != 2 {
		t.Fatalf("counter = %v, %v; want [2]", got, err)
	}
	if runs < 3 {
		t.Fatalf("functions ran %d times: the conflict was not retried", runs)
	}
}

func TestOpenBadURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable", postgres.Options{ConnectTimeout: time.Second})
	if err == nil {
		t.Fatal("Open of an unreachable server: err = nil")
	}
}

// TestSequenceDoesNotSerializeWriters: two writers of one tenant that both
// number an audit event commit on their first attempt with different
// numbers. The counter used to be a row both transactions updated, so under
// SERIALIZABLE one of them always failed, and a busy tenant's writers ran
// out of retries.
func TestSequenceDoesNotSerializeWriters(t *testing.T) {
	s := pgtest.MustOpenTestWith(t, postgres.Options{MaxAttempts: 1})
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.CreateTenant("t"); return err }); err != nil {
		t.Fatal(err)
	}
	var begun sync.WaitGroup
	begun.Add(2)
	errs := make([]error, 2)
	nums := make([]uint64, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				// A first statement, so both snapshots predate both writes.
				if _, err := tx.TenantExists("t"); err != nil {
					return err
				}
				begun.Done()
				begun.Wait()
				n, err := tx.NextSequence("t", store.Audit)
				if err != nil {
					return err
				}
				nums[i] = n
				return tx.Put("t", store.Audit, []byte{byte(n >> 8), byte(n)}, []byte{1})
			})
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("writers: %v, %v", errs[0], errs[1])
	}
	if nums[0] == nums[1] || nums[0] == 0 || nums[1] == 0 {
		t.Fatalf("numbers %v", nums)
	}
}
