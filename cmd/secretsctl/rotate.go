package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

func runRotateMasterKey(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("rotate-master-key", `--out NEWKEYFILE [--force] [--data FILE | --store URL] [--master-key-file FILE]

Adds a new master key to the keyring and re-wraps every tenant key with it,
in one transaction. Only tenant keys are wrapped by the master key, so no
record is re-encrypted. secretsd must be stopped.

On PostgreSQL that means every replica (scale it to zero): secretsctl cannot
see them. A replica still running with the old keyring cannot open the
re-wrapped keys, so every request to it fails until it restarts with
NEWKEYFILE, and it wraps the key of a site installed meanwhile with the old
key.

NEWKEYFILE (mode 0600) is written before the database is touched, and holds
the old keys and the new one, so the database opens with it whether or not
the re-wrap completes. Once the re-wrap has committed, the old keyring file
no longer opens the database (only backups taken before): secretsd must be
started with NEWKEYFILE.`)
	st := c.storeFlags(flags)
	out := flags.String("out", "", "new keyring file to write (required)")
	force := flags.Bool("force", false, "replace --out if it exists")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if err := refuseExisting(*out, *force); err != nil {
		return err
	}
	oldPath := st.keyringPath()
	kr, err := st.keyring()
	if err != nil {
		return err
	}
	db, err := st.openWritable(ctx, kr)
	if err != nil {
		return err
	}
	defer db.Close()
	// A wrong --master-key-file must not yield a new key file.
	if _, err := checkKeyring(ctx, db, kr, oldPath); err != nil {
		return err
	}

	rotated, err := kr.Rotate()
	if err != nil {
		return err
	}
	// The new keyring goes to disk first. It holds the old keys, so if the
	// re-wrap below never commits nothing is lost; if the file were written
	// after the commit instead, a crash in between would leave tenant keys
	// wrapped by a key that existed only in this process's memory.
	blob := rotated.Marshal()
	err = writeFileAtomic(*out, blob, *force)
	clear(blob)
	if err != nil {
		return fmt.Errorf("write the new keyring: %w (the database is unchanged)", err)
	}
	primary := rotated.PrimaryID()
	fmt.Fprintf(c.stdout, "wrote %s: master keys %s, new primary key %d\n", printable(*out), idList(rotated.IDs()), primary)

	n, err := db.RewrapTenantKeys(ctx, rotated)
	if err != nil {
		return fmt.Errorf("re-wrap tenant keys: %w; the database is unchanged and opens with %s as with %s", err, *out, oldPath)
	}
	inUse, err := db.MasterKeyIDsInUse(ctx)
	if err != nil {
		return err
	}
	if len(inUse) > 1 || (len(inUse) == 1 && inUse[primary] == 0) {
		// RewrapTenantKeys is all or nothing: a secretsd that kept running
		// wrapped a new tenant key meanwhile.
		return fmt.Errorf("after the re-wrap, tenant keys are still wrapped by keys %s: is a secretsd still running with the old keyring? Stop it, and run this again with --master-key-file %s",
			idList(slices.Sorted(maps.Keys(inUse))), printable(*out))
	}
	fmt.Fprintf(c.stdout, "re-wrapped %s with key %d; every tenant key is now wrapped by key %d\n", plural(n, "tenant key"), primary, primary)

	// The steps are deploy/README.md's runbook (rotate-master-key), which
	// runbook_test.go runs: the same commands in the same order, so the
	// tool and the runbook cannot drift apart again.
	old := kr.IDs()
	fmt.Fprintf(c.stdout, `
Next steps, with secretsd still stopped (%[1]s no longer opens this database):
  1. Check the database with the new keyring:
       secretsctl verify %[2]s --master-key-file %[3]s
  2. Retire the old %[4]s, which now wraps nothing, into the keyring secretsd
     is to run with:
       secretsctl retire-master-key %[2]s --master-key-file %[3]s --out FINAL-KEYFILE
  3. Start secretsd (every replica) with --master-key-file FINAL-KEYFILE
     (or SECRETS_MASTER_KEY_FILE).
Backups taken before this rotation still need %[4]s: keep %[1]s offline,
apart from the backups, for as long as you keep them.
`, printable(oldPath), st.arg(), printable(*out), keyNoun(old))
	return nil
}
