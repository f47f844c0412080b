package connect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-secrets/secrets/pkg/connect"
)

// tenants is a TenantSecret backed by a map.
type tenants map[string][]byte

func (m tenants) secret(_ context.Context, clientKey string) ([]byte, error) {
	s, ok := m[clientKey]
	if !ok {
		return nil, fmt.Errorf("tenant lookup: %w", connect.ErrUnknownIssuer)
	}
	return s, nil
}

var (
	secretA = []byte("tenant-a-shared-secret-0123456789abcdef")
	secretB = []byte("tenant-b-shared-secret-0123456789abcdef")

	testTenants = tenants{
		"tenant-a":     secretA,
		"tenant-b":     secretB,
		"tenant-empty": {},
	}
)

// panelTarget is an iframe request as a host sends it to our app, whose
// baseUrl path is /app.
const panelTarget = "/app/jira/panel?issue.id=10001&issue.key=ABC-1&xdm_e=https%3A%2F%2Facme.atlassian.net&cp=%2Fjira&lic=none&tz=Europe%2FBerlin"

func newHostVerifier() *connect.HostVerifier {
	return &connect.HostVerifier{Secret: testTenants.secret, BasePath: "/app", Now: fixedNow}
}

// hostClaims are valid claims of tenant-a for method and target at testNow.
func hostClaims(tb testing.TB, method, target string) *connect.HostClaims {
	tb.Helper()
	return &connect.HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "tenant-a",
			Subject:   "557058:f3a1b2c3",
			IssuedAt:  jwt.NewNumericDate(testNow.Add(-10 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(testNow.Add(170 * time.Second)),
		},
		QSH:     mustQSH(tb, method, target, "/app"),
		Context: json.RawMessage(`{"jira":{"issue":{"id":"10001"}}}`),
	}
}

// requestWithQueryToken is a server-side request for target with token
// appended as the jwt parameter, as hosts send iframe URLs.
func requestWithQueryToken(method, target, token string) *http.Request {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	return httptest.NewRequest(method, target+sep+"jwt="+url.QueryEscape(token), nil)
}

func requestWithHeaderToken(method, target, token string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("Authorization", "JWT "+token)
	return r
}

func TestVerifyRequestValid(t *testing.T) {
	v := newHostVerifier()
	tok := sign(t, jwt.SigningMethodHS256, secretA, nil, hostClaims(t, "GET", panelTarget))

	tests := []struct {
		name string
		r    *http.Request
	}{
		{"token in query", requestWithQueryToken("GET", panelTarget, tok)},
		{"token in header", requestWithHeaderToken("GET", panelTarget, tok)},
		{"same token in both", func() *http.Request {
			r := requestWithQueryToken("GET", panelTarget, tok)
			r.Header.Set("Authorization", "JWT "+tok)
			return r
		}()},
		{"jwt parameter first", httptest.NewRequest("GET", "/app/jira/panel?jwt="+tok+"&"+strings.SplitN(panelTarget, "?", 2)[1], nil)},
		// A proxy that maps our baseUrl path away is fine: the host signed
		// the path relative to the baseUrl either way.
		{"base path stripped by a proxy", requestWithQueryToken("GET", strings.TrimPrefix(panelTarget, "/app"), tok)},
		{"lower-case scheme", func() *http.Request {
			r := httptest.NewRequest("GET", panelTarget, nil)
			r.Header.Set("Authorization", "jwt "+tok)
			return r
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.VerifyRequest(context.Background(), tt.r)
			if err != nil {
				t.Fatalf("VerifyRequest: %v", err)
			}
			if c.Issuer != "tenant-a" || c.Subject != "557058:f3a1b2c3" {
				t.Errorf("claims iss=%q sub=%q", c.Issuer, c.Subject)
			}
			if got, want := string(c.Context), `{"jira":{"issue":{"id":"10001"}}}`; got != want {
				t.Errorf("context = %s, want %s", got, want)
			}
		})
	}

	t.Run("no sub (lifecycle)", func(t *testing.T) {
		c := hostClaims(t, "POST", "/app/jira/enabled")
		c.Subject = ""
		tok := sign(t, jwt.SigningMethodHS256, secretA, nil, c)
		got, err := v.VerifyRequest(context.Background(), requestWithHeaderToken("POST", "/app/jira/enabled", tok))
		if err != nil {
			t.Fatalf("VerifyRequest: %v", err)
		}
		if got.Subject != "" {
			t.Errorf("sub = %q", got.Subject)
		}
	})
	t.Run("no typ header", func(t *testing.T) {
		tok := sign(t, jwt.SigningMethodHS256, secretA, map[string]any{"typ": nil}, hostClaims(t, "GET", panelTarget))
		if _, err := v.VerifyRequest(context.Background(), requestWithQueryToken("GET", panelTarget, tok)); err != nil {
			t.Fatalf("VerifyRequest: %v", err)
		}
	})
	t.Run("expired within leeway", func(t *testing.T) {
		c := hostClaims(t, "GET", panelTarget)
		c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-59 * time.Second))
		tok := sign(t, jwt.SigningMethodHS256, secretA, nil, c)
		if _, err := v.VerifyRequest(context.Background(), requestWithQueryToken("GET", panelTarget, tok)); err != nil {
			t.Fatalf("VerifyRequest: %v", err)
		}
	})
	t.Run("iat slightly ahead (clock skew)", func(t *testing.T) {
		c := hostClaims(t, "GET", panelTarget)
		c.IssuedAt = jwt.NewNumericDate(testNow.Add(30 * time.Second))
		tok := sign(t, jwt.SigningMethodHS256, secretA, nil, c)
		if _, err := v.VerifyRequest(context.Background(), requestWithQueryToken("GET", panelTarget, tok)); err != nil {
			t.Fatalf("VerifyRequest: %v", err)
		}
	})
	t.Run("through a real server", func(t *testing.T) {
		// RequestURI is what the host hashed; the server path checks the
		// production branch of the path extraction.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := v.VerifyRequest(r.Context(), r); err != nil {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL + panelTarget + "&jwt=" + tok)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("status = %d, want 204", resp.StatusCode)
		}
	})
}

