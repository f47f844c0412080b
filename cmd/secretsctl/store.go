package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/connect-secrets/secrets/pkg/backend"
	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// storeFlags are the flags that locate the database and its master keyring,
// with the same names, variables and defaults as secretsd's.
type storeFlags struct {
	fs      *flagSet
	data    string
	store   string
	keyFile string
}

func (c *cli) storeFlags(fs *flagSet) *storeFlags {
	s := &storeFlags{fs: fs}
	fs.StringVar(&s.data, "data", c.env("SECRETS_DATA", "./data/secrets.db"), "bbolt database file, or a backup of it, when there is no --store ($SECRETS_DATA)")
	fs.StringVar(&s.store, "store", c.getenv("SECRETS_STORE"), "storage URL as secretsd takes it: bolt://<path> or postgres://… ($SECRETS_STORE; default: bolt:// and --data)")
	fs.StringVar(&s.keyFile, "master-key-file", c.getenv("SECRETS_MASTER_KEY_FILE"), "master keyring file ($SECRETS_MASTER_KEY_FILE; default: the development key master.key next to --data)")
	return s
}

// url is the store to open: --store, or bolt:// and --data, as secretsd
// decides. One exception: --data on the command line beats a --store that
// only comes from $SECRETS_STORE, so "verify --data backup.db" checks the
// backup even in a shell set up for the live PostgreSQL database.
func (s *storeFlags) url() string {
	if s.store == "" || (isSet(s.fs, "data") && !isSet(s.fs, "store")) {
		return "bolt://" + s.data
	}
	return s.store
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// where names the store in messages: the bbolt file, or the PostgreSQL URL
// without its password.
func (s *storeFlags) where() string { return storeName(s.url()) }

func storeName(url string) string {
	if path, ok := strings.CutPrefix(url, "bolt://"); ok {
		return path
	}
	return redact(url)
}

// redact hides a store URL's password (backend.Redact).
func redact(raw string) string { return backend.Redact(raw) }

// arg is the command-line argument that names this store again, for the
// next steps a command prints.
func (s *storeFlags) arg() string {
	url := s.url()
	if path, ok := strings.CutPrefix(url, "bolt://"); ok {
		return "--data " + printable(path)
	}
	// Quoted: a URL's ? and & mean something to the shell.
	return "--store '" + printable(redact(url)) + "'"
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// keyringPath is --master-key-file, or where secretsd's development mode
// keeps its generated key. secretsctl never generates a key: a missing key
// file here is a mistake to report, not a gap to fill.
func (s *storeFlags) keyringPath() string {
	if s.keyFile != "" {
		return s.keyFile
	}
	return filepath.Join(filepath.Dir(s.data), "master.key")
}

// keyring loads the keyring. A missing file is the usual mistake of a
// command run on a backup kept elsewhere, whose directory has no master.key
// beside it: the message says which flag points at the real one.
func (s *storeFlags) keyring() (*seal.Keyring, error) {
	path := s.keyringPath()
	kr, err := seal.LoadKeyringFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		how := "pass --master-key-file with the keyring secretsd uses (or used when the backup was taken)"
		if s.keyFile == "" {
			how += "; without it secretsctl looks next to --data"
		}
		return nil, fmt.Errorf("no master key at %s: %s", printable(path), how)
	}
	return kr, err
}

// database is an open store with the engine over it: the engine's
// maintenance (TenantStats, Verify, RewrapTenantKeys, PurgeUninstalled …) on
// either backend and, for a bbolt file, the file's own operations.
type database struct {
	*engine.Engine
	st *backend.Opened
	// source, when set, names where the data came from in messages (a hot
	// copy of secretsd's file); cleanup, when set, runs after Close (it
	// removes that copy).
	source  string
	cleanup func() error
}

// Close closes the store, then removes a hot copy it was read from.
func (db *database) Close() error {
	err := db.st.Close()
	if db.cleanup != nil {
		err = errors.Join(err, db.cleanup())
		db.cleanup = nil
	}
	return err
}

// file is the bbolt file, for its page check and compaction; nil on
// PostgreSQL.
func (db *database) file() *bolt.DB { return db.st.Bolt }

func newDatabase(st *backend.Opened, kr *seal.Keyring, readOnly bool) *database {
	var s store.Store = st
	if readOnly {
		s = readOnlyStore{st}
	}
	return &database{Engine: engine.New(s, kr, nil, secrets.DefaultPolicy()), st: st}
}

// readOnlyStore refuses every write. A bbolt file opened read-only does so
// itself; PostgreSQL has no read-only open, and a reading command must not
// change a database that secretsd replicas are serving.
type readOnlyStore struct{ store.Store }

func (readOnlyStore) Update(context.Context, func(store.Tx) error) error { return store.ErrReadOnly }

// Advice for a bbolt file that secretsd holds.
const (
	adviceRead = "stop secretsd, or take a backup ('secretsctl backup --out FILE') and pass --data FILE"
	adviceStop = "this command needs secretsd stopped"
)

// openReadOnly opens the store for reading with the keyring.
func (s *storeFlags) openReadOnly(ctx context.Context) (*database, *seal.Keyring, error) {
	kr, err := s.keyring()
	if err != nil {
		return nil, nil, err
	}
	db, err := s.open(ctx, kr, true, adviceRead)
	return db, kr, err
}

// openWritable opens the store for the commands that change it.
func (s *storeFlags) openWritable(ctx context.Context, kr *seal.Keyring) (*database, error) {
	return s.open(ctx, kr, false, adviceStop)
}

// open opens the store --store or --data names. advice says what to do when
// secretsd holds a bbolt file.
func (s *storeFlags) open(ctx context.Context, kr *seal.Keyring, readOnly bool, advice string) (*database, error) {
	url := s.url()
	if path, ok := strings.CutPrefix(url, "bolt://"); ok {
		if path == "" {
			return nil, usagef("--store bolt:// needs a file path, e.g. bolt://./data/secrets.db")
		}
		st, err := openBolt(ctx, path, readOnly, advice)
		if err != nil {
			return nil, err
		}
		return newDatabase(st, kr, readOnly), nil
	}
	if !isPostgres(url) {
		return nil, usagef("--store %q must be bolt://<path> or postgres://…", redact(url))
	}
	st, err := openPostgres(ctx, url)
	if err != nil {
		return nil, err
	}
	return newDatabase(st, kr, readOnly), nil
}

// openBolt opens a bbolt file. A read-only open comes first even to write:
// unlike a writable open it never creates a missing file (a mistyped --data
// must not "rotate" an empty new database), refuses a file that is not a
// Secrets database, and tells a running secretsd apart from other failures.
func openBolt(ctx context.Context, path string, readOnly bool, advice string) (*backend.Opened, error) {
	st, err := backend.Open(ctx, "bolt://"+path, backend.Options{ReadOnly: true})
	if errors.Is(err, bolt.ErrInUse) {
		return nil, fmt.Errorf("%w; %s", err, advice)
	}
	if err != nil || readOnly {
		return st, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	return backend.Open(ctx, "bolt://"+path, backend.Options{})
}

// openPostgres opens a PostgreSQL store. Its connections are named
// secretsctl in pg_stat_activity, unless the URL names them.
func openPostgres(ctx context.Context, url string) (*backend.Opened, error) {
	if !strings.Contains(url, "application_name=") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + "application_name=secretsctl"
	}
	return backend.Open(ctx, url, backend.Options{})
}

// checkKeyring refuses a keyring that is not this database's before a key
// command writes a key file made from it. Every master key id that wraps a
// tenant key must be in it, and it must open every tenant's records: ids
// alone prove little, since every single-key keyring has id 1. It returns
// how many tenant keys each id wraps.
func checkKeyring(ctx context.Context, db *database, kr *seal.Keyring, keyPath string) (map[uint32]int, error) {
	inUse, err := db.MasterKeyIDsInUse(ctx)
	if err != nil {
		return nil, err
	}
	var missing []uint32
	for id := range inUse {
		if !slices.Contains(kr.IDs(), id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("tenant keys are wrapped by master key %s, which %s does not hold (it holds %s); is it this database's keyring?",
			idList(missing), keyPath, idList(kr.IDs()))
	}
	if _, err := db.TenantStats(ctx); err != nil {
		return nil, fmt.Errorf("%s does not open this database (is it its keyring? 'secretsctl verify' says more): %w", keyPath, err)
	}
	return inUse, nil
}
