//go:build loadtest

package engine

import (
	"context"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

// SeedLoadTest writes perTenant secrets into each of the installed tenants,
// all under one key derived once from password, as seedSecrets describes;
// expiring of each tenant's (its last) expire at expireAt. It exists only in
// builds with the loadtest tag: the load script (cmd/secretswrk, `make
// bench`) uses it to fill a store with a million secrets, and no server
// binary has it.
func (e *Engine) SeedLoadTest(ctx context.Context, tenants []string, perTenant, expiring int, expireAt time.Time, password string) error {
	if len(tenants) == 0 {
		return nil
	}
	params, err := e.kdf.NewParams()
	if err != nil {
		return err
	}
	kek, err := e.deriveKey(ctx, secrets.Actor{ClientKey: tenants[0], AccountID: "seeder"}, password, params)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := e.seedSecrets(ctx, t, perTenant, expiring, expireAt, kek, params); err != nil {
			return err
		}
	}
	return nil
}
