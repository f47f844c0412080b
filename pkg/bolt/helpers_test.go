package bolt_test

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// testClock is a settable clock for expiry and lockout tests.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time          { return c.now }
func (c *testClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// env is an open database with its services, as secretsd wires them.
type env struct {
	path     string
	keyring  *seal.Keyring
	db       *bolt.DB
	installs *bolt.InstallationService
	secrets  *bolt.SecretService
	kdf      *seal.KDF
	clock    *testClock
}

func MustKeyring(tb testing.TB) *seal.Keyring {
	tb.Helper()
	raw, err := seal.RandomKey()
	if err != nil {
		tb.Fatal(err)
	}
	kr, err := seal.ParseKeyring([]byte(base64.StdEncoding.EncodeToString(raw) + "\n"))
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

// MustKDF returns a KDF with the cheapest parameters the floor allows, so
// tests stay fast while exercising the real argon2id path.
func MustKDF(tb testing.TB) *seal.KDF {
	tb.Helper()
	k, err := seal.NewKDF(4*int64(seal.MinKDFParams.Memory)*1024, seal.MinKDFParams)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// MustOpen opens a fresh database in a temporary directory.
func MustOpen(tb testing.TB) *env {
	tb.Helper()
	e := &env{
		path:    filepath.Join(tb.TempDir(), "secrets.db"),
		keyring: MustKeyring(tb),
		kdf:     MustKDF(tb),
		clock:   &testClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
	}
	e.reopen(tb)
	return e
}

// reopen closes the database (if open) and opens it again with the same
// keyring, as a restart does.
func (e *env) reopen(tb testing.TB) {
	tb.Helper()
	if e.db != nil {
		if err := e.db.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	db, err := bolt.Open(e.path, e.keyring)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	db.Now = e.clock.Now
	e.db = db
	e.installs = bolt.NewInstallationService(db)
	e.secrets = bolt.NewSecretService(db, e.kdf, secrets.DefaultPolicy())
}

func (e *env) install(tb testing.TB, clientKey string, p secrets.Product) *secrets.Installation {
	tb.Helper()
	inst := &secrets.Installation{
		ClientKey: clientKey, Product: p, AppKey: "com.example." + string(p),
		SharedSecret: "shared-secret-" + clientKey + "-0123456789abcdef",
		BaseURL:      "https://" + clientKey + ".atlassian.net",
		DisplayURL:   "https://display-" + clientKey + ".example.com",
		State:        secrets.StateInstalled,
		InstalledAt:  e.clock.Now(), UpdatedAt: e.clock.Now(),
	}
	if err := e.installs.SaveInstallation(context.Background(), inst); err != nil {
		tb.Fatal(err)
	}
	return inst
}

func wantCode(tb testing.TB, err error, want secrets.Code) {
	tb.Helper()
	if got := secrets.ErrorCode(err); got != want {
		tb.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}
