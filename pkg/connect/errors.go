package connect

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// The sentinel errors of this package. Functions wrap them with a short,
// fixed reason (never a token, a secret or attacker-supplied text), so match
// them with errors.Is, not by message.
var (
	// ErrBadQuery reports a request that cannot be put in canonical form for
	// a qsh: a malformed percent-escape or a ';' in the query string, or a
	// method that is not an HTTP token. Such a request is refused rather than
	// canonicalised in some lossy way, because the app and the host would
	// then disagree about what the qsh covers.
	ErrBadQuery = errors.New("connect: request cannot be canonicalised")

	// ErrNoToken reports a request that carries no token at all: no jwt query
	// parameter and no "Authorization: JWT ..." header (for signed installs:
	// no header). Callers usually answer 401.
	ErrNoToken = errors.New("connect: no token")

	// ErrInvalidToken reports any verification failure of a token that was
	// present: malformed, wrong or missing algorithm, bad signature, expired,
	// not yet valid, wrong issuer, audience or type, missing claims, or a qsh
	// that does not match the request. The wrapped detail says which, and may
	// also wrap the golang-jwt sentinel (e.g. jwt.ErrTokenExpired).
	ErrInvalidToken = errors.New("connect: invalid token")

	// ErrUnknownIssuer reports a host token whose iss names no active tenant.
	// TenantSecret implementations return it (wrapped or as is).
	ErrUnknownIssuer = errors.New("connect: unknown issuer")

	// ErrKeyUnavailable reports that the public key of a signed install could
	// not be obtained: the key server is unreachable, slow, answers other than
	// 200 or 404, or serves something that is not an RSA public key. Callers
	// answer 503 so that the host retries the callback later.
	ErrKeyUnavailable = errors.New("connect: install key unavailable")

	// ErrBadPayload reports a lifecycle payload that is not acceptable JSON
	// or fails validation. The wrapped reason never contains the payload.
	ErrBadPayload = errors.New("connect: bad lifecycle payload")

	// ErrSessionExpired reports a session token that has expired or whose
	// session has outlived Sessions.MaxAge, so the browser app can tell the
	// user to reload rather than report an error.
	ErrSessionExpired = errors.New("connect: session expired")

	// ErrWeakKey reports a signing key that is empty or too short to be
	// used. It indicates a configuration or data problem on our side, not a
	// bad request.
	ErrWeakKey = errors.New("connect: signing key too short")
)

// reason is a fixed description of why a token was refused. Keyfuncs return
// it so that jwtFailure can surface it instead of golang-jwt's generic
// "error while executing keyfunc".
type reason string

func (r reason) Error() string { return string(r) }

// invalid wraps ErrInvalidToken with a fixed reason.
func invalid(why string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, why)
}

// jwtSentinels are the golang-jwt errors we pass on, most specific first:
// claim failures are joined under ErrTokenInvalidClaims, so they must be
// tested before it.
var jwtSentinels = []error{
	jwt.ErrTokenExpired,
	jwt.ErrTokenNotValidYet,
	jwt.ErrTokenUsedBeforeIssued,
	jwt.ErrTokenRequiredClaimMissing,
	jwt.ErrTokenInvalidIssuer,
	jwt.ErrTokenInvalidAudience,
	jwt.ErrTokenInvalidSubject,
	jwt.ErrTokenSignatureInvalid,
	jwt.ErrTokenMalformed,
	jwt.ErrTokenUnverifiable,
	jwt.ErrTokenInvalidClaims,
}

// jwtFailure turns an error from golang-jwt into ErrInvalidToken wrapping
// only a constant sentinel. golang-jwt's own messages can quote header values
// (e.g. the alg), which are attacker-controlled and have no place in logs.
func jwtFailure(err error) error {
	var r reason
	if errors.As(err, &r) {
		return invalid(string(r))
	}
	for _, s := range jwtSentinels {
		if errors.Is(err, s) {
			return fmt.Errorf("%w: %w", ErrInvalidToken, s)
		}
	}
	return invalid("rejected")
}
