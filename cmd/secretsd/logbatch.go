package main

import (
	"io"
	"runtime"
	"sync"

	"github.com/rs/zerolog"
)

// batchWriter writes JSON log lines, many to a write(2) when many come at
// once. At info level every request is a log line, and a write per line was
// a third of the list route's system calls (the response takes the rest)
// and woke whoever reads the log (a container runtime) as often.
//
// It is group commit without a timer. Write appends the line to a queue and
// wakes one writer goroutine, which first yields once, letting the
// goroutines already running log their lines, then writes everything queued
// in one write. On an idle server the yield returns at once and each line is
// written as it comes, microseconds after the call; under load a batch is
// whatever arrived during one round of the scheduler. No request waits for
// the log: the writer's wait is its own.
//
// Order is kept (one queue, one writer). Lines at error level and above are
// written by the goroutine that logs them, after everything queued before
// them, before the call returns: they may be the last words of a process
// about to exit (zerolog's Fatal exits right after). The queue is bounded:
// a logger that outruns the output waits for it rather than growing without
// limit. Close writes what is queued and makes every later line synchronous.
// What a kill -9 loses is at most the lines of the current round, which a
// timer-based buffer would lose too, and no acknowledged data: log lines are
// not.
//
// zerolog requires a shared writer to be safe for concurrent use; this one
// is. It implements zerolog.LevelWriter to see each line's level.
type batchWriter struct {
	out io.Writer

	// outMu serialises writes to out, so that a synchronous line and the
	// writer goroutine's batches never interleave or reorder.
	outMu sync.Mutex

	mu     sync.Mutex
	room   *sync.Cond // signalled when the queue is taken
	queue  []byte     // lines not yet written, in order
	spare  []byte     // the previous batch's buffer, reused
	closed bool       // after Close: every line is written synchronously

	wake chan struct{} // capacity 1: "the queue is not empty"
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the writer goroutine has returned
}

const (
	// maxQueued bounds the queue: past it, loggers wait for the writer.
	maxQueued = 1 << 20
	// maxBatchBuffer is the largest buffer kept for reuse between batches.
	maxBatchBuffer = 256 << 10
)

// newBatchWriter starts the writer goroutine; Close stops it.
func newBatchWriter(out io.Writer) *batchWriter {
	w := &batchWriter{out: out, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	w.room = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// Write queues one line without a level.
func (w *batchWriter) Write(p []byte) (int, error) { return w.WriteLevel(zerolog.NoLevel, p) }

// WriteLevel queues one line (zerolog calls it once per event), or writes
// it at once when its level is error or above or the writer is closed.
func (w *batchWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	w.mu.Lock()
	if w.closed || (l >= zerolog.ErrorLevel && l < zerolog.NoLevel) {
		w.mu.Unlock()
		return w.flush(p)
	}
	for len(w.queue) > maxQueued && !w.closed {
		w.room.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		return w.flush(p)
	}
	w.queue = append(w.queue, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // already woken: the writer will take this line too
	}
	return len(p), nil
}

// run is the writer goroutine.
func (w *batchWriter) run() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
			// Let the goroutines that are running log theirs first:
			// returns at once when nothing else is runnable.
			runtime.Gosched()
			w.flush(nil)
		case <-w.stop:
			return
		}
	}
}

// flush writes the queue and then p, if any, in one write.
func (w *batchWriter) flush(p []byte) (int, error) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	w.mu.Lock()
	batch := w.queue
	w.queue = w.spare[:0]
	w.spare = nil
	w.room.Broadcast()
	w.mu.Unlock()

	var err error
	switch {
	case len(batch) == 0 && len(p) == 0:
	case len(batch) == 0:
		_, err = w.out.Write(p)
	default:
		batch = append(batch, p...)
		_, err = w.out.Write(batch)
	}
	if cap(batch) <= maxBatchBuffer {
		w.mu.Lock()
		if w.spare == nil {
			w.spare = batch[:0]
		}
		w.mu.Unlock()
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Sync writes every line logged so far before it returns.
func (w *batchWriter) Sync() error {
	_, err := w.flush(nil)
	return err
}

// Close writes what is queued and stops the writer goroutine; lines logged
// afterwards are written synchronously. It is safe to call more than once.
func (w *batchWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.room.Broadcast()
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	_, err := w.flush(nil)
	return err
}
