package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// ErrNoUserLookup: a user lookup did not give a usable answer (no kept
// token, the product refused or failed, an undecodable answer).
var ErrNoUserLookup = errors.New("forge: user lookup failed")

// UserDirectory looks up people as the app, with a tenant's kept system
// token (engine/systemtoken.go), for the audit export's display names:
// {apiBaseUrl}/rest/api/3/user?accountId=… for Jira,
// {apiBaseUrl}/wiki/rest/api/user?accountId=… for Confluence. It keeps
// no cache; the caller bounds and caches the lookups.
type UserDirectory struct {
	// Token returns the tenant's kept, unexpired system token
	// (engine.Engine.KeptSystemToken).
	Token func(ctx context.Context, tenant string) (engine.SystemToken, error)
	// Client makes the calls; nil means one with a 10 s timeout that does
	// not follow redirects (a redirect would carry the token elsewhere).
	Client *http.Client
}

var defaultUserClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// DisplayName returns the display name of accountID in the tenant's
// product (ProductJira or ProductConfluence). Every failure wraps
// ErrNoUserLookup and never carries the token.
func (d *UserDirectory) DisplayName(ctx context.Context, tenant, product, accountID string) (string, error) {
	path := "/rest/api/3/user"
	switch product {
	case ProductJira:
	case ProductConfluence:
		path = "/wiki/rest/api/user"
	default:
		return "", fmt.Errorf("%w: unknown product %q", ErrNoUserLookup, product)
	}
	tok, err := d.Token(ctx, tenant)
	if secrets.ErrorCode(err) == secrets.CodeNotFound {
		return "", fmt.Errorf("%w: no kept system token", ErrNoUserLookup)
	} else if err != nil {
		return "", err
	}
	base, err := url.Parse(strings.TrimSuffix(tok.APIBaseURL, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return "", fmt.Errorf("%w: bad apiBaseUrl", ErrNoUserLookup)
	}
	u := base.String() + path + "?" + url.Values{"accountId": {accountID}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("%w: bad apiBaseUrl", ErrNoUserLookup)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Accept", "application/json")
	client := d.Client
	if client == nil {
		client = defaultUserClient
	}
	res, err := client.Do(req)
	if err != nil {
		// *url.Error names the URL only, never the header with the token.
		return "", fmt.Errorf("%w: %w", ErrNoUserLookup, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return "", fmt.Errorf("%w: answered %d", ErrNoUserLookup, res.StatusCode)
	}
	var out struct {
		DisplayName string `json:"displayName"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("%w: undecodable answer", ErrNoUserLookup)
	}
	return strings.TrimSpace(out.DisplayName), nil
}
