package seal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// The limits Validate enforces. They are constants rather than reads of
// MinKDFParams so that no assignment to an exported variable can lower the
// floor.
const (
	minKDFMemory = 19 * 1024 // KiB; OWASP's argon2id floor (m=19 MiB, t=2, p=1)
	minKDFTime   = 2
	maxKDFMemory = 1 << 22 // KiB (4 GiB): anything larger is a corrupt record, not a choice
	maxKDFTime   = 64
	saltSize     = 16 // bytes NewParams draws
	minSaltSize  = 16
	maxSaltSize  = 64
)

// KDFParams are the argon2id parameters of one password-derived key. They are
// stored next to the wrapped DEK (as JSON, hence the short tags) so that each
// secret can be opened with the parameters it was sealed with, and upgraded
// on its next successful unlock when they are Weaker than the defaults.
type KDFParams struct {
	Memory  uint32 `json:"m"` // KiB
	Time    uint32 `json:"t"` // passes
	Threads uint8  `json:"p"` // lanes
	Salt    []byte `json:"s"` // 16 random bytes (16..64 accepted)
}

// DefaultKDFParams is RFC 9106's second recommended option, for
// memory-constrained environments: 64 MiB, 3 passes, 4 lanes. It is a
// template without a salt; KDF.NewParams adds one.
var DefaultKDFParams = KDFParams{Memory: 64 * 1024, Time: 3, Threads: 4}

// MinKDFParams is the floor: OWASP's minimum argon2id configuration,
// 19 MiB and 2 passes. Validate refuses anything cheaper.
var MinKDFParams = KDFParams{Memory: 19 * 1024, Time: 2, Threads: 1}

// Validate checks parameters read back from storage or about to be used:
// memory from MinKDFParams.Memory up to 4 GiB, time from 2 to 64, at least one
// thread, and a salt of 16 to 64 bytes. Parameters below the floor are
// refused rather than honoured, so a tampered or ancient record cannot make a
// password cheap to guess. The error names the failing field but never the
// salt.
func (p KDFParams) Validate() error {
	if err := p.ValidateTemplate(); err != nil {
		return err
	}
	if len(p.Salt) < minSaltSize || len(p.Salt) > maxSaltSize {
		return fmt.Errorf("seal: kdf params: salt is %d bytes, want %d to %d", len(p.Salt), minSaltSize, maxSaltSize)
	}
	return nil
}

// ValidateTemplate is Validate without the salt requirement, for parameters
// used as a template, such as DefaultKDFParams.
func (p KDFParams) ValidateTemplate() error {
	switch {
	case p.Memory < minKDFMemory || p.Memory > maxKDFMemory:
		return fmt.Errorf("seal: kdf params: memory %d KiB is outside %d to %d KiB", p.Memory, minKDFMemory, maxKDFMemory)
	case p.Time < minKDFTime || p.Time > maxKDFTime:
		return fmt.Errorf("seal: kdf params: time %d is outside %d to %d", p.Time, minKDFTime, maxKDFTime)
	case p.Threads < 1:
		return errors.New("seal: kdf params: threads must be at least 1")
	}
	return nil
}

// Weaker reports whether p costs less than target in memory or in time, in
// which case a key derived with p should be re-derived with fresh target
// parameters the next time the password is known.
func (p KDFParams) Weaker(target KDFParams) bool {
	return p.Memory < target.Memory || p.Time < target.Time
}

// ErrBusy is returned by KDF.DeriveKey when its context ended (deadline or
// cancellation) before enough of the memory budget was free to start. A
// context that is already done gives ErrBusy without deriving. The
// *QueueFullError of a refused call matches it too.
var ErrBusy = errors.New("seal: key derivation is busy")

// KDF derives keys from passwords with argon2id, running at most a budget of
// argon2 memory at once. argon2 allocates its whole memory on every call, so
// unbounded concurrency is a memory exhaustion waiting to happen; KDF instead
// queues callers until their context ends.
//
// The queue is fair, not first come first served: waiting calls are served
// round-robin by tenant, then by user within a tenant (see Requester), so one
// user flooding creates delays their own calls and not another tenant's
// unlock. How many calls one user, one tenant and everyone may have waiting
// is capped (WithQueueLimits); a call over a cap is refused at once with a
// *QueueFullError rather than left to time out.
//
// Each call weighs its Memory in bytes. A call heavier than the whole budget
// takes the whole budget: it runs, alone, rather than never. So concurrency ×
// memory never exceeds the budget, and a call fails only with invalid
// parameters, a full queue, or a context that ends while it waits.
//
// A KDF is safe for concurrent use. Build one with NewKDF.
type KDF struct {
	defaults  KDFParams
	budget    int64 // bytes
	minWeight int64 // bytes every call weighs at least; caps concurrency
	q         fairQueue

	waiting   atomic.Int64
	running   atomic.Int64
	completed atomic.Uint64
	waitNanos atomic.Int64

	// held, if a test sets it, runs while a derivation holds its share of
	// the budget, so tests can observe the pool deterministically.
	held func()
}

// KDFOption adjusts a KDF at construction.
type KDFOption func(*KDF)

