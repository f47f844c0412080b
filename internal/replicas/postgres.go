package replicas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// Schema is a fresh, empty PostgreSQL schema for a cluster's store.
type Schema struct {
	Name string
	// URL is the database URL with search_path set to the schema: the
	// --store of every replica. pgx passes a URL parameter it does not
	// know on to the server as a session setting, and pkg/postgres keeps
	// it, so the URL alone selects the schema.
	URL  string
	base string
}

// NewSchema creates a uniquely named schema (prefix and 16 hex digits) in
// the database at baseURL, a postgres:// URL.
func NewSchema(ctx context.Context, baseURL, prefix string) (*Schema, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("replicas: %q is not a postgres:// URL", baseURL)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	s := &Schema{Name: prefix + hex.EncodeToString(b[:]), base: baseURL}
	if err := s.exec(ctx, "CREATE SCHEMA "+pgx.Identifier{s.Name}.Sanitize()); err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", s.Name)
	u.RawQuery = q.Encode()
	s.URL = u.String()
	return s, nil
}

// Drop drops the schema and everything in it.
func (s *Schema) Drop(ctx context.Context) error {
	return s.exec(ctx, "DROP SCHEMA "+pgx.Identifier{s.Name}.Sanitize()+" CASCADE")
}

// exec runs one statement on a connection of its own.
func (s *Schema) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.base)
	if err != nil {
		return fmt.Errorf("replicas: connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("replicas: %s: %w", sql, err)
	}
	return nil
}
