package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
)

func runRetireMasterKey(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("retire-master-key", `--out NEWKEYFILE [--id N] [--force] [--data FILE | --store URL] [--master-key-file FILE]

Writes the keyring without the master keys that nothing in the database
uses any more to NEWKEYFILE (mode 0600). Without --id it retires every key
but the primary that wraps no tenant key (and not the session key), and
says which; after rotate-master-key that is every old key. With --id it
retires key N alone, and refuses the primary key and a key that still wraps
tenant keys (run rotate-master-key first). It only reads the database.

A bbolt file needs secretsd stopped. On PostgreSQL it may run while secretsd
serves once every replica runs with the keyring rotate-master-key wrote
(whose primary is not N), since then none wraps a new tenant key with N.`)
	st := c.storeFlags(flags)
	id := flags.Uint64("id", 0, "id of the one master key to retire (default: every unused key but the primary)")
	out := flags.String("out", "", "new keyring file to write (required)")
	force := flags.Bool("force", false, "replace --out if it exists")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	switch {
	case isSet(flags, "id") && (*id == 0 || *id > math.MaxUint32):
		return usagef("--id must be a master key id from 1 to %d", uint32(math.MaxUint32))
	case *out == "":
		return usagef("--out is required")
	}
	if err := refuseExisting(*out, *force); err != nil {
		return err
	}
	keyPath := st.keyringPath()
	kr, err := st.keyring()
	if err != nil {
		return err
	}
	keyID := uint32(*id)
	if keyID != 0 {
		if !slices.Contains(kr.IDs(), keyID) {
			return fmt.Errorf("key %d is not in %s, which holds %s", keyID, keyPath, idList(kr.IDs()))
		}
		if keyID == kr.PrimaryID() {
			return fmt.Errorf("key %d is the primary key, which wraps new tenant keys; rotate first (secretsctl rotate-master-key), then retire it", keyID)
		}
	} else if len(kr.IDs()) == 1 {
		return fmt.Errorf("%s holds only its primary key %d: nothing to retire (rotate-master-key adds a new key first)", keyPath, kr.PrimaryID())
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

	var retire, kept []uint32
	if keyID != 0 {
		if n := inUse[keyID]; n > 0 {
			return fmt.Errorf("key %d still wraps %s; run rotate-master-key first, which re-wraps them with a new key", keyID, plural(n, "tenant key"))
		}
		retire = []uint32{keyID}
	} else {
		for _, k := range kr.IDs() {
			switch {
			case k == kr.PrimaryID():
			case inUse[k] > 0:
				kept = append(kept, k)
			default:
				retire = append(retire, k)
			}
		}
		if len(retire) == 0 {
			return fmt.Errorf("every old key still wraps tenant keys (%s): run rotate-master-key first, which re-wraps them with the primary key", inUseList(kept, inUse))
		}
	}

	retired := kr
	for _, k := range retire {
		if retired, err = retired.Retire(k); err != nil {
			return err
		}
	}
	blob := retired.Marshal()
	err = writeFileAtomic(*out, blob, *force)
	clear(blob)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote %s: master keys %s, primary key %d; %s retired\n",
		printable(*out), idList(retired.IDs()), retired.PrimaryID(), keyNoun(retire))
	if len(kept) > 0 {
		fmt.Fprintf(c.stdout, "kept %s, still in use (%s)\n", keyNoun(kept), inUseList(kept, inUse))
	}
	fmt.Fprintf(c.stdout, "Start secretsd with --master-key-file %s. Backups taken while %s wrapped tenant keys still need it: keep a keyring that holds it (the one from before the rotation) offline, apart from the backups, for as long as you keep them.\n",
		printable(*out), keyNoun(retire))
	return nil
}

// keyNoun names key ids: "key 1", "keys 1, 3".
func keyNoun(ids []uint32) string {
	if len(ids) == 1 {
		return "key " + idList(ids)
	}
	return "keys " + idList(ids)
}

// inUseList says what each key wraps: "key 3 wraps 2 tenant keys".
func inUseList(ids []uint32, inUse map[uint32]int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("key %d wraps %s", id, plural(inUse[id], "tenant key"))
	}
	return strings.Join(parts, "; ")
}
