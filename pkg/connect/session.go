package connect

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Fixed parts of every session token. Each differs from anything a host
// puts in its tokens, and Sessions.Verify checks all three, so a host token
// can never pass for a session token even if it were signed with our key;
// HostVerifier in turn refuses the typ.
const (
	SessionIssuer   = "secrets-session"
	SessionAudience = "secrets-api"
	SessionType     = "secrets-session+jwt"
)

// Products a session can be bound to (SessionClaims.Product).
const (
	ProductJira       = "jira"
	ProductConfluence = "confluence"
)

const (
	// MinSessionKeyLen is the shortest Sessions.Key accepted: 256 bits, the
	// output size of HMAC-SHA256, so the key is never the weak link.
	MinSessionKeyLen = 32

	// MaxSessionTTL is the longest a session token lives (design §5).
	MaxSessionTTL = 15 * time.Minute

	// DefaultSessionMaxAge is how long after the page load a session can be
	// refreshed when Sessions.MaxAge is 0.
	DefaultSessionMaxAge = 8 * time.Hour

	// sessionLeeway allows for clock differences between replicas that mint
	// and verify. Unlike hosts, they are ours, so it is small.
	sessionLeeway = 10 * time.Second
)

// SessionClaims bind a browser session to a tenant, a user, a product and a
// container. Mint sets the registered claims other than sub (and jti, which
// it keeps).
type SessionClaims struct {
	// RegisteredClaims: iss = SessionIssuer, sub = the Atlassian accountId,
	// aud = SessionAudience, exp, iat, nbf.
	jwt.RegisteredClaims

	// Tenant is the tenant's clientKey.
	Tenant string `json:"tnt"`

	// Product is ProductJira or ProductConfluence.
	Product string `json:"prd"`

	// Container names what the session may act on, e.g.
	// "jira:issue:10001", "confluence:page:1:m", or "admin".
	Container string `json:"ctr"`

	// Label is a human name of the container (an issue key, a page), shown
	// to admins. It is display data only, never used for access decisions.
	Label string `json:"lbl,omitempty"`

	// Origin is the Unix time the module page was loaded; refreshes are
	// capped relative to it, so an open tab cannot keep a session forever.
	Origin int64 `json:"org"`

	// Licence is the site's licence state as confirmed when the session
	// was minted or last refreshed: "active", "inactive", or empty when
	// licensing is off.
	Licence string `json:"lic,omitempty"`
}

// Sessions mints and verifies session tokens: HS256 with a key only we hold
// (never a tenant's shared secret), with SessionIssuer, SessionAudience and
// a typ header of SessionType, all checked on Verify.
//
// A Sessions is safe for concurrent use; its fields must not change after
// first use.
type Sessions struct {
	// Key is the HMAC key, at least MinSessionKeyLen bytes.
	Key []byte

	// TTL is the lifetime of a token. 0 means, and larger values are capped
	// at, MaxSessionTTL.
	TTL time.Duration

	// MaxAge caps refreshes relative to SessionClaims.Origin. 0 means
	// DefaultSessionMaxAge.
	MaxAge time.Duration

	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// verified remembers tokens that passed every check, so the same token
	// presented again (each API call of a page carries it) is not parsed
	// and its HMAC not computed again. The checks that depend on the clock
	// run on every call.
	verified verifiedSessions
}

func (s *Sessions) ttl() time.Duration {
	if s.TTL <= 0 || s.TTL > MaxSessionTTL {
		return MaxSessionTTL
	}
	return s.TTL
}

func (s *Sessions) maxAge() time.Duration {
	if s.MaxAge <= 0 {
		return DefaultSessionMaxAge
	}
	return s.MaxAge
}

func (s *Sessions) checkKey() error {
	if len(s.Key) < MinSessionKeyLen {
		return fmt.Errorf("%w: session key must be at least %d bytes", ErrWeakKey, MinSessionKeyLen)
	}
	return nil
}

