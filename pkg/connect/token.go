package connect

import (
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// maxLeeway is the most clock skew we ever allow between a host and us
	// (design §2).
	maxLeeway = 60 * time.Second

	// maxTokenLen bounds the tokens we parse. Real host tokens are well
	// under 2 KiB; the bound keeps a hostile request from making us decode
	// megabytes of base64 and JSON before any signature check.
	maxTokenLen = 8 << 10

	// jwtScheme is the Authorization scheme Atlassian uses for JWTs.
	jwtScheme = "JWT"
)

// clampLeeway turns a configured leeway into the one used: 0 means the
// maximum, negative means none, and nothing exceeds maxLeeway.
func clampLeeway(d time.Duration) time.Duration {
	switch {
	case d == 0, d > maxLeeway:
		return maxLeeway
	case d < 0:
		return 0
	}
	return d
}

// clock returns now, or time.Now when it is nil.
func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// hostTypOK reports whether the token's typ header is acceptable for a host
// token: Atlassian sends "JWT" (or nothing). Refusing anything else keeps a
// token of another type — notably our own session tokens — from ever being
// considered, whatever key it was signed with.
func hostTypOK(t *jwt.Token) bool {
	v, present := t.Header["typ"]
	if !present {
		return true
	}
	s, ok := v.(string)
	return ok && strings.EqualFold(s, "JWT")
}

// headerToken returns the token of an "Authorization: JWT <token>" header.
// present reports whether such a header was found at all. More than one
// Authorization header is an error: which one a proxy or framework would
// pick is not ours to guess.
func headerToken(h http.Header) (tok string, present bool, err error) {
	vals := h.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, invalid("more than one Authorization header")
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, jwtScheme) {
		// Another scheme is not a host token; leave it to whoever uses it.
		return "", false, nil
	}
	return strings.TrimSpace(rest), true, nil
}
