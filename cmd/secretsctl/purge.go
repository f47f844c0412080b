package main

import (
	"context"
	"fmt"
	"time"
)

func runPurge(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("purge", `[--retention 720h] [--dry-run] [--data FILE | --store URL] [--master-key-file FILE]

Deletes every tenant uninstalled at least --retention ago, with everything it
owns, in one transaction. Tenants that installed again are kept. With
--dry-run it lists them and deletes nothing. secretsd's janitor does the same
once a minute, so this is for purging sooner or by hand.

A bbolt file needs secretsd stopped (a dry run also works on a backup); the
file is then compacted, so the purged data is gone from it. On PostgreSQL it
runs while secretsd serves; the deleted rows' space is reclaimed by
(auto)vacuum, and backups and WAL archives keep them until they expire.`)
	st := c.storeFlags(flags)
	retention := flags.String("retention", c.env("SECRETS_RETENTION", "720h"), "how long an uninstalled tenant is kept, e.g. 720h ($SECRETS_RETENTION)")
	dryRun := flags.Bool("dry-run", false, "list the tenants that would be purged; delete nothing")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	keep, err := time.ParseDuration(*retention)
	if err != nil || keep < 0 {
		return usagef("--retention %q must be a duration such as 720h", *retention)
	}
	cutoff := c.now().Add(-keep).UTC().Truncate(time.Second)
	kr, err := st.keyring()
	if err != nil {
		return err
	}

	if *dryRun {
		db, err := st.open(ctx, kr, true, adviceRead)
		if err != nil {
			return err
		}
		defer db.Close()
		due, err := db.UninstalledBefore(ctx, cutoff)
		if err != nil {
			return err
		}
		for _, ck := range due {
			fmt.Fprintf(c.stdout, "would purge %s\n", printable(ck))
		}
		fmt.Fprintf(c.stdout, "%s uninstalled at or before %s would be purged (dry run: nothing deleted)\n",
			plural(len(due), "tenant"), cutoff.Format(time.RFC3339))
		return nil
	}

	db, err := st.openWritable(ctx, kr)
	if err != nil {
		return err
	}
	defer db.Close()
	purged, err := db.PurgeUninstalled(ctx, cutoff)
	if err != nil {
		return err
	}
	for _, ck := range purged {
		fmt.Fprintf(c.stdout, "purged %s\n", printable(ck))
	}
	fmt.Fprintf(c.stdout, "purged %s uninstalled at or before %s\n", plural(len(purged), "tenant"), cutoff.Format(time.RFC3339))
	if f := db.file(); f != nil && len(purged) > 0 {
		// Deleted pages stay in the file until reused; rewrite it so the
		// purged data is gone from disk.
		if err := f.Compact(ctx); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "compacted the database file")
	}
	return nil
}
