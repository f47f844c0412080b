package backend

import (
	"context"
	"errors"
)

// openPostgres is replaced when pkg/postgres lands.
func openPostgres(ctx context.Context, url string) (*Opened, error) {
	return nil, errors.New("postgres: not built yet")
}
