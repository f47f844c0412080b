package engine

import (
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// policyIn returns the tenant's policy: its stored settings over the
// engine's default (so a field added later gets its default).
func (e *Engine) policyIn(tx store.Tx, k *seal.TenantKey, tenant string) (secrets.Policy, error) {
	p := e.Policy
	v, err := tx.Get(tenant, store.Tenant, store.KeySettings)
	if err != nil || v == nil {
		return p, err
	}
	err = openJSON(k, tenant, v, settingsAD(tenant), &p)
	return p, err
}
