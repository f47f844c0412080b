package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

// statsJSON is the output of `stats --json`.
type statsJSON struct {
	// Store is "bolt" or "postgres"; Database the file, or the URL
	// without its password.
	Store          string         `json:"store"`
	Database       string         `json:"database"`
	FileBytes      int64          `json:"fileBytes,omitempty"` // a bbolt file's size
	Tenants        int            `json:"tenants"`
	TenantsByState map[string]int `json:"tenantsByState"`
	Secrets        int            `json:"secrets"`
	AuditEvents    int            `json:"auditEvents"`
	// MasterKeysInUse maps each master key id to the number of tenant keys
	// it wraps; the keys are decimal strings, as JSON requires.
	MasterKeysInUse map[string]int `json:"masterKeysInUse"`
	KeyringIDs      []uint32       `json:"keyringIds"`
	KeyringPrimary  uint32         `json:"keyringPrimary"`
}

// states is the order in which stats lists tenant states.
var states = []secrets.State{secrets.StateInstalled, secrets.StateEnabled, secrets.StateDisabled, secrets.StateUninstalled}

func runStats(ctx context.Context, c *cli, args []string) error {
	flags := c.flagSet("stats", `[--json] [--data FILE | --store URL] [--master-key-file FILE] [--backup-token-file FILE [--backup-addr ADDR]]

Prints totals: tenants by state, secrets, audit events, the size of a bbolt
database file, and which master keys wrap tenant keys (a key that wraps none
can be retired). A bbolt file that a running secretsd holds is read as a hot
copy through its backup listener (--backup-token-file, as for backup); else
stop secretsd or point --data at a backup. PostgreSQL is read while secretsd
serves.`)
	st := c.storeFlags(flags)
	live := c.liveFlags(flags)
	asJSON := flags.Bool("json", false, "print JSON instead of text")
	if err := c.parse(flags, args); err != nil {
		return err
	}
	db, kr, err := c.openForReading(ctx, st, live)
	if err != nil {
		return err
	}
	defer db.Close()
	tenants, err := db.TenantStats(ctx)
	if err != nil {
		return err
	}
	inUse, err := db.MasterKeyIDsInUse(ctx)
	if err != nil {
		return err
	}

	s := statsJSON{
		Store: db.st.Kind, Database: cmp.Or(db.source, st.where()), Tenants: len(tenants),
		TenantsByState: map[string]int{}, MasterKeysInUse: map[string]int{},
		KeyringIDs: kr.IDs(), KeyringPrimary: kr.PrimaryID(),
	}
	if f := db.file(); f != nil {
		fi, err := os.Stat(f.Path())
		if err != nil {
			return err
		}
		s.FileBytes = fi.Size()
	}
	for _, state := range states {
		s.TenantsByState[string(state)] = 0
	}
	for _, t := range tenants {
		s.TenantsByState[string(t.State)]++
		s.Secrets += t.Secrets
		s.AuditEvents += t.AuditEvents
	}
	for id, n := range inUse {
		s.MasterKeysInUse[fmt.Sprint(id)] = n
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}

	var byState []string
	for _, state := range states {
		byState = append(byState, fmt.Sprintf("%d %s", s.TenantsByState[string(state)], state))
	}
	// A state outside the known four is shown rather than dropped: the
	// totals must add up.
	for _, name := range slices.Sorted(maps.Keys(s.TenantsByState)) {
		if !slices.Contains(states, secrets.State(name)) {
			byState = append(byState, fmt.Sprintf("%d %s", s.TenantsByState[name], printable(name)))
		}
	}
	var keys []string
	for _, id := range slices.Sorted(maps.Keys(inUse)) {
		keys = append(keys, fmt.Sprintf("key %d wraps %s", id, plural(inUse[id], "tenant key")))
	}
	if len(keys) == 0 {
		keys = append(keys, "none (no tenants)")
	}

	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	if db.file() != nil {
		fmt.Fprintf(tw, "database\t%s (%s, %d bytes)\n", printable(s.Database), byteSize(s.FileBytes), s.FileBytes)
	} else {
		fmt.Fprintf(tw, "database\t%s (PostgreSQL)\n", printable(s.Database))
	}
	fmt.Fprintf(tw, "tenants\t%d: %s\n", s.Tenants, strings.Join(byState, ", "))
	fmt.Fprintf(tw, "secrets\t%d\n", s.Secrets)
	fmt.Fprintf(tw, "audit events\t%d\n", s.AuditEvents)
	fmt.Fprintf(tw, "master keys in use\t%s\n", strings.Join(keys, "; "))
	fmt.Fprintf(tw, "keyring\t%s (primary %d)\n", idList(s.KeyringIDs), s.KeyringPrimary)
	return tw.Flush()
}

// idList formats key ids as "1, 2, 3".
func idList(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}

// plural formats a count with its noun: "1 tenant", "2 tenants".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
