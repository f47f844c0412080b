package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// storeFlags are the flags that locate the database and its master keyring,
// with the same names, variables and defaults as secretsd's.
type storeFlags struct {
	data    string
	keyFile string
}

func (c *cli) storeFlags(fs *flagSet) *storeFlags {
	s := &storeFlags{}
	fs.StringVar(&s.data, "data", c.env("SECRETS_DATA", "./data/secrets.db"), "database file, or a backup of it ($SECRETS_DATA)")
	fs.StringVar(&s.keyFile, "master-key-file", c.getenv("SECRETS_MASTER_KEY_FILE"), "master keyring file ($SECRETS_MASTER_KEY_FILE; default: the development key master.key next to the database)")
	return s
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

func (s *storeFlags) keyring() (*seal.Keyring, error) {
	return seal.LoadKeyringFile(s.keyringPath())
}

// database is an open bbolt file with the engine over it: the file's own
// operations (Close, CheckStructure, Compact) and the engine's maintenance
// (TenantStats, Verify, RewrapTenantKeys, PurgeUninstalled …).
type database struct {
	*bolt.DB
	*engine.Engine
}

func newDatabase(db *bolt.DB, kr *seal.Keyring) *database {
	return &database{DB: db, Engine: engine.New(db, kr, nil, secrets.DefaultPolicy())}
}

// openReadOnly opens --data for reading with the keyring.
func (s *storeFlags) openReadOnly() (*database, *seal.Keyring, error) {
	kr, err := s.keyring()
	if err != nil {
		return nil, nil, err
	}
	db, err := openReadOnly(s.data, kr)
	return db, kr, err
}

// openReadOnly is bolt.OpenReadOnly with advice when secretsd holds the file.
func openReadOnly(path string, kr *seal.Keyring) (*database, error) {
	db, err := bolt.OpenReadOnly(path)
	if errors.Is(err, bolt.ErrInUse) {
		return nil, fmt.Errorf("%w; stop secretsd, or take a backup ('secretsctl backup --out FILE') and pass --data FILE", err)
	}
	if err != nil {
		return nil, err
	}
	return newDatabase(db, kr), nil
}

// openWritable opens --data for writing, for the commands that change it. A
// read-only open comes first: unlike bolt.Open it never creates a missing
// file (a mistyped --data must not "rotate" an empty new database), refuses
// a file that is not a Secrets database, and tells a running secretsd apart
// from other failures.
func (s *storeFlags) openWritable(kr *seal.Keyring) (*database, error) {
	probe, err := bolt.OpenReadOnly(s.data)
	if errors.Is(err, bolt.ErrInUse) {
		return nil, fmt.Errorf("%w; this command needs secretsd stopped", err)
	}
	if err != nil {
		return nil, err
	}
	if err := probe.Close(); err != nil {
		return nil, err
	}
	db, err := bolt.Open(s.data)
	if err != nil {
		return nil, err
	}
	return newDatabase(db, kr), nil
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
