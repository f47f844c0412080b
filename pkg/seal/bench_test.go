package seal_test

import (
	"fmt"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

func BenchmarkSealOpen(b *testing.B) {
	key := MustNewKey(b, 1, MustRandomKey(b))
	ad := seal.AD("tenant", "client-1", "secrets", "s1", "v1")
	for _, size := range []int{1 << 10, 128 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			plaintext := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				env, err := key.Seal(plaintext, ad)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := key.Open(env, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKeyringWrap is one wrap and unwrap of a tenant key by the master
// keyring, the work of loading a tenant.
func BenchmarkKeyringWrap(b *testing.B) {
	kr := MustParseKeyring(b, opensslKey)
	tenantKey := MustRandomKey(b)
	ad := seal.AD("tenant", "client-1", "key")
	b.ReportAllocs()
	for b.Loop() {
		env, err := kr.Seal(tenantKey, ad)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := kr.Open(env, ad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := seal.NewTenantKey(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKDFDefault is the raw argon2id rate with DefaultKDFParams, one
// derivation at a time: the latency of an unlock.
func BenchmarkKDFDefault(b *testing.B) {
	p := seal.DefaultKDFParams
	kdf, err := seal.NewKDF(int64(p.Memory)*1024, p)
	if err != nil {
		b.Fatal(err)
	}
	params := MustNewParams(b, kdf)
	password := []byte("correct horse battery staple")
	for b.Loop() {
		if _, err := kdf.DeriveKey(b.Context(), password, params); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKDFParallel runs DefaultKDFParams derivations from more callers
// than fit in a 256 MiB budget (4 at a time), reporting the mean time a
// derivation spent queued.
func BenchmarkKDFParallel(b *testing.B) {
	kdf, err := seal.NewKDF(256<<20, seal.DefaultKDFParams)
	if err != nil {
		b.Fatal(err)
	}
	params := MustNewParams(b, kdf)
	password := []byte("correct horse battery staple")
	b.SetParallelism(4) // 4 × GOMAXPROCS callers, so some always queue
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := kdf.DeriveKey(b.Context(), password, params); err != nil {
				b.Error(err)
				return
			}
		}
	})
	s := kdf.Stats()
	if s.Completed > 0 {
		b.ReportMetric(float64(s.WaitTotal.Nanoseconds())/float64(s.Completed), "wait-ns/op")
	}
}
