// Command secretsd serves the Secrets app for Jira and Confluence Cloud: the
// public listener (descriptors, lifecycle, module pages, API) and the private
// operations listener (health, backup).
//
// Configuration is by flags or environment variables; run with -h to list
// them. With a localhost base URL it starts in development mode with the
// local sandbox, an embedded database and a generated master key.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/connect-secrets/secrets/pkg/backend"
	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/sandbox"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "secretsd:", err)
		}
		os.Exit(2)
	}
}

// Ready, when passed to Run, learns the listeners' addresses once both
// listen. Tests use it with ":0" addresses.
type Ready func(public, ops net.Addr)

// Run starts secretsd and blocks until ctx is cancelled, then drains
// in-flight requests and closes the database.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready Ready) error {
	cfg, err := ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, logOut := newLogger(cfg, stderr)
	defer logOut.Close() // last: every other deferred step may still log

	keyring, err := loadKeyring(cfg, log)
	if err != nil {
		return err
	}
	// argon2 allocates its whole memory per call. Tell the GC where the
	// ceiling is, so a flood of unlocks is collected promptly instead of
	// letting the heap double (unless the operator set GOMEMLIMIT). argon2's
	// blocks hold no pointers, so the extra collections are cheap.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.KDFMemoryBudget + 64<<20)
	}
	// Between floods of unlocks the live heap is a few MiB, so the default
	// GOGC=100 collects every few MiB of garbage: on the list route that was
	// a GC cycle every few hundred requests and a large share of its CPU.
	// A higher target trades that for heap the memory limit above still
	// caps (the limit wins over GOGC), chosen by `make bench`.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	st, err := backend.Open(ctx, cfg.Store, backend.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error().Err(err).Msg("close database")
		}
	}()
	kdf, err := seal.NewKDF(cfg.KDFMemoryBudget, cfg.KDF, seal.WithMaxConcurrent(cfg.KDFConcurrency))
	if err != nil {
		return err
	}
	eng := engine.New(st, keyring, kdf, cfg.Policy)
	sessionKey, err := eng.SessionKey(ctx)
	if err != nil {
		return fmt.Errorf("session key: %w", err)
	}
	if err := eng.EnsureExpiryIndex(ctx); err != nil {
		return fmt.Errorf("expiry index: %w", err)
	}
	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg, server.MetricSources{
		KDF: func() (int64, int64, uint64, time.Duration) {
			st := kdf.Stats()
			return st.Waiting, st.Running, st.Completed, st.WaitTotal
		},
		DBSize:        dbSize(st),
		Installations: eng,
	})

	installKeysURL, allowedHosts := cfg.InstallKeysURL, cfg.AllowedHosts
	var sb *sandbox.Sandbox
	if cfg.Dev {
		sb, err = sandbox.New(sandbox.Config{
			BaseURL: cfg.BaseURL, JiraKey: cfg.JiraKey, ConfluenceKey: cfg.ConfluenceKey, Logger: log,
			ForgeJiraAppID: cfg.ForgeJiraAppID, ForgeConfluenceAppID: cfg.ForgeConfluenceAppID,
		})
		if err != nil {
			return err
		}
		// The sandbox's dev sites are installed through the real lifecycle
		// route, signed with the sandbox's own install key.
		if !cfg.InstallKeysURLSet {
			installKeysURL = sb.InstallKeysURL()
		}
		allowedHosts = append(allowedHosts, sb.Hostname())
	}
	forgeFront, keys, err := newForge(cfg, sb, log)
	if err != nil {
		return err
	}
	if forgeFront != nil {
		forgeFront.SystemTokens = eng                                       // for personal-data reporting
		forgeFront.Users = &forge.UserDirectory{Token: eng.KeptSystemToken} // the audit export's names
	}
	srv, err := server.New(server.Config{
		BaseURL: cfg.BaseURL, AllowedHosts: allowedHosts, Dev: cfg.Dev,
		JiraKey: cfg.JiraKey, ConfluenceKey: cfg.ConfluenceKey,
		VendorName: "Secrets", VendorURL: cfg.BaseURL, Licensing: cfg.Licensing,
	}, server.Deps{
		Installations: eng,
		Secrets:       eng,
		Admin:         eng,
		Admins:        &connect.AdminChecker{},
		Users:         &connect.UserDirectory{},
		Licences:      &connect.LicenceChecker{},
		InstallKeys:   connect.NewInstallKeys(installKeysURL, nil),
		SessionKey:    sessionKey,
		Logger:        log,
		Sandbox:       sandboxMounter(sb),
		Metrics:       metrics,
		Forge:         forgeFront,
		Migration:     migrationOf(cfg, eng),
		// Key derivations queue fairly by tenant, then user.
		ActorContext: func(ctx context.Context, a secrets.Actor) context.Context {
			return seal.WithRequester(ctx, seal.Requester{Tenant: a.ClientKey, User: a.AccountID})
		},
	})
	if err != nil {
		return err
	}

	public := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          newStdLogger(log),
	}
	ops := &http.Server{
		Handler: server.OpsHandler(server.OpsDeps{
			Ready: st.Ping, Logger: log,
			Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          newStdLogger(log),
	}
	backup := &http.Server{
		Handler:           server.BackupHandler(server.BackupDeps{Backup: backupOf(st), Token: cfg.BackupToken, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          newStdLogger(log),
	}
	pl, err := listen("--addr", cfg.Addr)
	if err != nil {
		return err
	}
	ol, err := listen("--ops-addr", cfg.OpsAddr)
	if err != nil {
		pl.Close()
		return err
	}
	bl, err := listen("--backup-addr", cfg.BackupAddr)
	if err != nil {
		pl.Close()
		ol.Close()
		return err
	}
	errc := make(chan error, 3)
	go func() { errc <- public.Serve(pl) }()
	go func() { errc <- ops.Serve(ol) }()
	go func() { errc <- backup.Serve(bl) }()
	go janitor(ctx, eng, st.Bolt, cfg.Retention, cfg.JanitorInterval, log)
	go reportPersonalData(ctx, eng, reporterByMode{
		connect: &connect.PersonalDataReporter{BaseURL: cfg.PersonalDataURL, Host: connectHost(eng, cfg)},
		forge:   &forge.PersonalDataReporter{Token: eng.KeptSystemToken, Drop: eng.DropSystemToken},
	}, cfg.JanitorInterval, log)

	if len(cfg.BackupToken) == 0 {
		log.Warn().Msg("no --backup-token-file: GET /backup refuses every request")
	}
	log.Info().Str("addr", pl.Addr().String()).Str("ops_addr", ol.Addr().String()).Str("backup_addr", bl.Addr().String()).
		Str("base_url", cfg.BaseURL).Bool("dev", cfg.Dev).Msg("secretsd listening")
	if sb != nil {
		if err := sb.InstallTenants(ctx, nil); err != nil {
			log.Error().Err(err).Msg("sandbox: installing the dev sites failed")
		} else {
			log.Info().Msgf("sandbox ready: open %s/dev/ in a browser", cfg.BaseURL)
		}
		if err := sb.InstallForge(ctx, nil); err != nil {
			log.Error().Err(err).Msg("sandbox: installing the dev Forge apps failed")
		}
	} else if keys != nil {
		// Fetch the platform's keys at start; a failure is retried on the
		// first call.
		go func() { _ = keys.Prefetch(ctx) }()
	}
	if ready != nil {
		// What start-up logged is in the log before anyone is told.
		_ = logOut.Sync()
		ready(pl.Addr(), ol.Addr())
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("listener failed")
		}
	}
	log.Info().Msg("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = errors.Join(public.Shutdown(sctx), ops.Shutdown(sctx), backup.Shutdown(sctx))
	log.Info().Msg("stopped")
	return err
}

// listen listens on addr; a port in use is named by its flag, since the
// usual cause is a second secretsd started with the first one's addresses.
func listen(flagName, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s %s: %w: another process (another secretsd?) listens there; give this one its own %s (see README, \"A second instance\")", flagName, addr, err, flagName)
	}
	return l, err
}

// defaultGCPercent is secretsd's GOGC unless the environment sets one.
const defaultGCPercent = 400

// loadKeyring reads the master keyring; in dev mode without one, it creates
// a key next to the database, loudly.
func loadKeyring(cfg Config, log zerolog.Logger) (*seal.Keyring, error) {
	path := cfg.MasterKeyFile
	if path == "" {
		path = filepath.Join(filepath.Dir(cfg.Data), "master.key")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := seal.GenerateKeyFile(path); err != nil {
				return nil, fmt.Errorf("generate dev master key: %w", err)
			}
			log.Warn().Str("path", path).Msg("DEVELOPMENT MODE: generated a master key next to the database. " +
				"Anyone with this file and the database can read every secret. Never use this in production.")
		} else {
			log.Warn().Str("path", path).Msg("DEVELOPMENT MODE: using the master key next to the database")
		}
	}
	return seal.LoadKeyringFile(path)
}

// sandboxMounter keeps a nil *Sandbox from becoming a non-nil interface.
func sandboxMounter(sb *sandbox.Sandbox) interface{ Mount(*echo.Echo) } {
	if sb == nil {
		return nil
	}
	return sb
}

// janitor runs every interval (a minute by default) on whichever replica
// holds the janitor lease: it deletes expired secrets, stale revocations,
// and the data of tenants uninstalled longer ago than retention. A bbolt
// file is compacted after a purge, so the purged data leaves the disk.
func janitor(ctx context.Context, eng *engine.Engine, db *bolt.DB, retention, interval time.Duration, log zerolog.Logger) {
	holder := janitorHolder()
	// The lease outlives a pass but not the interval: passes of replicas
	// ticking close together do not overlap, and a holder that died
	// delays the next pass by nothing.
	ttl := interval * 5 / 6
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r, err := eng.RunJanitor(ctx, holder, ttl, retention)
			if err != nil {
				log.Error().Err(err).Msg("janitor")
			}
			if r.Expired > 0 {
				log.Info().Int("deleted", r.Expired).Msg("expired secrets deleted")
			}
			for _, ck := range r.Purged {
				log.Info().Str("client_key", ck).Msg("uninstalled tenant purged after retention")
			}
			if len(r.Purged) > 0 && db != nil {
				if err := db.Compact(ctx); err != nil {
					log.Error().Err(err).Msg("compact after purge")
				}
			}
		}
	}
}