func TestVerifyRequestRefuses(t *testing.T) {
	v := newHostVerifier()
	rsaA, _ := rsaKeys(t)
	good := hostClaims(t, "GET", panelTarget)
	with := func(f func(c *connect.HostClaims)) *connect.HostClaims {
		c := *good
		f(&c)
		return &c
	}
	hs := func(c jwt.Claims) string { return sign(t, jwt.SigningMethodHS256, secretA, nil, c) }
	inQuery := func(tok string) *http.Request { return requestWithQueryToken("GET", panelTarget, tok) }

	noneToken := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, good)
	tests := []struct {
		name string
		r    *http.Request
		want error
	}{
		{"alg none", inQuery(noneToken), connect.ErrInvalidToken},
		{"alg none with signature stripped", inQuery(strings.TrimSuffix(noneToken, ".") + "."), connect.ErrInvalidToken},
		{"HS384", inQuery(sign(t, jwt.SigningMethodHS384, secretA, nil, good)), connect.ErrInvalidToken},
		{"HS512", inQuery(sign(t, jwt.SigningMethodHS512, secretA, nil, good)), connect.ErrInvalidToken},
		{"RS256 signed", inQuery(sign(t, jwt.SigningMethodRS256, rsaA, nil, good)), connect.ErrInvalidToken},
		{"HS256 keyed with a public key PEM", inQuery(sign(t, jwt.SigningMethodHS256, publicPEM(t, &rsaA.PublicKey), nil, good)), connect.ErrInvalidToken},
		{"wrong secret", inQuery(sign(t, jwt.SigningMethodHS256, []byte("not-the-shared-secret-of-tenant-a"), nil, good)), connect.ErrInvalidToken},
		{"tampered payload", inQuery(tamper(t, hs(good))), connect.ErrInvalidToken},
		{"expired beyond leeway", inQuery(hs(with(func(c *connect.HostClaims) {
			c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-61 * time.Second))
		}))), jwt.ErrTokenExpired},
		{"missing exp", inQuery(hs(with(func(c *connect.HostClaims) { c.ExpiresAt = nil }))), jwt.ErrTokenRequiredClaimMissing},
		{"iat in the future", inQuery(hs(with(func(c *connect.HostClaims) {
			c.IssuedAt = jwt.NewNumericDate(testNow.Add(2 * time.Minute))
		}))), jwt.ErrTokenUsedBeforeIssued},
		{"nbf in the future", inQuery(hs(with(func(c *connect.HostClaims) {
			c.NotBefore = jwt.NewNumericDate(testNow.Add(2 * time.Minute))
		}))), jwt.ErrTokenNotValidYet},
		{"context-qsh", inQuery(hs(with(func(c *connect.HostClaims) { c.QSH = connect.ContextQSH }))), connect.ErrInvalidToken},
		{"no qsh", inQuery(hs(with(func(c *connect.HostClaims) { c.QSH = "" }))), connect.ErrInvalidToken},
		{"qsh of another path byte", inQuery(hs(with(func(c *connect.HostClaims) {
			c.QSH = mustQSH(t, "GET", strings.Replace(panelTarget, "panel", "panem", 1), "/app")
		}))), connect.ErrInvalidToken},
		{"qsh of another query byte", inQuery(hs(with(func(c *connect.HostClaims) {
			c.QSH = mustQSH(t, "GET", strings.Replace(panelTarget, "10001", "10002", 1), "/app")
		}))), connect.ErrInvalidToken},
		{"qsh of another method", inQuery(hs(with(func(c *connect.HostClaims) {
			c.QSH = mustQSH(t, "POST", panelTarget, "/app")
		}))), connect.ErrInvalidToken},
		{"request path differs by one byte", requestWithQueryToken("GET", strings.Replace(panelTarget, "panel", "panem", 1), hs(good)), connect.ErrInvalidToken},
		{"request query differs by one byte", requestWithQueryToken("GET", strings.Replace(panelTarget, "10001", "10002", 1), hs(good)), connect.ErrInvalidToken},
		{"request method differs", requestWithQueryToken("POST", panelTarget, hs(good)), connect.ErrInvalidToken},
		{"request with an extra parameter", requestWithQueryToken("GET", panelTarget+"&admin=true", hs(good)), connect.ErrInvalidToken},
		{"request under another prefix", requestWithQueryToken("GET", "/other"+strings.TrimPrefix(panelTarget, "/app"), hs(good)), connect.ErrInvalidToken},
		{"base path not at a segment boundary", requestWithQueryToken("GET", "/appx"+strings.TrimPrefix(panelTarget, "/app"), hs(good)), connect.ErrInvalidToken},
		{"unknown issuer", inQuery(hs(with(func(c *connect.HostClaims) { c.Issuer = "tenant-x" }))), connect.ErrUnknownIssuer},
		{"empty secret", inQuery(sign(t, jwt.SigningMethodHS256, []byte("x"), nil, with(func(c *connect.HostClaims) { c.Issuer = "tenant-empty" }))), connect.ErrInvalidToken},
		{"no issuer", inQuery(hs(with(func(c *connect.HostClaims) { c.Issuer = "" }))), connect.ErrInvalidToken},
		{"tenant A's secret claiming tenant B", inQuery(hs(with(func(c *connect.HostClaims) { c.Issuer = "tenant-b" }))), connect.ErrInvalidToken},
		{"session typ", inQuery(sign(t, jwt.SigningMethodHS256, secretA, map[string]any{"typ": connect.SessionType}, good)), connect.ErrInvalidToken},
		{"non-string typ", inQuery(sign(t, jwt.SigningMethodHS256, secretA, map[string]any{"typ": 1}, good)), connect.ErrInvalidToken},
		{"jwt parameter repeated", httptest.NewRequest("GET", panelTarget+"&jwt="+hs(good)+"&jwt="+hs(good), nil), connect.ErrInvalidToken},
		{"jwt parameter repeated, once escaped", httptest.NewRequest("GET", panelTarget+"&jwt="+hs(good)+"&%6Awt="+hs(good), nil), connect.ErrInvalidToken},
		{"query and header differ", func() *http.Request {
			r := inQuery(hs(good))
			r.Header.Set("Authorization", "JWT "+noneToken)
			return r
		}(), connect.ErrInvalidToken},
		{"two Authorization headers", func() *http.Request {
			r := httptest.NewRequest("GET", panelTarget, nil)
			r.Header.Add("Authorization", "JWT "+hs(good))
			r.Header.Add("Authorization", "JWT "+hs(good))
			return r
		}(), connect.ErrInvalidToken},
		{"semicolon in query", requestWithQueryToken("GET", panelTarget+";x=1", hs(good)), connect.ErrInvalidToken},
		{"semicolon in query (qsh signed without it)", requestWithQueryToken("GET", panelTarget+"&a=1;b=2", hs(good)), connect.ErrBadQuery},
		{"bad escape in query", requestWithQueryToken("GET", panelTarget+"&x=%zz", hs(good)), connect.ErrBadQuery},
		{"empty jwt parameter", httptest.NewRequest("GET", panelTarget+"&jwt=", nil), connect.ErrInvalidToken},
		{"empty header token", requestWithHeaderToken("GET", panelTarget, ""), connect.ErrInvalidToken},
		{"no token", httptest.NewRequest("GET", panelTarget, nil), connect.ErrNoToken},
		{"bearer scheme only", func() *http.Request {
			r := httptest.NewRequest("GET", panelTarget, nil)
			r.Header.Set("Authorization", "Bearer "+hs(good))
			return r
		}(), connect.ErrNoToken},
		{"garbage token", inQuery("not.a.token"), connect.ErrInvalidToken},
		{"two segments", inQuery("eyJhbGciOiJIUzI1NiJ9.e30"), connect.ErrInvalidToken},
		{"token too long", inQuery(hs(with(func(c *connect.HostClaims) {
			c.Context = json.RawMessage(`"` + strings.Repeat("a", 10000) + `"`)
		}))), connect.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.VerifyRequest(context.Background(), tt.r)
			if err == nil {
				t.Fatalf("VerifyRequest accepted: %+v", c)
			}
			if c != nil {
				t.Errorf("claims returned with error %v", err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			t.Log(err)
			tok, _ := connect.TokenFromRequest(tt.r)
			assertNoSecret(t, err, tok, string(secretA), string(secretB))
		})
	}
}

