package connect_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-secrets/secrets/pkg/connect"
)

var sessionKey = bytes.Repeat([]byte{0x5e}, 32)

// clockAt is a settable clock for session tests.
type clockAt struct{ t time.Time }

func (c *clockAt) now() time.Time { return c.t }

func newSessions(c *clockAt) *connect.Sessions {
	return &connect.Sessions{Key: sessionKey, Now: c.now}
}

func sessionClaims() connect.SessionClaims {
	return connect.SessionClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "557058:f3a1b2c3"},
		Tenant:           "tenant-a",
		Product:          connect.ProductJira,
		Container:        "jira:issue:10001",
	}
}

func TestSessionsRoundTrip(t *testing.T) {
	clk := &clockAt{testNow}
	s := newSessions(clk)
	tok, exp, err := s.Mint(sessionClaims())
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if want := testNow.Add(connect.MaxSessionTTL); !exp.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", exp, want)
	}
	got, err := s.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := sessionClaims()
	if got.Subject != want.Subject || got.Tenant != want.Tenant || got.Product != want.Product || got.Container != want.Container {
		t.Errorf("claims = %+v, want %+v", got, want)
	}
	if got.Origin != testNow.Unix() {
		t.Errorf("Origin = %d, want now %d", got.Origin, testNow.Unix())
	}
	if got.Issuer != connect.SessionIssuer || len(got.Audience) != 1 || got.Audience[0] != connect.SessionAudience {
		t.Errorf("iss/aud = %q/%q", got.Issuer, got.Audience)
	}
	if !got.ExpiresAt.Time.Equal(exp) {
		t.Errorf("exp claim %v != returned %v", got.ExpiresAt.Time, exp)
	}

	t.Run("same token as golang-jwt signs", func(t *testing.T) {
		// Mint assembles the JWS itself (a constant header, golang-jwt's
		// HS256); it must be exactly what jwt.Token.SignedString makes.
		full := sessionClaims()
		full.Label = "PROJ-1 \"quoted\" <b>&amp; \u2028 ünïcødé \x01"
		full.Licence = "active"
		full.ID = "jti-1"
		for _, c := range []connect.SessionClaims{sessionClaims(), full} {
			tok, _, err := s.Mint(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			jt := jwt.NewWithClaims(jwt.SigningMethodHS256, got)
			jt.Header["typ"] = connect.SessionType
			want, err := jt.SignedString(sessionKey)
			if err != nil {
				t.Fatal(err)
			}
			if tok != want {
				t.Errorf("Mint = %s\ngolang-jwt = %s", tok, want)
			}
			if got.Label != c.Label || got.Licence != c.Licence || got.ID != c.ID {
				t.Errorf("claims came back as %+v, want %+v", got, c)
			}
		}
	})

	t.Run("TTL honoured and capped", func(t *testing.T) {
		for _, tt := range []struct{ ttl, want time.Duration }{
			{5 * time.Minute, 5 * time.Minute},
			{time.Hour, connect.MaxSessionTTL},
			{-time.Minute, connect.MaxSessionTTL},
		} {
			s := newSessions(clk)
			s.TTL = tt.ttl
			_, exp, err := s.Mint(sessionClaims())
			if err != nil {
				t.Fatal(err)
			}
			if got := exp.Sub(testNow); got != tt.want {
				t.Errorf("TTL %v: lifetime %v, want %v", tt.ttl, got, tt.want)
			}
		}
	})
}