// Mint signs a session token for c and returns it with its expiry.
//
// It sets iss, aud, iat, nbf and exp, and Origin to now when it is zero.
// exp is now + TTL, but never beyond Origin + MaxAge; once that is reached
// Mint returns ErrSessionExpired. c must name a subject (accountId), tenant,
// container and product.
func (s *Sessions) Mint(c SessionClaims) (token string, expiresAt time.Time, err error) {
	if err := s.checkKey(); err != nil {
		return "", time.Time{}, err
	}
	if err := checkSessionBinding(&c); err != nil {
		return "", time.Time{}, fmt.Errorf("connect: minting session: %w", err)
	}
	// Whole seconds, as NumericDate stores them, so the returned expiry is
	// exactly the one in the token.
	now := clock(s.Now)().Truncate(time.Second)
	if c.Origin == 0 {
		c.Origin = now.Unix()
	}
	origin := time.Unix(c.Origin, 0)
	if origin.After(now.Add(sessionLeeway)) {
		return "", time.Time{}, errors.New("connect: minting session: origin in the future")
	}
	end := origin.Add(s.maxAge())
	if !now.Before(end) {
		return "", time.Time{}, ErrSessionExpired
	}
	exp := now.Add(s.ttl())
	if exp.After(end) {
		exp = end
	}

	c.Issuer = SessionIssuer
	c.Audience = jwt.ClaimStrings{SessionAudience}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = c.IssuedAt // the same instant; nothing changes either
	c.ExpiresAt = jwt.NewNumericDate(exp)

	token, err = signSession(&c, s.Key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("connect: signing session: %w", err)
	}
	return token, exp, nil
}

// sessionJSON is SessionClaims as encoding/json writes it, in the same
// order, with plain fields: golang-jwt's NumericDate and ClaimStrings
// marshal themselves, and encoding/json then re-scans what each returns,
// which cost more than the rest of the claims. A test pins the bytes to be
// those of golang-jwt's own signing.
type sessionJSON struct {
	Issuer    string   `json:"iss,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	ExpiresAt int64    `json:"exp,omitempty"`
	NotBefore int64    `json:"nbf,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	ID        string   `json:"jti,omitempty"`
	Tenant    string   `json:"tnt"`
	Product   string   `json:"prd"`
	Container string   `json:"ctr"`
	Label     string   `json:"lbl,omitempty"`
	Origin    int64    `json:"org"`
	Licence   string   `json:"lic,omitempty"`
}

// flatSession is c as a sessionJSON. Mint sets every date, in whole
// seconds (golang-jwt's TimePrecision), and one audience, which golang-jwt
// writes as an array (MarshalSingleStringAsArray).
func flatSession(c *SessionClaims) *sessionJSON {
	unix := func(d *jwt.NumericDate) int64 {
		if d == nil {
			return 0
		}
		return d.Unix()
	}
	return &sessionJSON{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience,
		ExpiresAt: unix(c.ExpiresAt), NotBefore: unix(c.NotBefore), IssuedAt: unix(c.IssuedAt), ID: c.ID,
		Tenant: c.Tenant, Product: c.Product, Container: c.Container, Label: c.Label, Origin: c.Origin, Licence: c.Licence,
	}
}

