package seal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Requester names who a key derivation is for, so the KDF can share its
// memory fairly: first between tenants, then between the users of a tenant.
// Both are opaque strings (a Connect clientKey and an accountId); they are
// held in memory while a derivation waits and never logged or exported.
// The zero Requester is anonymous: such calls share one queue of their own.
type Requester struct {
	Tenant string
	User   string
}

type requesterKey struct{}

// WithRequester returns a context that makes DeriveKey derive on behalf of r.
// It lets a layer that knows the verified caller (the HTTP server) make the
// derivations of a layer that does not (storage) fair, without changing the
// calls in between.
func WithRequester(ctx context.Context, r Requester) context.Context {
	return context.WithValue(ctx, requesterKey{}, r)
}

// RequesterFrom returns the Requester WithRequester put in ctx, or the zero
// (anonymous) Requester.
func RequesterFrom(ctx context.Context) Requester {
	r, _ := ctx.Value(requesterKey{}).(Requester)
	return r
}

// ErrQueueFull is matched (with errors.Is) by the error DeriveKeyFor returns
// when a derivation is refused without waiting, because its user, its tenant
// or the whole KDF already has as many derivations queued as allowed. The
// error is a *QueueFullError, which says when to retry. It also matches
// ErrBusy, so callers that know only ErrBusy still treat it as "try later".
var ErrQueueFull = errors.New("seal: too many key derivations queued")

// QueueFullError is the error of a derivation refused because a queue was
// full. Scope says which limit was reached: "user", "tenant" or "total".
type QueueFullError struct {
	Scope      string
	RetryAfter time.Duration // a hint: roughly when a queued slot frees up
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("seal: too many key derivations queued for this %s; retry in %v", e.Scope, e.RetryAfter)
}

// Is makes a *QueueFullError match ErrQueueFull and ErrBusy.
func (e *QueueFullError) Is(target error) bool { return target == ErrQueueFull || target == ErrBusy }

// Default queue limits of NewKDF; see WithQueueLimits.
const (
	DefaultMaxQueuedPerUser   = 4
	DefaultMaxQueuedPerTenant = 16
	DefaultMaxQueued          = 256
)

// WithQueueLimits caps how many derivations may wait at once: per user of a
// tenant, per tenant, and in total. A call over a cap is refused at once with
// a *QueueFullError instead of waiting its turn, so that a flood by one user
// costs that user, not every other caller's deadline. A limit <= 0 means no
// cap. The per-user and per-tenant caps do not apply to anonymous calls
// (the zero Requester), which only the total bounds.
func WithQueueLimits(perUser, perTenant, total int) KDFOption {
	return func(k *KDF) {
		k.q.maxUser, k.q.maxTenant, k.q.maxTotal = perUser, perTenant, total
	}
}

// fairQueue hands out the budget of a KDF. With nothing queued a call takes
// its weight at once if the budget has it; otherwise it waits in a queue of
// its user inside a queue of its tenant. When memory frees up the queue
// serves tenants round-robin, and inside a tenant its users round-robin,
// each user's calls in order: a tenant with a thousand waiting calls gets
// one turn for every turn of a tenant with one.
//
// The next call in that order is served only when all of its weight is free
// (no overtaking by lighter calls), so a call that needs the whole budget
// still gets it.
type fairQueue struct {
	mu      sync.Mutex
	budget  int64
	free    int64
	tenants []*tenantQueue // round-robin order; only tenants with waiters
	byName  map[string]*tenantQueue
	total   int

	maxUser, maxTenant, maxTotal int

	// avg is a running average of how long a derivation holds its weight,
	// for the retry hint.
	avg time.Duration
}

type tenantQueue struct {
	name   string
	users  []*userQueue // round-robin order; only users with waiters
	byName map[string]*userQueue
	n      int
}

type userQueue struct {
	name    string
	waiters []*waiter
}

type waiter struct {
	weight  int64
	req     Requester
	ready   chan struct{} // closed when the weight is granted
	granted bool
}

func newFairQueue(budget int64) fairQueue {
	return fairQueue{budget: budget, free: budget, byName: map[string]*tenantQueue{},
		maxUser: DefaultMaxQueuedPerUser, maxTenant: DefaultMaxQueuedPerTenant, maxTotal: DefaultMaxQueued}
}

