package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/connect-secrets/secrets/pkg/store"
)

func runMigrate(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("migrate", `--from FILE --to postgres://… [--master-key-file FILE]

Copies a bbolt database into an empty PostgreSQL database, to run several
secretsd replicas on it: every tenant with all its buckets, the application
records and every sequence (so audit numbering goes on where it stopped), as
the same sealed bytes under the same keys. Nothing is decrypted or
re-encrypted: the copy opens with the same master keyring.

secretsd must be stopped: FILE is opened read-only, and refused while
secretsd holds it, since whatever it wrote after the copy would be lost. The
source is verified first, as 'secretsctl verify' does (a source with
problems is not copied). The copy is one transaction, so a failed run leaves
the target as it was, and a target that holds anything is refused. After
the commit the target is read back and compared with the source bucket by
bucket (keys, bytes, a SHA-256 digest, sequences), and verified.

Put the database password in PGPASSWORD or ~/.pgpass rather than in the
URL: a command line is visible to other users of the machine. secretsctl
never prints it.`)
	from := flags.String("from", "", "the bbolt database file to copy (required)")
	to := flags.String("to", "", "PostgreSQL URL of the empty target database (required)")
	keyFile := flags.String("master-key-file", c.getenv("SECRETS_MASTER_KEY_FILE"), "master keyring of FILE, to verify source and copy ($SECRETS_MASTER_KEY_FILE; default: master.key next to FILE)")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	switch {
	case *from == "":
		return usagef("--from is required: the bbolt file to copy")
	case *to == "":
		return usagef("--to is required: the PostgreSQL database to copy into")
	case !isPostgres(*to):
		return usagef("--to %q must be a postgres:// URL: migrate copies a bbolt file into PostgreSQL", printable(redact(*to)))
	}
	if fi, err := os.Stat(*from); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--from %s does not exist", printable(*from))
	} else if err != nil {
		return fmt.Errorf("--from: %w", err)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("--from %s is not a file", printable(*from))
	}
	keyPath := *keyFile
	if keyPath == "" {
		keyPath = filepath.Join(filepath.Dir(*from), "master.key")
	}
	target := redact(*to)

	kr, err := (&storeFlags{keyFile: keyPath}).keyring()
	if err != nil {
		return err
	}
	srcSt, err := openBolt(ctx, *from, true, "stop secretsd first: whatever it wrote after the copy would be lost")
	if err != nil {
		return err
	}
	src := newDatabase(srcSt, kr, true)
	defer src.Close()

	// The source first: the copy is verbatim, so whatever is wrong with it
	// would be wrong with the copy, and a wrong keyring should stop the
	// run before anything is written.
	srcReport, err := src.Verify(ctx)
	if err != nil {
		return err
	}
	if _, err := src.file().CheckStructure(ctx); err != nil {
		return fmt.Errorf("the source failed bbolt's page check, so nothing was copied: %w", err)
	}
	if len(srcReport.Problems) > 0 {
		if err := printProblems(c, srcReport.Problems); err != nil {
			return err
		}
		return fmt.Errorf("%s has %s with %s (is it its keyring?), so nothing was copied",
			printable(*from), plural(len(srcReport.Problems), "problem"), printable(keyPath))
	}
	fmt.Fprintf(c.stdout, "source %s: %s and %s, no problems\n",
		printable(*from), plural(srcReport.Tenants, "tenant"), plural(srcReport.Records, "record"))

	dstSt, err := openPostgres(ctx, *to)
	if err != nil {
		return err
	}
	dst := newDatabase(dstSt, kr, true)
	defer dst.Close()

	var copied tallies
	err = dstSt.Update(ctx, func(dtx store.Tx) error {
		// The function may run again if the transaction fails to
		// serialize: start from nothing each time.
		copied = tallies{}
		if err := checkEmpty(dtx); err != nil {
			return err
		}
		return srcSt.View(ctx, func(stx store.Tx) error {
			return walk(stx, walker{
				tenant: func(t string) error {
					created, err := dtx.CreateTenant(t)
					if err == nil && !created {
						err = fmt.Errorf("%w: tenant %q exists", errNotEmpty, t)
					}
					return err
				},
				record: func(t string, b store.Bucket, k, v []byte) error {
					copied.record(t, b, k, v)
					return dtx.Put(t, b, k, v)
				},
				sequence: func(t string, b store.Bucket, n uint64) error {
					copied.sequence(t, b, n)
					return dtx.SetSequence(t, b, n)
				},
			})
		})
	})
	if errors.Is(err, errNotEmpty) {
		return fmt.Errorf("%s is not empty (%w): migrate copies into an empty database only, and changed nothing; is it in use already?", printable(target), err)
	}
	if err != nil {
		return fmt.Errorf("copy into %s: %w; the target is unchanged", printable(target), err)
	}
	fmt.Fprintf(c.stdout, "copied %s into %s, in one transaction:\n", printable(*from), printable(target))
	if err := printTallies(c, copied); err != nil {
		return err
	}

	// Read the committed copy back, and open every record of it.
	var stored tallies
	if err := dstSt.View(ctx, func(tx store.Tx) error {
		stored = tallies{}
		return walk(tx, walker{record: stored.record, sequence: stored.sequence})
	}); err != nil {
		return fmt.Errorf("read back %s: %w", printable(target), err)
	}
	if diff := compareTallies(copied, stored); len(diff) > 0 {
		return fmt.Errorf("the copy in %s differs from the source in %s; do not start secretsd on it", printable(target), strings.Join(diff, ", "))
	}
	fmt.Fprintln(c.stdout, "read back: every bucket matches the source (keys, bytes, digest, sequences)")
	dstReport, err := dst.Verify(ctx)
	if err != nil {
		return err
	}
	if err := printProblems(c, dstReport.Problems); err != nil {
		return err
	}
	if len(dstReport.Problems) > 0 || dstReport.Tenants != srcReport.Tenants || dstReport.Records != srcReport.Records {
		return fmt.Errorf("verify of %s: %s and %s (the source: %s and %s), %s; do not start secretsd on it",
			printable(target), plural(dstReport.Tenants, "tenant"), plural(dstReport.Records, "record"),
			plural(srcReport.Tenants, "tenant"), plural(srcReport.Records, "record"), plural(len(dstReport.Problems), "problem"))
	}
	fmt.Fprintf(c.stdout, "verified %s: %s and %s, no problems\n",
		printable(target), plural(dstReport.Tenants, "tenant"), plural(dstReport.Records, "record"))
	fmt.Fprintf(c.stdout, `
Next steps:
  1. Start secretsd with --store (SECRETS_STORE) set to this PostgreSQL URL
     and the same master keyring:
       --master-key-file %[1]s
  2. Keep the bbolt file, and a copy of it, until you are satisfied: it is
     the way back, but it will not hold anything written from now on:
       %[2]s
  3. Back up PostgreSQL from now on (deploy/README.md).
`, printable(keyPath), printable(*from))
	return nil
}

