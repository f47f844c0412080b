package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/connect-secrets/secrets/pkg/bolt"
)

func runBackup(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("backup", `--out FILE [--force] [--backup-addr ADDR --backup-token-file FILE | --offline --data FILE]

Copies the database to FILE. By default it asks the running secretsd for a
consistent hot copy (GET /backup on its backup listener, with the token from
--backup-token-file, the same file secretsd reads). With --offline it reads
--data directly, for when secretsd is stopped.

The copy goes to FILE.tmp (mode 0600) and is checked (the byte count the
server announced, then bbolt's page check) before it is renamed to FILE, so
FILE is either a whole backup or absent. Records in the copy are sealed, but
the copy is as sensitive as the database, and opening it takes the master
keyring in use when it was taken.

bbolt only: a PostgreSQL store (--store postgres://…) is backed up with
PostgreSQL's own tools, pg_dump or continuous archiving (deploy/README.md).`)
	out := flags.String("out", "", "backup file to create (required)")
	force := flags.Bool("force", false, "replace --out (and a stale --out.tmp) if it exists")
	offline := flags.Bool("offline", false, "read --data directly instead of asking secretsd, which must be stopped")
	backupAddr := flags.String("backup-addr", c.env("SECRETS_BACKUP_ADDR", "127.0.0.1:9091"), "secretsd's backup listener, host:port or http URL ($SECRETS_BACKUP_ADDR)")
	// --ops-addr named the listener /backup used to share with /metrics; it
	// is kept as another name for --backup-addr so old scripts still parse.
	flags.Var(stringAlias{backupAddr}, "ops-addr", "deprecated: the same as --backup-addr")
	tokenFile := flags.String("backup-token-file", c.env("SECRETS_BACKUP_TOKEN_FILE", ""), "file holding secretsd's backup token ($SECRETS_BACKUP_TOKEN_FILE)")
	defData := c.env("SECRETS_DATA", "./data/secrets.db")
	envStore := c.getenv("SECRETS_STORE")
	if path, ok := strings.CutPrefix(envStore, "bolt://"); ok && path != "" {
		defData = path // secretsd's database, as it decides
	}
	data := flags.String("data", defData, "database file, with --offline ($SECRETS_DATA, or the file of a bolt:// $SECRETS_STORE)")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	if isPostgres(envStore) && !(*offline && isSet(flags, "data")) {
		return fmt.Errorf("backup copies a bbolt file, and $SECRETS_STORE names PostgreSQL (%s): back it up with pg_dump or continuous archiving (deploy/README.md, \"Backups on PostgreSQL\")",
			printable(redact(envStore)))
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if err := refuseExisting(*out, *force); err != nil {
		return err
	}

	source := *data
	copyTo := func(w io.Writer) (int64, error) { return copyOffline(*data, w) }
	if !*offline {
		u, err := backupURL(*backupAddr)
		if err != nil {
			return usagef("--backup-addr: %v", err)
		}
		if *tokenFile == "" {
			return usagef("--backup-token-file is required to ask secretsd for a backup (or use --offline)")
		}
		raw, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("--backup-token-file: %w", err)
		}
		token := strings.TrimSpace(string(raw))
		source = u
		copyTo = func(w io.Writer) (int64, error) { return copyOnline(ctx, c.http, u, token, w) }
	}

	tmp := *out + ".tmp"
	n, err := writeBackup(tmp, *force, copyTo)
	if err != nil {
		return err
	}
	tenants, err := checkBackup(ctx, tmp)
	if err == nil {
		err = publish(tmp, *out, *force)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	fmt.Fprintf(c.stdout, "backup of %s written to %s: %s (%d bytes), %s, page check passed\n",
		printable(source), printable(*out), byteSize(n), n, plural(tenants, "tenant"))
	fmt.Fprintf(c.stdout, "to check every record: secretsctl verify --data %s --master-key-file <the keyring secretsd uses now>\n", printable(*out))
	return nil
}

// writeBackup creates tmp (mode 0600, never following or reusing a file
// someone else made), fills it with copyTo and syncs it. On failure tmp is
// removed.
func writeBackup(tmp string, force bool, copyTo func(io.Writer) (int64, error)) (n int64, err error) {
	if force {
		// A stale FILE.tmp from an interrupted run.
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return 0, fmt.Errorf("%s exists: a backup is running, or one was interrupted (remove it, or pass --force)", tmp)
	}
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	n, err = copyTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// backupURL turns --ops-addr (host:port, or an http URL for a listener
// behind a path) into the URL of the backup endpoint.
func backupURL(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("%q is neither host:port nor an http URL", addr)
	}
	return u.JoinPath("backup").String(), nil
}

// copyOnline downloads a hot copy from secretsd. The ops handler announces
// the copy's exact size before streaming it and, once streaming, can only
// signal a failure by stopping short; so a response without a length, or
// with fewer bytes than it announced, is refused.
func copyOnline(ctx context.Context, client *http.Client, u, token string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ask secretsd for a backup (is it running? or use --offline): %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return 0, fmt.Errorf("GET %s: %s: the backup token was refused (is --backup-token-file the file secretsd reads?)", u, resp.Status)
	case http.StatusForbidden:
		return 0, fmt.Errorf("GET %s: %s: secretsd has no --backup-token-file, so it refuses backups", u, resp.Status)
	case http.StatusNotFound:
		return 0, fmt.Errorf("GET %s: %s: this secretsd has no bbolt file to copy (its store is PostgreSQL?): back it up with pg_dump (deploy/README.md)", u, resp.Status)
	default:
		return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	want := resp.ContentLength
	if want <= 0 {
		return 0, fmt.Errorf("GET %s: the response has no length, so a whole copy cannot be told from a cut one", u)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("download cut short after %d of %d bytes: %w", n, want, err)
	}
	if n != want {
		return n, fmt.Errorf("download incomplete: %d of %d bytes", n, want)
	}
	return n, nil
}

// copyOffline copies the database file of a stopped secretsd. The copy is
// bbolt's consistent snapshot, not a byte copy of the file, and needs no
// key: nothing is opened.
func copyOffline(path string, w io.Writer) (int64, error) {
	db, err := bolt.OpenReadOnly(path)
	if errors.Is(err, bolt.ErrInUse) {
		return 0, fmt.Errorf("%w; secretsd is running: back up online, without --offline", err)
	}
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.Backup(w, nil)
}

// checkBackup opens the copy read-only, runs bbolt's page check and counts
// the tenants. It needs no key.
func checkBackup(ctx context.Context, path string) (int, error) {
	db, err := bolt.OpenReadOnly(path)
	if err != nil {
		return 0, fmt.Errorf("the copy does not open: %w", err)
	}
	defer db.Close()
	n, err := db.CheckStructure(ctx)
	if err != nil {
		return 0, fmt.Errorf("the copy failed its check: %w", err)
	}
	return n, nil
}

// stringAlias is a flag.Value that sets another flag's string.
type stringAlias struct{ p *string }

func (a stringAlias) String() string {
	if a.p == nil {
		return ""
	}
	return *a.p
}

func (a stringAlias) Set(v string) error { *a.p = v; return nil }
