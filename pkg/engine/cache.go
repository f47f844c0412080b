package engine

import (
	"bytes"
	"hash/maphash"
	"sync"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// decoded is a bounded cache of records the engine has opened and decoded,
// keyed by where they are stored and checked against the sealed bytes
// themselves: an entry is served only while the store holds byte-for-byte
// the value it was decoded from, under the same tenant key. So it needs no
// invalidation, and is right on every replica whatever another replica
// wrote: a changed record has new bytes (every seal draws a fresh nonce),
// and a missing one is not looked up.
//
// Why a cache and not a cheaper record format: the list route opens every
// record of a container on every request, and profiles showed JSON decoding
// of the records as the largest cost, then allocation. A binary format
// would still open (AES-GCM) and decode each record each time; the cache
// skips both for the records that did not change, which on the read paths
// is almost all of them. It costs a comparison of the sealed bytes.
//
// What it holds: the metadata the list returns (title, version, times,
// account ids, container), first pages of lists (listcache.go) and
// installation records — never a data key, a
// body, or a record's wrapped data key. Installation records carry the
// site's shared secret, which the engine needs on every host request
// anyway; the tenant keys that open everything sit in the engine's memory
// already.
//
// Bounded: two generations per shard; when the current one fills, it
// becomes the previous one and the oldest is dropped, so memory stays
// below maxBytes and a record in use survives by moving forward on a hit.
type decoded struct {
	seed     maphash.Seed
	shards   [decodedShards]decodedShard
	maxBytes int // per shard and generation
}

const decodedShards = 16

// DefaultDecodedCacheBytes bounds the decoded-record cache: about 40,000
// secrets' metadata.
const DefaultDecodedCacheBytes = 32 << 20

type decodedShard struct {
	mu       sync.Mutex
	cur, old map[decodedKey]decodedEntry
	curBytes int
}

// decodedKey names a stored record: its kind (a record type), tenant and id.
type decodedKey struct {
	kind   byte
	tenant string
	id     string
}

const (
	kindListMeta     byte = iota + 1 // listMeta of a secret record
	kindInstallation                 // *secrets.Installation
	kindListPage                     // *keptPage, sealed is the list version (listcache.go)
)

type decodedEntry struct {
	key    *seal.TenantKey // the key that opened sealed
	sealed []byte
	val    any
}

// listMeta is what a list needs of a secret record.
type listMeta struct {
	meta      secrets.Secret
	container string
}

func newDecoded(maxBytes int) *decoded {
	d := &decoded{seed: maphash.MakeSeed(), maxBytes: max(maxBytes/(2*decodedShards), 1)}
	for i := range d.shards {
		d.shards[i].cur = map[decodedKey]decodedEntry{}
	}
	return d
}

func (d *decoded) shard(k decodedKey) *decodedShard {
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.WriteString(k.tenant)
	h.WriteString(k.id)
	return &d.shards[h.Sum64()%decodedShards]
}

// get returns the value decoded from sealed under key, if it is cached.
func (d *decoded) get(kd decodedKey, key *seal.TenantKey, sealed []byte) (any, bool) {
	s := d.shard(kd)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.cur[kd]; ok {
		if e.key == key && bytes.Equal(e.sealed, sealed) {
			return e.val, true
		}
		return nil, false
	}
	if e, ok := s.old[kd]; ok && e.key == key && bytes.Equal(e.sealed, sealed) {
		s.add(d.maxBytes, kd, e) // in use: keep it through the next turn
		return e.val, true
	}
	return nil, false
}

// put remembers val as what sealed, opened with key, decodes to. sealed is
// copied: a store's bytes may be valid only inside its transaction.
func (d *decoded) put(kd decodedKey, key *seal.TenantKey, sealed []byte, val any) {
	s := d.shard(kd)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(d.maxBytes, kd, decodedEntry{key: key, sealed: bytes.Clone(sealed), val: val})
}

// add puts e in the current generation, turning generations when full.
func (s *decodedShard) add(maxBytes int, kd decodedKey, e decodedEntry) {
	size := entrySize(kd, e)
	if old, ok := s.cur[kd]; ok {
		s.curBytes -= entrySize(kd, old)
	} else if s.curBytes+size > maxBytes {
		s.old, s.cur, s.curBytes = s.cur, make(map[decodedKey]decodedEntry, len(s.cur)), 0
	}
	s.cur[kd] = e
	s.curBytes += size
}

// entrySize estimates an entry's memory: its bytes and strings, and a
// fixed allowance for the map slot and the decoded value's headers.
func entrySize(kd decodedKey, e decodedEntry) int {
	n := 256 + len(kd.tenant) + len(kd.id) + len(e.sealed)
	switch v := e.val.(type) {
	case *listMeta:
		n += len(v.container) + len(v.meta.ID) + len(v.meta.Title) + len(v.meta.CreatedBy) + len(v.meta.UpdatedBy)
	case *keptPage:
		n += keptPageSize(v)
	case *secrets.Installation:
		n += len(v.ClientKey) + len(v.AppKey) + len(v.SharedSecret) + len(v.BaseURL) + len(v.DisplayURL) +
			len(v.Description) + len(v.ServerVersion) + len(v.PluginsVersion) + len(v.OAuthClientID) + len(v.CloudID)
	}
	return n
}
