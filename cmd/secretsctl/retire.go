package main

import (
	"context"
	"fmt"
	"math"
	"slices"
)

func runRetireMasterKey(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("retire-master-key", `--id N --out NEWKEYFILE [--force] [--data FILE | --store URL] [--master-key-file FILE]

Writes the keyring without master key N to NEWKEYFILE (mode 0600), once no
tenant key is wrapped by N. Refuses the primary key, and a key that still
wraps tenant keys (run rotate-master-key first). It only reads the database.

A bbolt file needs secretsd stopped. On PostgreSQL it may run while secretsd
serves once every replica runs with the keyring rotate-master-key wrote
(whose primary is not N), since then none wraps a new tenant key with N.`)
	st := c.storeFlags(flags)
	id := flags.Uint64("id", 0, "id of the master key to retire (required)")
	out := flags.String("out", "", "new keyring file to write (required)")
	force := flags.Bool("force", false, "replace --out if it exists")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	switch {
	case *id == 0 || *id > math.MaxUint32:
		return usagef("--id must be a master key id from 1 to %d", uint32(math.MaxUint32))
	case *out == "":
		return usagef("--out is required")
	}
	if err := refuseExisting(*out, *force); err != nil {
		return err
	}
	keyID := uint32(*id)
	keyPath := st.keyringPath()
	kr, err := st.keyring()
	if err != nil {
		return err
	}
	if !slices.Contains(kr.IDs(), keyID) {
		return fmt.Errorf("key %d is not in %s, which holds %s", keyID, keyPath, idList(kr.IDs()))
	}
	if keyID == kr.PrimaryID() {
		return fmt.Errorf("key %d is the primary key, which wraps new tenant keys; rotate first (secretsctl rotate-master-key), then retire it", keyID)
	}

	db, err := st.open(ctx, kr, true, adviceStop)
	if err != nil {
		return err
	}
	defer db.Close()
	inUse, err := checkKeyring(ctx, db, kr, keyPath)
	if err != nil {
		return err
	}
	if n := inUse[keyID]; n > 0 {
		return fmt.Errorf("key %d still wraps %s; run rotate-master-key first, which re-wraps them with a new key", keyID, plural(n, "tenant key"))
	}

	retired, err := kr.Retire(keyID)
	if err != nil {
		return err
	}
	blob := retired.Marshal()
	err = writeFileAtomic(*out, blob, *force)
	clear(blob)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote %s: master keys %s, primary key %d; key %d retired\n",
		printable(*out), idList(retired.IDs()), retired.PrimaryID(), keyID)
	fmt.Fprintf(c.stdout, "Start secretsd with --master-key-file %s. Backups taken while key %d wrapped tenant keys still need %s: keep it safe for as long as you keep them.\n",
		printable(*out), keyID, printable(keyPath))
	return nil
}