func TestVerifyRequestLeewayCapped(t *testing.T) {
	v := newHostVerifier()
	v.Leeway = time.Hour
	c := hostClaims(t, "GET", panelTarget)
	c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-61 * time.Second))
	tok := sign(t, jwt.SigningMethodHS256, secretA, nil, c)
	if _, err := v.VerifyRequest(context.Background(), requestWithQueryToken("GET", panelTarget, tok)); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("error = %v, want expired despite a one-hour Leeway", err)
	}
}

func TestVerifyRequestLookupError(t *testing.T) {
	boom := errors.New("storage down")
	v := newHostVerifier()
	v.Secret = func(context.Context, string) ([]byte, error) { return nil, boom }
	tok := sign(t, jwt.SigningMethodHS256, secretA, nil, hostClaims(t, "GET", panelTarget))
	_, err := v.VerifyRequest(context.Background(), requestWithQueryToken("GET", panelTarget, tok))
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the lookup error", err)
	}
	if errors.Is(err, connect.ErrInvalidToken) || errors.Is(err, connect.ErrUnknownIssuer) {
		t.Errorf("internal failure reported as a token problem: %v", err)
	}
}

func TestVerifyRequestDoesNotLookUpForeignAlgorithms(t *testing.T) {
	rsaA, _ := rsaKeys(t)
	calls := 0
	v := newHostVerifier()
	v.Secret = func(ctx context.Context, k string) ([]byte, error) { calls++; return testTenants.secret(ctx, k) }
	tok := sign(t, jwt.SigningMethodRS256, rsaA, nil, hostClaims(t, "GET", panelTarget))
	if _, err := v.VerifyRequest(context.Background(), requestWithQueryToken("GET", panelTarget, tok)); !errors.Is(err, connect.ErrInvalidToken) {
		t.Fatalf("error = %v, want ErrInvalidToken", err)
	}
	if calls != 0 {
		t.Errorf("tenant looked up %d times for an RS256 token", calls)
	}
}

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		header  []string
		want    string
		wantErr error
	}{
		{"query", "/p?a=1&jwt=abc", nil, "abc", nil},
		{"query escaped", "/p?jwt=a%2Eb%2Ec", nil, "a.b.c", nil},
		{"header", "/p", []string{"JWT abc"}, "abc", nil},
		{"header extra spaces", "/p", []string{"JWT   abc  "}, "abc", nil},
		{"both equal", "/p?jwt=abc", []string{"JWT abc"}, "abc", nil},
		{"both differ", "/p?jwt=abc", []string{"JWT abd"}, "", connect.ErrInvalidToken},
		{"repeated", "/p?jwt=abc&jwt=abc", nil, "", connect.ErrInvalidToken},
		{"none", "/p?a=1", nil, "", connect.ErrNoToken},
		{"other scheme", "/p", []string{"Basic Zm9vOmJhcg=="}, "", connect.ErrNoToken},
		{"scheme without token", "/p", []string{"JWT"}, "", connect.ErrInvalidToken},
		{"bad query", "/p?jwt=abc&x=%", nil, "", connect.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			for _, h := range tt.header {
				r.Header.Add("Authorization", h)
			}
			got, err := connect.TokenFromRequest(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("token = %q, want %q", got, tt.want)
			}
		})
	}
}