func TestSessionsVerifyRefuses(t *testing.T) {
	clk := &clockAt{testNow}
	s := newSessions(clk)
	good, _, err := s.Mint(sessionClaims())
	if err != nil {
		t.Fatal(err)
	}
	// forge signs claims with the session key, bypassing Mint's checks.
	forge := func(header map[string]any, f func(c *connect.SessionClaims)) string {
		c := sessionClaims()
		c.Issuer = connect.SessionIssuer
		c.Audience = jwt.ClaimStrings{connect.SessionAudience}
		c.IssuedAt = jwt.NewNumericDate(testNow)
		c.NotBefore = jwt.NewNumericDate(testNow)
		c.ExpiresAt = jwt.NewNumericDate(testNow.Add(10 * time.Minute))
		c.Origin = testNow.Unix()
		f(&c)
		h := map[string]any{"typ": connect.SessionType}
		for k, v := range header {
			h[k] = v
		}
		return sign(t, jwt.SigningMethodHS256, sessionKey, h, &c)
	}
	noChange := func(*connect.SessionClaims) {}

	// A host-style token: HS256 with the same key, a host's claims.
	hostStyle := sign(t, jwt.SigningMethodHS256, sessionKey, nil, &connect.HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "tenant-a", Subject: "557058:f3a1b2c3",
			IssuedAt: jwt.NewNumericDate(testNow), ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute)),
		},
		QSH: connect.ContextQSH,
	})

	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"tampered", func() string {
			parts := strings.Split(good, ".")
			parts[1] = strings.Split(forge(nil, func(c *connect.SessionClaims) { c.Container = "admin" }), ".")[1]
			parts[2] = strings.Split(good, ".")[2]
			return strings.Join(parts, ".")
		}(), connect.ErrInvalidToken},
		{"signed with another key", func() string {
			other := &connect.Sessions{Key: bytes.Repeat([]byte{0x17}, 32), Now: clk.now}
			tok, _, err := other.Mint(sessionClaims())
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}(), connect.ErrInvalidToken},
		{"host-style token with our key", hostStyle, connect.ErrInvalidToken},
		{"right typ, no iss/aud", sign(t, jwt.SigningMethodHS256, sessionKey, map[string]any{"typ": connect.SessionType}, &connect.SessionClaims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: "s", IssuedAt: jwt.NewNumericDate(testNow), NotBefore: jwt.NewNumericDate(testNow), ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute))},
			Tenant:           "tenant-a", Product: "jira", Container: "admin", Origin: testNow.Unix(),
		}), connect.ErrInvalidToken},
		{"typ JWT", forge(map[string]any{"typ": "JWT"}, noChange), connect.ErrInvalidToken},
		{"no typ", func() string {
			c := sessionClaims()
			c.Issuer, c.Audience = connect.SessionIssuer, jwt.ClaimStrings{connect.SessionAudience}
			c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(testNow), jwt.NewNumericDate(testNow), jwt.NewNumericDate(testNow.Add(time.Minute))
			c.Origin = testNow.Unix()
			return sign(t, jwt.SigningMethodHS256, sessionKey, map[string]any{"typ": nil}, &c)
		}(), connect.ErrInvalidToken},
		{"HS512", func() string {
			c := sessionClaims()
			c.Issuer, c.Audience = connect.SessionIssuer, jwt.ClaimStrings{connect.SessionAudience}
			c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(testNow), jwt.NewNumericDate(testNow), jwt.NewNumericDate(testNow.Add(time.Minute))
			c.Origin = testNow.Unix()
			return sign(t, jwt.SigningMethodHS512, sessionKey, map[string]any{"typ": connect.SessionType}, &c)
		}(), connect.ErrInvalidToken},
		{"alg none", func() string {
			c := sessionClaims()
			c.Issuer, c.Audience = connect.SessionIssuer, jwt.ClaimStrings{connect.SessionAudience}
			c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(testNow), jwt.NewNumericDate(testNow), jwt.NewNumericDate(testNow.Add(time.Minute))
			c.Origin = testNow.Unix()
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"typ": connect.SessionType}, &c)
		}(), connect.ErrInvalidToken},
		{"wrong iss", forge(nil, func(c *connect.SessionClaims) { c.Issuer = "tenant-a" }), connect.ErrInvalidToken},
		{"wrong aud", forge(nil, func(c *connect.SessionClaims) { c.Audience = jwt.ClaimStrings{"secrets-admin"} }), connect.ErrInvalidToken},
		{"no exp", forge(nil, func(c *connect.SessionClaims) { c.ExpiresAt = nil }), connect.ErrInvalidToken},
		{"no nbf", forge(nil, func(c *connect.SessionClaims) { c.NotBefore = nil }), connect.ErrInvalidToken},
		{"no iat", forge(nil, func(c *connect.SessionClaims) { c.IssuedAt = nil }), connect.ErrInvalidToken},
		{"lifetime beyond the maximum", forge(nil, func(c *connect.SessionClaims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(time.Hour)) }), connect.ErrInvalidToken},
		{"no tenant", forge(nil, func(c *connect.SessionClaims) { c.Tenant = "" }), connect.ErrInvalidToken},
		{"no sub", forge(nil, func(c *connect.SessionClaims) { c.Subject = "" }), connect.ErrInvalidToken},
		{"no container", forge(nil, func(c *connect.SessionClaims) { c.Container = "" }), connect.ErrInvalidToken},
		{"unknown product", forge(nil, func(c *connect.SessionClaims) { c.Product = "bitbucket" }), connect.ErrInvalidToken},
		{"no origin", forge(nil, func(c *connect.SessionClaims) { c.Origin = 0 }), connect.ErrInvalidToken},
		{"origin after iat", forge(nil, func(c *connect.SessionClaims) { c.Origin = testNow.Add(time.Hour).Unix() }), connect.ErrInvalidToken},
		{"expired", forge(nil, func(c *connect.SessionClaims) {
			c.IssuedAt = jwt.NewNumericDate(testNow.Add(-20 * time.Minute))
			c.NotBefore = c.IssuedAt
			c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-5 * time.Minute))
			c.Origin = testNow.Add(-20 * time.Minute).Unix()
		}), connect.ErrSessionExpired},
		{"past MaxAge", forge(nil, func(c *connect.SessionClaims) { c.Origin = testNow.Add(-9 * time.Hour).Unix() }), connect.ErrSessionExpired},
		{"empty", "", connect.ErrInvalidToken},
		{"garbage", "a.b.c", connect.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Verify(tt.tok)
			if err == nil {
				t.Fatalf("Verify accepted: %+v", c)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			t.Log(err)
			assertNoSecret(t, err, tt.tok, string(sessionKey))
		})
	}

	t.Run("expired by the clock", func(t *testing.T) {
		late := &clockAt{testNow.Add(connect.MaxSessionTTL + time.Minute)}
		if _, err := newSessions(late).Verify(good); !errors.Is(err, connect.ErrSessionExpired) {
			t.Fatalf("error = %v, want ErrSessionExpired", err)
		}
	})
	t.Run("host verifier refuses a session token", func(t *testing.T) {
		v := &connect.HostVerifier{Secret: tenants{"secrets-session": sessionKey}.secret, Now: clk.now}
		r := requestWithHeaderToken("GET", "/api/secrets", good)
		if _, err := v.VerifyRequest(t.Context(), r); !errors.Is(err, connect.ErrInvalidToken) {
			t.Fatalf("error = %v, want ErrInvalidToken", err)
		}
	})
}

