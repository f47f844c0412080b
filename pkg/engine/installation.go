package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// installTokenPrefix prefixes the App-bucket keys that remember signed
// install tokens until they expire: SHA-256(token) → 8-byte expiry (Unix
// seconds) ‖ SHA-256(body). A replayed token is accepted only with the very
// body it first came with.
const installTokenPrefix = "install-token/"

// FindInstallation returns the installation with this client key.
func (e *Engine) FindInstallation(ctx context.Context, clientKey string) (*secrets.Installation, error) {
	var inst *secrets.Installation
	err := e.view(ctx, func(tx store.Tx) error {
		var err error
		inst, err = e.installation(tx, clientKey)
		return err
	})
	return inst, err
}

// SaveInstallation creates the installation with a fresh tenant key, or
// replaces its record; the tenant key and data of an existing installation
// are kept. It applies no ordering rule: signed Connect callbacks go through
// Install, and Forge installations (whose identity the platform asserts on
// every call) through here.
func (e *Engine) SaveInstallation(ctx context.Context, inst *secrets.Installation) error {
	if err := checkInstallation(inst); err != nil {
		return err
	}
	return e.update(ctx, func(tx store.Tx) error {
		k, err := e.createTenant(tx, inst.ClientKey)
		if err != nil {
			return err
		}
		return putInstallation(tx, k, inst)
	})
}

func checkInstallation(inst *secrets.Installation) error {
	if inst.ClientKey == "" || !inst.Product.Valid() || store.CheckTenant(inst.ClientKey) != nil {
		return secrets.Errorf(secrets.CodeInvalid, "An installation needs a well-formed client key and a product.")
	}
	return nil
}

// Install applies a verified signed install; see secrets.InstallationService.
func (e *Engine) Install(ctx context.Context, inst *secrets.Installation, ev secrets.SignedEvent) (*secrets.Installation, error) {
	if err := checkInstallation(inst); err != nil {
		return nil, err
	}
	var prev *secrets.Installation
	err := e.update(ctx, func(tx store.Tx) error {
		prev = nil
		seenKey := append([]byte(installTokenPrefix), ev.TokenID[:]...)
		seen, err := tx.Get("", store.App, seenKey)
		if err != nil {
			return err
		}
		if seen != nil && (len(seen) != 40 || !bytes.Equal(seen[8:], ev.BodyHash[:])) {
			return secrets.Errorf(secrets.CodeUnauthorized, "This install token was already used with another payload.")
		}
		exists, err := tx.TenantExists(inst.ClientKey)
		if err != nil {
			return err
		}
		if exists {
			if prev, err = e.installation(tx, inst.ClientKey); err != nil {
				return err
			}
			if prev.Product != inst.Product {
				return secrets.Errorf(secrets.CodeForbidden, "This client key belongs to another product.")
			}
			if seen != nil {
				return nil // the same request again: already applied
			}
			if !ev.IssuedAt.After(prev.SignedAt) {
				return secrets.Errorf(secrets.CodeUnauthorized, "This install is not newer than the one on record.")
			}
			inst.InstalledAt = prev.InstalledAt
			inst.CloudID = firstNonEmpty(inst.CloudID, prev.CloudID)
			inst.TokensValidFrom = prev.TokensValidFrom
			if prev.State == secrets.StateUninstalled {
				// Tokens from before the uninstall stay dead.
				inst.TokensValidFrom = maxTime(prev.TokensValidFrom, prev.UninstalledAt)
			}
		}
		inst.SignedAt = ev.IssuedAt
		inst.UninstalledAt = time.Time{}
		if inst.TokensValidFrom.IsZero() {
			inst.TokensValidFrom = inst.InstalledAt
		}
		k, err := e.createTenant(tx, inst.ClientKey)
		if err != nil {
			return err
		}
		if err := putInstallation(tx, k, inst); err != nil {
			return err
		}
		v := binary.BigEndian.AppendUint64(nil, uint64(ev.ExpiresAt.Unix()))
		return tx.Put("", store.App, seenKey, append(v, ev.BodyHash[:]...))
	})
	if err != nil {
		return nil, err
	}
	return prev, nil
}

// Uninstall applies a verified signed uninstall; see secrets.InstallationService.
func (e *Engine) Uninstall(ctx context.Context, clientKey string, p secrets.Product, ev secrets.SignedEvent) error {
	return e.update(ctx, func(tx store.Tx) error {
		inst, err := e.installation(tx, clientKey)
		if err != nil {
			return err
		}
		if inst.Product != p {
			return secrets.Errorf(secrets.CodeForbidden, "This client key belongs to another product.")
		}
		if ev.IssuedAt.Before(inst.SignedAt) {
			return secrets.Errorf(secrets.CodeUnauthorized, "This uninstall is older than the install on record.")
		}
		if inst.State == secrets.StateUninstalled {
			return nil
		}
		return e.setState(tx, inst, secrets.StateUninstalled, e.Now())
	})
}