// tamper swaps tok's payload for one naming another user, keeping tok's
// signature.
func tamper(tb testing.TB, tok string) string {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatal("not a JWT")
	}
	c := hostClaims(tb, "GET", panelTarget)
	c.Subject = "557058:admin"
	other := sign(tb, jwt.SigningMethodHS256, []byte("whatever"), nil, c)
	parts[1] = strings.Split(other, ".")[1]
	return strings.Join(parts, ".")
}

// signedURLs are cases of Atlassian's signing interoperability suite, from
// shared/testdata/qsh/jwt-signed-urls.json: URLs a host signed with
// signedURLSecret, issuer jira:1234-5678-9000, iat 1466731075,
// exp 1466731255.
const signedURLSecret = "7512836e-9137-48ac-baaf-a1935b96e17a"

var signedURLs = []struct{ name, url string }{
	{name: "Simple",
		url: "https://example.com/test?param=value&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJiZTE2OTEwODU4YTQxZmQxOWVhNWMxYjRlOWRlY2NhOWE3ODRkMTAyNGNiMDBiMjE1OGRlZmUyZjI5ZGM4NmRkIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.ssbmLUBemh6nQW3MH5o2fSdnOFTIKf2w0KASnnH8aXo"},
	{name: "Spaces",
		url: "https://example.com/test?param=some+spaces+in+this+parameter&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJlZjQwOTdkMDUzOTVlYWYxYTEzMzk1NmYxNDAxMTZhOWM0MTFhZmFkNzY4ZDRmMDZkYWFjOWUzMDU3NjQyNjVkIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.JGTIXMHEtxAmLlTjIUFR21IEs9b8-3QIt3VwyRB816M"},
	{name: "Asterisk",
		url: "https://example.com/test?query=connect*&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIwZDI4YmMxMGQxOTcyZDljYWI1OWUxMjNjZTE3OTc2ZWIzMmFhZDY5NTdhMTNjZmI4Yjk3Y2VkNmQzZmM4YTI5IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.Lj8eCYfC3mYcnkdGtvGPXT763nPI2XYyxlIJjSgIF5k"},
	{name: "Unicode",
		url: "https://example.com/test?director=%E5%AE%AE%E5%B4%8E+%E9%A7%BF&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI0NGQ2MzU0ZmZlOGY5NjM5NzJhN2ZjNTllOThiMmMzZGZlNGI0OTMyOTVjNWI4OWVkZDk3NGEzMzllNjFhYzg5IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.oc618kGGWy6ZP6ZqDsy2Hj61OS1kqFghcaQdvCBMLhc"},
	{name: "Comma-delimited",
		url: "https://example.com/test?ids=10%2C2%2C20%2C1&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIyZTYxN2I2NWY5NjY2NTA3ODk5OTBlNWNhYzhmZjI5NWVlNWI0NTM4MzRkMDQ3OThmNDY2ZmY2MDM1YmQ4ODI5IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.fdIooLlQ22kaE0FA15_cS_LvOtwBj2r5y586US4WJiw"},
	{name: "Multi-value Comma-delimited",
		url: "https://example.com/test?tuples=1%2C2%2C3&tuples=6%2C5%2C4&tuples=7%2C9%2C8&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJmOWY2MmJiNjExOTFkZmYxYjIxOWU5YWRlOGFjMzhmY2ZhNDYyNzJlYTc2ZDk1NDU0MTBkYjY1NTlmZDhlN2JkIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.PXOWzUEk0Be2zCEzO5W_yTvYWDOhuEQbm7t8XXctXrE"},
	{name: "Plus",
		url: "https://example.com/test?title=1+%2B+1+equals+3&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJjZTBhODY2Y2UwYzM0Y2JkZTcwZGViNjNmNjkxNTE5MmY1ODUwMGQyYjQ5YjEyZTFmZmM4Y2RmOTFlZGFiYzkxIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.NKD1M6kVQ3YFsQb-W2AUzYyntKSNvE15r4_hL9OO6A4"},
	{name: "JSON Object",
		url: "https://example.com/test?json=%7B%22key%22%3A%22value%22%7D&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIxZDc0YzVhMWYwYTZjNzJhM2NlMjg1NTcwY2JmZDhmZTczNjkxMDEyM2U2YWRhMjAzZDRjN2JhOWE2MTI4YTZmIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.AFKN_CHERMJa-VYAEVfRFw-Hi53VbJ_Y3clKB3RDAfE"},
	{name: "JSON Array",
		url: "https://example.com/test?json=%5B%22val1%22%2C%22val2%22%5D&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI1YTY5ZDM1ZjE2NTM0MjkwYTRlZDJmOWU1M2E0NWU2ODcyY2YwYzNhMTE2MzI5NWM0Mjk0N2Q0MjkzMWExZjczIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.xO5VqtU8GL8CTr_wn0tHJAJ-r63PU-bJBTeuKF759dA"},
	{name: "Single Quotes",
		url: "https://example.com/test?quote=%27quoted%27&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIyMDdhMzAzNzZjNTk0ZDVjZGU3YjZlODczYjk0M2Y4NDc5ODM3MWQzMjkzYjdlYWMyN2UyYzJhMmE1ZDExMWQ1IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.XsfJjmLIyIuX7_xfuj1JlNBiNQ_oSoh8KQVfEJHNJ0A"},
	{name: "Brackets",
		url: "https://example.com/test?param=%28%29&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI0NmI5Nzg3YTg5ODM1NjBmNDQ2ZjgyZDYxNDMxMjJkOTllMTUzYWZmZDU2ODhmYTQ1MzQzMDc0YTA5MTU3M2ViIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.E7tLaNwK3c9HmDEoptDGWh2p6DZ2pd1R4sNBAPJ0L_A"},
	{name: "Tilde",
		url: "https://example.com/test?eta=in+%7E3+days&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI1YzVmOTdjZGZlM2FiZDhmZWI0OGY2ZjAyNDBhNzFlZjVjMTExMjg5YTViZjc3ZGRmNjQ1MjUwYjM5NTFlYzYzIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.kc_ugGzgCHSyCk4DgUFNVb5dhC2TdTlFVKyQx1oBcDQ"},
	{name: "RFC-1738 Unsafe",
		url: "https://example.com/test?rfc=+%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIzNmJhMzljNTM3OWQ3NTJiYmVmMTM0OWJhNThkZjk4ZWNhYTQ1NmI3OGM3YzJlMzI0NWUyZjMzZWFjNzEyYTQ5IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.AHIN8GC3aWL6o8ZOxZZBW_fxTI-6CY78ucWh_kaXBAs"},
	{name: "RFC-1738 Reserved",
		url: "https://example.com/test?rfc=%3B%2F%3F%3A%40%3D%26&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI2MzkzMzBiYzkyZDc5MzczYjE5OGRhNjk3ODczYjJmMDNmMWEzYTBjNWFmNzhjZjhlZWE1MTdmMTQ5NjBiMTUwIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.a7vQvXIFT-sSJiHFcQKf3o8pTFA__O0X4EJOD_91iK0"},
	{name: "RFC-1738 Special",
		url: "https://example.com/test?rfc=%24-_.%2B%21*%27%28%29%2C&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIwZTM2MjI5Y2M0NTlmZjhjY2I0ODQ1YzExNDMzY2ZiYmUyNWJmYTQ1ZThjMWVhMTRkMmExMjQyMzFjYjBhMmU5IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.vUERQg8SGBRFZpB8d0DFOcaFdDfJjsHZBUDujLJ7LhQ"},
	{name: "RFC-3986 Unreserved",
		url: "https://example.com/test?rfc=-._%7E&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIwZGRmN2U2MzFjM2IxMWU3OTc1ODE0ZWU4NGZlYzI2ODA0ZGM3MmIwYTBlOTk3ODcxZDg0MTVjZWU2Yjc4YjMxIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.tqAbSA8_iIe-nfjtqBrHpxUe3HI7D9ILxpXIf0EqUfA"},
	{name: "RFC-3986 gen-delims",
		url: "https://example.com/test?rfc=%3A%2F%3F%23%5B%5D%40&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI5NjA0MWVlNDVhZDRiOGVhMjliY2U0MmYzZTI4MzU0OTA1OTFmNTVlODRiZGRiYmFiODIxNTFkNGExYWMxYTExIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.ChCEYkRpoqkZsyZ2ZtGAAntcb0KYHjmqI6to9p1KKJQ"},
	{name: "RFC-3986 sub-delims",
		url: "https://example.com/test?rfc=%21%24%26%27%28%29*%2B%2C%3B%3D&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJiOGQwNDk4NzRmMWZlNWFiZTI3NGQyMGJkZWNlYmVlOGRhYWRhNDUzMTkxYTgyNzczOGVlYmNkNzU5ZWZkNGUxIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.rvu_onWEK0PWM-w6K7JEShKHVplx9oCTdeKyhpJmSx4"},
	{name: "Empty",
		url: "https://example.com/test?notmuch=&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIyMGZlY2RlZDk5NTE1MTZhMzQ0N2IxYjU1NmQwZWIzNTBkZTI5NzcwNTA1MjUzYTMwZGM3Mzk1MDJlMDVkZGM3IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.P8btoE2iwXDoTpWr9eL64OcumNeFtRVVuNAg_vb5EwE"},
	{name: "Encoded",
		url: "https://example.com/test?referrer=http%3A%2F%2Ffrom.net%2Fp%3Fx%3DA%2B%252B%2BB%26y%3D%2524-_.%252B%2521*%2527%2528%2529%252C&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI3Y2E4MWI4ZTRlODNjMjM3NWVlYTdiOGI1MGJkMzc4NmJhOGI0MzI2MTE5M2EzYmQzY2NkZmNhMDYxMjBlZTMzIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.OTKND114j4id2cHr_AdHLAK9GqhbxFE7ad0eT0DmEV8"},
	{name: "Multi-value",
		url: "https://example.com/test?ids=-1&ids=1&ids=10&ids=2&ids=20&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJhNjQ2YzQ4NzQxZmFhZWI2NDlmOWNhNzg4OGFlMDI5ZWFkNDMyZTM4MDZmNTZjNGE1N2I4MGIzZTJhYzYyOGE5IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.gUepTNdB4HtYcabEZSiuXZrf2vU18ZGft5cvAT2W6FI"},
	{name: "Multi-value II",
		url: "https://example.com/test?ids=.1&ids=.2&ids=%3A1&ids=%3A2&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJmMDUyNGQ0MmUwZjg2NjE4NjJlMWYxZTlhZGQ4NzU3OTcyYTAwNDNiYjcxMzZkNjQxNzM1ZDIxODc0YzVhMDU2IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.bbmy58zcb675U8eE1NaDvtd85EcVsGjZfIcSLbgOwas"},
	{name: "Multi-value Unicode",
		url: "https://example.com/test?chars=%E5%AE%AE&chars=%E5%B4%8E&chars=%E9%A7%BF&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI3MmE3ZjdjZTlmOTMxNTdmMjk2Yjg2MzM4MzE1NDIzZDZmM2I2YWJhNTA4MWYwNGJiZGI2YmIxODIxOGI2NWVlIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.K8dOEK17rBCjHS_sNj58CO4_rB4IM-JeRoUYVv2osbc"},
	{name: "Multi-value Empty",
		url: "https://example.com/test?c=&c=+&c=%2520&c=%2B&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJjYmJjYWM5YTZhMDJmM2FkOTZjNWFiNWJmODc2ZGQ5Zjc5YjJjNjFjZWVjNTY2MGExYzlkNzNhM2IxMDJlYzJjIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.R_DWbzp9IZbL9lutC4eRBf-NcN4sllakpx5H59F329A"},
	{name: "Key RFC-1738 Unsafe",
		url: "https://example.com/test?%231=value&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJlY2NiNGEyMzJkNTBjYTQxYWM0MDM5ODY3NWI2NDg3YTcxMWQ5ZTk3MjkxN2Q4YTYxY2JjMTIwZjlmYmRhNTk3IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.OLjm-tHtgDfOwTtBQ50-JGJM4zIP-yZcsDRAuJn0P7s"},
	{name: "Key RFC-1738 Reserved",
		url: "https://example.com/test?%3A1=value&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI2ZDgyMzE4MWE2OGE0OTUyYzc1ZTRiNTFhZDBiOGQ1OWU4Nzk4NTljZGY5NzdlNzI1NDU0NTIwMWJjYTg0NjVkIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.lqRCsE131cmicAXf2BoCtLiV4g7D50piFnSzJoE0rCk"},
	{name: "Key RFC-1738 Special",
		url: "https://example.com/test?%241=value&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJhOWY2MWYxYzgyNTBlYmZiOTIzNDY1NGU3MWRlYzIzM2M5M2MxNmE1NGZlMzBhNjQ5ZGZkNjViYWRmM2MwMTcxIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.xSvBJ10iVN7_Y97j1qApcYXUVq8JoXkCLnYf0Fwj0mY"},
	{name: "Multiple Parameters Simple",
		url: "https://example.com/test?a=x&b=y&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJhYmQ1ZGU2MDRiOWQzY2RhNDRkM2M3YTlkZDY5OGEyMTI1OTY1NTM5NDY1OGE2NjQyZjg3YjlkODI1ODY5NDYwIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.1jFYZh4FjFNsGo62Qj9E7xzGCVVunqj5vtXoz7a8bCo"},
	{name: "Multiple Multi-value Parameters",
		url: "https://example.com/test?a=x1&a=x10&b=y1&b=y10&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIzMTBiYTNmZjdlMWU5YThjYWNkMzNkZDYxNzI1MDEzMDRiZjMyNTA5NmQ4MWNjYWQ0NDk0NjU0MjdlNThhOWM0IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.7OJXrJdQpPUni7Qm0IrFz9KHxTgCMeE1WbVC1unQJ3g"},
	{name: "Multiple Parameters Spaces",
		url: "https://example.com/test?a=another+one&a=one+string&b=and+yet+more&b=more+here&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI3MDA3MjFlNjUzODU3ODFmYzFmYTI0ODIyMGM3NTQwMGYxZThhMTk3YzgzOGVmMTc3OWYwMGI2OWJmYTRhNmZmIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.g5YMPR92qU3hw2uPmdWVztIIl25QKF5QlqsvCNZ7TDE"},
	{name: "Multiple Parameters Comma-delimited",
		url: "https://example.com/test?a=1%2C2%2C3&a=4%2C5%2C6&b=a%2Cb%2Cc&b=d%2Ce%2Cf&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIwNmI3NmViNjNhY2NjY2UyMzU2Y2RmYzY2ZjRhYmQxZTNhMDYxYzAzMDVjOWZjNzZiNjE2YWU3MWZlM2I2YWI1IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.6skGpsaWS3sR1ft8hdnJL5EvgFDlyUYmmjcziQrIK1s"},
	{name: "Parameter Order",
		url: "https://example.com/test?a10=1&a1=2&b1=3&b10=4&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIxNTljYzNkMzAwM2YwNjdjM2FlMjYzZDE5ZGVkNDJkZWRkMjgyMjFjY2U0ZDQ3NTdiMTNmYzc3MjJhMjQ0MDhmIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.CEfY2ck1VpaOVlfNi9iXiF03lowoqm_WgHvtgf5Xfps"},
	{name: "Upper- and Lower-case Parameters",
		url: "https://example.com/test?A=A&a=a&b=b&B=B&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI1MzlhZGMyYjBhZWYyZWM4NjU5ODI1ODkzYjhiOTJlNmE1M2M5NDgzZTIxNTBiODE4NWIwODQ5MGQ4YjZkZTYwIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.wOC7mInLeAu_mQpoHlGW2DIlEeEfiqFvn32sea8vDvc"},
	{name: "Search Request View",
		url: "https://example.com/search-view?link=http%3A%2F%2Fion%3A2990%2Fjira%2Fsecure%2FIssueNavigator.jspa%3Freset%3Dtrue%26jqlQuery%3Dissuetype%2B%253D%2BBug&startIssue=0&totalIssues=2&endIssue=2&issues=issues%3DTEST-2%2CTEST-1&tz=Australia%2FSydney&loc=en-US&user_id=admin&user_key=admin&xdm_e=http%3A%2F%2Fion.local%3A2990&xdm_c=channel-acmodule-1564427223927602208&cp=jira&lic=none&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiIwY2I3NGI4MGRkN2Y3NzkzODQ5ODY3Mjk4Y2EyZDg4OWU0ZDhiNjYxMTFiNjg5NjIyN2JkYmI0OTBkYzQ0YWUxIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.UXWVrjqrCcjX6Mt6gIap4nK7o3aTLRz0ab1fMwwSJqo"},
	{name: "BasePath only",
		url: "https://example.com/test?jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiJiYWQzMjhmYWM5OTAzNDlhOGM4ODM5M2MxNzU1YmM0Zjk4NGE5YzM4NzIwMjIyOWI4ZWQ1MmUwNGZmN2U5ZmVjIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.1LHKcYMbSI-xGystYrcpniFDmOkA45g-aJ7NhfyB-wY"},
	{name: "BasePath with Delimiter",
		url: "https://example.com/endsWithDelimiter/?a=b&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI4Zjc3YzZhMGU2YmYyNTA0MTEyMWVlNDQ0ODBkM2M5N2FlOWNjYTRiN2EwMDdlYTZlMWQ2NDhkOWEyNmU1ZDFkIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.Lssm_JCVXZ7Qh-FEMJZx-eblxAa13MlzkReNLvARJI8"},
	{name: "BasePath with Delimiter Only",
		url: "https://example.com/endsWithDelimiter/?jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI0Yzc5OWU5MWZjOGUxYmU5YjFmMDM0ZjIxOTFhZTgwY2IyMDgwYjU0YTg1ZTlhMjQ2NGFkMmYyMTE1ZjhkOTg3IiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.wqBRfpzUg79FTLQZiUqNIk9qGEBFXhrZmQ5GvicOFY8"},
	{name: "BasePath RFC3986 Unreserved",
		url: "https://example.com/path-._~?a=b&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI1ZDE1NzRlYTBmZDg5NzRmYTQzMjZkODdiM2VmZWM3NDAwNGJmMTNkMzUzOTU1OTlkZTQyNTMyNzE3OGMxNzNiIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.oWGLh5OdI0tw1i6FL6CDOm-qGpGJQnru9rk5B37O2T8"},
	{name: "BasePath RFC3986 Subdelimiters",
		url: "https://example.com/path!$&'()*+,;=?a=b&jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJxc2giOiI5ZWY4MDNmOWNiOGRlYTRmN2Y4NzVjYWZmOGQzMWU5NTk2MmM2ZThiZDQ0ZDY0YTg0OGQ2ZWJiMDU1YjIxNDRiIiwiY29udGV4dCI6e30sImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJleHAiOjE0NjY3MzEyNTUsImlhdCI6MTQ2NjczMTA3NX0.xT24PP9ialy7yso14IaFYO9c5dV2oJ1OMTrPon7yRF4"},
}

