package main

import (
	"io"
	stdlog "log"
	"time"

	"github.com/rs/zerolog"
)

func newLogger(cfg Config, w io.Writer) zerolog.Logger {
	out := w
	if cfg.LogFormat == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	lvl, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || lvl == zerolog.NoLevel {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

// newStdLogger routes net/http's own messages (TLS handshake errors and the
// like) into zerolog.
func newStdLogger(log zerolog.Logger) *stdlog.Logger {
	return stdlog.New(log.With().Str("source", "net/http").Logger(), "", 0)
}
