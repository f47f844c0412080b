package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/connect-secrets/secrets/pkg/engine"
)

func runVerify(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("verify", `[--data FILE | --store URL] [--master-key-file FILE]

Opens every stored record with the keys: each tenant key with the master
keyring, then the tenant's installation record, settings, secret records and
audit events with the tenant key. Bodies open only with their passwords, so
they are checked for form; the container index is checked against the
secrets both ways; and, for a bbolt file, bbolt checks its pages. Nothing is
changed.

Problems are listed by place and reason, never by content, and make the exit
status 1. Works on a backup: pass it as --data, with the keyring that was in
use when it was taken. A bbolt file needs secretsd stopped when it is
secretsd's database; PostgreSQL (--store postgres://…) is read in one
snapshot while secretsd keeps serving.`)
	st := c.storeFlags(flags)
	if err := c.parse(flags, args); err != nil {
		return err
	}
	db, _, err := st.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := db.Verify(ctx)
	if err != nil {
		return err
	}
	// The engine checks every record; a file's page structure is bbolt's.
	if f := db.file(); f != nil {
		if _, err := f.CheckStructure(ctx); err != nil {
			r.Problems = append([]engine.VerifyProblem{{Reason: "bbolt page check failed (damaged or truncated file)"}}, r.Problems...)
		}
	}
	if err := printProblems(c, r.Problems); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "checked %s and %s in %s: ", plural(r.Tenants, "tenant"), plural(r.Records, "record"), printable(st.where()))
	if len(r.Problems) == 0 {
		fmt.Fprintln(c.stdout, "no problems")
		return nil
	}
	fmt.Fprintln(c.stdout, plural(len(r.Problems), "problem"))
	return fmt.Errorf("%s found in %s", plural(len(r.Problems), "problem"), printable(st.where()))
}

// printProblems lists Verify's problems as a table, if there are any.
func printProblems(c *cli, problems []engine.VerifyProblem) error {
	if len(problems) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tRECORD\tPROBLEM")
	for _, p := range problems {
		tenant := p.Tenant
		if tenant == "" {
			tenant = "(store)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(tenant), printable(recordPath(p)), p.Reason)
	}
	return tw.Flush()
}

// recordPath names where a problem is inside its tenant, e.g.
// "secrets/<id>" or "meta".
func recordPath(p engine.VerifyProblem) string {
	var parts []string
	for _, s := range []string{p.Bucket, p.Key} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "/")
}