// WithMaxConcurrent caps how many derivations run at once, whatever memory
// is free. argon2 is CPU-bound and each call already runs Threads lanes in
// parallel: running more calls than the CPUs can carry only makes each one
// slower and starves every other request of CPU. n <= 0 means no cap beyond
// memory.
func WithMaxConcurrent(n int) KDFOption {
	return func(k *KDF) {
		if n > 0 {
			k.minWeight = k.budget / int64(n)
		}
	}
}

// NewKDF returns a KDF that keeps argon2 memory within budgetBytes and hands
// out defaults through NewParams. defaults must pass ValidateTemplate (any
// salt in it is dropped), and budgetBytes must fit at least one derivation
// with the defaults.
func NewKDF(budgetBytes int64, defaults KDFParams, opts ...KDFOption) (*KDF, error) {
	if err := defaults.ValidateTemplate(); err != nil {
		return nil, err
	}
	if w := memoryBytes(defaults); budgetBytes < w {
		return nil, fmt.Errorf("seal: kdf budget of %d bytes is less than one derivation's %d bytes", budgetBytes, w)
	}
	defaults.Salt = nil // a shared salt would defeat its purpose
	k := &KDF{
		defaults: defaults,
		budget:   budgetBytes,
		q:        newFairQueue(budgetBytes),
	}
	for _, o := range opts {
		o(k)
	}
	return k, nil
}

// memoryBytes is the weight of one derivation: its argon2 memory in bytes.
// int64 arithmetic, since Memory in KiB times 1024 overflows uint32.
func memoryBytes(p KDFParams) int64 { return int64(p.Memory) * 1024 }

// Defaults returns the default parameters, without a salt.
func (k *KDF) Defaults() KDFParams { return k.defaults }

// NewParams returns the default parameters with a fresh random 16-byte salt,
// for a new password.
func (k *KDF) NewParams() (KDFParams, error) {
	p := k.defaults
	p.Salt = make([]byte, saltSize)
	if _, err := rand.Read(p.Salt); err != nil {
		return KDFParams{}, fmt.Errorf("seal: kdf salt: %w", err)
	}
	return p, nil
}

// DeriveKey derives a key encryption key (a Key with id 0) from password with
// argon2id and p, waiting for its share of the memory budget first. It
// derives on behalf of the Requester in ctx (WithRequester), anonymous if
// there is none; see DeriveKeyFor.
func (k *KDF) DeriveKey(ctx context.Context, password []byte, p KDFParams) (*Key, error) {
	return k.DeriveKeyFor(ctx, RequesterFrom(ctx), password, p)
}

// DeriveKeyFor derives a key encryption key (a Key with id 0) from password
// with argon2id and p on behalf of r, waiting for its share of the memory
// budget in r's fair turn first. Invalid parameters are an error (not
// ErrBusy) before any waiting; a call over a queue limit is refused at once
// with a *QueueFullError (errors.Is ErrQueueFull); a context that ends while
// waiting is ErrBusy. Once started, a derivation runs to the end. password
// is not retained or modified.
func (k *KDF) DeriveKeyFor(ctx context.Context, r Requester, password []byte, p KDFParams) (*Key, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	// A call weighs its memory, at least the concurrency cap's share, and at
	// most the whole budget.
	w := min(max(memoryBytes(p), k.minWeight), k.budget)

	start := time.Now()
	err := k.q.acquire(ctx, r, w, func(d int64) { k.waiting.Add(d) })
	k.waitNanos.Add(int64(time.Since(start)))
	if err != nil {
		// A full queue says when to retry; otherwise the context's error
		// would only tell deadline from cancellation, which the caller
		// knows from its own ctx.
		return nil, err
	}
	began := time.Now()
	defer func() { k.q.release(w, time.Since(began)) }()
	// Deferred after release so it runs first: Running drops before the
	// memory is handed to the next caller, and so never overstates.
	k.running.Add(1)
	defer k.running.Add(-1)

	if k.held != nil {
		k.held()
	}
	raw := argon2.IDKey(password, p.Salt, p.Time, p.Memory, p.Threads, keySize)
	defer clear(raw)
	key, err := NewKey(0, raw)
	if err != nil {
		return nil, err
	}
	k.completed.Add(1)
	return key, nil
}

// Refuses returns the *QueueFullError that a derivation for r would be
// refused with if it were asked for now, or nil. It queues nothing. A caller
// that must write something before deriving (an attempt counter) asks first,
// so that a flood of calls the queue would refuse costs no writes; the
// answer can change at once, so DeriveKeyFor may still refuse.
func (k *KDF) Refuses(r Requester) error { return k.q.refuses(r) }

// KDFStats is a snapshot of a KDF's activity, for metrics. Fields are read
// one by one, so they need not be mutually consistent.
type KDFStats struct {
	Waiting   int64         // callers queued for memory now
	Running   int64         // derivations running now
	Completed uint64        // derivations finished since NewKDF
	WaitTotal time.Duration // time all callers spent queued, including those that gave up
}

// Stats returns the KDF's current activity.
func (k *KDF) Stats() KDFStats {
	return KDFStats{
		Waiting:   k.waiting.Load(),
		Running:   k.running.Load(),
		Completed: k.completed.Load(),
		WaitTotal: time.Duration(k.waitNanos.Load()),
	}
}