// SetInstallationState records a lifecycle event inside one transaction, so
// a disabled that races an uninstalled can never undo it.
func (e *Engine) SetInstallationState(ctx context.Context, clientKey string, state secrets.State, at time.Time) error {
	return e.update(ctx, func(tx store.Tx) error {
		inst, err := e.installation(tx, clientKey)
		if err != nil {
			return err
		}
		if inst.State == secrets.StateUninstalled {
			// Only a signed install brings an uninstalled tenant back; a
			// second uninstall keeps the first one's time.
			return nil
		}
		return e.setState(tx, inst, state, at)
	})
}

func (e *Engine) setState(tx store.Tx, inst *secrets.Installation, state secrets.State, at time.Time) error {
	inst.State = state
	inst.UpdatedAt = at
	if state == secrets.StateUninstalled {
		inst.UninstalledAt = at
		inst.TokensValidFrom = maxTime(inst.TokensValidFrom, at)
	}
	k, err := e.tenantKey(tx, inst.ClientKey)
	if err != nil {
		return err
	}
	return putInstallation(tx, k, inst)
}

// ListInstallations returns every installation in client key order.
func (e *Engine) ListInstallations(ctx context.Context) ([]*secrets.Installation, error) {
	var out []*secrets.Installation
	err := e.view(ctx, func(tx store.Tx) error {
		out = out[:0]
		return tx.Tenants(func(tenant string) error {
			inst, err := e.installation(tx, tenant)
			if err != nil {
				return err
			}
			out = append(out, inst)
			return nil
		})
	})
	return out, err
}

// DeleteInstallation removes a tenant and everything it owns, its key
// included, so every token and capability of it is dead.
func (e *Engine) DeleteInstallation(ctx context.Context, clientKey string) error {
	err := e.update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteTenant(clientKey); errors.Is(err, store.ErrNoTenant) {
			return errNoInstallation()
		} else if err != nil {
			return err
		}
		return deleteExpiryEntries(tx, clientKey)
	})
	if err == nil {
		e.forgetTenantKey(clientKey)
	}
	return err
}

// createTenant creates the tenant with a fresh wrapped key on first
// install and returns its key.
func (e *Engine) createTenant(tx store.Tx, tenant string) (*seal.TenantKey, error) {
	created, err := tx.CreateTenant(tenant)
	if err != nil {
		return nil, err
	}
	if created {
		raw, err := seal.RandomKey()
		if err != nil {
			return nil, err
		}
		defer clear(raw)
		wrapped, err := e.keyring.Load().Seal(raw, tenantKeyAD(tenant))
		if err != nil {
			return nil, err
		}
		if err := tx.Put(tenant, store.Tenant, store.KeyTenantKey, wrapped); err != nil {
			return nil, err
		}
	}
	return e.tenantKey(tx, tenant)
}

func (e *Engine) installation(tx store.Tx, tenant string) (*secrets.Installation, error) {
	shared, _, err := e.sharedInstallation(tx, tenant)
	if err != nil {
		return nil, err
	}
	inst := *shared // a copy: callers may change theirs
	return &inst, nil
}

// sharedInstallation is the tenant's installation record, from the decoded
// cache while its bytes are unchanged, and its tenant key. The record may
// be shared with other requests: it must not be modified.
func (e *Engine) sharedInstallation(tx store.Tx, tenant string) (*secrets.Installation, *seal.TenantKey, error) {
	if store.CheckTenant(tenant) != nil {
		return nil, nil, errNoInstallation()
	}
	k, err := e.tenantKey(tx, tenant)
	if err != nil {
		return nil, nil, err
	}
	v, err := tx.Get(tenant, store.Tenant, store.KeyMeta)
	if err != nil {
		return nil, nil, err
	}
	kd := decodedKey{kind: kindInstallation, tenant: tenant}
	if cached, ok := e.decoded.get(kd, k, v); ok {
		return cached.(*secrets.Installation), k, nil
	}
	inst := &secrets.Installation{}
	if err := openJSON(k, tenant, v, metaAD(tenant), inst); err != nil {
		return nil, nil, err
	}
	e.decoded.put(kd, k, v, inst)
	return inst, k, nil
}

func putInstallation(tx store.Tx, k *seal.TenantKey, inst *secrets.Installation) error {
	v, err := sealJSON(k, inst, metaAD(inst.ClientKey))
	if err != nil {
		return err
	}
	return tx.Put(inst.ClientKey, store.Tenant, store.KeyMeta, v)
}

// activeTenant returns the installation and key of a tenant whose
// installation is active for the actor's session. A disabled or
// uninstalled tenant, or a session begun before the tenant's tokens were
// revoked, is unauthorized: such sessions stop working at once. The
// installation is shared (sharedInstallation): read it, never change it.
func (e *Engine) activeTenant(tx store.Tx, a secrets.Actor) (*secrets.Installation, *seal.TenantKey, error) {
	inst, k, err := e.sharedInstallation(tx, a.ClientKey)
	if err != nil || !inst.State.Active() {
		return nil, nil, errInactive()
	}
	if !a.Since.IsZero() && a.Since.Before(inst.TokensValidFrom.Truncate(time.Second)) {
		return nil, nil, errInactive()
	}
	return inst, k, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
