package main

import (
	"io"
	stdlog "log"
	"time"

	"github.com/rs/zerolog"
)

// newLogger returns the process's logger and a func that writes what it
// still holds. JSON lines (production) are batched (logbatch.go); console
// lines, for a developer watching, are written as they come.
func newLogger(cfg Config, w io.Writer) (zerolog.Logger, func() error) {
	var out io.Writer
	closeLog := func() error { return nil }
	if cfg.LogFormat == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	} else {
		b := newBatchWriter(w)
		out, closeLog = b, b.Close
	}
	lvl, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || lvl == zerolog.NoLevel {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), closeLog
}

// newStdLogger routes net/http's own messages (TLS handshake errors and the
// like) into zerolog.
func newStdLogger(log zerolog.Logger) *stdlog.Logger {
	return stdlog.New(log.With().Str("source", "net/http").Logger(), "", 0)
}
