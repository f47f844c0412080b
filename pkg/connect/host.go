package connect

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TenantSecret looks up the shared secret of the tenant with this client key
// (the token's iss). It returns ErrUnknownIssuer (wrapped or as is) when
// there is no such tenant or it is not active; any other error is treated as
// an internal failure and passed on wrapped.
//
// The returned slice is only read, and not retained after VerifyRequest
// returns.
type TenantSecret func(ctx context.Context, clientKey string) (secret []byte, err error)

// HostVerifier verifies the HS256 tokens hosts sign with a tenant's shared
// secret on requests to iframe (module), lifecycle (enabled, disabled) and
// admin-page routes. Every such route requires a qsh computed from the
// request, so context tokens are refused.
//
// A HostVerifier is safe for concurrent use if Secret is.
type HostVerifier struct {
	// Secret looks up a tenant's shared secret by client key. Required.
	Secret TenantSecret

	// BasePath is the path of our baseUrl (e.g. "" or "/secrets"); it is
	// removed from the request path before the qsh is computed, because the
	// host signs the path relative to the baseUrl.
	BasePath string

	// Leeway is the clock skew allowed on exp, nbf and iat. 0 means 60 s;
	// larger values are capped at 60 s.
	Leeway time.Duration

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// TokenFromRequest returns the host token of r, from the jwt query parameter
// or from an "Authorization: JWT <token>" header.
//
// It returns ErrNoToken when there is neither, and ErrInvalidToken when the
// jwt parameter appears more than once, the query cannot be parsed, the token
// is empty, or the query and header carry different tokens: in each of these
// cases two parts of the stack could disagree about which token was verified.
func TokenFromRequest(r *http.Request) (string, error) {
	var (
		fromQuery string
		inQuery   int
	)
	if r.URL != nil && r.URL.RawQuery != "" {
		// Decoded names, as in the qsh: "%6Awt" is a jwt parameter too.
		err := parseQuery(r.URL.RawQuery, func(name, value string) {
			if name == "jwt" {
				inQuery++
				fromQuery = value
			}
		})
		if err != nil {
			return "", fmt.Errorf("%w (%w)", ErrInvalidToken, err)
		}
	}
	if inQuery > 1 {
		return "", invalid("jwt parameter repeated")
	}
	fromHeader, inHeader, err := headerToken(r.Header)
	if err != nil {
		return "", err
	}
	switch {
	case inQuery == 0 && !inHeader:
		return "", ErrNoToken
	case inQuery == 1 && inHeader && fromQuery != fromHeader:
		return "", invalid("query and header carry different tokens")
	case inQuery == 1:
		if fromQuery == "" {
			return "", invalid("empty token")
		}
		return fromQuery, nil
	default:
		if fromHeader == "" {
			return "", invalid("empty token")
		}
		return fromHeader, nil
	}
}

// VerifyRequest verifies the host token of r and returns its claims.
//
// It reads iss from the unverified token only to choose the tenant's shared
// secret, then verifies the token with HS256 pinned, exp required, iat not
// in the future, the issuer equal to the one looked up, and a qsh equal to
// the one computed from r (method, path as sent minus BasePath, raw query).
// The literal ContextQSH, an empty secret and an empty iss are refused. sub
// may be empty (lifecycle callbacks have none); callers that need a user
// check it.
//
// Errors: ErrNoToken, ErrInvalidToken (wrapping the reason), ErrUnknownIssuer,
// or a wrapped error from Secret.
func (v *HostVerifier) VerifyRequest(ctx context.Context, r *http.Request) (*HostClaims, error) {
	if v.Secret == nil {
		return nil, errors.New("connect: HostVerifier.Secret is nil")
	}
	tok, err := TokenFromRequest(r)
	if err != nil {
		return nil, err
	}
	if len(tok) > maxTokenLen {
		return nil, invalid("token too long")
	}

	// One parse: golang-jwt decodes the claims, refuses any algorithm but
	// HS256, and only then asks for the key, which is where the (still
	// unverified) iss chooses whose secret to use. The signature is checked
	// with that secret, and the claims after it: nothing is trusted before.
	claims := &HostClaims{}
	var lookupErr error
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clampLeeway(v.Leeway)),
		jwt.WithTimeFunc(clock(v.Now)),
	)
	_, err = p.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if !hostTypOK(t) {
			return nil, reason("wrong token type")
		}
		if claims.Issuer == "" {
			return nil, reason("no issuer")
		}
		secret, err := v.Secret(ctx, claims.Issuer)
		switch {
		case errors.Is(err, ErrUnknownIssuer):
			// Not wrapped: the lookup's message may quote the
			// attacker-chosen iss.
			lookupErr = ErrUnknownIssuer
		case err != nil:
			lookupErr = fmt.Errorf("connect: looking up tenant secret: %w", err)
		case len(secret) == 0:
			return nil, reason("tenant has no shared secret")
		}
		if lookupErr != nil {
			return nil, lookupErr
		}
		return secret, nil
	})
	if lookupErr != nil {
		return nil, lookupErr
	}
	if err != nil {
		return nil, jwtFailure(err)
	}
	if err := checkQSH(claims.QSH, r, v.BasePath); err != nil {
		return nil, err
	}
	return claims, nil
}

// checkQSH compares a verified token's qsh with the one computed from r.
func checkQSH(got string, r *http.Request, basePath string) error {
	switch got {
	case "":
		return invalid("no qsh")
	case ContextQSH:
		return invalid("context token where a request-bound token is required")
	}
	want, err := QSH(r.Method, requestPath(r), r.URL.RawQuery, basePath)
	if err != nil {
		return fmt.Errorf("%w (%w)", ErrInvalidToken, err)
	}
	// The qsh is not secret, but a constant-time compare costs nothing and
	// spares the reader the question.
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return invalid("qsh does not match the request")
	}
	return nil
}

// requestPath returns the path of r as it was sent. For server requests that
// is the part of RequestURI before '?': r.URL.EscapedPath() is re-derived
// from the decoded path and may spell it differently from what the host
// hashed, and routers or middleware may rewrite r.URL. Client-side or
// proxy-form requests (RequestURI not starting with '/') fall back to
// r.URL.EscapedPath().
func requestPath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}
