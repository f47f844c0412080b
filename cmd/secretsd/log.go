package main

import (
	"io"
	stdlog "log"
	"time"

	"github.com/rs/zerolog"
)

// newLogger returns the process's logger and its output, to Sync (write
// what is queued) and Close at the end. JSON lines (production) are batched
// (logbatch.go); console lines, for a developer watching, are written as
// they come.
func newLogger(cfg Config, w io.Writer) (zerolog.Logger, logOutput) {
	var out io.Writer
	var sink logOutput = unbatched{}
	if cfg.LogFormat == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	} else {
		b := newBatchWriter(w)
		out, sink = b, b
	}
	lvl, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || lvl == zerolog.NoLevel {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), sink
}

// logOutput is what Run does with the logger's output besides logging.
type logOutput interface {
	Sync() error  // write every line logged so far
	Close() error // Sync, and write later lines at once
}

// unbatched is the logOutput of a writer that holds nothing back.
type unbatched struct{}

func (unbatched) Sync() error  { return nil }
func (unbatched) Close() error { return nil }

// newStdLogger routes net/http's own messages (TLS handshake errors and the
// like) into zerolog.
func newStdLogger(log zerolog.Logger) *stdlog.Logger {
	return stdlog.New(log.With().Str("source", "net/http").Logger(), "", 0)
}
