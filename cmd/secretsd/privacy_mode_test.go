package main

import (
	"context"
	"testing"

	"github.com/connect-secrets/secrets/pkg/engine"
)

type namedReporter struct{ got *[]string }

func (n namedReporter) ReportAccounts(_ context.Context, tenant string, _ []engine.ReportedAccount) (engine.ReportResult, error) {
	*n.got = append(*n.got, tenant)
	return engine.ReportResult{}, nil
}

// TestReporterByMode: Forge tenants go to the Forge reporter, every other
// tenant (a Connect clientKey) to the Connect one.
func TestReporterByMode(t *testing.T) {
	var viaConnect, viaForge []string
	r := reporterByMode{connect: namedReporter{&viaConnect}, forge: namedReporter{&viaForge}}
	for _, tenant := range []string{"forge:app:env:inst", "9b1c-connect-client-key", "forgery"} {
		if _, err := r.ReportAccounts(context.Background(), tenant, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(viaForge) != 1 || viaForge[0] != "forge:app:env:inst" || len(viaConnect) != 2 {
		t.Fatalf("forge %v, connect %v", viaForge, viaConnect)
	}
}
