package secrets

import (
	"context"
	"time"
)

// Admin audit event types.
const (
	EventAdminDeleted  EventType = "admin_deleted"
	EventLockoutReset  EventType = "lockout_reset"
	EventPolicyChanged EventType = "policy_changed"
	// EventGuessingSuspected: failed unlocks of one secret came from
	// several accounts; the admin page raises it as an alert.
	EventGuessingSuspected EventType = "guessing_suspected"
)

// SecretInfo is what a site admin sees of a secret: where it lives and how
// it is used, never its content.
type SecretInfo struct {
	Secret
	Container      Container
	Location       string    // human label of the container, e.g. "DEV-12" or "Page 123"
	LastUnlockedAt time.Time // zero: never
	FailedAttempts int       // failures currently counted, over all users
	Locked         bool      // some user is locked out right now
	// FailingAccounts is how many accounts failed to unlock it recently;
	// several means someone may be guessing with more than one account.
	FailingAccounts int
}

// Lockout is one account's failed unlocks of a secret, as a site admin
// sees them. An empty AccountID with Everyone set is the secret-wide
// lockout that guesses from many accounts trigger.
type Lockout struct {
	AccountID   string    // whose failures; "" when the record predates it being kept
	Everyone    bool      // the secret is locked for every user
	Failures    int       // failed attempts counted now
	LockedUntil time.Time // zero: not locked out, only counted
}

// SecretQuery selects and pages the secrets of a site.
type SecretQuery struct {
	Search string // case-insensitive substring of title or location; "" for all
	Offset int
	Limit  int // 1..100; 0 means 50
}

// SecretPage is one page of a site's secrets, newest first.
type SecretPage struct {
	Secrets []SecretInfo
	Total   int // matching secrets over all pages
}

// AuditQuery filters and pages a site's audit log.
type AuditQuery struct {
	Type      EventType // "" for all
	SecretID  string
	AccountID string
	From, To  time.Time // zero: unbounded; To is exclusive
	Before    uint64    // only events with a smaller sequence; 0 for the newest
	Limit     int       // 1..1000; 0 means 100
}

// AuditPage is one page of audit events, newest first. Next, when non-zero,
// is the Before of the following page.
type AuditPage struct {
	Events []AuditEvent
	Next   uint64
}

// Policy limits a site admin may choose within.
const (
	PolicyMinPasswordLenFloor = 8
	PolicyMinPasswordLenCap   = 128
)

// Validate checks a policy a site admin submits.
func (p Policy) Validate() error {
	switch {
	case p.MinPasswordLen < PolicyMinPasswordLenFloor || p.MinPasswordLen > PolicyMinPasswordLenCap:
		return Errorf(CodeInvalid, "The minimum password length must be %d to %d.", PolicyMinPasswordLenFloor, PolicyMinPasswordLenCap)
	case p.LockoutThreshold < 1 || p.LockoutThreshold > 100:
		return Errorf(CodeInvalid, "The lockout threshold must be 1 to 100 failed attempts.")
	case p.LockoutBase < 10*time.Second || p.LockoutBase > 24*time.Hour:
		return Errorf(CodeInvalid, "The lockout duration must be 10 seconds to 24 hours.")
	case p.LockoutMax < p.LockoutBase || p.LockoutMax > 7*24*time.Hour:
		return Errorf(CodeInvalid, "The longest lockout must be at least the first and at most 7 days.")
	case p.UnlockTTL < time.Minute || p.UnlockTTL > 24*time.Hour:
		return Errorf(CodeInvalid, "The unlock time must be 1 minute to 24 hours.")
	case p.MaxSecretsPerContainer < 0 || p.MaxSecretsPerContainer > MaxSecretsPerContainerCap:
		return Errorf(CodeInvalid, "The most secrets in one place must be 1 to %d (0 for the default, %d).", MaxSecretsPerContainerCap, DefaultMaxSecretsPerContainer)
	case p.DefaultExpiry != 0 && (p.DefaultExpiry < time.Hour || p.DefaultExpiry > 5*365*24*time.Hour):
		return Errorf(CodeInvalid, "The default expiry must be off or 1 hour to 5 years.")
	}
	return nil
}

// AdminService is what a site admin may do. Callers have verified with the
// host that the account is a site admin; no method reveals content.
type AdminService interface {
	// FindAllSecrets returns a page of every secret of the site.
	FindAllSecrets(ctx context.Context, clientKey string, q SecretQuery) (*SecretPage, error)

	// AdminDeleteSecret deletes a secret without its password. CodeNotFound.
	AdminDeleteSecret(ctx context.Context, clientKey, adminAccountID, id string) error

	// ResetLockout clears the failed attempts of every user on a secret.
	// CodeNotFound.
	ResetLockout(ctx context.Context, clientKey, adminAccountID, id string) error

	// Lockouts lists who has failed to unlock a secret and who is locked
	// out until when, locked out first. CodeNotFound.
	Lockouts(ctx context.Context, clientKey, id string) ([]Lockout, error)

	// ResetUserLockout forgets one account's failed attempts on a secret,
	// leaving everyone else's. CodeNotFound.
	ResetUserLockout(ctx context.Context, clientKey, adminAccountID, id, accountID string) error

	// SitePolicy returns the site's policy (the default if never set).
	SitePolicy(ctx context.Context, clientKey string) (Policy, error)

	// SetSitePolicy replaces the site's policy. CodeInvalid.
	SetSitePolicy(ctx context.Context, clientKey, adminAccountID string, p Policy) error

	// AuditLog returns a page of the site's audit log.
	AuditLog(ctx context.Context, clientKey string, q AuditQuery) (*AuditPage, error)
}
