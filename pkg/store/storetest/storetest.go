// Package storetest is the conformance suite of the storage contract: every
// backend of pkg/store passes Run, so the engine above can rely on the same
// behaviour whichever database sits below. Hashicorp Vault's
// physical.ExerciseBackend is the model.
//
// A backend's test calls Run with a function that opens a fresh, empty store
// and registers its cleanup with t.Cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t) })
//	}
//
// Each subtest opens its own store. The suite keeps its running time modest
// (a few seconds, most of it the lease expiry and the concurrent
// transactions), so it can run under the race detector in every `make test`.
package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/store"
)

// Run runs the conformance suite against the stores open returns. open must
// return a new, empty store on every call and register its Close with
// t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"GetPutDelete", testGetPutDelete},
		{"EmptyValue", testEmptyValue},
		{"BucketNamesAreNoRecords", testBucketNamesAreNoRecords},
		{"LargeValue", testLargeValue},
		{"KeyLimits", testKeyLimits},
		{"InvalidArguments", testInvalidArguments},
		{"NoTenant", testNoTenant},
		{"CreateTenant", testCreateTenant},
		{"InvalidTenant", testInvalidTenant},
		{"DeleteTenant", testDeleteTenant},
		{"Tenants", testTenants},
		{"Scan", testScan},
		{"ScanByteOrder", testScanByteOrder},
		{"ScanStopAndErrors", testScanStopAndErrors},
		{"ScanCallbackMayRead", testScanCallbackMayRead},
		{"NextSequence", testNextSequence},
		{"Sequence", testSequence},
		{"ReadYourWrites", testReadYourWrites},
		{"UpdateRollback", testUpdateRollback},
		{"ViewReadOnly", testViewReadOnly},
		{"ViewSnapshot", testViewSnapshot},
		{"Copies", testCopies},
		{"Context", testContext},
		{"Lease", testLease},
		{"ConcurrentCounter", testConcurrentCounter},
		{"ConcurrentVersionedPut", testConcurrentVersionedPut},
		{"ConcurrentCreateTenant", testConcurrentCreateTenant},
		{"ConcurrentAppend", testConcurrentAppend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// tenantA and tenantB are the tenants most subtests use.
const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
)

var ctx = context.Background()

// update runs fn in s.Update and fails the test on an error.
func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// view runs fn in s.View and fails the test on an error.
func view(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// createTenants creates the named tenants in one transaction.
func createTenants(t *testing.T, s store.Store, tenants ...string) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, tn := range tenants {
			created, err := tx.CreateTenant(tn)
			if err != nil {
				return fmt.Errorf("CreateTenant(%q): %w", tn, err)
			}
			if !created {
				return fmt.Errorf("CreateTenant(%q) = false on an empty store", tn)
			}
		}
		return nil
	})
}

// tenantOf returns the tenant argument for bucket b: tn for a tenant bucket,
// the empty tenant for a global one.
func tenantOf(b store.Bucket, tn string) string {
	if b.Global() {
		return ""
	}
	return tn
}

// allBuckets is every declared bucket, tenant buckets first.
func allBuckets() []store.Bucket {
	return append(append([]store.Bucket(nil), store.TenantBuckets...), store.GlobalBuckets...)
}

// get reads one key in its own View.
func get(t *testing.T, s store.Store, tn string, b store.Bucket, key []byte) []byte {
	t.Helper()
	var v []byte
	view(t, s, func(tx store.Tx) error {
		var err error
		v, err = tx.Get(tn, b, key)
		return err
	})
	return v
}

// put writes one key in its own Update.
func put(t *testing.T, s store.Store, tn string, b store.Bucket, key, value []byte) {
	t.Helper()
	update(t, s, func(tx store.Tx) error { return tx.Put(tn, b, key, value) })
}

// kv is one key and value a scan saw.
type kv struct{ k, v string }

// scan collects what Scan calls fn with, in a View.
func scan(t *testing.T, s store.Store, tn string, b store.Bucket, r store.Range) []kv {
	t.Helper()
	var got []kv
	view(t, s, func(tx store.Tx) error {
		got = nil
		return tx.Scan(tn, b, r, func(k, v []byte) error {
			got = append(got, kv{string(k), string(v)})
			return nil
		})
	})
	return got
}

func be64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testGetPutDelete(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA, tenantB)
	for _, b := range allBuckets() {
		t.Run(string(b), func(t *testing.T) {
			tn := tenantOf(b, tenantA)
			key := []byte("key-" + string(b))
			if got := get(t, s, tn, b, key); got != nil {
				t.Fatalf("Get of an absent key = %q, want nil", got)
			}
			put(t, s, tn, b, key, []byte("one"))
			if got := get(t, s, tn, b, key); string(got) != "one" {
				t.Fatalf("Get = %q, want %q", got, "one")
			}
			put(t, s, tn, b, key, []byte("two"))
			if got := get(t, s, tn, b, key); string(got) != "two" {
				t.Fatalf("Get after overwrite = %q, want %q", got, "two")
			}
			if !b.Global() {
				// The same key under another tenant is another record.
				if got := get(t, s, tenantB, b, key); got != nil {
					t.Fatalf("Get under %s = %q, want nil", tenantB, got)
				}
			}
			// A key in one bucket is not visible in another.
			for _, other := range allBuckets() {
				if other == b {
					continue
				}
				if got := get(t, s, tenantOf(other, tenantA), other, key); got != nil {
					t.Fatalf("key put in %s visible in %s: %q", b, other, got)
				}
			}
			update(t, s, func(tx store.Tx) error { return tx.Delete(tn, b, key) })
			if got := get(t, s, tn, b, key); got != nil {
				t.Fatalf("Get after Delete = %q, want nil", got)
			}
			// Deleting a missing key is not an error.
			update(t, s, func(tx store.Tx) error { return tx.Delete(tn, b, key) })
		})
	}
}

func testEmptyValue(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	for _, b := range []store.Bucket{store.Containers, store.Expiry} {
		tn := tenantOf(b, tenantA)
		put(t, s, tn, b, []byte("empty"), []byte{})
		put(t, s, tn, b, []byte("nil"), nil)
		for _, key := range []string{"empty", "nil"} {
			got := get(t, s, tn, b, []byte(key))
			if got == nil || len(got) != 0 {
				t.Errorf("%s: Get of a key put with a %s value = %#v, want a non-nil empty slice", b, key, got)
			}
		}
		view(t, s, func(tx store.Tx) error {
			return tx.Scan(tn, b, store.Range{}, func(k, v []byte) error {
				if v == nil || len(v) != 0 {
					t.Errorf("%s: Scan value of %q = %#v, want a non-nil empty slice", b, k, v)
				}
				return nil
			})
		})
	}
}

