package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// InstallationService is the tenant registry, implementing
// secrets.InstallationService.
type InstallationService struct {
	db *DB
}

var _ secrets.InstallationService = (*InstallationService)(nil)

// NewInstallationService returns the tenant registry of db.
func NewInstallationService(db *DB) *InstallationService { return &InstallationService{db: db} }

// FindInstallation returns the installation with this client key.
func (s *InstallationService) FindInstallation(ctx context.Context, clientKey string) (*secrets.Installation, error) {
	var inst *secrets.Installation
	err := s.db.view(func(tx *bbolt.Tx) error {
		var err error
		inst, err = s.db.installation(tx, clientKey)
		return err
	})
	return inst, err
}

// SaveInstallation creates the installation with a fresh tenant key, or
// replaces its record; the tenant key and data of an existing installation
// are kept, so a re-install restores access.
func (s *InstallationService) SaveInstallation(ctx context.Context, inst *secrets.Installation) error {
	if inst.ClientKey == "" || !inst.Product.Valid() {
		return secrets.Errorf(secrets.CodeInvalid, "An installation needs a client key and a product.")
	}
	return s.db.update(func(tx *bbolt.Tx) error {
		b, err := s.db.createTenant(tx, inst.ClientKey)
		if err != nil {
			return err
		}
		return s.db.putInstallation(tx, b, inst)
	})
}

// SetInstallationState records a lifecycle event.
func (s *InstallationService) SetInstallationState(ctx context.Context, clientKey string, state secrets.State, at time.Time) error {
	return s.db.update(func(tx *bbolt.Tx) error {
		inst, err := s.db.installation(tx, clientKey)
		if err != nil {
			return err
		}
		inst.State = state
		inst.UpdatedAt = at
		if state == secrets.StateUninstalled {
			inst.UninstalledAt = at
		} else {
			inst.UninstalledAt = time.Time{}
		}
		b, err := tenantBucket(tx, clientKey)
		if err != nil {
			return err
		}
		return s.db.putInstallation(tx, b, inst)
	})
}

// ListInstallations returns every installation in client key order.
func (s *InstallationService) ListInstallations(ctx context.Context) ([]*secrets.Installation, error) {
	var out []*secrets.Installation
	err := s.db.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTenants).ForEachBucket(func(k []byte) error {
			inst, err := s.db.installation(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, inst)
			return nil
		})
	})
	return out, err
}

// DeleteInstallation removes a tenant and everything it owns, in one
// DeleteBucket.
func (s *InstallationService) DeleteInstallation(ctx context.Context, clientKey string) error {
	err := s.db.update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketTenants).DeleteBucket([]byte(clientKey)); err != nil {
			if err == bbolt.ErrBucketNotFound {
				return secrets.Errorf(secrets.CodeNotFound, "No such installation.")
			}
			return err
		}
		return nil
	})
	if err == nil {
		s.db.forgetTenantKey(clientKey)
	}
	return err
}

// createTenant returns the tenant's bucket, creating it, its sub-buckets and
// a fresh wrapped tenant key on first install.
func (db *DB) createTenant(tx *bbolt.Tx, clientKey string) (*bbolt.Bucket, error) {
	if len(clientKey) > bbolt.MaxKeySize || bytes.IndexByte([]byte(clientKey), 0) >= 0 {
		return nil, secrets.Errorf(secrets.CodeInvalid, "The client key is malformed.")
	}
	b, err := tx.Bucket(bucketTenants).CreateBucketIfNotExists([]byte(clientKey))
	if err != nil {
		return nil, err
	}
	for _, name := range tenantSubBuckets {
		if _, err := b.CreateBucketIfNotExists(name); err != nil {
			return nil, err
		}
	}
	if b.Get(keyTenant) == nil {
		raw, err := seal.RandomKey()
		if err != nil {
			return nil, err
		}
		defer clear(raw)
		wrapped, err := db.keyring.Load().Seal(raw, tenantKeyAD(clientKey))
		if err != nil {
			return nil, err
		}
		if err := b.Put(keyTenant, wrapped); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (db *DB) installation(tx *bbolt.Tx, clientKey string) (*secrets.Installation, error) {
	b, err := tenantBucket(tx, clientKey)
	if err != nil {
		return nil, err
	}
	var inst secrets.Installation
	if err := db.openJSON(tx, clientKey, b.Get(keyMeta), metaAD(clientKey), &inst); err != nil {
		return nil, err
	}
	return &inst, nil
}

func (db *DB) putInstallation(tx *bbolt.Tx, b *bbolt.Bucket, inst *secrets.Installation) error {
	v, err := db.sealJSON(tx, inst.ClientKey, inst, metaAD(inst.ClientKey))
	if err != nil {
		return err
	}
	return b.Put(keyMeta, v)
}

// sealJSON encodes v and seals it with the tenant's key.
func (db *DB) sealJSON(tx *bbolt.Tx, clientKey string, v any, ad []byte) ([]byte, error) {
	k, err := db.tenantKey(tx, clientKey)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return k.Seal(plain, ad)
}

// openJSON opens a value sealed by sealJSON into v. A value that fails to
// open is an internal error: the file was damaged or tampered with, and the
// caller must not see wrong data.
func (db *DB) openJSON(tx *bbolt.Tx, clientKey string, sealed, ad []byte, v any) error {
	if sealed == nil {
		return secrets.Errorf(secrets.CodeNotFound, "Not found.")
	}
	k, err := db.tenantKey(tx, clientKey)
	if err != nil {
		return err
	}
	plain, err := k.Open(sealed, ad)
	if err != nil {
		return secrets.Internal(fmt.Errorf("bolt: open sealed record of tenant %q: %w", clientKey, err))
	}
	defer clear(plain)
	if err := json.Unmarshal(plain, v); err != nil {
		return secrets.Internal(fmt.Errorf("bolt: decode record: %w", err))
	}
	return nil
}
