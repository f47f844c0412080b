package seal

import (
	"context"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// These tests drive the KDF's pool through its held hook, which runs while a
// derivation holds its memory, so they can stop derivations mid-flight and
// look at the pool. Nothing depends on timing: the only waits are for
// states the pool must reach.

// gate is a held hook that reports each derivation that got its memory and
// then holds it there until the test lets it go.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) hold() {
	g.entered <- struct{}{}
	<-g.release
}

func mustNewKDF(t *testing.T, budget int64, defaults KDFParams) *KDF {
	t.Helper()
	k, err := NewKDF(budget, defaults)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustNewParams(t *testing.T, k *KDF) KDFParams {
	t.Helper()
	p, err := k.NewParams()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor yields until cond holds. It has no timeout of its own: if the pool
// never reaches the state, the test binary's -timeout reports the hang with
// every goroutine's stack.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

func TestKDFBudget(t *testing.T) {
	const slots, callers = 2, 5
	k := mustNewKDF(t, slots*memoryBytes(MinKDFParams), MinKDFParams)
	p := mustNewParams(t, k)
	g := newGate()
	var maxRunning atomic.Int64
	k.held = func() {
		r := k.Stats().Running
		for {
			m := maxRunning.Load()
			if r <= m || maxRunning.CompareAndSwap(m, r) {
				break
			}
		}
		g.hold()
	}

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := k.DeriveKey(t.Context(), []byte("pw"), p)
			errs <- err
		})
	}

	// Two derivations get in and are held; the budget is then spent, so the
	// other three must queue.
	for range slots {
		<-g.entered
	}
	waitFor(func() bool { return k.Stats().Waiting == callers-slots })
	if got := k.Stats(); got.Running != slots || got.Waiting != callers-slots {
		t.Errorf("Stats with the budget spent = %+v, want %d running, %d waiting", got, slots, callers-slots)
	}
	if k.q.tryAcquire(1) {
		t.Error("the semaphore had room with the budget spent")
	}

	// Let them through one at a time: each finished derivation admits
	// exactly one queued caller.
	for i := range callers {
		g.release <- struct{}{}
		if i+slots < callers {
			<-g.entered
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("DeriveKey: %v", err)
		}
	}
	if got := maxRunning.Load(); got != slots {
		t.Errorf("most derivations running at once = %d, want %d", got, slots)
	}
	got := k.Stats()
	if got.Running != 0 || got.Waiting != 0 || got.Completed != callers {
		t.Errorf("Stats at the end = %+v, want 0 running, 0 waiting, %d completed", got, callers)
	}
	if got.WaitTotal <= 0 {
		t.Errorf("WaitTotal = %v, want > 0: three callers queued", got.WaitTotal)
	}
}

func TestKDFQueuedContextEnds(t *testing.T) {
	tests := []struct {
		name string
		// cancelFirst cancels the queued caller's context before it calls;
		// otherwise it is cancelled once the caller is waiting.
		cancelFirst bool
	}{
		{"cancelled while queued", false},
		{"cancelled before queueing", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustNewKDF(t, memoryBytes(MinKDFParams), MinKDFParams)
			p := mustNewParams(t, k)
			g := newGate()
			k.held = g.hold

			first := make(chan error, 1)
			go func() {
				_, err := k.DeriveKey(t.Context(), []byte("pw"), p)
				first <- err
			}()
			<-g.entered // the budget is now spent

			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancelFirst {
				cancel()
			}
			queued := make(chan error, 1)
			go func() {
				_, err := k.DeriveKey(ctx, []byte("pw"), p)
				queued <- err
			}()
			if !tt.cancelFirst {
				waitFor(func() bool { return k.Stats().Waiting == 1 })
				cancel()
			}
			if err := <-queued; err != ErrBusy {
				t.Errorf("queued DeriveKey: err = %v, want ErrBusy", err)
			}
			if got := k.Stats(); got.Waiting != 0 || got.Running != 1 {
				t.Errorf("Stats after the queued caller gave up = %+v, want 0 waiting, 1 running", got)
			}

			g.release <- struct{}{}
			if err := <-first; err != nil {
				t.Errorf("first DeriveKey: %v", err)
			}
			// The caller that gave up must not have leaked any budget.
			if !k.q.tryAcquire(k.budget) {
				t.Error("budget not fully returned")
			}
			cancel()
		})
	}
}

func TestKDFOversizedCall(t *testing.T) {
	// Budget for exactly one default call; this call wants 1 MiB more.
	k := mustNewKDF(t, memoryBytes(MinKDFParams), MinKDFParams)
	p := mustNewParams(t, k)
	p.Memory += 1024
	if memoryBytes(p) <= k.budget {
		t.Fatal("test call is not oversized")
	}
	var roomInside atomic.Bool
	k.held = func() { roomInside.Store(k.q.tryAcquire(1)) }

	key, err := k.DeriveKey(t.Context(), []byte("pw"), p)
	if err != nil || key == nil {
		t.Fatalf("oversized DeriveKey = %v, %v; want a key", key, err)
	}
	if roomInside.Load() {
		t.Error("an oversized call left room in the budget while it ran")
	}
	if !k.q.tryAcquire(k.budget) {
		t.Error("budget not fully returned")
	}
}

// TestTenantKeySubkeysRedacted checks the derived subkeys, which the external
// tests cannot see, against printing.
func TestTenantKeySubkeysRedacted(t *testing.T) {
	raw, err := RandomKey()
	if err != nil {
		t.Fatal(err)
	}
	tk, err := NewTenantKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %x %v %+v %#v %x", tk, tk, tk, tk, *tk, *tk, *tk, *tk)
	index := tk.index[:]
	for _, s := range []string{hex.EncodeToString(index)[:16], strings.TrimSuffix(fmt.Sprint(index[:8]), "]")} {
		if strings.Contains(out, s) {
			t.Fatalf("output %q contains the index subkey", out)
		}
	}
}

// TestMinKDFParamsIsTheFloor keeps the documented floor and the one Validate
// enforces in step.
func TestMinKDFParamsIsTheFloor(t *testing.T) {
	if MinKDFParams.Memory != minKDFMemory || MinKDFParams.Time != minKDFTime {
		t.Errorf("MinKDFParams = %+v, Validate enforces m=%d, t=%d", MinKDFParams, minKDFMemory, minKDFTime)
	}
}

// TestKDFMaxConcurrent: with memory for four derivations but a cap of one,
// a second caller waits until the first is done.
func TestKDFMaxConcurrent(t *testing.T) {
	k, err := NewKDF(4*int64(MinKDFParams.Memory)*1024, MinKDFParams, WithMaxConcurrent(1))
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	k.held = g.hold
	p := mustNewParams(t, k)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := k.DeriveKey(context.Background(), []byte("pw"), p)
			done <- err
		}()
	}
	<-g.entered // one derivation runs and holds its share
	waitFor(func() bool { return k.Stats().Waiting == 1 })
	if st := k.Stats(); st.Running != 1 {
		t.Errorf("running %d, want 1", st.Running)
	}
	if k.q.tryAcquire(1) {
		t.Error("the cap left room for another derivation")
	}
	close(g.release)
	<-g.entered // the second runs only now
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
