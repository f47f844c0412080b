package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// Engine implements secrets.InstallationService, secrets.SecretService and
// secrets.AdminService on a store.
type Engine struct {
	st      store.Store
	keyring atomic.Pointer[seal.Keyring]
	kdf     *seal.KDF

	// Now is the clock; tests replace it before first use.
	Now func() time.Time
	// Policy is the policy of sites that have not set their own.
	Policy secrets.Policy
	// KDFWait bounds how long a request may queue for key derivation before
	// it is answered with CodeUnavailable.
	KDFWait time.Duration
	// JanitorShare is the share of wall time a sweep of expired secrets
	// may spend in its transactions; between tenants it rests for the
	// rest (DefaultJanitorShare; 1 for no rests).
	JanitorShare float64

	mu         sync.RWMutex
	tenantKeys map[string]cachedTenantKey // unwrapped tenant keys, by tenant

	// decoded keeps records opened on the read paths while their sealed
	// bytes stay the same (cache.go).
	decoded *decoded
}

var (
	_ secrets.InstallationService = (*Engine)(nil)
	_ secrets.SecretService       = (*Engine)(nil)
	_ secrets.AdminService        = (*Engine)(nil)
)

// cachedTenantKey is an unwrapped tenant key with the wrapped bytes it came
// from. An entry is used only while the stored bytes are the same, so a
// purged and re-installed tenant (a new key) is never served a stale one, on
// any replica, whatever the order of transactions.
type cachedTenantKey struct {
	wrapped []byte
	key     *seal.TenantKey
}

// New returns the engine over st. keyring wraps tenant keys; kdf derives
// password keys (it may be nil for operator tools that never touch a
// password).
func New(st store.Store, keyring *seal.Keyring, kdf *seal.KDF, policy secrets.Policy) *Engine {
	e := &Engine{
		st: st, kdf: kdf, Now: time.Now, Policy: policy, KDFWait: 30 * time.Second, JanitorShare: DefaultJanitorShare,
		tenantKeys: map[string]cachedTenantKey{},
		decoded:    newDecoded(DefaultDecodedCacheBytes),
	}
	e.keyring.Store(keyring)
	return e
}

// Store returns the store the engine runs on.
func (e *Engine) Store() store.Store { return e.st }

// update runs fn in a store transaction and maps storage failures to the
// domain's errors: a store that stayed busy is CodeUnavailable, anything else
// unexpected is CodeInternal (its cause logged, never sent).
func (e *Engine) update(ctx context.Context, fn func(store.Tx) error) error {
	return mapStoreErr(e.st.Update(ctx, fn))
}

func (e *Engine) view(ctx context.Context, fn func(store.Tx) error) error {
	return mapStoreErr(e.st.View(ctx, fn))
}

func mapStoreErr(err error) error {
	if err == nil {
		return nil // before errors.As's target, which escapes, is allocated
	}
	var se *secrets.Error
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, store.ErrBusy):
		return &secrets.Error{Code: secrets.CodeUnavailable, Message: "The server is busy. Try again in a moment.", RetryAfter: 2 * time.Second, Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &secrets.Error{Code: secrets.CodeUnavailable, Message: "The request was cancelled or took too long.", Err: err}
	}
	return secrets.Internal(err)
}

// tenantKey returns the unwrapped key of a tenant, from the cache while the
// stored wrapped key is the one the entry came from. Unwrapping is the only
// master-key operation on the request path.
func (e *Engine) tenantKey(tx store.Tx, tenant string) (*seal.TenantKey, error) {
	wrapped, err := tx.Get(tenant, store.Tenant, store.KeyTenantKey)
	if errors.Is(err, store.ErrNoTenant) {
		return nil, errNoInstallation()
	}
	if err != nil {
		return nil, err
	}
	if wrapped == nil {
		return nil, secrets.Internal(fmt.Errorf("engine: tenant %q has no key", tenant))
	}
	e.mu.RLock()
	c, ok := e.tenantKeys[tenant]
	e.mu.RUnlock()
	if ok && bytes.Equal(c.wrapped, wrapped) {
		return c.key, nil
	}
	raw, err := e.keyring.Load().Open(wrapped, tenantKeyAD(tenant))
	if err != nil {
		return nil, secrets.Internal(fmt.Errorf("engine: unwrap tenant key of %q: %w", tenant, err))
	}
	defer clear(raw)
	k, err := seal.NewTenantKey(raw)
	if err != nil {
		return nil, secrets.Internal(err)
	}
	e.mu.Lock()
	e.tenantKeys[tenant] = cachedTenantKey{wrapped: wrapped, key: k}
	e.mu.Unlock()
	return k, nil
}

func (e *Engine) forgetTenantKey(tenant string) {
	e.mu.Lock()
	delete(e.tenantKeys, tenant)
	e.mu.Unlock()
}

// sealJSON encodes v and seals it with k.
func sealJSON(k *seal.TenantKey, v any, ad []byte) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return k.Seal(plain, ad)
}

// openJSON opens a value sealed by sealJSON into v. A value that fails to
// open is an internal error: the store was damaged or tampered with, and the
// caller must not see wrong data.
func openJSON(k *seal.TenantKey, tenant string, sealed, ad []byte, v any) error {
	if sealed == nil {
		return secrets.Errorf(secrets.CodeNotFound, "Not found.")
	}
	plain, err := k.Open(sealed, ad)
	if err != nil {
		return secrets.Internal(fmt.Errorf("engine: open sealed record of tenant %q: %w", tenant, err))
	}
	defer clear(plain)
	if err := json.Unmarshal(plain, v); err != nil {
		return secrets.Internal(fmt.Errorf("engine: decode record of tenant %q: %w", tenant, err))
	}
	return nil
}

// Associated data for each kind of sealed value: its location, so a value
// copied to another key, bucket or tenant no longer opens. These strings are
// part of the stored format: files written before the engine split use them.
func tenantKeyAD(tenant string) []byte { return seal.AD("tenant-key", tenant) }
func metaAD(tenant string) []byte      { return seal.AD("meta", tenant) }
func settingsAD(tenant string) []byte  { return seal.AD("settings", tenant) }
func secretAD(tenant, id string) []byte {
	return seal.AD("secret", tenant, id)
}
func dekAD(tenant, id string) []byte { return seal.AD("dek", tenant, id) }
func bodyAD(tenant, id string, version int) []byte {
	return seal.AD("body", tenant, id, fmt.Sprint(version))
}
func auditAD(tenant string, seq uint64) []byte {
	return seal.AD("audit", tenant, fmt.Sprint(seq))
}
func attemptAD(tenant string, key []byte) []byte {
	return seal.AD("attempt", tenant, string(key))
}
func unlockAD(tenant string) []byte { return seal.AD("unlock", tenant) }

func errNoInstallation() error {
	return secrets.Errorf(secrets.CodeNotFound, "No such installation.")
}

func errInactive() error {
	return secrets.Errorf(secrets.CodeUnauthorized, "This app is not active on your site.")
}

func notFound() error { return secrets.Errorf(secrets.CodeNotFound, "No such secret here.") }

func unlockRequired() error {
	return secrets.Errorf(secrets.CodeUnlockRequired, "Unlock the secret again to do this.")
}

func conflict() error {
	return secrets.Errorf(secrets.CodeConflict, "Someone changed this secret since you opened it. Reload it and try again.")
}
