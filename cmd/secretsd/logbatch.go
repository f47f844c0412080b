package main

import (
	"io"
	"sync"
)

// batchWriter writes JSON log lines, batching those that arrive while a
// write is in progress. At info level every request is a log line, and a
// write(2) per line on a busy server is a share of every request's CPU.
//
// It is group commit, not a timer: a line is written by the goroutine that
// logs it, at once, unless another goroutine is writing; then it is queued
// and that goroutine writes it, with every other queued line, in one write
// as soon as its own returns. Nothing waits for a tick, so a line is in the
// log when the call that logged it returns or soon after, and an idle server
// writes exactly as before. Order is kept: one writer at a time, queued
// lines in arrival order.
//
// zerolog requires a shared writer to be safe for concurrent use; this one is.
type batchWriter struct {
	out io.Writer

	mu      sync.Mutex
	queue   []byte // lines waiting for the active writer
	spare   []byte // the previous batch's buffer, reused
	writing bool   // a goroutine is writing (and will drain queue)
}

// maxBatchBuffer is the largest buffer kept for reuse between batches.
const maxBatchBuffer = 256 << 10

func newBatchWriter(out io.Writer) *batchWriter { return &batchWriter{out: out} }

// Write logs one line (zerolog calls it once per event).
func (w *batchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.writing {
		w.queue = append(w.queue, p...)
		w.mu.Unlock()
		return len(p), nil
	}
	w.writing = true
	w.mu.Unlock()

	_, err := w.out.Write(p)
	// Drain what others queued meanwhile, one write per round.
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.writing = false
			w.mu.Unlock()
			break
		}
		batch := w.queue
		w.queue = w.spare[:0]
		w.mu.Unlock()

		if _, qerr := w.out.Write(batch); qerr != nil && err == nil {
			err = qerr
		}
		w.mu.Lock()
		if cap(batch) <= maxBatchBuffer {
			w.spare = batch[:0]
		}
		w.mu.Unlock()
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close is a no-op kept for the logger's shutdown: lines are never held
// past the write that is in progress.
func (w *batchWriter) Close() error { return nil }
