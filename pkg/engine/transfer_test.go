package engine

import (
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

func randomKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	raw, err := seal.RandomKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring([]byte(base64.StdEncoding.EncodeToString(raw) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func transferKey(t *testing.T, e *Engine) seal.TransferKey {
	t.Helper()
	k, err := e.TransferKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestMoveTenant: a tenant moves from a bbolt store to a PostgreSQL one
// with another master keyring; every secret unlocks there, the copy
// verifies, the source serves until the commit and is gone after it.
func TestMoveTenant(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := replica(t, db, randomKeyring(t))
	dst := replica(t, pgtest.MustOpenTest(t), randomKeyring(t))

	installed(t, src, "site-a", secrets.ProductJira)
	installed(t, src, "site-b", secrets.ProductJira) // stays behind
	who := alice("jira:issue:1")
	ids := map[string]string{}
	for _, body := range []string{"one", "two", "three"} {
		ids[body] = create(t, src, who, body, "password-"+body)
	}
	expiring, err := src.CreateSecret(ctx, who, secrets.NewSecret{Title: "tmp", Content: "soon", Password: "password-soon", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ids["soon"] = expiring.ID
	if _, err := src.UnlockSecret(ctx, who, ids["one"], "wrong password"); secrets.ErrorCode(err) != secrets.CodeWrongPassword {
		t.Fatal(err)
	}

	x, err := src.ExportTenant(ctx, "site-a", transferKey(t, dst))
	if err != nil {
		t.Fatal(err)
	}
	b, err := MarshalExport(x)
	if err != nil {
		t.Fatal(err)
	}
	x, err = ParseExport(b)
	if err != nil {
		t.Fatal(err)
	}
	report, receipt, err := dst.ImportTenant(ctx, x, transferKey(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Problems) > 0 || receipt == nil || report.Records == 0 {
		t.Fatalf("verify after import: %+v", report)
	}
	// The audit log goes on numbering where the source stopped.
	var srcSeq, dstSeq uint64
	_ = src.st.View(ctx, func(tx store.Tx) error { srcSeq, _ = tx.Sequence("site-a", store.Audit); return nil })
	_ = dst.st.View(ctx, func(tx store.Tx) error { dstSeq, _ = tx.Sequence("site-a", store.Audit); return nil })
	if srcSeq == 0 || dstSeq != srcSeq {
		t.Errorf("audit sequence: source %d, destination %d", srcSeq, dstSeq)
	}
	for body, id := range ids {
		u, err := dst.UnlockSecret(ctx, who, id, "password-"+body)
		if err != nil || u.Content != body {
			t.Fatalf("unlock %s at the destination: %v", body, err)
		}
	}
	if list, err := dst.ListSecrets(ctx, who, secrets.ListQuery{}); err != nil || len(list.Secrets) != len(ids) {
		t.Fatalf("list at the destination: %v %+v", err, list)
	}
	if _, err := dst.FindInstallation(ctx, "site-b"); secrets.ErrorCode(err) != secrets.CodeNotFound {
		t.Errorf("another tenant came along: %v", err)
	}

	// Until the commit the source is untouched and serves.
	if u, err := src.UnlockSecret(ctx, who, ids["two"], "password-two"); err != nil || u.Content != "two" {
		t.Fatalf("source before the commit: %v", err)
	}
	if r, err := src.Verify(ctx); err != nil || len(r.Problems) > 0 || r.Tenants != 2 {
		t.Fatalf("source verify: %v %+v", err, r)
	}
	wantCode(t, src.CommitMove(ctx, x, &ImportReceipt{Tenant: "site-a", Sealed: []byte("forged")}), secrets.CodeInvalid)
	if err := src.CommitMove(ctx, x, receipt); err != nil {
		t.Fatal(err)
	}
	if _, err := src.FindInstallation(ctx, "site-a"); secrets.ErrorCode(err) != secrets.CodeNotFound {
		t.Errorf("source after the commit: %v", err)
	}
	if _, err := src.FindInstallation(ctx, "site-b"); err != nil {
		t.Errorf("the other tenant at the source: %v", err)
	}
	n := 0
	_ = src.st.View(ctx, func(tx store.Tx) error {
		return tx.Scan("", store.Expiry, store.Range{}, func([]byte, []byte) error { n++; return nil })
	})
	if n != 0 {
		t.Errorf("%d expiry entries left at the source", n)
	}
}

// TestImportRefuses: nothing is written from an export for another
// keyring, from another source, altered, or onto an existing tenant; a
// rollback removes the copy and only the copy.
func TestImportRefuses(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		src := replica(t, st, randomKeyring(t))
		dst := replica(t, newBolt(t), randomKeyring(t))
		other := replica(t, newBolt(t), randomKeyring(t))
		installed(t, src, "site-a", secrets.ProductJira)
		id := create(t, src, alice("jira:issue:1"), "body", "password-1")
		x, err := src.ExportTenant(ctx, "site-a", transferKey(t, dst))
		if err != nil {
			t.Fatal(err)
		}
		tamper := func(f func(*TenantExport)) *TenantExport {
			b, _ := MarshalExport(x)
			y, err := ParseExport(b)
			if err != nil {
				t.Fatal(err)
			}
			f(y)
			return y
		}
		for name, tc := range map[string]struct {
			e    *Engine
			x    *TenantExport
			from *Engine
		}{
			"wrong keyring":        {other, x, src},
			"claimed other source": {dst, x, other},
			"record altered":       {dst, tamper(func(y *TenantExport) { y.Records[0].Value[len(y.Records[0].Value)-1] ^= 1 }), src},
			"record dropped":       {dst, tamper(func(y *TenantExport) { y.Records = y.Records[1:] }), src},
			"sequence changed":     {dst, tamper(func(y *TenantExport) { y.Sequences[store.Audit]++ }), src},
			"renamed tenant":       {dst, tamper(func(y *TenantExport) { y.Tenant = "site-z" }), src},
			"global bucket":        {dst, tamper(func(y *TenantExport) { y.Records[0].Bucket = store.App }), src},
		} {
			t.Run(name, func(t *testing.T) {
				_, _, err := tc.e.ImportTenant(ctx, tc.x, transferKey(t, tc.from))
				wantCode(t, err, secrets.CodeInvalid)
				if list, _ := tc.e.ListInstallations(ctx); len(list) != 0 {
					t.Fatalf("a refused import wrote %d tenants", len(list))
				}
			})
		}
		if _, err := ParseExport([]byte(`{"format":"other"}`)); secrets.ErrorCode(err) != secrets.CodeInvalid {
			t.Errorf("foreign file: %v", err)
		}

		if _, _, err := dst.ImportTenant(ctx, x, transferKey(t, src)); err != nil {
			t.Fatal(err)
		}
		_, _, err = dst.ImportTenant(ctx, x, transferKey(t, src))
		wantCode(t, err, secrets.CodeConflict)

		// A rollback refuses a same-named tenant that is not this copy.
		installed(t, other, "site-a", secrets.ProductJira)
		y, err := src.ExportTenant(ctx, "site-a", transferKey(t, other))
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, other.DiscardImport(ctx, y), secrets.CodeConflict)
		if err := dst.DiscardImport(ctx, x); err != nil {
			t.Fatal(err)
		}
		if _, err := dst.FindInstallation(ctx, "site-a"); secrets.ErrorCode(err) != secrets.CodeNotFound {
			t.Errorf("after rollback: %v", err)
		}
		if u, err := src.UnlockSecret(ctx, alice("jira:issue:1"), id, "password-1"); err != nil || u.Content != "body" {
			t.Errorf("source after rollback: %v", err)
		}
	})
}

func newBolt(t *testing.T) store.Store {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
