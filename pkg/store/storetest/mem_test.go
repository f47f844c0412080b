package storetest_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/store"
	"github.com/connect-secrets/secrets/pkg/store/storetest"
)

// TestMemory runs the suite on a tiny reference store, so the suite itself
// is tested without a database.
func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newMem() })
}

// mem is a reference store: one writer at a time, readers on a copy.
type mem struct {
	wmu    sync.Mutex // one Update at a time: trivially serializable
	mu     sync.RWMutex
	data   map[string]map[string][]byte // tenant+"\x00"+bucket → key → value
	tenant map[string]bool
	seq    map[string]uint64
	leases map[string]lease
}

type lease struct {
	holder string
	until  time.Time
}

func newMem() *mem {
	return &mem{data: map[string]map[string][]byte{}, tenant: map[string]bool{}, seq: map[string]uint64{}, leases: map[string]lease{}}
}

func (m *mem) clone() *mem {
	c := newMem()
	for k, b := range m.data {
		c.data[k] = map[string][]byte{}
		for kk, v := range b {
			c.data[k][kk] = v
		}
	}
	for k, v := range m.tenant {
		c.tenant[k] = v
	}
	for k, v := range m.seq {
		c.seq[k] = v
	}
	return c
}

func (m *mem) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	snap := m.clone()
	m.mu.RUnlock()
	return fn(&memTx{m: snap, ro: true})
}

func (m *mem) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.mu.RLock()
	work := m.clone()
	m.mu.RUnlock()
	if err := fn(&memTx{m: work}); err != nil {
		return err
	}
	m.mu.Lock()
	m.data, m.tenant, m.seq = work.data, work.tenant, work.seq
	m.mu.Unlock()
	return nil
}

func (m *mem) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[name]
	now := time.Now()
	if ok && l.holder != holder && now.Before(l.until) {
		return false, nil
	}
	m.leases[name] = lease{holder, now.Add(ttl)}
	return true, nil
}

func (m *mem) Ping(context.Context) error { return nil }
func (m *mem) Close() error               { return nil }

type memTx struct {
	m  *mem
	ro bool
}

func (tx *memTx) bucket(tenant string, b store.Bucket, key []byte) (map[string][]byte, error) {
	if err := store.CheckArgs(tenant, b, key); err != nil {
		return nil, err
	}
	if !b.Global() && !tx.m.tenant[tenant] {
		return nil, store.ErrNoTenant
	}
	name := tenant + "\x00" + string(b)
	if tx.m.data[name] == nil {
		tx.m.data[name] = map[string][]byte{}
	}
	return tx.m.data[name], nil
}

func (tx *memTx) Get(tenant string, b store.Bucket, key []byte) ([]byte, error) {
	bk, err := tx.bucket(tenant, b, key)
	if err != nil {
		return nil, err
	}
	v, ok := bk[string(key)]
	if !ok {
		return nil, nil
	}
	return append([]byte{}, v...), nil
}

func (tx *memTx) Put(tenant string, b store.Bucket, key, value []byte) error {
	if tx.ro {
		return store.ErrReadOnly
	}
	bk, err := tx.bucket(tenant, b, key)
	if err != nil {
		return err
	}
	bk[string(key)] = append([]byte{}, value...)
	return nil
}

func (tx *memTx) Delete(tenant string, b store.Bucket, key []byte) error {
	if tx.ro {
		return store.ErrReadOnly
	}
	bk, err := tx.bucket(tenant, b, key)
	if err != nil {
		return err
	}
	delete(bk, string(key))
	return nil
}

func (tx *memTx) Scan(tenant string, b store.Bucket, r store.Range, fn func(key, value []byte) error) error {
	bk, err := tx.bucket(tenant, b, nil)
	if err != nil {
		return err
	}
	var keys []string
	for k := range bk {
		if r.Contains([]byte(k)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if r.Reverse {
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
	}
	for _, k := range keys {
		if err := fn([]byte(k), append([]byte{}, bk[k]...)); err == store.Stop {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (tx *memTx) NextSequence(tenant string, b store.Bucket) (uint64, error) {
	if tx.ro {
		return 0, store.ErrReadOnly
	}
	if _, err := tx.bucket(tenant, b, nil); err != nil {
		return 0, err
	}
	tx.m.seq[tenant+"\x00"+string(b)]++
	return tx.m.seq[tenant+"\x00"+string(b)], nil
}

func (tx *memTx) Sequence(tenant string, b store.Bucket) (uint64, error) {
	if _, err := tx.bucket(tenant, b, nil); err != nil {
		return 0, err
	}
	return tx.m.seq[tenant+"\x00"+string(b)], nil
}

func (tx *memTx) SetSequence(tenant string, b store.Bucket, n uint64) error {
	if tx.ro {
		return store.ErrReadOnly
	}
	if _, err := tx.bucket(tenant, b, nil); err != nil {
		return err
	}
	if n > store.MaxSequence {
		return store.ErrInvalid
	}
	tx.m.seq[tenant+"\x00"+string(b)] = max(tx.m.seq[tenant+"\x00"+string(b)], n)
	return nil
}

func (tx *memTx) CreateTenant(tenant string) (bool, error) {
	if tx.ro {
		return false, store.ErrReadOnly
	}
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	if tx.m.tenant[tenant] {
		return false, nil
	}
	tx.m.tenant[tenant] = true
	return true, nil
}

func (tx *memTx) TenantExists(tenant string) (bool, error) {
	if err := store.CheckTenant(tenant); err != nil {
		return false, err
	}
	return tx.m.tenant[tenant], nil
}

func (tx *memTx) DeleteTenant(tenant string) error {
	if tx.ro {
		return store.ErrReadOnly
	}
	if err := store.CheckTenant(tenant); err != nil {
		return err
	}
	if !tx.m.tenant[tenant] {
		return store.ErrNoTenant
	}
	delete(tx.m.tenant, tenant)
	for _, b := range store.TenantBuckets {
		delete(tx.m.data, tenant+"\x00"+string(b))
		delete(tx.m.seq, tenant+"\x00"+string(b))
	}
	return nil
}

func (tx *memTx) Tenants(fn func(tenant string) error) error {
	var ts []string
	for t := range tx.m.tenant {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	for _, t := range ts {
		if err := fn(t); err == store.Stop {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}
