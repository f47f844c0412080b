//go:build !loadtest

package main

import (
	"context"
	"errors"

	"github.com/connect-secrets/secrets/pkg/engine"
)

// canSeedSecrets: without the loadtest tag the added tenants stay empty
// (engine.SeedLoadTest exists only with it); `make bench` builds with it.
const canSeedSecrets = false

func seedSecrets(context.Context, *engine.Engine, []string, int) error {
	return errors.New("secretswrk: seeding secrets needs -tags loadtest")
}
