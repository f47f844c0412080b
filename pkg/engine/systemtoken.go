package engine

// The Forge app system token (forge.md §2, issue 13): a Forge invocation
// may carry x-forge-oauth-system, a token to call Atlassian as the app.
// Background work with no invocation in flight (personal-data reporting)
// needs one, so the last one seen is kept, sealed with the tenant key in
// the tenant bucket, until it expires. It is written only when the kept one
// is missing or about to expire, so busy sites do not cost a write per
// request.

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// SystemTokenRenewWindow is how close to its expiry a kept system token is
// replaced by the one of a newer invocation.
const SystemTokenRenewWindow = 10 * time.Minute

// keySystemToken is the tenant-bucket key of the sealed system token.
var keySystemToken = []byte("forge-system-token")

func systemTokenAD(tenant string) []byte { return seal.AD("forge-system-token", tenant) }

// SystemToken is a kept Forge app system token and where to use it.
type SystemToken struct {
	Token      string    `json:"t"`
	Expires    time.Time `json:"e"`
	APIBaseURL string    `json:"u"` // the verified FIT's app.apiBaseUrl
}

// KeepSystemToken keeps token for the tenant's background work unless the
// kept one is still good for more than SystemTokenRenewWindow; kept says
// whether it wrote. A token already expired, or an empty one, is ignored.
// The tenant must exist (its key seals the token).
func (e *Engine) KeepSystemToken(ctx context.Context, tenant, token string, exp time.Time, apiBaseURL string) (kept bool, err error) {
	now := e.Now()
	if token == "" || !exp.After(now) {
		return false, nil
	}
	// A read first: the common case is a token still good, and a read
	// transaction does not serialise with writers.
	fresh := func(tx store.Tx) (bool, *seal.TenantKey, error) {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return false, nil, err
		}
		old, err := readSystemToken(tx, k, tenant)
		if err != nil {
			return false, nil, err
		}
		return old != nil && old.Expires.After(now.Add(SystemTokenRenewWindow)), k, nil
	}
	var good bool
	if err := e.view(ctx, func(tx store.Tx) error {
		var err error
		good, _, err = fresh(tx)
		return err
	}); err != nil || good {
		return false, err
	}
	err = e.update(ctx, func(tx store.Tx) error {
		good, k, err := fresh(tx) // another request may have renewed it meanwhile
		if err != nil || good {
			return err
		}
		v, err := sealJSON(k, SystemToken{Token: token, Expires: exp, APIBaseURL: apiBaseURL}, systemTokenAD(tenant))
		if err != nil {
			return err
		}
		kept = true
		return tx.Put(tenant, store.Tenant, keySystemToken, v)
	})
	return kept && err == nil, err
}

// KeptSystemToken returns the tenant's kept system token if it has not
// expired; otherwise it is CodeNotFound.
func (e *Engine) KeptSystemToken(ctx context.Context, tenant string) (SystemToken, error) {
	var t *SystemToken
	err := e.view(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		t, err = readSystemToken(tx, k, tenant)
		return err
	})
	if err != nil {
		return SystemToken{}, err
	}
	if t == nil || !t.Expires.After(e.Now()) {
		return SystemToken{}, secrets.Errorf(secrets.CodeNotFound, "No app system token is kept for this site.")
	}
	return *t, nil
}

// DropSystemToken forgets the tenant's kept system token if it is still
// token: the report endpoint refused it (revoked early, or never a token of
// the platform's), so the next invocation's token is kept at once instead
// of after this one's expiry. A token kept meanwhile stays.
func (e *Engine) DropSystemToken(ctx context.Context, tenant, token string) error {
	return e.update(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		old, err := readSystemToken(tx, k, tenant)
		if err != nil || old == nil || subtle.ConstantTimeCompare([]byte(old.Token), []byte(token)) != 1 {
			return err
		}
		return tx.Delete(tenant, store.Tenant, keySystemToken)
	})
}

func readSystemToken(tx store.Tx, k *seal.TenantKey, tenant string) (*SystemToken, error) {
	v, err := tx.Get(tenant, store.Tenant, keySystemToken)
	if err != nil || v == nil {
		return nil, err
	}
	var t SystemToken
	if err := openJSON(k, tenant, v, systemTokenAD(tenant), &t); err != nil {
		return nil, err
	}
	return &t, nil
}