// sessionHeader is the encoded JOSE header of every session token. It never
// changes, so it is encoded once rather than marshalled from a map on every
// module page, as jwt.Token.SignedString would.
var sessionHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"` + SessionType + `"}`))

// signSession is jwt.NewWithClaims(HS256, c) with typ SessionType, then
// SignedString: the same compact JWS (header, claims and signature, each
// base64url without padding), with golang-jwt's HS256 doing the signing,
// assembled in one buffer. Verify parses it with golang-jwt like any other.
func signSession(c *SessionClaims, key []byte) (string, error) {
	claims, err := json.Marshal(flatSession(c))
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(sessionHeader)+2+enc.EncodedLen(len(claims))+enc.EncodedLen(sha256.Size))
	buf = append(buf, sessionHeader...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, claims)
	sig, err := jwt.SigningMethodHS256.Sign(string(buf), key)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// Verify verifies a session token and returns its claims.
//
// It returns ErrSessionExpired for a token that has expired or whose session
// is MaxAge old, and ErrInvalidToken for anything else: another algorithm,
// type, issuer or audience, a bad signature, missing exp, nbf or iat, or a
// missing subject, tenant, container or product.
func (s *Sessions) Verify(token string) (*SessionClaims, error) {
	if err := s.checkKey(); err != nil {
		return nil, err
	}
	if token == "" {
		return nil, invalid("empty token")
	}
	if len(token) > maxTokenLen {
		return nil, invalid("token too long")
	}
	now := clock(s.Now)
	if c, ok := s.verified.get(token, s.Key); ok {
		if err := s.checkTimes(c, now()); err != nil {
			return nil, err
		}
		cp := *c
		return &cp, nil
	}
	claims := &SessionClaims{}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(SessionIssuer),
		jwt.WithAudience(SessionAudience),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(sessionLeeway),
		jwt.WithTimeFunc(now),
	)
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != SessionType {
			return nil, reason("not a session token")
		}
		return s.Key, nil
	})
	if err != nil {
		// Claims are only validated once the signature is good, so this is
		// one of our own tokens that has run out.
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, ErrSessionExpired
		}
		return nil, jwtFailure(err)
	}
	if claims.IssuedAt == nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, jwt.ErrTokenRequiredClaimMissing)
	}
	if err := checkSessionBinding(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// We never mint longer-lived tokens; one that claims to be is not ours
	// to honour, whatever signed it.
	if claims.ExpiresAt.Sub(claims.IssuedAt.Time) > MaxSessionTTL {
		return nil, invalid("lifetime too long")
	}
	origin := time.Unix(claims.Origin, 0)
	t := now()
	if claims.Origin <= 0 || origin.After(t.Add(sessionLeeway)) || origin.After(claims.IssuedAt.Add(sessionLeeway)) {
		return nil, invalid("bad origin")
	}
	if !t.Before(origin.Add(s.maxAge())) {
		return nil, ErrSessionExpired
	}
	kept := *claims
	s.verified.put(token, s.Key, &kept)
	return claims, nil
}

// checkTimes repeats, for a remembered token, the checks that the passing
// of time can fail: expiry and not-before (with the parser's leeway) and
// the session's maximum age.
func (s *Sessions) checkTimes(c *SessionClaims, t time.Time) error {
	if t.After(c.ExpiresAt.Add(sessionLeeway)) {
		return ErrSessionExpired
	}
	if t.Before(c.NotBefore.Add(-sessionLeeway)) {
		return invalid("not valid yet")
	}
	if !t.Before(time.Unix(c.Origin, 0).Add(s.maxAge())) {
		return ErrSessionExpired
	}
	return nil
}

// verifiedSessions is a bounded memory of verified tokens: two
// generations of at most verifiedPerGeneration each; when the current one
// fills it becomes the previous one, and a token found there moves back.
// Only tokens that verified are kept, so nobody can fill it who cannot
// mint sessions; an entry is used only with the key it verified under.
type verifiedSessions struct {
	mu       sync.Mutex
	cur, old map[string]verifiedSession
}

const verifiedPerGeneration = 4096

type verifiedSession struct {
	key    []byte
	claims *SessionClaims
}

func (v *verifiedSessions) get(token string, key []byte) (*SessionClaims, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.cur[token]
	if !ok {
		if e, ok = v.old[token]; ok {
			v.add(token, e)
		}
	}
	if !ok || !bytes.Equal(e.key, key) {
		return nil, false
	}
	return e.claims, true
}

func (v *verifiedSessions) put(token string, key []byte, c *SessionClaims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.add(token, verifiedSession{key: bytes.Clone(key), claims: c})
}

func (v *verifiedSessions) add(token string, e verifiedSession) {
	if v.cur == nil || len(v.cur) >= verifiedPerGeneration {
		v.old, v.cur = v.cur, make(map[string]verifiedSession, verifiedPerGeneration/4)
	}
	v.cur[token] = e
}

// Refresh verifies token and mints a new one with the same subject, tenant,
// product, container and Origin. It returns ErrSessionExpired once the
// session is MaxAge old, and the new token never outlives Origin + MaxAge.
func (s *Sessions) Refresh(token string) (string, time.Time, error) {
	return s.refresh(token, nil)
}

// RefreshWithLicence is Refresh with the session's Licence replaced by
// licence, as confirmed again by the caller.
func (s *Sessions) RefreshWithLicence(token, licence string) (string, time.Time, error) {
	return s.refresh(token, &licence)
}

func (s *Sessions) refresh(token string, licence *string) (string, time.Time, error) {
	c, err := s.Verify(token)
	if err != nil {
		return "", time.Time{}, err
	}
	if licence != nil {
		c.Licence = *licence
	}
	return s.Mint(SessionClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: c.Subject, ID: c.ID},
		Tenant:           c.Tenant,
		Product:          c.Product,
		Container:        c.Container,
		Label:            c.Label,
		Origin:           c.Origin,
		Licence:          c.Licence,
	})
}

// checkSessionBinding checks that c says who the session is for and what it
// may act on; a token without that would authorise nothing in particular,
// which callers could easily mistake for everything.
func checkSessionBinding(c *SessionClaims) error {
	switch {
	case c.Subject == "":
		return errors.New("no subject")
	case c.Tenant == "":
		return errors.New("no tenant")
	case c.Container == "":
		return errors.New("no container")
	case c.Product != ProductJira && c.Product != ProductConfluence:
		return errors.New("unknown product")
	}
	return nil
}
