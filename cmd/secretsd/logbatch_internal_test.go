package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// lockedBuffer is a destination the test can read while the writer writes.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBatchWriterOrderAndFlush: info lines wait and go out together; a
// warning goes out at once after them, in order; Close writes the rest; a
// queued line is written within the interval without anyone closing.
func TestBatchWriterOrderAndFlush(t *testing.T) {
	var out lockedBuffer
	w := newBatchWriter(&out)
	log := zerolog.New(w)
	log.Info().Msg("one")
	log.Info().Msg("two")
	log.Warn().Msg("three")
	if got := out.String(); !strings.Contains(got, `"one"`) || strings.Index(got, `"two"`) > strings.Index(got, `"three"`) {
		t.Fatalf("a warning did not go out at once after the lines before it:\n%s", got)
	}
	log.Info().Msg("four")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), `"four"`) {
		if time.Now().After(deadline) {
			t.Fatal("a queued info line was never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	log.Info().Msg("five")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"five"`) {
		t.Fatal("Close did not write the queued line")
	}
	log.Info().Msg("six")
	if !strings.Contains(out.String(), `"six"`) {
		t.Fatal("a line after Close was held back")
	}
	want := []string{"one", "two", "three", "four", "five", "six"}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		if !strings.Contains(l, `"`+want[i]+`"`) {
			t.Fatalf("line %d is %s, want %q", i, l, want[i])
		}
	}
}

// TestBatchWriterConcurrent: lines from many goroutines arrive whole, none
// lost, in fewer writes than lines.
func TestBatchWriterConcurrent(t *testing.T) {
	var out lockedBuffer
	w := newBatchWriter(&out)
	log := zerolog.New(w)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info().Str("line", fmt.Sprintf("%d-%d", g, i)).Msg("request")
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("got %d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"level":"info","line":"`) || !strings.HasSuffix(l, `"message":"request"}`) {
			t.Fatalf("a torn line: %s", l)
		}
	}
	if out.writes >= len(lines) {
		t.Fatalf("%d writes for %d lines: nothing was batched", out.writes, len(lines))
	}
}
