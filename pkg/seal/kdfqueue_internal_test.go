package seal

import (
	"errors"
	"fmt"
	"testing"
)

// queueFixture is a KDF with room for exactly one derivation, held by a
// first caller, so every later call queues and the test decides, one release
// at a time, when the next one runs. Completion order is then grant order.
type queueFixture struct {
	t    *testing.T
	k    *KDF
	p    KDFParams
	g    *gate
	done chan string
	errs chan error
	n    int64 // calls queued so far
}

func newQueueFixture(t *testing.T, opts ...KDFOption) *queueFixture {
	t.Helper()
	k, err := NewKDF(memoryBytes(MinKDFParams), MinKDFParams, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f := &queueFixture{t: t, k: k, p: mustNewParams(t, k), g: newGate(), done: make(chan string, 64), errs: make(chan error, 64)}
	k.held = f.g.hold
	f.start(Requester{Tenant: "holder", User: "h"}, "holder")
	<-f.g.entered // the budget is now spent
	return f
}

// start calls DeriveKeyFor for r in a goroutine; name is reported when it
// ends.
func (f *queueFixture) start(r Requester, name string) {
	go func() {
		_, err := f.k.DeriveKeyFor(f.t.Context(), r, []byte("pw"), f.p)
		if err != nil {
			f.errs <- fmt.Errorf("%s: %w", name, err)
		}
		f.done <- name
	}()
}

// enqueue starts a call and waits until it is queued, so queue order is the
// order of enqueue calls.
func (f *queueFixture) enqueue(r Requester, name string) {
	f.start(r, name)
	f.n++
	waitFor(func() bool { return f.k.Stats().Waiting == f.n })
}

// drain lets every derivation through one at a time and returns the order in
// which the queued ones ran (after the holder).
func (f *queueFixture) drain() []string {
	var order []string
	f.g.release <- struct{}{} // the holder
	if got := <-f.done; got != "holder" {
		f.t.Fatalf("first to finish: %s, want holder", got)
	}
	for range f.n {
		<-f.g.entered
		f.g.release <- struct{}{}
		order = append(order, <-f.done)
	}
	select {
	case err := <-f.errs:
		f.t.Fatal(err)
	default:
	}
	return order
}

// TestKDFFairOrder: with one tenant's two users flooding the queue before a
// victim of another tenant asks, the victim runs next, not last (a tenant
// with nobody waiting goes first); inside the flooding tenant its users
// alternate, the later one first; each user's calls keep their order.
func TestKDFFairOrder(t *testing.T) {
	f := newQueueFixture(t)
	a := Requester{Tenant: "A", User: "a"}
	b := Requester{Tenant: "A", User: "b"}
	for i := 1; i <= DefaultMaxQueuedPerUser; i++ {
		f.enqueue(a, fmt.Sprintf("a%d", i))
	}
	for i := 1; i <= DefaultMaxQueuedPerUser; i++ {
		f.enqueue(b, fmt.Sprintf("b%d", i))
	}
	f.enqueue(Requester{Tenant: "B", User: "victim"}, "victim")
	got := fmt.Sprint(f.drain())
	want := "[victim b1 a1 b2 a2 b3 a3 b4 a4]"
	if got != want {
		t.Errorf("grant order %s, want %s (FIFO would put the victim last)", got, want)
	}
}

// TestKDFAnonymousIsOneRequester: calls without a Requester (old callers of
// DeriveKey) share one turn, first come first served among themselves.
func TestKDFAnonymousIsOneRequester(t *testing.T) {
	f := newQueueFixture(t)
	for i := 1; i <= 3; i++ {
		f.enqueue(Requester{}, fmt.Sprintf("anon%d", i))
	}
	f.enqueue(Requester{Tenant: "B", User: "v"}, "v")
	if got, want := fmt.Sprint(f.drain()), "[v anon1 anon2 anon3]"; got != want {
		t.Errorf("grant order %s, want %s", got, want)
	}
}

// TestKDFQueueCaps: over the per-user, per-tenant or total cap a call is
// refused at once with a *QueueFullError that says when to retry and counts
// as ErrQueueFull and ErrBusy; the refused call leaves nothing queued, and
// the others still run.
func TestKDFQueueCaps(t *testing.T) {
	f := newQueueFixture(t, WithQueueLimits(2, 3, 5))
	refused := func(r Requester, scope string) {
		t.Helper()
		// Refuses predicts the refusal without queueing anything.
		var pre *QueueFullError
		if err := f.k.Refuses(r); !errors.As(err, &pre) || pre.Scope != scope {
			t.Errorf("Refuses(%+v) = %v, want a %s QueueFullError", r, err, scope)
		}
		_, err := f.k.DeriveKeyFor(t.Context(), r, []byte("pw"), f.p)
		var qf *QueueFullError
		if !errors.As(err, &qf) || qf.Scope != scope || !errors.Is(err, ErrQueueFull) || !errors.Is(err, ErrBusy) {
			t.Fatalf("DeriveKeyFor(%+v) = %v, want a %s QueueFullError", r, err, scope)
		}
		if qf.RetryAfter < 1e9 {
			t.Errorf("RetryAfter = %v, want at least 1s", qf.RetryAfter)
		}
		if w := f.k.Stats().Waiting; w != f.n {
			t.Errorf("a refused call changed the queue: %d waiting, want %d", w, f.n)
		}
	}
	admitted := func(r Requester, name string) {
		t.Helper()
		if err := f.k.Refuses(r); err != nil {
			t.Fatalf("Refuses(%+v) = %v before a call the queue takes", r, err)
		}
		f.enqueue(r, name)
	}
	a1, a2, a3 := Requester{"A", "1"}, Requester{"A", "2"}, Requester{"A", "3"}
	admitted(a1, "a1-1")
	admitted(a1, "a1-2")
	refused(a1, "user")
	admitted(a2, "a2-1")
	refused(a3, "tenant") // A has 3 queued
	admitted(Requester{"B", "1"}, "b1-1")
	admitted(Requester{"C", "1"}, "c1-1")
	refused(Requester{"D", "1"}, "total")
	refused(Requester{}, "total") // anonymous calls count against the total
	if got := len(f.drain()); got != 5 {
		t.Errorf("%d queued calls ran, want 5", got)
	}
	// With the queue empty, a call runs at once.
	f.k.held = nil
	if _, err := f.k.DeriveKeyFor(t.Context(), a1, []byte("pw"), f.p); err != nil {
		t.Fatal(err)
	}
}

// TestKDFAnonymousNotCappedPerUser: old callers without a Requester are
// bounded by the total only.
func TestKDFAnonymousNotCappedPerUser(t *testing.T) {
	f := newQueueFixture(t, WithQueueLimits(1, 1, 10))
	for i := range 3 {
		f.enqueue(Requester{}, fmt.Sprint(i))
	}
	if got := len(f.drain()); got != 3 {
		t.Errorf("%d ran, want 3", got)
	}
}
