package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// OpsDeps are what the operations listener reports on.
type OpsDeps struct {
	// Ready reports whether the service can serve traffic (database open).
	Ready func(ctx context.Context) error
	// Backup writes a consistent copy of the database.
	// size, when called, is the backup's exact length before it is written.
	Backup func(w io.Writer, size func(int64)) (int64, error)
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	Logger  zerolog.Logger
}

// OpsHandler serves the operations listener: /healthz (the process is up),
// /readyz (it can serve), /metrics (Prometheus), /backup (a consistent hot copy of the database).
// It must only ever listen on a private address.
func OpsHandler(d OpsDeps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := d.Ready(ctx); err != nil {
			d.Logger.Warn().Err(err).Msg("not ready")
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if d.Metrics != nil {
		mux.Handle("GET /metrics", d.Metrics)
	}
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		if d.Backup == nil {
			// PostgreSQL: back up with the database's own tools.
			http.Error(w, "this store has no file to copy: back it up with pg_dump (deploy/README.md)", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="secrets.db"`)
		n, err := d.Backup(w, func(size int64) {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		})
		if err != nil {
			// Headers are gone; a truncated body is the signal. Clients check
			// the size they got against the file opening cleanly.
			d.Logger.Error().Err(err).Int64("bytes", n).Msg("backup failed")
			return
		}
		d.Logger.Info().Int64("bytes", n).Msg("backup written")
	})
	return mux
}
