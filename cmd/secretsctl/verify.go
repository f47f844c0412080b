package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/connect-secrets/secrets/pkg/engine"
)

func runVerify(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("verify", `[--data FILE] [--master-key-file FILE]

Opens every stored record with the keys: each tenant key with the master
keyring, then the tenant's installation record, settings, secret records and
audit events with the tenant key. Bodies open only with their passwords, so
they are checked for form; the container index is checked against the
secrets both ways; and bbolt checks the file's pages. Nothing is changed.

Problems are listed by place and reason, never by content, and make the exit
status 1. Works on a backup: pass it as --data, with the keyring that was in
use when it was taken. Needs secretsd stopped when --data is its database.`)
	st := c.storeFlags(flags)
	if err := c.parse(flags, args); err != nil {
		return err
	}
	db, _, err := st.openReadOnly()
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := db.Verify(ctx)
	if err != nil {
		return err
	}
	// The engine checks every record; the file's page structure is bbolt's.
	if _, err := db.CheckStructure(ctx); err != nil {
		r.Problems = append([]engine.VerifyProblem{{Reason: "bbolt page check failed (damaged or truncated file)"}}, r.Problems...)
	}
	if len(r.Problems) > 0 {
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tRECORD\tPROBLEM")
		for _, p := range r.Problems {
			tenant := p.Tenant
			if tenant == "" {
				tenant = "(file)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(tenant), printable(recordPath(p)), p.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stdout, "checked %s and %s in %s: ", plural(r.Tenants, "tenant"), plural(r.Records, "record"), printable(st.data))
	if len(r.Problems) == 0 {
		fmt.Fprintln(c.stdout, "no problems")
		return nil
	}
	fmt.Fprintln(c.stdout, plural(len(r.Problems), "problem"))
	return fmt.Errorf("%s found in %s", plural(len(r.Problems), "problem"), st.data)
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
