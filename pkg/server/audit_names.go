package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/rs/zerolog"
)

// Bounds of the display names looked up for one audit export. A site's
// log may name thousands of people; the export asks the host about at
// most maxNameLookups of them, a few at a time, each briefly, and leaves
// the rest unnamed rather than hold the download up.
const (
	maxNameLookups        = 200
	nameLookupConcurrency = 4
	nameLookupTimeout     = 3 * time.Second
	nameCacheSize         = 10_000
	nameCacheTTL          = 15 * time.Minute
	// A failed lookup is remembered briefly, so that exports in a row do
	// not ask a failing host again for every account.
	nameFailureTTL = time.Minute
	// maxNameRunes bounds a name in a cell; a host has no longer ones.
	maxNameRunes = 256
)

var errNoDirectory = errors.New("server: no user directory for this site")

// nameCache remembers display names per (tenant, account) for a while,
// bounded in size. The zero value is ready to use.
type nameCache struct {
	mu sync.Mutex
	m  map[string]nameEntry
}

type nameEntry struct {
	name    string
	expires time.Time
}

func (c *nameCache) get(key string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.expires) {
		return "", false
	}
	return e.name, true
}

func (c *nameCache) put(key, name string, ttl time.Duration, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]nameEntry{}
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= nameCacheSize {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		// Still full: forget arbitrary entries (map order) to make room.
		for k := range c.m {
			if len(c.m) < nameCacheSize {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = nameEntry{name: name, expires: now.Add(ttl)}
}

// exportNames names the accounts of one export. Lookups beyond the
// export's budget, and failed ones, leave the name empty.
type exportNames struct {
	s      *Server
	inst   *secrets.Installation // nil: the site is unknown, nobody is named
	names  map[string]string     // account id → name ("" unknown)
	budget int
}

func (s *Server) newExportNames(ctx context.Context, clientKey string) *exportNames {
	inst, err := s.installs.FindInstallation(ctx, clientKey)
	if err != nil {
		inst = nil
	}
	return &exportNames{s: s, inst: inst, names: map[string]string{}, budget: maxNameLookups}
}

// resolve looks up the accounts of events not named yet, a few at a time.
func (n *exportNames) resolve(ctx context.Context, events []secrets.AuditEvent) {
	var todo []string
	now := n.s.now()
	for _, ev := range events {
		for _, id := range []string{ev.AccountID, ev.Subject} {
			if id == "" {
				continue
			}
			if _, done := n.names[id]; done {
				continue
			}
			n.names[id] = ""
			if n.inst == nil {
				continue
			}
			if name, ok := n.s.names.get(n.key(id), now); ok {
				n.names[id] = name
				continue
			}
			if n.budget > 0 {
				n.budget--
				todo = append(todo, id)
			}
		}
	}
	if len(todo) == 0 {
		return
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		sem = make(chan struct{}, nameLookupConcurrency)
	)
	failures := 0
	for _, id := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, nameLookupTimeout)
			defer cancel()
			name, err := n.s.lookupName(lctx, n.inst, id)
			ttl := nameCacheTTL
			if err != nil {
				name, ttl = "", nameFailureTTL
			}
			name = cleanName(name)
			n.s.names.put(n.key(id), name, ttl, n.s.now())
			mu.Lock()
			n.names[id] = name
			if err != nil {
				failures++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if failures > 0 {
		zerolog.Ctx(ctx).Warn().Int("failed", failures).Int("asked", len(todo)).Msg("audit export: some display names could not be looked up")
	}
}

func (n *exportNames) key(id string) string { return n.inst.ClientKey + "\x00" + id }

// name is the account's display name, or "" (no account, not looked up,
// or the lookup failed).
func (n *exportNames) name(id string) string { return n.names[id] }

// lookupName asks the site's host for the account's display name: signed
// as the app on Connect sites, with the kept system token on Forge sites.
func (s *Server) lookupName(ctx context.Context, inst *secrets.Installation, accountID string) (string, error) {
	if strings.HasPrefix(inst.ClientKey, ForgeTenantPrefix) {
		if s.forge == nil || s.forge.Users == nil {
			return "", errNoDirectory
		}
		return s.forge.Users.DisplayName(ctx, inst.ClientKey, string(inst.Product), accountID)
	}
	if s.users == nil || !inst.State.Active() {
		return "", errNoDirectory
	}
	return s.users.DisplayName(ctx, s.hostOf(inst), accountID)
}

// cleanName keeps a name to one line of printable text of bounded length:
// the cell holds the name and nothing else a host might have put there.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, name)
	name = strings.Join(strings.Fields(name), " ")
	if utf8.RuneCountInString(name) > maxNameRunes {
		name = string([]rune(name)[:maxNameRunes])
	}
	return name
}
