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

// wrote is a writer that reports each write on a channel.
type wrote struct {
	gatedWriter
	each chan string
}

func (w *wrote) Write(p []byte) (int, error) {
	n, err := w.gatedWriter.Write(p)
	w.each <- string(p)
	return n, err
}

// TestBatchWriterIdleWritesEachLine: on an idle logger every line is
// written as it comes, alone, without waiting for more, so that a reader of
// the log (an operator, a test waiting for "sandbox ready") sees it at once.
func TestBatchWriterIdleWritesEachLine(t *testing.T) {
	out := &wrote{each: make(chan string, 1)}
	b := newBatchWriter(out)
	defer b.Close()
	log := zerolog.New(b)
	for i := range 3 {
		log.Info().Int("n", i).Msg("ready")
		if got, want := <-out.each, fmt.Sprintf(`{"level":"info","n":%d,"message":"ready"}`+"\n", i); got != want {
			t.Fatalf("write %d = %q, want %q", i, got, want)
		}
	}
}

// TestBatchWriterQueuesBehindAWrite: lines logged while a write is in
// progress are written together, in order, in one more write, and none is
// lost or torn; the loggers never wait for the write.
func TestBatchWriterQueuesBehindAWrite(t *testing.T) {
	out := &gatedWriter{entered: make(chan struct{}), gate: make(chan struct{})}
	b := newBatchWriter(out)
	log := zerolog.New(b)
	log.Info().Str("line", "first").Msg("request")
	<-out.entered // the first line's write is in progress, and blocked
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				log.Info().Str("line", fmt.Sprintf("%d-%d", g, i)).Msg("request")
			}
		})
	}
	wg.Wait() // every one of them only queued: the write is still blocked
	close(out.gate)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1+8*100 {
		t.Fatalf("got %d lines, want %d", len(lines), 1+8*100)
	}
	if out.writes != 2 {
		t.Fatalf("%d writes, want 2: the first line, then everything queued behind it", out.writes)
	}
	checkOrder(t, lines[1:], 8)
}

// checkOrder checks that each goroutine's lines "g-i" came in order, whole.
func checkOrder(t *testing.T, lines []string, goroutines int) {
	t.Helper()
	next := make([]int, goroutines)
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, `{"level":"info","line":"%d-%d","message":"request"}`, &g, &i); err != nil {
			t.Fatalf("a torn or foreign line: %s", l)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d came where %d was due", g, i, next[g])
		}
		next[g]++
	}
}

// TestBatchWriterErrorsAreWrittenBeforeReturning: a line at error level or
// above is in the output when the call returns, after every line logged
// before it, as a process about to exit (zerolog's Fatal) needs.
func TestBatchWriterErrorsAreWrittenBeforeReturning(t *testing.T) {
	out := &gatedWriter{}
	b := newBatchWriter(out)
	defer b.Close()
	log := zerolog.New(b)
	for i := range 50 {
		log.Info().Str("line", fmt.Sprintf("0-%d", i)).Msg("request")
	}
	log.Error().Msg("about to exit")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 51 || lines[50] != `{"level":"error","message":"about to exit"}` {
		t.Fatalf("when Error returned the output was:\n%s", out.String())
	}
	checkOrder(t, lines[:50], 1)
}

// TestBatchWriterCloseWritesEverything: Close leaves nothing queued, under
// concurrent logging, and lines after Close are still written, in order.
func TestBatchWriterCloseWritesEverything(t *testing.T) {
	out := &gatedWriter{}
	b := newBatchWriter(out)
	log := zerolog.New(b)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				log.Info().Str("line", fmt.Sprintf("%d-%d", g, i)).Msg("request")
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal("a second Close:", err)
	}
	log.Info().Str("line", "4-0").Msg("request")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4*500+1 {
		t.Fatalf("got %d lines, want %d", len(lines), 4*500+1)
	}
	checkOrder(t, lines, 5)
}
