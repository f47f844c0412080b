// Package secrets is the domain of the Secrets app: installations (tenants),
// containers (the Jira issue or Confluence macro a secret lives in), secrets,
// the service interfaces the rest of the program talks through, and the one
// error type every layer returns.
//
// It imports only the standard library. Storage (pkg/bolt), cryptography
// (pkg/seal), the Connect protocol (pkg/connect) and HTTP (pkg/server) all
// depend on this package, never the other way round.
package secrets
