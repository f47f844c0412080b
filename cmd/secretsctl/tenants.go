package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/connect-secrets/secrets/pkg/engine"
)

// tenantJSON is one line of `tenants --json`. It is the tool's own contract,
// kept apart from engine.TenantStats so that storage can change without
// breaking scripts.
type tenantJSON struct {
	ClientKey     string    `json:"clientKey"`
	Product       string    `json:"product"`
	State         string    `json:"state"`
	Secrets       int       `json:"secrets"`
	AuditEvents   int       `json:"auditEvents"`
	Containers    int       `json:"containers"`
	MasterKeyID   uint32    `json:"masterKeyId"`
	InstalledAt   time.Time `json:"installedAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	UninstalledAt time.Time `json:"uninstalledAt,omitzero"`
}

func runTenants(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("tenants", `[--json] [--data FILE | --store URL] [--master-key-file FILE] [--backup-token-file FILE [--backup-addr ADDR]]

Lists every installation: client key, product, state, number of secrets and
audit events, install and uninstall times. Titles, content and shared secrets
are never shown. A bbolt file that a running secretsd holds is read as a hot
copy through its backup listener (--backup-token-file, as for backup); else
stop secretsd or point --data at a backup. PostgreSQL is read while secretsd
serves.`)
	st := c.storeFlags(flags)
	live := c.liveFlags(flags)
	asJSON := flags.Bool("json", false, "print a JSON array instead of a table")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	db, _, err := c.openForReading(ctx, st, live)
	if err != nil {
		return err
	}
	defer db.Close()
	stats, err := db.TenantStats(ctx)
	if err != nil {
		return err
	}

	if *asJSON {
		out := make([]tenantJSON, 0, len(stats))
		for _, s := range stats {
			out = append(out, tenantJSON{
				ClientKey: s.ClientKey, Product: string(s.Product), State: string(s.State),
				Secrets: s.Secrets, AuditEvents: s.AuditEvents, Containers: s.Containers, MasterKeyID: s.MasterKeyID,
				InstalledAt: s.InstalledAt.UTC(), UpdatedAt: s.UpdatedAt.UTC(), UninstalledAt: s.UninstalledAt.UTC(),
			})
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return printTenants(c, stats)
}

func printTenants(c *cli, stats []engine.TenantStats) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT KEY\tPRODUCT\tSTATE\tSECRETS\tAUDIT EVENTS\tINSTALLED\tUNINSTALLED AT")
	for _, s := range stats {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n",
			printable(s.ClientKey), printable(string(s.Product)), printable(string(s.State)),
			s.Secrets, s.AuditEvents, timeString(s.InstalledAt), timeString(s.UninstalledAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(c.stdout, plural(len(stats), "tenant"))
	return err
}
