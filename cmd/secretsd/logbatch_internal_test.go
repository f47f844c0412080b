package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// gatedWriter records writes; while gate is set, the first write blocks
// until the gate is closed, so the test can queue lines behind it.
type gatedWriter struct {
	mu      sync.Mutex
	b       bytes.Buffer
	writes  int
	entered chan struct{} // closed when the first write starts
	gate    chan struct{} // the first write returns once this is closed
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	first := g.writes == 0
	g.writes++
	g.b.Write(p)
	g.mu.Unlock()
	if first && g.gate != nil {
		close(g.entered)
		<-g.gate
	}
	return len(p), nil
}

func (g *gatedWriter) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.b.String()
}

// TestBatchWriterIdleWritesAtOnce: on an idle logger a line is in the output
// when the call that logged it returns — a reader of the log (an operator,
// a test waiting for "sandbox ready") never waits for a batch.
func TestBatchWriterIdleWritesAtOnce(t *testing.T) {
	out := &gatedWriter{}
	log := zerolog.New(newBatchWriter(out))
	for i := range 3 {
		log.Info().Int("n", i).Msg("ready")
		if got := strings.Count(out.String(), "\n"); got != i+1 {
			t.Fatalf("after line %d the output has %d lines", i+1, got)
		}
	}
}

// TestBatchWriterQueuesBehindAWrite: lines logged while a write is in
// progress are written together, in order, in one more write, and none is
// lost or torn.
func TestBatchWriterQueuesBehindAWrite(t *testing.T) {
	out := &gatedWriter{entered: make(chan struct{}), gate: make(chan struct{})}
	log := zerolog.New(newBatchWriter(out))
	firstDone := make(chan struct{})
	go func() {
		log.Info().Str("line", "first").Msg("request")
		close(firstDone)
	}()
	<-out.entered // the first line's write is in progress
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				log.Info().Str("line", fmt.Sprintf("%d-%d", g, i)).Msg("request")
			}
		})
	}
	wg.Wait() // every one of them only queued
	close(out.gate)
	<-firstDone

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1+8*100 {
		t.Fatalf("got %d lines, want %d", len(lines), 1+8*100)
	}
	if out.writes != 2 {
		t.Fatalf("%d writes, want 2: the first line, then everything queued behind it", out.writes)
	}
	next := make([]int, 8)
	for _, l := range lines[1:] {
		var g, i int
		if _, err := fmt.Sscanf(l, `{"level":"info","line":"%d-%d","message":"request"}`, &g, &i); err != nil {
			t.Fatalf("a torn line: %s", l)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d came where %d was due", g, i, next[g])
		}
		next[g]++
	}
}
