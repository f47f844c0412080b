package connect

import (
	"encoding/json"

	"github.com/golang-jwt/jwt/v5"
)

// HostClaims are the claims of a token a host signs: HS256 for iframes,
// the enabled/disabled callbacks and admin pages, RS256 for signed installs.
// iss is the tenant's clientKey and sub the user's Atlassian accountId (absent
// on lifecycle callbacks).
type HostClaims struct {
	jwt.RegisteredClaims

	// QSH is the query string hash binding the token to one request, or
	// ContextQSH for context tokens.
	QSH string `json:"qsh"`

	// Context is the host's context claim (e.g. context.jira.issue.id), kept
	// raw because its shape depends on the product and the module.
	Context json.RawMessage `json:"context,omitempty"`
}
