package bolt_test

import (
	"fmt"
	"testing"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// BenchmarkListSecrets lists a container of 20 secrets: every record is
// opened (tenant key) on each call.
func BenchmarkListSecrets(b *testing.B) {
	e := MustOpen(b)
	e.install(b, "tenant-a", secrets.ProductJira)
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	for i := range 20 {
		e.create(b, a, fmt.Sprintf("secret %d", i), "body", "password-1")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if list, err := e.secrets.ListSecrets(ctx, a); err != nil || len(list) != 20 {
			b.Fatal(len(list), err)
		}
	}
}

// BenchmarkUnlockSecret unlocks with the production argon2id parameters
// (64 MiB, t=3, p=4): the cost of an unlock is the KDF.
func BenchmarkUnlockSecret(b *testing.B) {
	e := MustOpen(b)
	kdf, err := seal.NewKDF(256<<20, seal.DefaultKDFParams)
	if err != nil {
		b.Fatal(err)
	}
	e.secrets = bolt.NewSecretService(e.db, kdf, secrets.DefaultPolicy())
	e.install(b, "tenant-a", secrets.ProductJira)
	a := actorFor("tenant-a", "alice", "jira:issue:1")
	s := e.create(b, a, "t", "body", "password-1")
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.secrets.UnlockSecret(ctx, a, s.ID, "password-1"); err != nil {
			b.Fatal(err)
		}
	}
}