// testBucketNamesAreNoRecords: in the tenant bucket, the name of another of
// the tenant's buckets (where a backend may keep that bucket) reads as
// missing, in both kinds of transaction, before and after that bucket holds
// records.
func testBucketNamesAreNoRecords(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	check := func(when string) {
		t.Helper()
		for _, b := range store.TenantBuckets {
			if got := get(t, s, tenantA, store.Tenant, []byte(b)); got != nil {
				t.Errorf("%s: Get(tenant, %q) = %q, want missing", when, b, got)
			}
			update(t, s, func(tx store.Tx) error {
				if v, err := tx.Get(tenantA, store.Tenant, []byte(b)); err != nil || v != nil {
					t.Errorf("%s, in Update: Get(tenant, %q) = %q, %v, want missing", when, b, v, err)
				}
				return nil
			})
		}
	}
	check("empty")
	for _, b := range store.TenantBuckets {
		put(t, s, tenantA, b, []byte("k"), []byte("v"))
	}
	check("with records")
}

func testLargeValue(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	put(t, s, tenantA, store.Bodies, []byte("big"), big)
	if got := get(t, s, tenantA, store.Bodies, []byte("big")); !bytes.Equal(got, big) {
		t.Fatalf("Get of a 1 MiB value: got %d bytes, not the value put", len(got))
	}
	got := scan(t, s, tenantA, store.Bodies, store.Range{})
	if len(got) != 1 || got[0].v != string(big) {
		t.Fatalf("Scan of a 1 MiB value: got %d entries, not the value put", len(got))
	}
}

func testKeyLimits(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	long := bytes.Repeat([]byte{0xab}, store.MaxKeyLen)
	put(t, s, tenantA, store.Secrets, long, []byte("v"))
	if got := get(t, s, tenantA, store.Secrets, long); string(got) != "v" {
		t.Fatalf("Get of a %d-byte key = %q, want %q", store.MaxKeyLen, got, "v")
	}
	one := []byte{0}
	put(t, s, tenantA, store.Secrets, one, []byte("zero"))
	if got := get(t, s, tenantA, store.Secrets, one); string(got) != "zero" {
		t.Fatalf("Get of key 0x00 = %q, want %q", got, "zero")
	}
}

func testInvalidArguments(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	longKey := bytes.Repeat([]byte("k"), store.MaxKeyLen+1)
	longTenant := strings.Repeat("t", store.MaxTenantLen+1)
	cases := []struct {
		name   string
		tenant string
		bucket store.Bucket
		key    []byte
	}{
		{"unknown bucket", tenantA, store.Bucket("nope"), []byte("k")},
		{"unknown bucket without tenant", "", store.Bucket("nope"), []byte("k")},
		{"empty bucket", tenantA, store.Bucket(""), []byte("k")},
		{"tenant bucket without tenant", "", store.Secrets, []byte("k")},
		{"global bucket with tenant", tenantA, store.App, []byte("k")},
		{"global expiry with tenant", tenantA, store.Expiry, []byte("k")},
		{"empty key", tenantA, store.Secrets, []byte{}},
		{"empty global key", "", store.App, []byte{}},
		{"oversized key", tenantA, store.Secrets, longKey},
		{"oversized tenant", longTenant, store.Secrets, []byte("k")},
	}
	ops := []struct {
		name string
		// keyed ops are checked with the case's key; the others only
		// when the case is about the tenant or the bucket.
		keyed bool
		do    func(tx store.Tx, tn string, b store.Bucket, key []byte) error
	}{
		{"Get", true, func(tx store.Tx, tn string, b store.Bucket, key []byte) error {
			_, err := tx.Get(tn, b, key)
			return err
		}},
		{"Put", true, func(tx store.Tx, tn string, b store.Bucket, key []byte) error {
			return tx.Put(tn, b, key, []byte("v"))
		}},
		{"Delete", true, func(tx store.Tx, tn string, b store.Bucket, key []byte) error {
			return tx.Delete(tn, b, key)
		}},
		{"Scan", false, func(tx store.Tx, tn string, b store.Bucket, _ []byte) error {
			return tx.Scan(tn, b, store.Range{}, func(k, v []byte) error { return nil })
		}},
		{"NextSequence", false, func(tx store.Tx, tn string, b store.Bucket, _ []byte) error {
			_, err := tx.NextSequence(tn, b)
			return err
		}},
		{"Sequence", false, func(tx store.Tx, tn string, b store.Bucket, _ []byte) error {
			_, err := tx.Sequence(tn, b)
			return err
		}},
		{"SetSequence", false, func(tx store.Tx, tn string, b store.Bucket, _ []byte) error {
			return tx.SetSequence(tn, b, 1)
		}},
	}
	for _, c := range cases {
		keyCase := strings.Contains(c.name, "key")
		for _, op := range ops {
			if keyCase && !op.keyed {
				continue
			}
			t.Run(op.name+"/"+c.name, func(t *testing.T) {
				err := s.Update(ctx, func(tx store.Tx) error {
					return op.do(tx, c.tenant, c.bucket, c.key)
				})
				if !errors.Is(err, store.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
			})
		}
	}
	// Nothing of the above was written.
	if got := scan(t, s, tenantA, store.Secrets, store.Range{}); len(got) != 0 {
		t.Fatalf("invalid Puts wrote %d keys", len(got))
	}
}

func testNoTenant(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	const missing = "missing"
	ops := map[string]func(tx store.Tx) error{
		"Get": func(tx store.Tx) error {
			_, err := tx.Get(missing, store.Secrets, []byte("k"))
			return err
		},
		"Put":    func(tx store.Tx) error { return tx.Put(missing, store.Secrets, []byte("k"), []byte("v")) },
		"Delete": func(tx store.Tx) error { return tx.Delete(missing, store.Secrets, []byte("k")) },
		"Scan": func(tx store.Tx) error {
			return tx.Scan(missing, store.Audit, store.Range{}, func(k, v []byte) error { return nil })
		},
		"NextSequence": func(tx store.Tx) error {
			_, err := tx.NextSequence(missing, store.Audit)
			return err
		},
		"Sequence": func(tx store.Tx) error {
			_, err := tx.Sequence(missing, store.Audit)
			return err
		},
		"SetSequence":  func(tx store.Tx) error { return tx.SetSequence(missing, store.Audit, 7) },
		"DeleteTenant": func(tx store.Tx) error { return tx.DeleteTenant(missing) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			if err := s.Update(ctx, op); !errors.Is(err, store.ErrNoTenant) {
				t.Fatalf("err = %v, want ErrNoTenant", err)
			}
		})
	}
	t.Run("Get in View", func(t *testing.T) {
		err := s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(missing, store.Tenant, store.KeyMeta)
			return err
		})
		if !errors.Is(err, store.ErrNoTenant) {
			t.Fatalf("err = %v, want ErrNoTenant", err)
		}
	})
	t.Run("transaction goes on", func(t *testing.T) {
		// An ErrNoTenant is an answer, not a broken transaction: the
		// caller may go on and commit.
		update(t, s, func(tx store.Tx) error {
			if _, err := tx.Get(missing, store.Secrets, []byte("k")); !errors.Is(err, store.ErrNoTenant) {
				return fmt.Errorf("Get: err = %v, want ErrNoTenant", err)
			}
			if err := tx.Put(missing, store.Secrets, []byte("k"), []byte("v")); !errors.Is(err, store.ErrNoTenant) {
				return fmt.Errorf("Put: err = %v, want ErrNoTenant", err)
			}
			return tx.Put(tenantA, store.Secrets, []byte("k"), []byte("after"))
		})
		if got := get(t, s, tenantA, store.Secrets, []byte("k")); string(got) != "after" {
			t.Fatalf("Get = %q, want %q", got, "after")
		}
	})
	view(t, s, func(tx store.Tx) error {
		ok, err := tx.TenantExists(missing)
		if err != nil || ok {
			t.Fatalf("TenantExists(%q) = %v, %v; want false, nil", missing, ok, err)
		}
		return nil
	})
}