// reportPersonalData runs the personal-data report (engine/privacy.go)
// every interval on whichever replica holds its lease; accounts are only
// sent once per cycle period, so most passes send nothing.
func reportPersonalData(ctx context.Context, eng *engine.Engine, rep engine.PersonalDataReporter, interval time.Duration, log zerolog.Logger) {
	holder := janitorHolder()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r, err := eng.RunPrivacyReport(ctx, holder, interval*5/6, rep)
			if err != nil {
				log.Error().Err(err).Msg("personal data report")
			}
			if r.Reported > 0 || r.Closed > 0 {
				log.Info().Int("reported", r.Reported).Int("closed", r.Closed).Int("deferred", r.Deferred).Msg("personal data reported")
			}
		}
	}
}

// reporterByMode sends a Forge tenant's report with its app system token
// and a Connect tenant's signed for the site.
type reporterByMode struct{ connect, forge engine.PersonalDataReporter }

// ReportAccounts implements engine.PersonalDataReporter.
func (r reporterByMode) ReportAccounts(ctx context.Context, tenant string, accounts []engine.ReportedAccount) (engine.ReportResult, error) {
	if strings.HasPrefix(tenant, server.ForgeTenantPrefix) {
		return r.forge.ReportAccounts(ctx, tenant, accounts)
	}
	return r.connect.ReportAccounts(ctx, tenant, accounts)
}

