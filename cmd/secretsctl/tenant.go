package main

// secretsctl tenant: move one tenant to another deployment (data
// residency: one deployment and master keyring per realm). The logic is
// the engine's (pkg/engine/transfer.go), which the migration hooks call
// too; this file reads flags and files.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

const tenantUsage = `<transfer-key|export|import|verify|commit|rollback> [flags]

Moves one tenant to another deployment (another realm, with its own master
keyring), as its sealed bytes. Only the tenant key is re-wrapped, and it
never leaves a process unwrapped: the source seals it for the destination's
transfer key (derived from the destination's master keyring; its public half
is what 'transfer-key' prints there) and signs it as its own. The steps:

  at the destination:  secretsctl tenant transfer-key            → DEST_KEY
  at the source:       secretsctl tenant transfer-key            → SRC_KEY
  at the source:       secretsctl tenant export --tenant ID --to-key DEST_KEY --out FILE
  at the destination:  secretsctl tenant import --in FILE --from-key SRC_KEY --receipt RECEIPT
  at the source:       secretsctl tenant commit --in FILE --receipt RECEIPT
     (or, to give up, at the destination: secretsctl tenant rollback --in FILE)

import verifies the copy ('tenant verify' checks it again). The source is
untouched, and goes on serving, until commit deletes its copy; commit needs
the receipt, which only the destination could make, after verifying. Disable
the site (or let Atlassian's migration window) keep it from writing between
export and commit: later writes are not in the copy.

Each subcommand takes the store as the other commands do (--store or --data,
--master-key-file); run 'secretsctl tenant <subcommand> -h' for its flags.`

func runTenant(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintln(c.stderr, "Usage: secretsctl tenant "+tenantUsage)
		if len(args) == 0 {
			return usagef("tenant needs a subcommand")
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	run, ok := map[string]func(context.Context, *cli, []string) error{
		"transfer-key": runTenantTransferKey,
		"export":       runTenantExport,
		"import":       runTenantImport,
		"verify":       runTenantVerify,
		"commit":       runTenantCommit,
		"rollback":     runTenantRollback,
	}[sub]
	if !ok {
		return usagef("unknown tenant subcommand %q: transfer-key, export, import, verify, commit or rollback", printable(sub))
	}
	return run(ctx, c, rest)
}

func runTenantTransferKey(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("tenant transfer-key", `[--data FILE | --master-key-file FILE]

Prints this deployment's transfer key: the public half of a key pair derived
from the primary master key. It is not secret. A source exports to it, and a
destination checks an import's origin with the source's. Rotating the master
key changes it.`)
	st := c.storeFlags(flags)
	if err := c.parse(flags, args); err != nil {
		return err
	}
	kr, err := st.keyring()
	if err != nil {
		return err
	}
	k, err := kr.TransferPublicKey()
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, k)
	return nil
}

func runTenantExport(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("tenant export", `--tenant ID --to-key KEY --out FILE [--force] [--data FILE | --store URL] [--master-key-file FILE]

Writes one tenant to FILE (mode 0600): every record as its stored sealed
bytes, its sequences and expiry entries, its tenant key sealed for the
destination's transfer key KEY, and a digest of it all sealed with the
tenant key, so an altered file is refused. Nothing at the source changes.`)
	st := c.storeFlags(flags)
	tenant := flags.String("tenant", "", "client key of the tenant to export (required; 'secretsctl tenants' lists them)")
	toKey := flags.String("to-key", "", "the destination's transfer key, as 'secretsctl tenant transfer-key' prints it there (required)")
	out := flags.String("out", "", "export file to write (required)")
	force := flags.Bool("force", false, "replace --out if it exists")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	switch {
	case *tenant == "":
		return usagef("--tenant is required")
	case *out == "":
		return usagef("--out is required")
	}
	to, err := seal.ParseTransferKey(*toKey)
	if err != nil {
		return usagef("--to-key: %v", err)
	}
	if err := refuseExisting(*out, *force); err != nil {
		return err
	}
	db, _, err := st.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	x, err := db.ExportTenant(ctx, *tenant, to)
	if err != nil {
		return tenantError(err, *tenant)
	}
	b, err := engine.MarshalExport(x)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, b, *force); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "exported tenant %s from %s: %s, %s to %s\n", printable(*tenant), printable(st.where()),
		plural(len(x.Records), "record"), byteSize(int64(len(b))), printable(*out))
	return nil
}