func testCreateTenant(t *testing.T, s store.Store) {
	view(t, s, func(tx store.Tx) error {
		if ok, err := tx.TenantExists(tenantA); err != nil || ok {
			t.Fatalf("TenantExists before CreateTenant = %v, %v; want false, nil", ok, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		created, err := tx.CreateTenant(tenantA)
		if err != nil || !created {
			t.Fatalf("first CreateTenant = %v, %v; want true, nil", created, err)
		}
		// Visible in the same transaction.
		if ok, err := tx.TenantExists(tenantA); err != nil || !ok {
			t.Fatalf("TenantExists in the creating transaction = %v, %v; want true, nil", ok, err)
		}
		created, err = tx.CreateTenant(tenantA)
		if err != nil || created {
			t.Fatalf("second CreateTenant in the same transaction = %v, %v; want false, nil", created, err)
		}
		// Its buckets are usable at once.
		return tx.Put(tenantA, store.Tenant, store.KeyMeta, []byte("meta"))
	})
	update(t, s, func(tx store.Tx) error {
		created, err := tx.CreateTenant(tenantA)
		if err != nil || created {
			t.Fatalf("CreateTenant of an existing tenant = %v, %v; want false, nil", created, err)
		}
		return nil
	})
	// Creating it again leaves its records alone.
	if got := get(t, s, tenantA, store.Tenant, store.KeyMeta); string(got) != "meta" {
		t.Fatalf("Get after a second CreateTenant = %q, want %q", got, "meta")
	}
	view(t, s, func(tx store.Tx) error {
		if ok, err := tx.TenantExists(tenantA); err != nil || !ok {
			t.Fatalf("TenantExists = %v, %v; want true, nil", ok, err)
		}
		return nil
	})
	// A tenant id may hold any byte but NUL, and up to MaxTenantLen bytes.
	odd := "\xff\x01 é/" + strings.Repeat("x", store.MaxTenantLen-7)
	createTenants(t, s, odd)
	put(t, s, odd, store.Secrets, []byte("k"), []byte("v"))
	if got := get(t, s, odd, store.Secrets, []byte("k")); string(got) != "v" {
		t.Fatalf("Get under a %d-byte tenant = %q, want %q", len(odd), got, "v")
	}
}

func testInvalidTenant(t *testing.T, s store.Store) {
	for _, tn := range []string{"", "a\x00b", strings.Repeat("t", store.MaxTenantLen+1)} {
		err := s.Update(ctx, func(tx store.Tx) error {
			_, err := tx.CreateTenant(tn)
			return err
		})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateTenant(%q): err = %v, want ErrInvalid", tn, err)
		}
	}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.DeleteTenant("") })
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("DeleteTenant(\"\"): err = %v, want ErrInvalid", err)
	}
}

func testDeleteTenant(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA, tenantB)
	update(t, s, func(tx store.Tx) error {
		for _, tn := range []string{tenantA, tenantB} {
			for _, b := range store.TenantBuckets {
				for i := 0; i < 3; i++ {
					if err := tx.Put(tn, b, []byte{byte(i), 0xff}, []byte(tn)); err != nil {
						return err
					}
				}
				if _, err := tx.NextSequence(tn, b); err != nil {
					return err
				}
			}
		}
		for _, b := range store.GlobalBuckets {
			if err := tx.Put("", b, []byte(tenantA), []byte("global")); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteTenant(tenantA) })

	view(t, s, func(tx store.Tx) error {
		if ok, err := tx.TenantExists(tenantA); err != nil || ok {
			t.Fatalf("TenantExists after DeleteTenant = %v, %v; want false, nil", ok, err)
		}
		if _, err := tx.Get(tenantA, store.Secrets, []byte{0, 0xff}); !errors.Is(err, store.ErrNoTenant) {
			t.Fatalf("Get after DeleteTenant: err = %v, want ErrNoTenant", err)
		}
		return nil
	})
	// The other tenant and the global buckets are intact.
	for _, b := range store.TenantBuckets {
		if got := scan(t, s, tenantB, b, store.Range{}); len(got) != 3 {
			t.Errorf("%s of %s after deleting %s: %d keys, want 3", b, tenantB, tenantA, len(got))
		}
	}
	for _, b := range store.GlobalBuckets {
		if got := get(t, s, "", b, []byte(tenantA)); string(got) != "global" {
			t.Errorf("global %s after DeleteTenant = %q, want %q", b, got, "global")
		}
	}
	// Created again, the tenant starts empty.
	createTenants(t, s, tenantA)
	for _, b := range store.TenantBuckets {
		if got := scan(t, s, tenantA, b, store.Range{}); len(got) != 0 {
			t.Errorf("%s of a re-created tenant: %d keys, want 0", b, len(got))
		}
	}
	// Deleting a missing tenant is ErrNoTenant; so is deleting twice in
	// one transaction.
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteTenant(tenantA); err != nil {
			return fmt.Errorf("first DeleteTenant: %v", err)
		}
		return tx.DeleteTenant(tenantA)
	})
	if !errors.Is(err, store.ErrNoTenant) {
		t.Fatalf("second DeleteTenant: err = %v, want ErrNoTenant", err)
	}
	// That Update failed, so the first delete was rolled back.
	view(t, s, func(tx store.Tx) error {
		if ok, err := tx.TenantExists(tenantA); err != nil || !ok {
			t.Fatalf("TenantExists after a rolled-back DeleteTenant = %v, %v; want true, nil", ok, err)
		}
		return nil
	})
}

