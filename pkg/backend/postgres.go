package backend

import (
	"context"
	"fmt"

	"github.com/connect-secrets/secrets/pkg/postgres"
)

// openPostgres opens a PostgreSQL store; pool size and timeouts come from the
// URL's parameters (pool_max_conns, connect_timeout, statement_timeout) or
// pkg/postgres's defaults.
func openPostgres(ctx context.Context, url string) (*Opened, error) {
	st, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", Redact(url), err)
	}
	return &Opened{Store: st, Kind: "postgres"}, nil
}
