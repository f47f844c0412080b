package server

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiterBoundedMemory: however many distinct keys arrive, a limiter
// remembers at most maxLimiterKeys of them, and a key it still remembers
// keeps its empty bucket.
func TestLimiterBoundedMemory(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(Rate{PerSecond: 1, Burst: 1}, func() time.Time { return now })
	if ok, _ := l.allow("hot"); !ok {
		t.Fatal("first request refused")
	}
	for i := range 3 * maxLimiterKeys {
		l.allow(fmt.Sprint("k", i))
		if i%1000 == 0 {
			// hot stays recent, so it is never the one forgotten
			if ok, wait := l.allow("hot"); ok || wait < time.Second {
				t.Fatalf("hot admitted again (%v, %v)", ok, wait)
			}
		}
	}
	if n := l.size(); n > maxLimiterKeys {
		t.Errorf("limiter holds %d keys, want at most %d", n, maxLimiterKeys)
	}
	if newLimiter(Rate{PerSecond: -1, Burst: 5}, time.Now) != nil {
		t.Error("a negative rate should turn the limit off")
	}
}