func testTenants(t *testing.T, s store.Store) {
	collect := func() []string {
		var got []string
		view(t, s, func(tx store.Tx) error {
			got = nil
			return tx.Tenants(func(tn string) error {
				got = append(got, tn)
				return nil
			})
		})
		return got
	}
	if got := collect(); len(got) != 0 {
		t.Fatalf("Tenants of an empty store = %q", got)
	}
	// Byte order, not a locale's: upper case before lower case, and bytes
	// above 0x7f after ASCII.
	want := []string{"B", "a", "a\x01", "ab", "b", "\xc3\xa9", "\xff"}
	createTenants(t, s, "ab", "\xff", "b", "a\x01", "\xc3\xa9", "B", "a")
	if got := collect(); !equalStrings(got, want) {
		t.Fatalf("Tenants = %q, want %q", got, want)
	}
	var n int
	view(t, s, func(tx store.Tx) error {
		err := tx.Tenants(func(string) error {
			n++
			if n == 2 {
				return store.Stop
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Tenants stopped by Stop: err = %v, want nil", err)
		}
		return nil
	})
	if n != 2 {
		t.Fatalf("Tenants called fn %d times after Stop at 2", n)
	}
	boom := errors.New("boom")
	err := s.View(ctx, func(tx store.Tx) error {
		return tx.Tenants(func(string) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tenants with a failing fn: err = %v, want %v", err, boom)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteTenant("b") })
	want = []string{"B", "a", "a\x01", "ab", "\xc3\xa9", "\xff"}
	if got := collect(); !equalStrings(got, want) {
		t.Fatalf("Tenants after DeleteTenant = %q, want %q", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testScan(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA, tenantB)
	keys := []string{"a", "a/1", "a/2", "a/3", "ab", "b", "b/1", "c"}
	for _, b := range []store.Bucket{store.Containers, store.Expiry} {
		t.Run(string(b), func(t *testing.T) {
			tn := tenantOf(b, tenantA)
			update(t, s, func(tx store.Tx) error {
				for _, k := range keys {
					if err := tx.Put(tn, b, []byte(k), []byte("v"+k)); err != nil {
						return err
					}
				}
				if !b.Global() {
					// Another tenant's keys never show.
					return tx.Put(tenantB, b, []byte("a/9"), []byte("other"))
				}
				return nil
			})
			cases := []struct {
				name string
				r    store.Range
				want []string
			}{
				{"all", store.Range{}, keys},
				{"prefix", store.Range{Prefix: []byte("a/")}, []string{"a/1", "a/2", "a/3"}},
				{"prefix is a key", store.Range{Prefix: []byte("a")}, []string{"a", "a/1", "a/2", "a/3", "ab"}},
				{"prefix matches nothing", store.Range{Prefix: []byte("zz")}, nil},
				{"from", store.Range{From: []byte("b")}, []string{"b", "b/1", "c"}},
				{"from between keys", store.Range{From: []byte("a/25")}, []string{"a/3", "ab", "b", "b/1", "c"}},
				{"to", store.Range{To: []byte("a/2")}, []string{"a", "a/1"}},
				{"from to", store.Range{From: []byte("a/2"), To: []byte("b")}, []string{"a/2", "a/3", "ab"}},
				{"from equals to", store.Range{From: []byte("b"), To: []byte("b")}, nil},
				{"to before from", store.Range{From: []byte("c"), To: []byte("a")}, nil},
				{"prefix from", store.Range{Prefix: []byte("a/"), From: []byte("a/2")}, []string{"a/2", "a/3"}},
				{"prefix to", store.Range{Prefix: []byte("a/"), To: []byte("a/3")}, []string{"a/1", "a/2"}},
				{"prefix from to", store.Range{Prefix: []byte("a/"), From: []byte("a/2"), To: []byte("a/3")}, []string{"a/2"}},
				{"prefix from before prefix", store.Range{Prefix: []byte("b"), From: []byte("a")}, []string{"b", "b/1"}},
				{"prefix to after prefix", store.Range{Prefix: []byte("a/"), To: []byte("z")}, []string{"a/1", "a/2", "a/3"}},
				{"prefix from after prefix", store.Range{Prefix: []byte("a/"), From: []byte("b")}, nil},
				{"empty prefix", store.Range{Prefix: []byte{}}, keys},
				{"empty from", store.Range{From: []byte{}}, keys},
				{"empty to", store.Range{To: []byte{}}, nil},
			}
			for _, c := range cases {
				for _, reverse := range []bool{false, true} {
					name := c.name
					want := c.want
					if reverse {
						name += " reverse"
						want = reversed(want)
					}
					t.Run(name, func(t *testing.T) {
						r := c.r
						r.Reverse = reverse
						got := scan(t, s, tn, b, r)
						if !equalKeys(got, want) {
							t.Fatalf("Scan(%+v) keys = %q, want %q", r, keysOf(got), want)
						}
						for _, e := range got {
							if e.v != "v"+e.k {
								t.Fatalf("Scan value of %q = %q, want %q", e.k, e.v, "v"+e.k)
							}
						}
					})
				}
			}
		})
	}
}

func reversed(s []string) []string {
	r := make([]string, len(s))
	for i, x := range s {
		r[len(s)-1-i] = x
	}
	return r
}

func keysOf(kvs []kv) []string {
	ks := make([]string, len(kvs))
	for i, e := range kvs {
		ks[i] = e.k
	}
	return ks
}

func equalKeys(got []kv, want []string) bool { return equalStrings(keysOf(got), want) }

func testScanByteOrder(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	keys := []string{
		"\x00", "\x00\x00", "\x00\xff", "\x01", "A", "a", "a\x00", "a\x00\x00", "a\x01",
		"a\x7f", "a\x80", "a\xff", "a\xff\x00", "a\xff\xff", "b", "\x7f", "\x80",
		"\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff",
	}
	update(t, s, func(tx store.Tx) error {
		for i, k := range keys {
			if err := tx.Put(tenantA, store.Audit, []byte(k), be64(uint64(i))); err != nil {
				return err
			}
		}
		return nil
	})
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted) // Go compares strings bytewise
	filter := func(r store.Range) []string {
		var out []string
		for _, k := range sorted {
			if r.Contains([]byte(k)) {
				out = append(out, k)
			}
		}
		return out
	}
	ranges := []store.Range{
		{},
		{Prefix: []byte("a")},
		{Prefix: []byte("a\x00")},
		{Prefix: []byte("a\xff")}, // the prefix's end carries: it is "b"
		{Prefix: []byte("\xff")},  // no key ends an all-0xff prefix
		{Prefix: []byte("\xff\xff")},
		{Prefix: []byte("\x00")},
		{From: []byte("a\x00"), To: []byte("a\xff")},
		{From: []byte("\x00\x00"), To: []byte("\xff\xff")},
		{From: []byte("\x80")},
		{To: []byte("\x00\x00")},
		{Prefix: []byte("a"), From: []byte("a\x01"), To: []byte("a\xff\xff")},
	}
	for _, r := range ranges {
		for _, reverse := range []bool{false, true} {
			r.Reverse = reverse
			want := filter(r)
			if reverse {
				want = reversed(want)
			}
			if got := scan(t, s, tenantA, store.Audit, r); !equalKeys(got, want) {
				t.Errorf("Scan(prefix %q from %q to %q reverse %v) keys = %q, want %q", r.Prefix, r.From, r.To, r.Reverse, keysOf(got), want)
			}
		}
	}
}

func testScanStopAndErrors(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	update(t, s, func(tx store.Tx) error {
		for i := 0; i < 10; i++ {
			if err := tx.Put(tenantA, store.Audit, be64(uint64(i)), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	for _, reverse := range []bool{false, true} {
		var seen []byte
		view(t, s, func(tx store.Tx) error {
			seen = nil
			err := tx.Scan(tenantA, store.Audit, store.Range{Reverse: reverse}, func(k, v []byte) error {
				seen = append(seen, v[0])
				if len(seen) == 3 {
					return store.Stop
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Scan stopped by Stop: err = %v, want nil", err)
			}
			return nil
		})
		want := []byte{0, 1, 2}
		if reverse {
			want = []byte{9, 8, 7}
		}
		if !bytes.Equal(seen, want) {
			t.Errorf("Scan(reverse=%v) until Stop saw %v, want %v", reverse, seen, want)
		}
	}
	boom := errors.New("boom")
	var calls int
	err := s.View(ctx, func(tx store.Tx) error {
		calls = 0
		return tx.Scan(tenantA, store.Audit, store.Range{}, func(k, v []byte) error {
			calls++
			if calls == 2 {
				return fmt.Errorf("wrapped: %w", boom)
			}
			return nil
		})
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Scan with a failing fn: err = %v, want %v", err, boom)
	}
	if calls != 2 {
		t.Fatalf("Scan called fn %d times after it failed at 2", calls)
	}
	// An Update whose Scan failed is rolled back like any other failure.
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(tenantA, store.Secrets, []byte("k"), []byte("v")); err != nil {
			return err
		}
		return tx.Scan(tenantA, store.Audit, store.Range{}, func(k, v []byte) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update with a failing Scan: err = %v, want %v", err, boom)
	}
	if got := get(t, s, tenantA, store.Secrets, []byte("k")); got != nil {
		t.Fatalf("Put of a failed Update is visible: %q", got)
	}
}

func testScanCallbackMayRead(t *testing.T, s store.Store) {
	// The engine walks an index and reads the records it names, inside the
	// Scan callback, and writes only after the Scan.
	createTenants(t, s, tenantA)
	update(t, s, func(tx store.Tx) error {
		for i := 0; i < 300; i++ {
			id := []byte(fmt.Sprintf("id%04d", i))
			if err := tx.Put(tenantA, store.Containers, append([]byte("c\x00"), id...), nil); err != nil {
				return err
			}
			if err := tx.Put(tenantA, store.Secrets, id, []byte("rec")); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		var ids [][]byte
		err := tx.Scan(tenantA, store.Containers, store.Range{Prefix: []byte("c\x00")}, func(k, v []byte) error {
			id := k[2:]
			rec, err := tx.Get(tenantA, store.Secrets, id)
			if err != nil {
				return err
			}
			if string(rec) != "rec" {
				return fmt.Errorf("record %q = %q", id, rec)
			}
			ids = append(ids, id)
			return nil
		})
		if err != nil {
			return err
		}
		if len(ids) != 300 {
			return fmt.Errorf("Scan saw %d index entries, want 300", len(ids))
		}
		for _, id := range ids {
			if err := tx.Delete(tenantA, store.Secrets, id); err != nil {
				return err
			}
		}
		return nil
	})
	if got := scan(t, s, tenantA, store.Secrets, store.Range{}); len(got) != 0 {
		t.Fatalf("%d records left after deleting all", len(got))
	}
}

func testNextSequence(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA, tenantB)
	type key struct {
		tn string
		b  store.Bucket
	}
	last := map[key]uint64{}
	next := func(tx store.Tx, tn string, b store.Bucket) error {
		n, err := tx.NextSequence(tn, b)
		if err != nil {
			return err
		}
		k := key{tn, b}
		if prev, ok := last[k]; ok && n <= prev {
			return fmt.Errorf("NextSequence(%q, %s) = %d after %d", tn, b, n, prev)
		}
		last[k] = n
		return nil
	}
	for round := 0; round < 3; round++ {
		update(t, s, func(tx store.Tx) error {
			for i := 0; i < 3; i++ {
				for _, k := range []key{{tenantA, store.Audit}, {tenantB, store.Audit}, {tenantA, store.Revoked}, {"", store.App}} {
					if err := next(tx, k.tn, k.b); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	// A rolled-back transaction may skip numbers but never goes back.
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.NextSequence(tenantA, store.Audit); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: err = %v, want %v", err, boom)
	}
	update(t, s, func(tx store.Tx) error { return next(tx, tenantA, store.Audit) })
}

// testSequence: Sequence reads the counter NextSequence counts from, and
// SetSequence raises it but never lowers it, so that a copy of a store
// (secretsctl migrate) continues every log where the original left off.
func testSequence(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA, tenantB)
	seq := func(tx store.Tx, tn string, b store.Bucket) uint64 {
		t.Helper()
		n, err := tx.Sequence(tn, b)
		if err != nil {
			t.Fatalf("Sequence(%q, %s): %v", tn, b, err)
		}
		return n
	}
	next := func(tx store.Tx, tn string, b store.Bucket) uint64 {
		t.Helper()
		n, err := tx.NextSequence(tn, b)
		if err != nil {
			t.Fatalf("NextSequence(%q, %s): %v", tn, b, err)
		}
		return n
	}

	// A counter that never ran is 0, in every bucket.
	view(t, s, func(tx store.Tx) error {
		for _, b := range allBuckets() {
			if got := seq(tx, tenantOf(b, tenantA), b); got != 0 {
				t.Errorf("Sequence(%s) of a new tenant = %d, want 0", b, got)
			}
		}
		return nil
	})

	// It follows NextSequence, in the transaction and after it.
	var last uint64
	update(t, s, func(tx store.Tx) error {
		for range 3 {
			last = next(tx, tenantA, store.Audit)
		}
		if got := seq(tx, tenantA, store.Audit); got != last {
			t.Errorf("Sequence after NextSequence = %d in the transaction, want %d", got, last)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		if got := seq(tx, tenantA, store.Audit); got != last {
			t.Errorf("Sequence after NextSequence = %d, want %d", got, last)
		}
		if got := seq(tx, tenantB, store.Audit); got != 0 {
			t.Errorf("Sequence of another tenant = %d, want 0", got)
		}
		if got := seq(tx, tenantA, store.Revoked); got != 0 {
			t.Errorf("Sequence of another bucket = %d, want 0", got)
		}
		return nil
	})

	// SetSequence raises it; NextSequence goes on above.
	const high = 1000
	update(t, s, func(tx store.Tx) error {
		if err := tx.SetSequence(tenantA, store.Audit, high); err != nil {
			return err
		}
		if got := seq(tx, tenantA, store.Audit); got != high {
			t.Errorf("Sequence after SetSequence(%d) = %d in the transaction", high, got)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if got := seq(tx, tenantA, store.Audit); got != high {
			t.Errorf("Sequence after SetSequence(%d) = %d", high, got)
		}
		if n := next(tx, tenantA, store.Audit); n <= high {
			t.Errorf("NextSequence after SetSequence(%d) = %d", high, n)
		} else {
			last = n
		}
		return nil
	})

	// It never lowers the counter.
	update(t, s, func(tx store.Tx) error { return tx.SetSequence(tenantA, store.Audit, 5) })
	update(t, s, func(tx store.Tx) error {
		if got := seq(tx, tenantA, store.Audit); got != last {
			t.Errorf("Sequence after SetSequence(5) = %d, want it left at %d", got, last)
		}
		if n := next(tx, tenantA, store.Audit); n <= last {
			t.Errorf("NextSequence after SetSequence(5) = %d, after %d", n, last)
		}
		return nil
	})

	// A global counter, on a bucket NextSequence never ran on, and the
	// largest value allowed.
	update(t, s, func(tx store.Tx) error {
		if err := tx.SetSequence("", store.Expiry, 42); err != nil {
			return err
		}
		return tx.SetSequence(tenantB, store.Revoked, store.MaxSequence)
	})
	view(t, s, func(tx store.Tx) error {
		if got := seq(tx, "", store.Expiry); got != 42 {
			t.Errorf("global Sequence after SetSequence(42) = %d", got)
		}
		if got := seq(tx, tenantB, store.Revoked); got != store.MaxSequence {
			t.Errorf("Sequence after SetSequence(MaxSequence) = %d", got)
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.SetSequence(tenantB, store.Audit, store.MaxSequence+1) })
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SetSequence(MaxSequence+1): err = %v, want ErrInvalid", err)
	}

	// A rolled-back SetSequence leaves no trace.
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.SetSequence(tenantB, store.Audit, high); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: err = %v, want %v", err, boom)
	}
	view(t, s, func(tx store.Tx) error {
		if got := seq(tx, tenantB, store.Audit); got != 0 {
			t.Errorf("Sequence after a rolled-back SetSequence = %d, want 0", got)
		}
		return nil
	})
}

func testReadYourWrites(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	put(t, s, tenantA, store.Secrets, []byte("gone"), []byte("x"))
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put(tenantA, store.Secrets, []byte("new"), []byte("v")); err != nil {
			return err
		}
		if err := tx.Delete(tenantA, store.Secrets, []byte("gone")); err != nil {
			return err
		}
		if got, err := tx.Get(tenantA, store.Secrets, []byte("new")); err != nil || string(got) != "v" {
			return fmt.Errorf("Get of own Put = %q, %v; want %q", got, err, "v")
		}
		if got, err := tx.Get(tenantA, store.Secrets, []byte("gone")); err != nil || got != nil {
			return fmt.Errorf("Get of own Delete = %q, %v; want nil", got, err)
		}
		var keys []string
		err := tx.Scan(tenantA, store.Secrets, store.Range{}, func(k, v []byte) error {
			keys = append(keys, string(k))
			return nil
		})
		if err != nil {
			return err
		}
		if !equalStrings(keys, []string{"new"}) {
			return fmt.Errorf("Scan after own writes = %q, want [new]", keys)
		}
		return nil
	})
}

func testUpdateRollback(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	put(t, s, tenantA, store.Secrets, []byte("keep"), []byte("old"))
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateTenant(tenantB); err != nil {
			return err
		}
		if err := tx.Put(tenantB, store.Secrets, []byte("k"), []byte("v")); err != nil {
			return err
		}
		if err := tx.Put(tenantA, store.Secrets, []byte("keep"), []byte("new")); err != nil {
			return err
		}
		if err := tx.Put(tenantA, store.Secrets, []byte("added"), []byte("v")); err != nil {
			return err
		}
		if err := tx.Put("", store.App, []byte("added"), []byte("v")); err != nil {
			return err
		}
		return fmt.Errorf("fail after writing: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: err = %v, want %v", err, boom)
	}
	view(t, s, func(tx store.Tx) error {
		if ok, err := tx.TenantExists(tenantB); err != nil || ok {
			t.Errorf("tenant created by a failed Update exists: %v, %v", ok, err)
		}
		if got, err := tx.Get(tenantA, store.Secrets, []byte("keep")); err != nil || string(got) != "old" {
			t.Errorf("overwritten key = %q, %v; want %q", got, err, "old")
		}
		if got, err := tx.Get(tenantA, store.Secrets, []byte("added")); err != nil || got != nil {
			t.Errorf("added key = %q, %v; want nil", got, err)
		}
		if got, err := tx.Get("", store.App, []byte("added")); err != nil || got != nil {
			t.Errorf("added global key = %q, %v; want nil", got, err)
		}
		return nil
	})
	// Failing DeleteTenant rolls back too.
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteTenant(tenantA); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: err = %v, want %v", err, boom)
	}
	if got := get(t, s, tenantA, store.Secrets, []byte("keep")); string(got) != "old" {
		t.Fatalf("key of a tenant whose deletion failed = %q, want %q", got, "old")
	}
}

func testViewReadOnly(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	put(t, s, tenantA, store.Secrets, []byte("k"), []byte("v"))
	writes := map[string]func(tx store.Tx) error{
		"Put":                func(tx store.Tx) error { return tx.Put(tenantA, store.Secrets, []byte("k"), []byte("w")) },
		"Put global":         func(tx store.Tx) error { return tx.Put("", store.App, []byte("k"), []byte("w")) },
		"Delete":             func(tx store.Tx) error { return tx.Delete(tenantA, store.Secrets, []byte("k")) },
		"NextSequence":       func(tx store.Tx) error { _, err := tx.NextSequence(tenantA, store.Audit); return err },
		"SetSequence":        func(tx store.Tx) error { return tx.SetSequence(tenantA, store.Audit, 9) },
		"SetSequence global": func(tx store.Tx) error { return tx.SetSequence("", store.App, 9) },
		"CreateTenant":       func(tx store.Tx) error { _, err := tx.CreateTenant(tenantB); return err },
		"DeleteTenant":       func(tx store.Tx) error { return tx.DeleteTenant(tenantA) },
	}
	for name, w := range writes {
		t.Run(name, func(t *testing.T) {
			if err := s.View(ctx, w); !errors.Is(err, store.ErrReadOnly) {
				t.Fatalf("err = %v, want ErrReadOnly", err)
			}
		})
	}
	if got := get(t, s, tenantA, store.Secrets, []byte("k")); string(got) != "v" {
		t.Fatalf("Get after refused writes = %q, want %q", got, "v")
	}
	view(t, s, func(tx store.Tx) error {
		if ok, err := tx.TenantExists(tenantB); err != nil || ok {
			t.Fatalf("tenant created in a View exists: %v, %v", ok, err)
		}
		return nil
	})
}

func testViewSnapshot(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	put(t, s, tenantA, store.Secrets, []byte("k"), []byte("before"))
	done := make(chan error, 1)
	view(t, s, func(tx store.Tx) error {
		first, err := tx.Get(tenantA, store.Secrets, []byte("k"))
		if err != nil {
			return err
		}
		go func() {
			done <- s.Update(ctx, func(tx store.Tx) error {
				return tx.Put(tenantA, store.Secrets, []byte("k"), []byte("after"))
			})
		}()
		// A backend may make the writer wait for readers; then there is
		// nothing to observe, and the wait below is all the test costs.
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("concurrent Update: %w", err)
			}
			done <- nil
		case <-time.After(time.Second):
		}
		second, err := tx.Get(tenantA, store.Secrets, []byte("k"))
		if err != nil {
			return err
		}
		if !bytes.Equal(first, second) {
			return fmt.Errorf("View read %q, then %q: not one snapshot", first, second)
		}
		return nil
	})
	if err := <-done; err != nil {
		t.Fatalf("concurrent Update: %v", err)
	}
	if got := get(t, s, tenantA, store.Secrets, []byte("k")); string(got) != "after" {
		t.Fatalf("Get after the Update = %q, want %q", got, "after")
	}
}

func testCopies(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	key := []byte("key")
	value := []byte("value")
	var fromGet, scanKey, scanValue []byte
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put(tenantA, store.Secrets, key, value); err != nil {
			return err
		}
		// The caller may reuse its slices once Put returns, even before
		// the transaction commits.
		copy(key, "KEY")
		copy(value, "VALUE")
		got, err := tx.Get(tenantA, store.Secrets, []byte("key"))
		if err != nil || string(got) != "value" {
			return fmt.Errorf("Get after reusing Put's slices = %q, %v; want %q", got, err, "value")
		}
		return nil
	})
	if got := get(t, s, tenantA, store.Secrets, []byte("KEY")); got != nil {
		t.Fatalf("the reused key slice changed the stored key: %q", got)
	}
	view(t, s, func(tx store.Tx) error {
		var err error
		fromGet, err = tx.Get(tenantA, store.Secrets, []byte("key"))
		if err != nil {
			return err
		}
		return tx.Scan(tenantA, store.Secrets, store.Range{}, func(k, v []byte) error {
			scanKey, scanValue = k, v
			return nil
		})
	})
	// Returned slices stay valid after the transaction, even once the
	// store has been written since.
	update(t, s, func(tx store.Tx) error {
		for i := 0; i < 100; i++ {
			if err := tx.Put(tenantA, store.Bodies, be64(uint64(i)), bytes.Repeat([]byte{byte(i)}, 4096)); err != nil {
				return err
			}
		}
		return tx.Put(tenantA, store.Secrets, []byte("key"), []byte("other"))
	})
	if string(fromGet) != "value" || string(scanKey) != "key" || string(scanValue) != "value" {
		t.Fatalf("slices kept from a finished transaction changed: Get %q, Scan %q = %q", fromGet, scanKey, scanValue)
	}
	// Mutating them does not change the store.
	put(t, s, tenantA, store.Secrets, []byte("key"), []byte("value"))
	view(t, s, func(tx store.Tx) error {
		got, err := tx.Get(tenantA, store.Secrets, []byte("key"))
		if err != nil {
			return err
		}
		copy(got, "XXXXX")
		return tx.Scan(tenantA, store.Secrets, store.Range{}, func(k, v []byte) error {
			copy(v, "YYYYY")
			return nil
		})
	})
	if got := get(t, s, tenantA, store.Secrets, []byte("key")); string(got) != "value" {
		t.Fatalf("mutating returned slices changed the store: %q", got)
	}
}

func testContext(t *testing.T, s store.Store) {
	createTenants(t, s, tenantA)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Update(cancelled, func(tx store.Tx) error {
		return tx.Put(tenantA, store.Secrets, []byte("k"), []byte("v"))
	}); err == nil {
		t.Error("Update with a cancelled context: err = nil")
	}
	if got := get(t, s, tenantA, store.Secrets, []byte("k")); got != nil {
		t.Errorf("Update with a cancelled context wrote %q", got)
	}
	if err := s.View(cancelled, func(tx store.Tx) error { return nil }); err == nil {
		t.Error("View with a cancelled context: err = nil")
	}
	if _, err := s.Lease(cancelled, "job", "me", time.Second); err == nil {
		t.Error("Lease with a cancelled context: err = nil")
	}
}

func testLease(t *testing.T, s store.Store) {
	const ttl = time.Second
	lease := func(name, holder string) bool {
		t.Helper()
		ok, err := s.Lease(ctx, name, holder, ttl)
		if err != nil {
			t.Fatalf("Lease(%q, %q): %v", name, holder, err)
		}
		return ok
	}
	if !lease("janitor", "a") {
		t.Fatal("Lease of a free lease: not granted")
	}
	if !lease("janitor", "a") {
		t.Fatal("Lease renewed by its holder: not granted")
	}
	if lease("janitor", "b") {
		t.Fatal("Lease held by a granted to b")
	}
	// Another name is another lease.
	if !lease("retention", "b") {
		t.Fatal("Lease of another free lease: not granted")
	}
	// Once a stops renewing, the lease passes to b after the ttl.
	start := time.Now()
	deadline := start.Add(10 * ttl)
	for !lease("janitor", "b") {
		if time.Now().After(deadline) {
			t.Fatalf("Lease not granted to b %v after a stopped renewing (ttl %v)", time.Since(start), ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lease("janitor", "a") {
		t.Fatal("Lease now held by b granted back to a")
	}
	if !lease("janitor", "b") {
		t.Fatal("Lease renewed by its new holder: not granted")
	}
}

// concurrently runs fn(i) for i in [0, n) on n goroutines started together
// and returns the errors.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func testConcurrentCounter(t *testing.T, s store.Store) {
	// Read-modify-write of one key: only serializable transactions (and a
	// backend that retries the ones that fail to serialize) count every
	// increment exactly once.
	const n, m = 20, 5
	createTenants(t, s, tenantA)
	key := []byte("counter")
	errs := concurrently(n, func(int) error {
		for j := 0; j < m; j++ {
			err := s.Update(ctx, func(tx store.Tx) error {
				v, err := tx.Get(tenantA, store.Attempts, key)
				if err != nil {
					return err
				}
				var c uint64
				if v != nil {
					c = binary.BigEndian.Uint64(v)
				}
				return tx.Put(tenantA, store.Attempts, key, be64(c+1))
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	v := get(t, s, tenantA, store.Attempts, key)
	if len(v) != 8 {
		t.Fatalf("counter = %q", v)
	}
	if got := binary.BigEndian.Uint64(v); got != n*m {
		t.Fatalf("counter after %d×%d concurrent increments = %d", n, m, got)
	}
}

// errConflict is what a version-checked put returns when the version moved.
var errConflict = errors.New("version conflict")

func testConcurrentVersionedPut(t *testing.T, s store.Store) {
	const n, rounds = 10, 5
	createTenants(t, s, tenantA)
	key := []byte("secret")
	put(t, s, tenantA, store.Secrets, key, be64(0))
	for round := uint64(0); round < rounds; round++ {
		errs := concurrently(n, func(i int) error {
			return s.Update(ctx, func(tx store.Tx) error {
				v, err := tx.Get(tenantA, store.Secrets, key)
				if err != nil {
					return err
				}
				if binary.BigEndian.Uint64(v) != round {
					return errConflict
				}
				return tx.Put(tenantA, store.Secrets, key, be64(round+1))
			})
		})
		var won int
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, errConflict):
			default:
				t.Fatalf("round %d: Update: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d version-checked puts won, want exactly 1", round, won, n)
		}
		v := get(t, s, tenantA, store.Secrets, key)
		if got := binary.BigEndian.Uint64(v); got != round+1 {
			t.Fatalf("round %d: version = %d, want %d", round, got, round+1)
		}
	}
}

func testConcurrentCreateTenant(t *testing.T, s store.Store) {
	const n = 10
	created := make([]bool, n)
	errs := concurrently(n, func(i int) error {
		return s.Update(ctx, func(tx store.Tx) error {
			c, err := tx.CreateTenant(tenantA)
			if err != nil {
				return err
			}
			created[i] = c
			if c {
				return tx.Put(tenantA, store.Tenant, store.KeyMeta, []byte{byte(i)})
			}
			return nil
		})
	})
	var winners []int
	for i, err := range errs {
		if err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		if created[i] {
			winners = append(winners, i)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent CreateTenant reported created, want exactly 1", len(winners), n)
	}
	if got := get(t, s, tenantA, store.Tenant, store.KeyMeta); !bytes.Equal(got, []byte{byte(winners[0])}) {
		t.Fatalf("meta = %v, written by %d", got, winners[0])
	}
}

func testConcurrentAppend(t *testing.T, s store.Store) {
	const n, m = 10, 10
	createTenants(t, s, tenantA)
	seqs := make([][]uint64, n)
	errs := concurrently(n, func(i int) error {
		for j := 0; j < m; j++ {
			var seq uint64
			err := s.Update(ctx, func(tx store.Tx) error {
				var err error
				seq, err = tx.NextSequence(tenantA, store.Audit)
				if err != nil {
					return err
				}
				return tx.Put(tenantA, store.Audit, be64(seq), []byte(fmt.Sprintf("%d/%d", i, j)))
			})
			if err != nil {
				return err
			}
			seqs[i] = append(seqs[i], seq)
		}
		return nil
	})
	seen := map[uint64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		for j, seq := range seqs[i] {
			if seen[seq] {
				t.Fatalf("sequence %d committed twice", seq)
			}
			seen[seq] = true
			if j > 0 && seq <= seqs[i][j-1] {
				t.Fatalf("goroutine %d got %d after %d", i, seq, seqs[i][j-1])
			}
		}
	}
	got := scan(t, s, tenantA, store.Audit, store.Range{})
	if len(got) != n*m {
		t.Fatalf("audit holds %d events after %d appends", len(got), n*m)
	}
	for _, e := range got {
		seq := binary.BigEndian.Uint64([]byte(e.k))
		if !seen[seq] {
			t.Fatalf("audit key %d was not returned by NextSequence", seq)
		}
	}
}
