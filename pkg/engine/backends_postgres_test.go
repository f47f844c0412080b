package engine

import (
	"testing"

	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/connect-secrets/secrets/pkg/store"
)

// The engine's tests run on PostgreSQL too: $SECRETS_TEST_POSTGRES names the
// server (make test provides one); without it the tests fail, never skip.
func init() {
	backends["postgres"] = func(t *testing.T) store.Store { return pgtest.MustOpenTest(t) }
}
