package secrets

import (
	"context"
	"regexp"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a user may store. They are checked before any expensive work
// (key derivation, storage) is done.
const (
	MaxTitleChars   = 200
	MaxContentBytes = 128 << 10
	MaxPasswordLen  = 1024 // bytes
)

// Actor is who is asking and where: the verified identity from a session
// token. Every service call is scoped to it.
type Actor struct {
	ClientKey string    // tenant
	AccountID string    // Atlassian account id of the user
	Container Container // issue or macro the session was opened for
	Location  string    // human label of the container (issue key, page), for admins
	// Since is when the verified session began (the page load). A session
	// older than its installation's TokensValidFrom is refused; zero skips
	// the check (operator tools, tests).
	Since time.Time
	// Licence is the site's licence as the front door verified it;
	// LicenceUnchecked when licensing is off.
	Licence Licence
}

// Secret is a secret's metadata: what anyone who can see the container may see.
type Secret struct {
	ID        string
	Title     string
	Version   int
	CreatedAt time.Time
	CreatedBy string // account id
	UpdatedAt time.Time
	UpdatedBy string    // account id
	ExpiresAt time.Time // zero: never
}

// Paging of a container's list. The site's cap on secrets per container
// (Policy.MaxSecretsPerContainer, default 100) keeps the whole list small;
// the default page holds a default-capped container in one response.
const (
	DefaultListLimit = 100
	MaxListLimit     = 500
)

// ListQuery selects one page of a container's secrets.
type ListQuery struct {
	// After is the Next of the page before; "" starts with the oldest.
	After string
	// Limit is how many secrets a page holds at most: 1..MaxListLimit, 0
	// means DefaultListLimit.
	Limit int
}

// SecretList is one page of a container's secrets, oldest first. The engine
// may hand the same list to many requests while the container is
// unchanged: callers must not modify it.
type SecretList struct {
	Secrets []Secret
	// Next, when not empty, is the After of the following page. It is a
	// position (creation time and id), not an offset, so secrets added or
	// deleted between pages neither repeat nor skip others.
	Next string

	encodeOnce sync.Once
	encoded    any
}

// Encoded returns encode(l), computed once per list: a list shared between
// requests is encoded for the wire once, not once per request. encode must
// depend on nothing but l, always be the same function (the server's), and
// the caller must not modify the result.
func (l *SecretList) Encoded(encode func(*SecretList) any) any {
	l.encodeOnce.Do(func() { l.encoded = encode(l) })
	return l.encoded
}

// Unlocked is a secret opened with its password, or after an edit: its
// metadata, its content, and an unlock token that lets the same user edit,
// re-password, lock or delete this version until ExpiresAt.
type Unlocked struct {
	Secret
	Content     string
	UnlockToken string
	ExpiresAt   time.Time
}

// NewSecret is the input to CreateSecret.
type NewSecret struct {
	Title     string
	Content   string
	Password  string
	ExpiresAt time.Time // optional
}

// SecretUpdate is the input to UpdateSecret. Version is the version the edit
// is based on; a stale version is CodeConflict.
type SecretUpdate struct {
	Title   string
	Content string
	Version int
	// ExpiresAt, when not nil, sets when the secret self-destructs: a
	// future time, or the zero time for never (only where the site has no
	// default expiry). nil keeps the secret's expiry as it is.
	ExpiresAt *time.Time
}

// Policy is a site's rules for secrets.
type Policy struct {
	MinPasswordLen   int           // characters
	LockoutThreshold int           // failures before a lockout
	LockoutBase      time.Duration // first lockout; doubles with each further failure
	LockoutMax       time.Duration // cap on a lockout
	UnlockTTL        time.Duration // lifetime of an unlock token
	DefaultExpiry    time.Duration // new secrets expire after this; 0: never
	// MaxSecretsPerContainer caps the secrets of one issue or macro, so
	// no panel load grows without bound; 0 means DefaultMaxSecretsPerContainer.
	MaxSecretsPerContainer int
}

// Bounds of Policy.MaxSecretsPerContainer.
const (
	DefaultMaxSecretsPerContainer = 100
	MaxSecretsPerContainerCap     = 500
)

// SecretsPerContainer is the effective cap on secrets per container.
func (p Policy) SecretsPerContainer() int {
	if p.MaxSecretsPerContainer <= 0 {
		return DefaultMaxSecretsPerContainer
	}
	return p.MaxSecretsPerContainer
}

// DefaultPolicy is the policy of a site that has not set its own.
func DefaultPolicy() Policy {
	return Policy{
		MinPasswordLen:   8,
		LockoutThreshold: 5,
		LockoutBase:      time.Minute,
		LockoutMax:       time.Hour,
		UnlockTTL:        10 * time.Minute,
	}
}

// LockoutFor returns how long a user is locked out after failures consecutive
// failed unlocks: nothing below the threshold, then LockoutBase doubling with
// each further failure, capped at LockoutMax.
func (p Policy) LockoutFor(failures int) time.Duration {
	if p.LockoutThreshold <= 0 || failures < p.LockoutThreshold {
		return 0
	}
	d := p.LockoutBase
	for i := p.LockoutThreshold; i < failures && d < p.LockoutMax; i++ {
		d *= 2
	}
	return min(d, p.LockoutMax)
}

// ValidateTitle checks a title: 1 to MaxTitleChars characters of valid UTF-8,
// with no control characters (NUL, tabs, newlines, U+2028/U+2029 included),
// no bidirectional overrides, embeddings, isolates or marks, and at least one
// visible character. Titles are shown to everyone who can see the issue or
// page, so a title must look like what it is: a bidi override can make it
// read backwards, and an invisible-only title looks like no secret at all.
func ValidateTitle(title string) error {
	n := utf8.RuneCountInString(title)
	switch {
	case !utf8.ValidString(title):
		return Errorf(CodeInvalid, "The title must be valid UTF-8.")
	case n == 0 || isBlank(title):
		return Errorf(CodeInvalid, "The title must not be empty.")
	case n > MaxTitleChars:
		return Errorf(CodeInvalid, "The title must be at most %d characters.", MaxTitleChars)
	}
	visible := false
	for _, r := range title {
		switch {
		case unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp):
			return Errorf(CodeInvalid, "The title must not contain control characters or line breaks.")
		case isBidiControl(r):
			return Errorf(CodeInvalid, "The title must not contain text-direction control characters.")
		case !isInvisible(r):
			visible = true
		}
	}
	if !visible {
		return Errorf(CodeInvalid, "The title must contain a visible character.")
	}
	return nil
}

