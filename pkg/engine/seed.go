package engine

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/store"
)

// seedSecrets writes n secrets into an installed tenant's store, 20 to a
// Jira issue (jira:issue:1, :2, …), as CreateSecret writes them but all
// under one password key (kek, derived with params): benchmarks and load
// scripts need a million records in a minute, not a million derivations.
// The last expiring of them expire at expireAt. Nothing in the server calls
// it; BenchmarkListAtScale does, and secretswrk through SeedLoadTest, which
// exists only in builds with the loadtest tag (seed_loadtest.go).
func (e *Engine) seedSecrets(ctx context.Context, tenant string, n, expiring int, expireAt time.Time, kek *seal.Key, params seal.KDFParams) error {
	now := time.Now()
	return e.st.Update(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		for j := range n {
			id, err := newSecretID()
			if err != nil {
				return err
			}
			dek, err := seal.RandomKey()
			if err != nil {
				return err
			}
			wrapped, err := kek.Seal(dek, dekAD(tenant, id))
			if err != nil {
				return err
			}
			body, err := sealBody(dek, "content", tenant, id, 1)
			if err != nil {
				return err
			}
			who := fmt.Sprintf("557058:seeded-%012d", j%7)
			rec := &secretRecord{
				ID: id, Container: "jira:issue:" + strconv.Itoa(j/20+1), Title: fmt.Sprintf("Production database %d", j),
				Version: 1, CreatedAt: now, CreatedBy: who, UpdatedAt: now, UpdatedBy: who,
				KDF: params, WrappedDEK: wrapped, Padded: true,
			}
			if j >= n-expiring {
				rec.ExpiresAt = expireAt.UTC()
			}
			if err := putSecret(tx, k, tenant, rec, nil); err != nil {
				return err
			}
			if err := tx.Put(tenant, store.Bodies, []byte(id), body); err != nil {
				return err
			}
		}
		return nil
	})
}