func runTenantImport(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("tenant import", `--in FILE --from-key KEY --receipt RECEIPT [--data FILE | --store URL] [--master-key-file FILE]

Writes the tenant of an export into this store in one transaction, then
verifies it as 'secretsctl verify' does. Refused, with nothing written: an
export made for another keyring, by another source than KEY, altered, or of
a tenant this store already holds. RECEIPT (for the source's 'tenant
commit') is written only when the copy verifies.`)
	st := c.storeFlags(flags)
	in := flags.String("in", "", "export file (required)")
	fromKey := flags.String("from-key", "", "the source's transfer key, as 'secretsctl tenant transfer-key' prints it there (required)")
	receiptPath := flags.String("receipt", "", "receipt file to write for the source (required)")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	if *receiptPath == "" {
		return usagef("--receipt is required")
	}
	from, err := seal.ParseTransferKey(*fromKey)
	if err != nil {
		return usagef("--from-key: %v", err)
	}
	if err := refuseExisting(*receiptPath, false); err != nil {
		return err
	}
	x, err := readExport(*in)
	if err != nil {
		return err
	}
	kr, err := st.keyring()
	if err != nil {
		return err
	}
	db, err := st.openWritable(ctx, kr)
	if err != nil {
		return err
	}
	defer db.Close()
	report, receipt, err := db.ImportTenant(ctx, x, from)
	if err != nil {
		return tenantError(err, x.Tenant)
	}
	if err := printProblems(c, report.Problems); err != nil {
		return err
	}
	if receipt == nil {
		return fmt.Errorf("tenant %s was imported into %s but does not verify (%s); 'secretsctl tenant rollback --in %s' removes it",
			printable(x.Tenant), printable(st.where()), plural(len(report.Problems), "problem"), printable(*in))
	}
	b, err := json.Marshal(receipt)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*receiptPath, b, false); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "imported tenant %s into %s and verified %s: no problems; receipt in %s\n",
		printable(x.Tenant), printable(st.where()), plural(report.Records, "record"), printable(*receiptPath))
	return nil
}

func runTenantVerify(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("tenant verify", `--tenant ID [--data FILE | --store URL] [--master-key-file FILE]

Verifies one tenant as 'secretsctl verify' verifies them all. Nothing is
changed; problems make the exit status 1.`)
	st := c.storeFlags(flags)
	tenant := flags.String("tenant", "", "client key of the tenant (required)")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	if *tenant == "" {
		return usagef("--tenant is required")
	}
	db, _, err := st.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := db.VerifyTenant(ctx, *tenant)
	if err != nil {
		return tenantError(err, *tenant)
	}
	if err := printProblems(c, r.Problems); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "checked tenant %s, %s in %s: ", printable(*tenant), plural(r.Records, "record"), printable(st.where()))
	if len(r.Problems) == 0 {
		fmt.Fprintln(c.stdout, "no problems")
		return nil
	}
	fmt.Fprintln(c.stdout, plural(len(r.Problems), "problem"))
	return fmt.Errorf("%s found in tenant %s", plural(len(r.Problems), "problem"), printable(*tenant))
}

func runTenantCommit(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("tenant commit", `--in FILE --receipt RECEIPT [--data FILE | --store URL] [--master-key-file FILE]

At the source: deletes its copy of the exported tenant, once RECEIPT (from
the destination's 'tenant import') shows the destination imported and
verified exactly this export. The tenant here must still be the one
exported. On bbolt, secretsd must be stopped.`)
	st := c.storeFlags(flags)
	in := flags.String("in", "", "export file (required)")
	receiptPath := flags.String("receipt", "", "the destination's receipt (required)")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	x, err := readExport(*in)
	if err != nil {
		return err
	}
	if *receiptPath == "" {
		return usagef("--receipt is required")
	}
	b, err := os.ReadFile(*receiptPath)
	if err != nil {
		return fmt.Errorf("--receipt: %w", err)
	}
	var receipt engine.ImportReceipt
	if err := json.Unmarshal(b, &receipt); err != nil {
		return fmt.Errorf("--receipt %s is not a receipt of 'secretsctl tenant import'", printable(*receiptPath))
	}
	kr, err := st.keyring()
	if err != nil {
		return err
	}
	db, err := st.openWritable(ctx, kr)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CommitMove(ctx, x, &receipt); err != nil {
		return tenantError(err, x.Tenant)
	}
	fmt.Fprintf(c.stdout, "committed the move of tenant %s: deleted from %s\n", printable(x.Tenant), printable(st.where()))
	return nil
}

func runTenantRollback(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("tenant rollback", `--in FILE [--data FILE | --store URL] [--master-key-file FILE]

At the destination: deletes the copy 'tenant import' made from FILE, and
only that copy (a tenant of the same id with another key is refused). The
source, untouched, stays the tenant's home.`)
	st := c.storeFlags(flags)
	in := flags.String("in", "", "export file (required)")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	x, err := readExport(*in)
	if err != nil {
		return err
	}
	kr, err := st.keyring()
	if err != nil {
		return err
	}
	db, err := st.openWritable(ctx, kr)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.DiscardImport(ctx, x); err != nil {
		return tenantError(err, x.Tenant)
	}
	fmt.Fprintf(c.stdout, "rolled back the import of tenant %s: deleted from %s\n", printable(x.Tenant), printable(st.where()))
	return nil
}

// readExport reads and decodes an export file.
func readExport(path string) (*engine.TenantExport, error) {
	if path == "" {
		return nil, usagef("--in is required: the file 'secretsctl tenant export' wrote")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--in: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, engine.MaxExportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--in: %w", err)
	}
	x, err := engine.ParseExport(b)
	if err != nil {
		return nil, fmt.Errorf("--in %s: %s", printable(path), secrets.ErrorMessage(err))
	}
	return x, nil
}

// tenantError turns the engine's refusals into one line for the operator;
// unexpected errors keep their cause.
func tenantError(err error, tenant string) error {
	var e *secrets.Error
	if errors.As(err, &e) && e.Code != secrets.CodeInternal {
		if e.Code == secrets.CodeNotFound {
			return fmt.Errorf("no tenant %s here", printable(tenant))
		}
		return errors.New(e.Message)
	}
	return err
}