// isBidiControl reports the characters that change the direction text is
// shown in: embeddings and overrides (U+202A-U+202E), isolates
// (U+2066-U+2069), and the implicit marks (U+200E, U+200F, U+061C), which
// on their own only reorder neutral characters but are how a title is made
// to read differently from its bytes.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200E || r == 0x200F || r == 0x061C
}

// isInvisible reports characters that draw nothing on their own: white
// space, format characters (U+200B, U+2060, U+FEFF, …), combining marks
// with nothing to combine with, and the letters that render blank (Hangul
// fillers, the braille blank).
func isInvisible(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800:
		return true
	}
	return unicode.IsSpace(r) || unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me)
}

// ValidateContent checks a body: valid UTF-8 of at most MaxContentBytes.
func ValidateContent(content string) error {
	switch {
	case len(content) > MaxContentBytes:
		return Errorf(CodeInvalid, "The content must be at most %d KiB.", MaxContentBytes>>10)
	case !utf8.ValidString(content):
		return Errorf(CodeInvalid, "The content must be valid UTF-8.")
	}
	return nil
}

// ValidatePassword checks a new password against the policy.
func (p Policy) ValidatePassword(password string) error {
	switch {
	case len(password) > MaxPasswordLen:
		return Errorf(CodeInvalid, "The password must be at most %d bytes.", MaxPasswordLen)
	case !utf8.ValidString(password):
		return Errorf(CodeInvalid, "The password must be valid UTF-8.")
	case utf8.RuneCountInString(password) < p.MinPasswordLen:
		return Errorf(CodeInvalid, "The password must be at least %d characters.", p.MinPasswordLen)
	}
	return nil
}

var blank = regexp.MustCompile(`^\s*$`)

func isBlank(s string) bool { return blank.MatchString(s) }

// secretID matches the ids the store issues: 22 to 64 URL-safe characters.
var secretID = regexp.MustCompile(`^[A-Za-z0-9_-]{22,64}$`)

// ValidSecretID reports whether id has the shape of a secret id. Malformed ids
// are refused before any lookup.
func ValidSecretID(id string) bool { return secretID.MatchString(id) }

// SecretService manages the secrets of one container on behalf of one user.
// A secret of another tenant or container is CodeNotFound, exactly as a
// missing one. Methods that take an unlock token return CodeUnlockRequired
// when it is missing, expired, revoked, another user's, another secret's or
// for an older version.
type SecretService interface {
	// ListSecrets returns one page of the metadata of the container's
	// secrets, oldest first. CodeInvalid for a cursor it did not issue or a
	// limit out of range.
	ListSecrets(ctx context.Context, a Actor, q ListQuery) (*SecretList, error)

	// CreateSecret stores a new secret. CodeInvalid for bad input.
	CreateSecret(ctx context.Context, a Actor, in NewSecret) (*Secret, error)

	// UnlockSecret opens a secret with its password. CodeWrongPassword,
	// CodeLocked (with RetryAfter), CodeNotFound, CodeUnavailable when the key
	// derivation queue is full past its deadline.
	UnlockSecret(ctx context.Context, a Actor, id, password string) (*Unlocked, error)

	// UpdateSecret replaces title and content; the version goes up by one and
	// a fresh unlock token for the new version is returned. CodeConflict when
	// in.Version is not the current version.
	UpdateSecret(ctx context.Context, a Actor, id, unlockToken string, in SecretUpdate) (*Unlocked, error)

	// ChangePassword draws a new data key, re-seals the content under it and
	// wraps it with a key derived from the new password, so an old copy of
	// the record and the old password open nothing written after. Every
	// unlock token of the old password dies; the caller gets a fresh one.
	// CodeInvalid for a password the policy refuses.
	ChangePassword(ctx context.Context, a Actor, id, unlockToken, password string) (*Unlocked, error)

	// DeleteSecret removes the secret.
	DeleteSecret(ctx context.Context, a Actor, id, unlockToken string) error

	// LockSecret revokes the unlock token.
	LockSecret(ctx context.Context, a Actor, id, unlockToken string) error
}