func TestSessionsRefresh(t *testing.T) {
	clk := &clockAt{testNow}
	s := newSessions(clk)
	s.MaxAge = time.Hour
	tok, _, err := s.Mint(sessionClaims())
	if err != nil {
		t.Fatal(err)
	}

	// Ten minutes later: refresh slides the expiry, keeps Origin.
	clk.t = testNow.Add(10 * time.Minute)
	tok2, exp2, err := s.Refresh(tok)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if want := clk.t.Add(connect.MaxSessionTTL); !exp2.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", exp2, want)
	}
	c2, err := s.Verify(tok2)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Origin != testNow.Unix() {
		t.Errorf("Origin = %d, want %d", c2.Origin, testNow.Unix())
	}
	if c2.Container != "jira:issue:10001" || c2.Subject != "557058:f3a1b2c3" || c2.Tenant != "tenant-a" {
		t.Errorf("claims changed: %+v", c2)
	}

	// Keep refreshing: the expiry never passes Origin + MaxAge.
	end := testNow.Add(time.Hour)
	for clk.t = testNow.Add(20 * time.Minute); clk.t.Before(end); clk.t = clk.t.Add(10 * time.Minute) {
		var exp time.Time
		tok2, exp, err = s.Refresh(tok2)
		if err != nil {
			t.Fatalf("Refresh at %v: %v", clk.t.Sub(testNow), err)
		}
		if exp.After(end) {
			t.Fatalf("expiry %v beyond Origin+MaxAge %v", exp, end)
		}
	}

	clk.t = end
	if _, _, err := s.Refresh(tok2); !errors.Is(err, connect.ErrSessionExpired) {
		t.Fatalf("Refresh at MaxAge: error = %v, want ErrSessionExpired", err)
	}

	t.Run("Mint refuses an origin past MaxAge", func(t *testing.T) {
		clk := &clockAt{testNow}
		s := newSessions(clk)
		c := sessionClaims()
		c.Origin = testNow.Add(-connect.DefaultSessionMaxAge).Unix()
		if _, _, err := s.Mint(c); !errors.Is(err, connect.ErrSessionExpired) {
			t.Fatalf("error = %v, want ErrSessionExpired", err)
		}
	})
}