func TestVerifyRequestAtlassianSignedURLs(t *testing.T) {
	v := &connect.HostVerifier{
		Secret: tenants{"jira:1234-5678-9000": []byte(signedURLSecret)}.secret,
		Now:    func() time.Time { return time.Unix(1466731075+60, 0) },
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.VerifyRequest(r.Context(), r); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	for _, c := range signedURLs {
		t.Run(c.name, func(t *testing.T) {
			claims, err := v.VerifyRequest(context.Background(), httptest.NewRequest("GET", c.url, nil))
			if err != nil {
				t.Fatalf("VerifyRequest: %v", err)
			}
			if claims.Issuer != "jira:1234-5678-9000" {
				t.Errorf("iss = %q", claims.Issuer)
			}

			// And as a server receives it, through the request line.
			u, err := url.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Get(srv.URL + u.RequestURI())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("via server: status %d", resp.StatusCode)
			}
		})
	}

	t.Run("expired at the real time", func(t *testing.T) {
		v := *v
		v.Now = nil
		_, err := v.VerifyRequest(context.Background(), httptest.NewRequest("GET", signedURLs[0].url, nil))
		if !errors.Is(err, jwt.ErrTokenExpired) {
			t.Fatalf("error = %v, want expired", err)
		}
	})
	t.Run("another secret", func(t *testing.T) {
		v := *v
		v.Secret = tenants{"jira:1234-5678-9000": []byte(signedURLSecret + "x")}.secret
		_, err := v.VerifyRequest(context.Background(), httptest.NewRequest("GET", signedURLs[0].url, nil))
		if !errors.Is(err, connect.ErrInvalidToken) {
			t.Fatalf("error = %v, want ErrInvalidToken", err)
		}
	})
	t.Run("a parameter changed", func(t *testing.T) {
		_, err := v.VerifyRequest(context.Background(), httptest.NewRequest("GET", strings.Replace(signedURLs[0].url, "param=value", "param=valuf", 1), nil))
		if !errors.Is(err, connect.ErrInvalidToken) {
			t.Fatalf("error = %v, want ErrInvalidToken", err)
		}
	})
}

