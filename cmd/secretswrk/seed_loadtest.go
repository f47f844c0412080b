//go:build loadtest

package main

import (
	"context"
	"time"

	"github.com/connect-secrets/secrets/pkg/engine"
)

// canSeedSecrets: this build can fill the added tenants with secrets.
const canSeedSecrets = true

// seedSecrets writes perTenant secrets into each tenant through
// engine.SeedLoadTest (one password derivation for all of them), none
// expiring during the run.
func seedSecrets(ctx context.Context, e *engine.Engine, tenants []string, perTenant int) error {
	return e.SeedLoadTest(ctx, tenants, perTenant, 0, time.Time{}, "load-test-password")
}
