// Command secretsctl is the operator tool of secretsd, the Secrets app
// server: it lists tenants, takes and checks backups, verifies that every
// stored record still opens, rotates and retires master keys, purges
// uninstalled tenants, and migrates a bbolt file into PostgreSQL.
//
// Commands take the store as secretsd does: --store (bolt://<path> or
// postgres://…) or, by default, the bbolt file --data. On a bbolt file,
// commands that change the database (rotate-master-key, purge) or decide
// about keys (retire-master-key) need secretsd stopped: bbolt allows one
// writer per file, and secretsd holds it. tenants and stats read a file
// secretsd holds as a hot copy through its backup listener
// (--backup-token-file, as backup does); verify needs secretsd stopped, or
// --data pointing at a backup. On
// PostgreSQL, reading commands and purge run beside secretsd; a master-key
// rotation needs every replica stopped. backup (and compaction, and the
// page check) are bbolt's alone.
//
// secretsctl never prints key material, shared secrets, titles or content.
// Run "secretsctl help" for the commands and "secretsctl <command> -h" for
// their flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// command is one subcommand. run parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

// commands is the table of subcommands, in the order usage lists them.
var commands = []command{
	{"tenants", "list installations: product, state, counts, dates", runTenants},
	{"stats", "totals: tenants by state, secrets, audit events, file size, master keys in use", runStats},
	{"backup", "copy a bbolt database: online from secretsd's backup listener, or --offline", runBackup},
	{"verify", "open every stored record with the keys and report the ones that fail", runVerify},
	{"rotate-master-key", "add a new master key and re-wrap every tenant key with it (offline)", runRotateMasterKey},
	{"retire-master-key", "drop an old master key that no tenant key uses any more (bbolt: offline)", runRetireMasterKey},
	{"purge", "delete tenants uninstalled longer ago than the retention (bbolt: offline)", runPurge},
	{"migrate", "copy a bbolt file into an empty PostgreSQL database, verbatim, and verify the copy (offline)", runMigrate},
	{"tenant", "move one tenant to another deployment and keyring: transfer-key, export, import, verify, commit, rollback", runTenant},
}

// cli is what every subcommand runs with: the outputs, the environment and
// the clock, so tests drive Run exactly as main does.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	http           *http.Client
}

// Run runs the secretsctl command line args (without the program name),
// writing results to stdout. Errors are returned, not printed; main prints
// them on one line. A *usageError means the command line was wrong, and
// flag.ErrHelp that help was asked for and printed.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now, http: newHTTPClient()}
	if len(args) == 0 {
		printUsage(stderr)
		return &usageError{err: errors.New("no command given")}
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 1 {
			// "secretsctl help backup" is "secretsctl backup -h".
			cmd, ok := lookup(rest[0])
			if !ok {
				return &usageError{err: fmt.Errorf("unknown command %q; run 'secretsctl help' for the list", rest[0])}
			}
			return cmd.run(ctx, c, []string{"-h"})
		}
		printUsage(stdout)
		return flag.ErrHelp
	}
	cmd, ok := lookup(name)
	if !ok {
		return &usageError{err: fmt.Errorf("unknown command %q; run 'secretsctl help' for the list", name)}
	}
	if err := cmd.run(ctx, c, rest); err != nil {
		var u *usageError
		if errors.As(err, &u) {
			u.cmd = name
			return u
		}
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func lookup(name string) (command, bool) {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd, true
		}
	}
	return command{}, false
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `secretsctl is the operator tool of secretsd, the Secrets app server.

Usage:
  secretsctl <command> [flags]

Commands:
`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-18s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
Run 'secretsctl <command> -h' for a command's flags.

Environment (defaults for the flags of the same name):
  SECRETS_STORE              --store              bolt://<path> or postgres://… (bolt:// and --data)
  SECRETS_DATA               --data               bbolt database file (./data/secrets.db)
  SECRETS_MASTER_KEY_FILE    --master-key-file    master keyring (master.key next to --data)
  SECRETS_BACKUP_ADDR        --backup-addr        secretsd's backup listener (127.0.0.1:9091)
  SECRETS_BACKUP_TOKEN_FILE  --backup-token-file  the token the backup listener wants
  SECRETS_RETENTION          --retention          how long uninstalled tenants are kept (720h)

--data on the command line overrides $SECRETS_STORE. A PostgreSQL password
belongs in PGPASSWORD or ~/.pgpass rather than in the URL; secretsctl never
prints it.

Exit status: 0 on success, 1 on failure, 2 for a wrong command line.
`)
}

// usageError is a mistake in the command line: it exits with status 2.
type usageError struct {
	cmd string
	err error
}

func (e *usageError) Error() string {
	if e.cmd == "" {
		return e.err.Error()
	}
	return fmt.Sprintf("%s: %v (see 'secretsctl %s -h')", e.cmd, e.err, e.cmd)
}

func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitCode prints err, if any, as one line on stderr and returns the exit
// status: 0 for success and for help, 2 for a usage error, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	// One line, whatever the error joined: a log scraper or a terminal
	// should never see half of a message.
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if errors.Is(err, context.Canceled) {
		msg = "interrupted: " + msg
	}
	fmt.Fprintln(stderr, "secretsctl: "+msg)
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// flagSet is a subcommand's flags and the synopsis its help shows.
type flagSet struct {
	*flag.FlagSet
	synopsis string
}

// flagSet returns the flag set of a subcommand. The flag package prints
// nothing: parse turns errors into one-line usage errors and prints help
// only when it is asked for.
func (c *cli) flagSet(name, synopsis string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis}
}

// parse parses args into fs; it allows no positional arguments.
func (c *cli) parse(fs *flagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(c.stdout, "Usage: secretsctl %s %s\n\nFlags:\n", fs.Name(), fs.synopsis)
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return err
		}
		return &usageError{err: err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	return nil
}

// env returns the variable name, or def when it is unset or empty.
func (c *cli) env(name, def string) string {
	if v := c.getenv(name); v != "" {
		return v
	}
	return def
}

// newHTTPClient is the client of the online backup. It never uses a proxy
// (the ops listener is private, and the backup must not take a detour
// through one), follows no redirects, and bounds connecting and waiting for
// headers but not the body, which is as long as the database.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			ResponseHeaderTimeout: 30 * time.Second,
			DisableCompression:    true, // the length checked is the file's
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// printable returns s as it is if every rune prints, and Go-quoted
// otherwise, so that a client key with control characters cannot rewrite
// the operator's terminal or break a table.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// timeString formats a time for tables: UTC to the second, "-" if zero.
func timeString(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// byteSize formats n bytes for people, e.g. "1.5 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
