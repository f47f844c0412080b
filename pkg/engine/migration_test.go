package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// engineDestination is another engine as a move's destination; failNext
// makes its next import fail after writing, as a lost answer would.
type engineDestination struct {
	t        *testing.T
	e        *Engine
	from     seal.TransferKey
	failNext bool
	imports  int
}

func (d *engineDestination) TransferKey() seal.TransferKey { return transferKey(d.t, d.e) }

func (d *engineDestination) Import(ctx context.Context, x *TenantExport) (*ImportReceipt, error) {
	d.imports++
	_, r, err := d.e.ImportTenant(ctx, x, d.from)
	if d.failNext {
		d.failNext = false
		return nil, errors.New("connection reset")
	}
	return r, err
}

func (d *engineDestination) Discard(ctx context.Context, tenant string, digest []byte) error {
	return d.e.DiscardImport(ctx, &TenantExport{Tenant: tenant, Digest: digest})
}

// TestMoveHooks: a failed start can be started again (the destination's
// leftover is discarded first), a repeated start does nothing, and only a
// ready move commits.
func TestMoveHooks(t *testing.T) {
	src := replica(t, newBolt(t), randomKeyring(t))
	dstEngine := replica(t, newBolt(t), randomKeyring(t))
	dst := &engineDestination{t: t, e: dstEngine, from: transferKey(t, src), failNext: true}
	installed(t, src, "site-a", secrets.ProductJira)
	id := create(t, src, alice("jira:issue:1"), "body", "password-1")

	wantCode(t, src.StartMove(ctx, "site-a", "m-1", dst), secrets.CodeNotFound) // not scheduled
	if err := src.ScheduleMove(ctx, "site-a", "m-1", "EU"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, src.CommitScheduledMove(ctx, "site-a", "m-1"), secrets.CodeConflict)
	if err := src.StartMove(ctx, "site-a", "m-1", dst); err == nil {
		t.Fatal("the failing import succeeded")
	}
	if m, _ := src.MoveState(ctx, "site-a", "m-1"); m.Status != MoveFailed {
		t.Fatalf("after a failed import: %+v", m)
	}
	if err := src.StartMove(ctx, "site-a", "m-1", dst); err != nil {
		t.Fatal(err)
	}
	if err := src.StartMove(ctx, "site-a", "m-1", dst); err != nil || dst.imports != 2 {
		t.Fatalf("repeated start: %v, %d imports", err, dst.imports)
	}
	if _, err := src.MoveState(ctx, "site-a", "m-other"); secrets.ErrorCode(err) != secrets.CodeNotFound {
		t.Errorf("another migration id: %v", err)
	}
	if err := src.CommitScheduledMove(ctx, "site-a", "m-1"); err != nil {
		t.Fatal(err)
	}
	if u, err := dstEngine.UnlockSecret(ctx, alice("jira:issue:1"), id, "password-1"); err != nil || u.Content != "body" {
		t.Fatalf("at the destination: %v", err)
	}
	if _, err := src.FindInstallation(ctx, "site-a"); secrets.ErrorCode(err) != secrets.CodeNotFound {
		t.Errorf("source after commit: %v", err)
	}
}
