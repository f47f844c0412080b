package server

import (
	"container/list"
	"math"
	"sync"
	"time"
)

// Rate is a token bucket: Burst requests at once, refilled at PerSecond.
type Rate struct {
	PerSecond float64
	Burst     int
}

// RateLimits bound the requests that are expensive for the server and cheap
// for the caller. A zero Rate takes its default; a negative PerSecond turns
// that limit off.
type RateLimits struct {
	// WritesPerUser bounds creates and password changes (each one argon2
	// derivation) per verified (tenant, account). Default 20 at once, then
	// one every 2 s.
	WritesPerUser Rate
	// WritesPerTenant bounds them per tenant, so that a site minting
	// accounts cannot multiply its share. Default 100 at once, then 10/s.
	WritesPerTenant Rate
	// LifecyclePerIP bounds unauthenticated lifecycle callbacks per remote
	// address, before any token is checked or key fetched. Default 30 at
	// once, then 1/s.
	LifecyclePerIP Rate
	// Lifecycle bounds them in total. Default 200 at once, then 20/s.
	Lifecycle Rate
}

func (r Rate) or(def Rate) Rate {
	if r == (Rate{}) {
		return def
	}
	return r
}

// maxLimiterKeys bounds the memory of one limiter: past it the least recently
// seen key is forgotten (and starts again with a full bucket, which the
// coarser limit above it still bounds).
const maxLimiterKeys = 10000

// limiter is a set of token buckets by key, with bounded memory. Keys are
// verified identities or peer addresses, never request-chosen strings.
type limiter struct {
	rate Rate
	now  func() time.Time

	mu   sync.Mutex
	lru  *list.List // of *bucket, most recently used first
	keys map[string]*list.Element
	max  int
}

type bucket struct {
	key    string
	tokens float64
	at     time.Time
}

func newLimiter(r Rate, now func() time.Time) *limiter {
	if r.PerSecond < 0 || r.Burst <= 0 {
		return nil // off
	}
	return &limiter{rate: r, now: now, lru: list.New(), keys: map[string]*list.Element{}, max: maxLimiterKeys}
}

// allow takes a token from key's bucket. When there is none it returns false
// and how long until there is one.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if e, ok := l.keys[key]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*bucket)
		if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
			b.tokens = math.Min(float64(l.rate.Burst), b.tokens+elapsed*l.rate.PerSecond)
		}
		b.at = now
	} else {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.keys, old.Value.(*bucket).key)
		}
		b = &bucket{key: key, tokens: float64(l.rate.Burst), at: now}
		l.keys[key] = l.lru.PushFront(b)
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if l.rate.PerSecond <= 0 {
		return false, time.Hour
	}
	wait := time.Duration((1 - b.tokens) / l.rate.PerSecond * float64(time.Second))
	return false, max(wait, time.Second)
}

// refund gives back a token allow took, when a later check refused the
// request after all.
func (l *limiter) refund(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.keys[key]; ok {
		b := e.Value.(*bucket)
		b.tokens = math.Min(float64(l.rate.Burst), b.tokens+1)
	}
}

// size is how many keys the limiter remembers; for tests.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
