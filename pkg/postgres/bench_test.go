package postgres_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/connect-secrets/secrets/pkg/store"
)

// BenchmarkGet reads one sealed-record-sized value in a View.
func BenchmarkGet(b *testing.B) {
	s := pgtest.MustOpenTest(b)
	ctx := context.Background()
	key := []byte("secret-id-0123456789")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateTenant("t"); err != nil {
			return err
		}
		return tx.Put("t", store.Secrets, key, make([]byte, 512))
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		err := s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get("t", store.Secrets, key)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate writes a record and appends an audit event in one Update,
// the shape of most engine writes.
func BenchmarkUpdate(b *testing.B) {
	s := pgtest.MustOpenTest(b)
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.CreateTenant("t")
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 512)
	var i uint64
	for b.Loop() {
		i++
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put("t", store.Secrets, binary.BigEndian.AppendUint64(nil, i), value); err != nil {
				return err
			}
			seq, err := tx.NextSequence("t", store.Audit)
			if err != nil {
				return err
			}
			return tx.Put("t", store.Audit, binary.BigEndian.AppendUint64(nil, seq), value)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
