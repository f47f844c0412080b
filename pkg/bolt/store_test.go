package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/store"
	"github.com/connect-secrets/secrets/pkg/store/storetest"
)

// TestConformance: bbolt passes the storage contract's suite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "secrets.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
