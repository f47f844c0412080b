package main

import (
	"bytes"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// logBatchInterval is how long an info line may wait before it is written.
const logBatchInterval = 50 * time.Millisecond

// logBatchSize is the batch that is written at once when it fills up.
const logBatchSize = 32 << 10

// batchWriter writes JSON log lines in batches. At info level every request
// is a log line, and a write(2) per line was a measurable share of a list
// request's CPU; batched, one write carries tens of lines under load.
//
// Lines wait at most logBatchInterval. A warning or error line goes out at
// once, with everything before it, so what explains a failure is never held
// back; Close writes the rest. What a crash can lose is the info lines of
// the last logBatchInterval: they are the access log, not the audit log,
// which lives in the store.
//
// It implements zerolog.LevelWriter; it is safe for concurrent use, which
// zerolog requires of a writer shared by goroutines.
type batchWriter struct {
	out io.Writer

	mu      sync.Mutex
	buf     bytes.Buffer
	pending bool // a flush is scheduled
	closed  bool
	timer   *time.Timer
}

func newBatchWriter(out io.Writer) *batchWriter {
	w := &batchWriter{out: out}
	w.timer = time.AfterFunc(time.Hour, w.flushTimer)
	w.timer.Stop()
	return w
}

// Write is a line at no particular level: written at once.
func (w *batchWriter) Write(p []byte) (int, error) {
	return w.WriteLevel(zerolog.NoLevel, p)
}

// WriteLevel queues an info or debug line, and writes anything else at
// once after what is queued.
func (w *batchWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || (l >= zerolog.WarnLevel || l == zerolog.NoLevel) || w.buf.Len()+len(p) > logBatchSize {
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
		if w.closed || l >= zerolog.WarnLevel || l == zerolog.NoLevel {
			return w.out.Write(p)
		}
	}
	w.buf.Write(p)
	if !w.pending {
		w.pending = true
		w.timer.Reset(logBatchInterval)
	}
	return len(p), nil
}

func (w *batchWriter) flushTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = false
	_ = w.flushLocked()
}

func (w *batchWriter) flushLocked() error {
	if w.buf.Len() == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf.Bytes())
	w.buf.Reset()
	return err
}

// Close writes what is queued; later lines are written at once.
func (w *batchWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.timer.Stop()
	w.pending = false
	return w.flushLocked()
}
