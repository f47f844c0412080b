package connect

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNoSuchUser: the host knows no account by that id.
var ErrNoSuchUser = errors.New("connect: no such user")

// UserDirectory looks up people on a site as the app, for the audit
// export's display names: Jira's GET /rest/api/3/user?accountId=… and
// Confluence's GET /rest/api/user?accountId=… (under its /wiki base),
// each signed with the installation's shared secret like every host call.
// It keeps no cache; the caller bounds and caches the lookups.
type UserDirectory struct {
	// Client makes the calls; nil means hostClient's default (10 s, no
	// redirects).
	Client *http.Client
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DisplayName returns the account's display name on h's site. An account
// the host does not know is ErrNoSuchUser; every other failure wraps
// ErrHostUnavailable.
func (d *UserDirectory) DisplayName(ctx context.Context, h Host, accountID string) (string, error) {
	path := "/rest/api/3/user"
	switch h.Product {
	case ProductJira:
	case ProductConfluence:
		path = "/rest/api/user"
	default:
		return "", errors.New("connect: unknown product " + h.Product)
	}
	var res struct {
		DisplayName string `json:"displayName"`
	}
	status, err := callHost(ctx, hostClient(d.Client), h, http.MethodGet, path, url.Values{"accountId": {accountID}}, nil, clock(d.Now)(), &res)
	if status == http.StatusNotFound {
		return "", ErrNoSuchUser
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(res.DisplayName), nil
}