// errNotEmpty: the target of a migration holds data already.
var errNotEmpty = errors.New("it holds data already")

// checkEmpty returns errNotEmpty unless tx sees no tenant, no global record
// and no global sequence.
func checkEmpty(tx store.Tx) error {
	var found []string
	if err := tx.Tenants(func(t string) error {
		found = append(found, fmt.Sprintf("tenant %q", t))
		return store.Stop
	}); err != nil {
		return err
	}
	for _, b := range store.GlobalBuckets {
		if err := tx.Scan("", b, store.Range{}, func(_, _ []byte) error {
			found = append(found, "records in "+string(b))
			return store.Stop
		}); err != nil {
			return err
		}
		if n, err := tx.Sequence("", b); err != nil {
			return err
		} else if n > 0 {
			found = append(found, "a sequence of "+string(b))
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("%w: %s", errNotEmpty, strings.Join(found, ", "))
	}
	return nil
}

// walker receives a store's contents from walk; nil fields are skipped.
type walker struct {
	tenant   func(tenant string) error
	record   func(tenant string, b store.Bucket, key, value []byte) error
	sequence func(tenant string, b store.Bucket, n uint64) error
}

// walk visits every tenant, record and non-zero sequence of tx, in an order
// every backend yields alike: tenants in byte order, each with its buckets
// in store.TenantBuckets order, keys in byte order and the bucket's
// sequence after its keys; the global buckets last.
func walk(tx store.Tx, w walker) error {
	bucket := func(tenant string, b store.Bucket) error {
		if err := tx.Scan(tenant, b, store.Range{}, func(k, v []byte) error {
			if w.record != nil {
				return w.record(tenant, b, k, v)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("%s of %q: %w", b, tenant, err)
		}
		n, err := tx.Sequence(tenant, b)
		if err != nil {
			return fmt.Errorf("sequence of %s of %q: %w", b, tenant, err)
		}
		if n > 0 && w.sequence != nil {
			return w.sequence(tenant, b, n)
		}
		return nil
	}
	if err := tx.Tenants(func(t string) error {
		if w.tenant != nil {
			if err := w.tenant(t); err != nil {
				return err
			}
		}
		for _, b := range store.TenantBuckets {
			if err := bucket(t, b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, b := range store.GlobalBuckets {
		if err := bucket("", b); err != nil {
			return err
		}
	}
	return nil
}

// tally sums up one bucket over all tenants: how many keys and value bytes
// and non-zero sequences, and a digest of all of it in walk's order, so two
// stores compare without either being held in memory.
type tally struct {
	keys, sequences int
	bytes           int64
	digest          hash.Hash
}

// tallies are the tallies of a store, by bucket.
type tallies map[store.Bucket]*tally

func (ts tallies) of(b store.Bucket) *tally {
	t := ts[b]
	if t == nil {
		t = &tally{digest: sha256.New()}
		ts[b] = t
	}
	return t
}

func (ts tallies) record(tenant string, b store.Bucket, key, value []byte) error {
	t := ts.of(b)
	t.keys++
	t.bytes += int64(len(value))
	frame(t.digest, 'r', []byte(tenant), key, value)
	return nil
}

func (ts tallies) sequence(tenant string, b store.Bucket, n uint64) error {
	t := ts.of(b)
	t.sequences++
	frame(t.digest, 's', []byte(tenant), binary.BigEndian.AppendUint64(nil, n))
	return nil
}

// frame writes a tag and length-prefixed fields, so that no two different
// sequences of fields hash alike.
func frame(h hash.Hash, tag byte, fields ...[]byte) {
	h.Write([]byte{tag})
	for _, f := range fields {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(f))))
		h.Write(f)
	}
}

// compareTallies names the buckets in which a and b differ.
func compareTallies(a, b tallies) []string {
	var diff []string
	for _, bk := range allBuckets() {
		x, y := a.of(bk), b.of(bk)
		switch {
		case x.keys != y.keys:
			diff = append(diff, fmt.Sprintf("%s (%d keys, the source %d)", bk, y.keys, x.keys))
		case x.bytes != y.bytes:
			diff = append(diff, fmt.Sprintf("%s (%d bytes, the source %d)", bk, y.bytes, x.bytes))
		case x.sequences != y.sequences:
			diff = append(diff, fmt.Sprintf("%s (%d sequences, the source %d)", bk, y.sequences, x.sequences))
		case !bytes.Equal(x.digest.Sum(nil), y.digest.Sum(nil)):
			diff = append(diff, fmt.Sprintf("%s (same counts, different content)", bk))
		}
	}
	return diff
}

func allBuckets() []store.Bucket {
	return append(append([]store.Bucket(nil), store.TenantBuckets...), store.GlobalBuckets...)
}

// printTallies prints what was copied, bucket by bucket.
func printTallies(c *cli, ts tallies) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  BUCKET\tKEYS\tBYTES\tSEQUENCES")
	var keys, seqs int
	var size int64
	for _, b := range allBuckets() {
		t := ts.of(b)
		keys, seqs, size = keys+t.keys, seqs+t.sequences, size+t.bytes
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\n", b, t.keys, t.bytes, t.sequences)
	}
	fmt.Fprintf(tw, "  total\t%d\t%d\t%d\n", keys, size, seqs)
	return tw.Flush()
}
