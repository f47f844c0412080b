package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// OpsDeps are what the operations listener reports on.
type OpsDeps struct {
	// Ready reports whether the service can serve traffic (database open).
	Ready func(ctx context.Context) error
	// Backup is not served here any more (see BackupHandler); the field is
	// ignored and kept so that old callers compile.
	Backup func(w io.Writer, size func(int64)) (int64, error)
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	Logger  zerolog.Logger
}

// OpsHandler serves the operations listener: /healthz (the process is up),
// /readyz (it can serve) and /metrics (Prometheus). It must only ever listen
// on a private address. It serves nothing sensitive, so that a monitoring
// system may be let in: the database copy is on BackupHandler's own
// listener, behind a credential.
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
	return mux
}

// BackupDeps are what the backup listener needs.
type BackupDeps struct {
	// Backup writes a consistent copy of the database.
	// size, when called, is the backup's exact length before it is written.
	Backup func(w io.Writer, size func(int64)) (int64, error)
	// Token is the credential a backup request must present as
	// "Authorization: Bearer <token>". Empty: every backup is refused.
	Token  []byte
	Logger zerolog.Logger
}

// MinBackupTokenLen is the shortest backup token secretsd accepts.
const MinBackupTokenLen = 32

// BackupHandler serves GET /backup, a consistent hot copy of the database,
// to requests that carry the backup token. The copy is sealed, but it is as
// sensitive as the database: it gets its own listener and its own
// credential, apart from health checks and metrics.
func BackupHandler(d BackupDeps) http.Handler {
	want := sha256.Sum256(d.Token)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		if len(d.Token) == 0 {
			http.Error(w, "backups are disabled: secretsd has no --backup-token-file", http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Compare digests in constant time: neither the token's bytes nor
		// its length show in the timing.
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			d.Logger.Warn().Str("remote", r.RemoteAddr).Msg("backup refused: wrong or missing token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="secretsd-backup"`)
			http.Error(w, "a valid backup token is required", http.StatusUnauthorized)
			return
		}
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