func FuzzVerifyRequest(f *testing.F) {
	good := hostClaims(f, "GET", panelTarget)
	wrongQSH := *good
	wrongQSH.QSH = mustQSH(f, "GET", "/app/jira/other", "/app")
	ctxQSH := *good
	ctxQSH.QSH = connect.ContextQSH
	expired := *good
	expired.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Hour))

	f.Add(sign(f, jwt.SigningMethodHS256, secretA, nil, &wrongQSH))
	f.Add(sign(f, jwt.SigningMethodHS256, secretA, nil, &ctxQSH))
	f.Add(sign(f, jwt.SigningMethodHS256, secretA, nil, &expired))
	f.Add(sign(f, jwt.SigningMethodHS256, secretB, nil, good))
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, good))
	f.Add(signedURLs[0].url[strings.Index(signedURLs[0].url, "jwt=")+4:])
	f.Add("")
	f.Add(".")
	f.Add("..")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ0ZW5hbnQtYSJ9.")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ0ZW5hbnQtYSJ9.")
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6MX0.eyJpc3MiOjF9.AAAA")
	f.Add("e30.e30.e30")
	f.Add("%zz;&jwt=")

	v := newHostVerifier()
	f.Fuzz(func(t *testing.T, tok string) {
		for _, r := range []*http.Request{
			requestWithQueryToken("GET", panelTarget, tok),
			requestWithHeaderToken("GET", panelTarget, tok),
		} {
			c, err := v.VerifyRequest(context.Background(), r)
			if err == nil {
				t.Fatalf("token %q verified: %+v", tok, c)
			}
			if !errors.Is(err, connect.ErrInvalidToken) && !errors.Is(err, connect.ErrNoToken) && !errors.Is(err, connect.ErrUnknownIssuer) {
				t.Fatalf("unexpected error kind: %v", err)
			}
		}
	})
}

func BenchmarkVerifyRequest(b *testing.B) {
	v := newHostVerifier()
	tok := sign(b, jwt.SigningMethodHS256, secretA, nil, hostClaims(b, "GET", panelTarget))
	r := requestWithQueryToken("GET", panelTarget, tok)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyRequest(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
