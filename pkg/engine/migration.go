package engine

// Data residency migrations driven by Atlassian (Connect's dare-migration
// hooks, Forge's migration:dataResidency module): schedule, start, status,
// commit, rollback, at the source deployment, on the very transfer code
// secretsctl uses (transfer.go). The state of a tenant's move lives in the
// store (the Tenant bucket's "move" record, sealed with the tenant key), so
// any replica answers the hooks; it never travels with the tenant.

import (
	"context"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// keyMove is the Tenant bucket's key of the tenant's move state.
var keyMove = []byte("move")

func moveAD(tenant string) []byte { return seal.AD("move", tenant) }

// MoveStatus is where a tenant's move is.
type MoveStatus string

// Move statuses. Only MoveReady may be committed.
const (
	MoveScheduled MoveStatus = "scheduled"   // schedule received
	MoveStarted   MoveStatus = "in-progress" // exporting and importing
	MoveReady     MoveStatus = "ready-to-commit"
	MoveFailed    MoveStatus = "failed"
)

// Move is a tenant's move as the source records it.
type Move struct {
	MigrationID string     `json:"migrationId"`
	Region      string     `json:"region"`
	Status      MoveStatus `json:"status"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	// Reason says why a move failed, in words for the operator's log; it
	// never holds data of the tenant.
	Reason string `json:"reason,omitempty"`
	// Digest, Sum and Receipt are those of the export the destination
	// confirmed: what CommitMove and a rollback need.
	Digest  []byte         `json:"digest,omitempty"`
	Sum     []byte         `json:"sum,omitempty"`
	Receipt *ImportReceipt `json:"receipt,omitempty"`
}

// Destination is the deployment a tenant moves to, as the source reaches
// it: its transfer key and its import and discard endpoints.
type Destination interface {
	TransferKey() seal.TransferKey
	Import(ctx context.Context, x *TenantExport) (*ImportReceipt, error)
	Discard(ctx context.Context, tenant string, digest []byte) error
}

func errNoMove() error {
	return secrets.Errorf(secrets.CodeNotFound, "No migration of this site is scheduled.")
}

// ScheduleMove records that tenant's data is to move to region under
// migrationID. Scheduling again (the service retries) replaces a move
// that has not started.
func (e *Engine) ScheduleMove(ctx context.Context, tenant, migrationID, region string) error {
	return e.update(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		var m Move
		if err := e.readMove(tx, k, tenant, &m); err == nil && m.MigrationID == migrationID && m.Status != MoveScheduled {
			return nil // a retry of this schedule, after it started
		}
		m = Move{MigrationID: migrationID, Region: region, Status: MoveScheduled, UpdatedAt: e.Now()}
		return e.writeMove(tx, k, tenant, &m)
	})
}

// StartMove exports tenant to dst and has dst import it; the move is then
// MoveReady with dst's receipt, or MoveFailed. It runs as long as the
// export and the import take: callers run it in the background and answer
// the status hook from the store.
//
// A start repeated while the move runs, or once it is ready, does nothing
// (the service retries hooks); a start after a failure first has dst
// discard what the failed attempt may have left there.
func (e *Engine) StartMove(ctx context.Context, tenant, migrationID string, dst Destination) error {
	var running bool
	var leftover []byte
	if err := e.setMove(ctx, tenant, migrationID, func(m *Move) error {
		running = m.Status == MoveStarted || m.Status == MoveReady
		if !running {
			leftover = m.Digest
			m.Status, m.Reason, m.Digest, m.Sum, m.Receipt = MoveStarted, "", nil, nil, nil
		}
		return nil
	}); err != nil || running {
		return err
	}
	fail := func(reason string, cause error) error {
		_ = e.setMove(context.WithoutCancel(ctx), tenant, migrationID, func(m *Move) error {
			m.Status, m.Reason = MoveFailed, reason
			return nil
		})
		return cause
	}
	if leftover != nil {
		if err := dst.Discard(ctx, tenant, leftover); err != nil && secrets.ErrorCode(err) != secrets.CodeNotFound {
			return fail("the destination could not discard the copy of an earlier attempt", err)
		}
	}
	x, err := e.ExportTenant(ctx, tenant, dst.TransferKey())
	if err != nil {
		return fail("export failed", err)
	}
	// Recorded before the import is asked for, so a rollback can have the
	// destination discard a copy whose receipt never arrived.
	if err := e.setMove(ctx, tenant, migrationID, func(m *Move) error {
		m.Digest, m.Sum = x.Digest, x.digest()
		return nil
	}); err != nil {
		return err
	}
	receipt, err := dst.Import(ctx, x)
	if err != nil {
		return fail("the destination refused or failed the import: "+secrets.ErrorMessage(err), err)
	}
	return e.setMove(ctx, tenant, migrationID, func(m *Move) error {
		m.Status, m.Receipt = MoveReady, receipt
		return nil
	})
}

// MoveState returns tenant's move of migrationID.
func (e *Engine) MoveState(ctx context.Context, tenant, migrationID string) (*Move, error) {
	var m Move
	err := e.view(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		if err := e.readMove(tx, k, tenant, &m); err != nil {
			return err
		}
		if migrationID != "" && m.MigrationID != migrationID {
			return errNoMove()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// CommitScheduledMove deletes the source's copy of a move that is ready:
// CommitMove with the receipt the destination gave.
func (e *Engine) CommitScheduledMove(ctx context.Context, tenant, migrationID string) error {
	m, err := e.MoveState(ctx, tenant, migrationID)
	if err != nil {
		return err
	}
	if m.Status != MoveReady || m.Receipt == nil {
		return secrets.Errorf(secrets.CodeConflict, "The migration is %s, not ready to commit.", m.Status)
	}
	return e.deleteMoved(ctx, tenant, m.Digest, m.Receipt, m.Sum)
}

// RollbackMove gives a move up: the destination discards its copy (when
// there is one) and the source, untouched, forgets the move.
func (e *Engine) RollbackMove(ctx context.Context, tenant, migrationID string, dst Destination) error {
	m, err := e.MoveState(ctx, tenant, migrationID)
	if err != nil {
		return err
	}
	if m.Digest != nil && dst != nil {
		if err := dst.Discard(ctx, tenant, m.Digest); err != nil && secrets.ErrorCode(err) != secrets.CodeNotFound {
			return err
		}
	}
	return e.update(ctx, func(tx store.Tx) error { return tx.Delete(tenant, store.Tenant, keyMove) })
}

func (e *Engine) setMove(ctx context.Context, tenant, migrationID string, f func(*Move) error) error {
	return e.update(ctx, func(tx store.Tx) error {
		k, err := e.tenantKey(tx, tenant)
		if err != nil {
			return err
		}
		var m Move
		if err := e.readMove(tx, k, tenant, &m); err != nil {
			return err
		}
		if m.MigrationID != migrationID {
			return errNoMove()
		}
		if err := f(&m); err != nil {
			return err
		}
		m.UpdatedAt = e.Now()
		return e.writeMove(tx, k, tenant, &m)
	})
}

func (e *Engine) readMove(tx store.Tx, k *seal.TenantKey, tenant string, m *Move) error {
	v, err := tx.Get(tenant, store.Tenant, keyMove)
	if err != nil {
		return err
	}
	if v == nil {
		return errNoMove()
	}
	return openJSON(k, tenant, v, moveAD(tenant), m)
}

func (e *Engine) writeMove(tx store.Tx, k *seal.TenantKey, tenant string, m *Move) error {
	v, err := sealJSON(k, m, moveAD(tenant))
	if err != nil {
		return err
	}
	return tx.Put(tenant, store.Tenant, keyMove, v)
}