// acquire takes weight w of the budget for r, waiting in the fair order until
// it is free or ctx ends (ErrBusy), or refusing at once (*QueueFullError).
func (q *fairQueue) acquire(ctx context.Context, r Requester, w int64, queued func(delta int64)) error {
	q.mu.Lock()
	if ctx.Err() != nil {
		q.mu.Unlock()
		return ErrBusy
	}
	if q.total == 0 && q.free >= w {
		q.free -= w
		q.mu.Unlock()
		return nil
	}
	t := q.byName[r.Tenant]
	var u *userQueue
	if t != nil {
		u = t.byName[r.User]
	}
	if err := q.refusalLocked(r, t, u); err != nil {
		q.mu.Unlock()
		return err
	}
	// A tenant (or user) that had nobody waiting goes first, not last: a
	// victim's single unlock then waits for the derivation running and its
	// own, not for a turn of every flooding tenant as well. It cannot
	// starve the others: it is new only while it had nothing queued, so
	// each tenant jumps the order at most once per queue it empties.
	if t == nil {
		t = &tenantQueue{name: r.Tenant, byName: map[string]*userQueue{}}
		q.byName[r.Tenant] = t
		q.tenants = slices.Insert(q.tenants, 0, t)
	}
	if u == nil {
		u = &userQueue{name: r.User}
		t.byName[r.User] = u
		t.users = slices.Insert(t.users, 0, u)
	}
	wt := &waiter{weight: w, req: r, ready: make(chan struct{})}
	u.waiters = append(u.waiters, wt)
	t.n++
	q.total++
	queued(1)
	q.mu.Unlock()

	select {
	case <-wt.ready:
		queued(-1)
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	queued(-1)
	if wt.granted {
		// Granted as the context ended: hand the weight on rather than
		// leak it.
		q.free += w
		q.dispatchLocked()
		return ErrBusy
	}
	q.removeLocked(wt)
	// The one that left may have been the head of the order, holding back
	// lighter calls behind it.
	q.dispatchLocked()
	return ErrBusy
}

// refusalLocked is the refusal of a call by r that would have to wait,
// given r's tenant and user queues (nil when they have none), or nil when
// it may wait its turn.
func (q *fairQueue) refusalLocked(r Requester, t *tenantQueue, u *userQueue) error {
	named := r != (Requester{})
	switch {
	case q.maxTotal > 0 && q.total >= q.maxTotal:
		return q.refusal("total", q.total)
	case named && q.maxTenant > 0 && t != nil && t.n >= q.maxTenant:
		return q.refusal("tenant", t.n)
	case named && q.maxUser > 0 && u != nil && len(u.waiters) >= q.maxUser:
		return q.refusal("user", len(u.waiters))
	}
	return nil
}

// refusal is the refusal for a queue of n waiting; q.mu is held.
func (q *fairQueue) refusal(scope string, n int) error {
	avg := q.avg
	if avg <= 0 {
		avg = time.Second
	}
	// Everyone queued in that scope goes first; at least a second, so
	// clients do not spin.
	retry := max(time.Second, time.Duration(n)*avg)
	return &QueueFullError{Scope: scope, RetryAfter: retry.Round(time.Second)}
}

// refuses is what acquire would refuse r with right now, without queueing.
func (q *fairQueue) refuses(r Requester) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.total == 0 {
		// Nothing waits: a call runs at once or is the first to wait.
		return nil
	}
	t := q.byName[r.Tenant]
	var u *userQueue
	if t != nil {
		u = t.byName[r.User]
	}
	return q.refusalLocked(r, t, u)
}

// release returns weight w, held for d, and serves the queue.
func (q *fairQueue) release(w int64, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.free += w
	if q.avg == 0 {
		q.avg = d
	} else {
		q.avg += (d - q.avg) / 8
	}
	q.dispatchLocked()
}

// dispatchLocked grants waiters in the fair order while the next one's weight
// is free.
func (q *fairQueue) dispatchLocked() {
	for len(q.tenants) > 0 {
		t := q.tenants[0]
		u := t.users[0]
		wt := u.waiters[0]
		if q.free < wt.weight {
			return
		}
		q.free -= wt.weight
		wt.granted = true
		close(wt.ready)
		u.waiters = u.waiters[1:]
		t.n--
		q.total--
		// The user goes to the back of its tenant's turn, and the tenant to
		// the back of the tenants' turn: round-robin at both levels.
		t.users = t.users[1:]
		if len(u.waiters) > 0 {
			t.users = append(t.users, u)
		} else {
			delete(t.byName, u.name)
		}
		q.tenants = q.tenants[1:]
		if t.n > 0 {
			q.tenants = append(q.tenants, t)
		} else {
			delete(q.byName, t.name)
		}
	}
}

// removeLocked takes a waiter that gave up out of the queue.
func (q *fairQueue) removeLocked(wt *waiter) {
	t := q.byName[wt.req.Tenant]
	if t == nil {
		return
	}
	u := t.byName[wt.req.User]
	if u == nil {
		return
	}
	for i, x := range u.waiters {
		if x == wt {
			u.waiters = append(u.waiters[:i:i], u.waiters[i+1:]...)
			t.n--
			q.total--
			break
		}
	}
	if len(u.waiters) == 0 {
		delete(t.byName, u.name)
		t.users = deleteItem(t.users, u)
	}
	if t.n == 0 {
		delete(q.byName, t.name)
		q.tenants = deleteItem(q.tenants, t)
	}
}

func deleteItem[T comparable](s []T, x T) []T {
	for i, y := range s {
		if y == x {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}

// tryAcquire takes w if it is free and nothing is queued; for tests.
func (q *fairQueue) tryAcquire(w int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.total == 0 && q.free >= w {
		q.free -= w
		return true
	}
	return false
}