// connectHost finds what signing a host call for a Connect tenant takes.
// An installation without a shared secret (not Connect's) is refused.
func connectHost(eng *engine.Engine, cfg Config) func(context.Context, string) (connect.Host, error) {
	return func(ctx context.Context, tenant string) (connect.Host, error) {
		inst, err := eng.FindInstallation(ctx, tenant)
		if err != nil {
			return connect.Host{}, err
		}
		if inst.SharedSecret == "" {
			return connect.Host{}, engine.ErrNotReportable
		}
		key := cfg.ConfluenceKey
		if inst.Product == secrets.ProductJira {
			key = cfg.JiraKey
		}
		return connect.Host{ClientKey: inst.ClientKey, Product: string(inst.Product), BaseURL: inst.BaseURL, AppKey: key, SharedSecret: []byte(inst.SharedSecret)}, nil
	}
}

// janitorHolder names this process in the janitor lease.
func janitorHolder() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

// dbSize reports the bbolt file's size; other stores report none.
func dbSize(st *backend.Opened) func() int64 {
	if st.Bolt == nil {
		return nil
	}
	return st.Bolt.Size
}

// backupOf is the ops listener's hot copy: a bbolt file can stream one;
// PostgreSQL is backed up with its own tools (deploy/README.md).
func backupOf(st *backend.Opened) func(io.Writer, func(int64)) (int64, error) {
	if st.Bolt == nil {
		return nil
	}
	return st.Bolt.Backup
}

// migrationOf turns on data residency when other realms are configured.
func migrationOf(cfg Config, eng *engine.Engine) *server.Migration {
	if len(cfg.Regions) == 0 {
		return nil
	}
	return &server.Migration{Moves: eng, Regions: cfg.Regions}
}
