package connect

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// hostTokenTTL is how long a token for a call to a host lives (design §2).
const hostTokenTTL = 3 * time.Minute

// SignHostRequest returns the Authorization header value ("JWT <token>")
// for a request the app makes to a host's REST API as the app: an HS256
// token signed with the tenant's sharedSecret, iss = appKey, iat = now,
// exp = now + 3 min, and a qsh over method, u's escaped path with
// hostBasePath (the path of the host's baseUrl, e.g. "/wiki") removed, and
// u's raw query.
//
// u must be the exact URL the request will be sent to: the host recomputes
// the qsh from what it receives.
func SignHostRequest(appKey string, sharedSecret []byte, method string, u *url.URL, hostBasePath string, now time.Time) (string, error) {
	if appKey == "" {
		return "", errors.New("connect: SignHostRequest: empty app key")
	}
	if len(sharedSecret) == 0 {
		return "", fmt.Errorf("%w: empty shared secret", ErrWeakKey)
	}
	if u == nil {
		return "", errors.New("connect: SignHostRequest: nil URL")
	}
	qsh, err := QSH(method, u.EscapedPath(), u.RawQuery, hostBasePath)
	if err != nil {
		return "", err
	}
	claims := HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    appKey,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(hostTokenTTL)),
		},
		QSH: qsh,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(sharedSecret)
	if err != nil {
		// golang-jwt's signing errors never include the key.
		return "", fmt.Errorf("connect: signing host request: %w", err)
	}
	return jwtScheme + " " + tok, nil
}
