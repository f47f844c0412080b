package secrets

import (
	"context"
	"time"
)

// Product is the Atlassian product an installation belongs to.
type Product string

// The products the app can be installed into.
const (
	ProductJira       Product = "jira"
	ProductConfluence Product = "confluence"
)

// Valid reports whether p is a known product.
func (p Product) Valid() bool { return p == ProductJira || p == ProductConfluence }

// State is where an installation is in its lifecycle.
type State string

// Lifecycle states. An installation that is disabled keeps its data but serves
// no module pages; an uninstalled one is kept for the retention period.
const (
	StateInstalled   State = "installed"
	StateEnabled     State = "enabled"
	StateDisabled    State = "disabled"
	StateUninstalled State = "uninstalled"
)

// Active reports whether module pages and the API are served in state s.
func (s State) Active() bool { return s == StateInstalled || s == StateEnabled }

// Installation is one site's installation of the app: a tenant. Everything a
// tenant owns is stored under its ClientKey and sealed with its tenant key.
// A Connect tenant's ClientKey is Atlassian's clientKey; a Forge tenant's is
// "forge:<app uuid>:<environment id>:<installation id>".
type Installation struct {
	ClientKey      string  // Atlassian's id of the installation; the JWT issuer
	Product        Product // jira or confluence
	AppKey         string  // our descriptor key the host installed
	SharedSecret   string  // HS256 secret for host JWTs; never logged
	BaseURL        string  // the site's base URL, e.g. https://acme.atlassian.net/wiki
	DisplayURL     string  // the URL users see (custom domains); may equal BaseURL
	Description    string
	ServerVersion  string
	PluginsVersion string
	OAuthClientID  string
	State          State
	InstalledAt    time.Time // first install
	UpdatedAt      time.Time // last lifecycle event
	UninstalledAt  time.Time // zero unless State is StateUninstalled
	// SignedAt is the issue time of the signed install that wrote this
	// record. An install signed earlier is a replay and is refused.
	SignedAt time.Time
	// CloudID is Atlassian's stable id of the site, when known (Forge
	// always; Connect when the installed payload carries it). It lets an
	// operator adopt a Connect site's data into its Forge installation.
	CloudID string
	// TokensValidFrom ends every session token and unlock issued before it:
	// it moves forward at uninstall, and at an install that follows one.
	TokensValidFrom time.Time
}

// SignedEvent is what the caller verified of a signed lifecycle callback
// (Connect's installed and uninstalled): when its token was issued, when it
// expires, and digests of the token and of the body it came with. The
// registry orders events by IssuedAt and recognises a retried request by
// its digests.
type SignedEvent struct {
	IssuedAt  time.Time
	ExpiresAt time.Time
	TokenID   [32]byte // SHA-256 of the token
	BodyHash  [32]byte // SHA-256 of the request body
}

// InstallationService is the tenant registry.
type InstallationService interface {
	// FindInstallation returns the installation with this client key, or
	// CodeNotFound.
	FindInstallation(ctx context.Context, clientKey string) (*Installation, error)

	// SaveInstallation creates the installation (and its tenant key) or
	// replaces the stored record with inst. Callers verify the signed install
	// before calling; the store does not judge authenticity.
	SaveInstallation(ctx context.Context, inst *Installation) error

	// Install applies a verified signed install, deciding inside one
	// transaction: a new client key creates the tenant; an existing one is
	// replaced only by a token issued strictly later than the stored one
	// (CodeUnauthorized otherwise) for the same product (CodeForbidden); the
	// very same token with the very same body again changes nothing. A token
	// seen before with another body is refused. It returns the record as it
	// was before, or nil for a first install.
	Install(ctx context.Context, inst *Installation, ev SignedEvent) (prev *Installation, err error)

	// Uninstall applies a verified signed uninstall of product p: refused
	// (CodeUnauthorized) when its token was issued before the install on
	// record, CodeForbidden for another product's tenant, CodeNotFound for no
	// tenant. Tokens issued before it stop working.
	Uninstall(ctx context.Context, clientKey string, p Product, ev SignedEvent) error

	// SetInstallationState records a lifecycle event (enabled, disabled,
	// uninstalled) at time at. Enabled and disabled change nothing once the
	// installation is uninstalled, whatever order the events arrive in.
	// CodeNotFound if there is no such installation.
	SetInstallationState(ctx context.Context, clientKey string, state State, at time.Time) error

	// ListInstallations returns every installation, in client key order.
	ListInstallations(ctx context.Context) ([]*Installation, error)
}