func TestSessionsConfig(t *testing.T) {
	for _, n := range []int{0, 16, 31} {
		s := &connect.Sessions{Key: bytes.Repeat([]byte{1}, n), Now: fixedNow}
		if tok, _, err := s.Mint(sessionClaims()); !errors.Is(err, connect.ErrWeakKey) || tok != "" {
			t.Errorf("Mint with a %d-byte key: %q, %v; want ErrWeakKey", n, tok, err)
		}
		if _, err := s.Verify("a.b.c"); !errors.Is(err, connect.ErrWeakKey) {
			t.Errorf("Verify with a %d-byte key: %v; want ErrWeakKey", n, err)
		}
	}

	s := newSessions(&clockAt{testNow})
	for _, tt := range []struct {
		name string
		f    func(c *connect.SessionClaims)
	}{
		{"no subject", func(c *connect.SessionClaims) { c.Subject = "" }},
		{"no tenant", func(c *connect.SessionClaims) { c.Tenant = "" }},
		{"no container", func(c *connect.SessionClaims) { c.Container = "" }},
		{"no product", func(c *connect.SessionClaims) { c.Product = "" }},
		{"origin in the future", func(c *connect.SessionClaims) { c.Origin = testNow.Add(time.Hour).Unix() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := sessionClaims()
			tt.f(&c)
			if tok, _, err := s.Mint(c); err == nil {
				t.Fatalf("Mint accepted: %q", tok)
			}
		})
	}
}

func BenchmarkSessionsVerify(b *testing.B) {
	s := &connect.Sessions{Key: sessionKey, Now: fixedNow}
	tok, _, err := s.Mint(sessionClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSessionsVerifiedTokenStillAges: a token verified once is remembered,
// but the clock's checks run again on every Verify, and the memory is only
// used with the key the token verified under.
func TestSessionsVerifiedTokenStillAges(t *testing.T) {
	clk := &clockAt{testNow}
	s := newSessions(clk)
	tok, exp, err := s.Mint(sessionClaims())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.Verify(tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	// The same token with a signature character changed (one inside the
	// signature, whose every bit counts) is another token: it is verified,
	// not found in the memory, and refused.
	i := len(tok) - 10
	swap := byte('A')
	if tok[i] == 'A' {
		swap = 'B'
	}
	tampered := tok[:i] + string(swap) + tok[i+1:]
	if _, err := s.Verify(tampered); !errors.Is(err, connect.ErrInvalidToken) {
		t.Fatalf("tampered remembered token: %v, want ErrInvalidToken", err)
	}
	got, _ := s.Verify(tok)
	got.Tenant = "changed by a caller"
	if again, _ := s.Verify(tok); again.Tenant != "tenant-a" {
		t.Fatalf("a caller's change reached the remembered claims: %q", again.Tenant)
	}

	clk.t = exp.Add(11 * time.Second)
	if _, err := s.Verify(tok); !errors.Is(err, connect.ErrSessionExpired) {
		t.Fatalf("remembered token after exp: %v, want ErrSessionExpired", err)
	}

	clk.t = testNow
	s.Key = bytes.Repeat([]byte{0x17}, 32) // the key changed under the memory
	if _, err := s.Verify(tok); !errors.Is(err, connect.ErrInvalidToken) {
		t.Fatalf("remembered token under another key: %v, want ErrInvalidToken", err)
	}

	// A session at its maximum age ends although its last token has not.
	long := &connect.Sessions{Key: sessionKey, Now: clk.now, MaxAge: 20 * time.Minute}
	c := sessionClaims()
	c.Origin = testNow.Add(-10 * time.Minute).Unix()
	tok, _, err = long.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := long.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clk.t = testNow.Add(10 * time.Minute)
	if _, err := long.Verify(tok); !errors.Is(err, connect.ErrSessionExpired) {
		t.Fatalf("remembered token past the session's maximum age: %v, want ErrSessionExpired", err)
	}
}
