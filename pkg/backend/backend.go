// Package backend opens the store a URL names: bolt://<path> (the embedded
// default) or postgres://… (many replicas). It is the one place that knows
// every backend, so commands take a --store URL and nothing else.
package backend

import (
	"context"
	"fmt"
	neturl "net/url"
	"strings"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/store"
)

// Options tune a backend; zero values take each backend's defaults.
type Options struct {
	// ReadOnly opens a bbolt file for reading only (a backup, or beside a
	// running secretsd). PostgreSQL ignores it.
	ReadOnly bool
}

// Opened is an open store with what only some backends offer.
type Opened struct {
	store.Store
	// Bolt is the bbolt file when the store is one, for backup, compaction
	// and the page check; nil otherwise.
	Bolt *bolt.DB
	// Kind is "bolt" or "postgres", for messages and metrics.
	Kind string
}

// Open opens the store named by url.
func Open(ctx context.Context, url string, opts Options) (*Opened, error) {
	switch {
	case strings.HasPrefix(url, "bolt://"):
		path := strings.TrimPrefix(url, "bolt://")
		if path == "" {
			return nil, fmt.Errorf("store %q: a bolt URL needs a file path, e.g. bolt://./data/secrets.db", url)
		}
		var db *bolt.DB
		var err error
		if opts.ReadOnly {
			db, err = bolt.OpenReadOnly(path)
		} else {
			db, err = bolt.Open(path)
		}
		if err != nil {
			return nil, err
		}
		return &Opened{Store: db, Bolt: db, Kind: "bolt"}, nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	}
	return nil, fmt.Errorf("store %q: use bolt://<path> or postgres://…", Redact(url))
}

// Redact returns url without a password, in its user part or its query,
// for messages and logs. A URL that does not parse is shown by its scheme
// alone: it could be anything, a password among it.
func Redact(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		scheme, _, _ := strings.Cut(raw, "://")
		return scheme + "://… (not a URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
