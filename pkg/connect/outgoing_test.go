package connect_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-secrets/secrets/pkg/connect"
)

func TestSignHostRequest(t *testing.T) {
	const appKey = "com.example.secrets"
	u, err := url.Parse("https://acme.atlassian.net/wiki/rest/api/user?accountId=557058%3Af3a1b2c3&expand=operations")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := connect.SignHostRequest(appKey, secretA, "GET", u, "/wiki", testNow)
	if err != nil {
		t.Fatalf("SignHostRequest: %v", err)
	}
	tok, ok := strings.CutPrefix(auth, "JWT ")
	if !ok {
		t.Fatalf("Authorization = %q, want a JWT scheme", auth)
	}

	var c connect.HostClaims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(appKey),
		jwt.WithTimeFunc(fixedNow),
	)
	if _, err := p.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return secretA, nil }); err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if want := mustQSH(t, "GET", "/rest/api/user?accountId=557058%3Af3a1b2c3&expand=operations", ""); c.QSH != want {
		t.Errorf("qsh = %s, want the qsh of the host-relative request %s", c.QSH, want)
	}
	if !c.IssuedAt.Time.Equal(testNow) || !c.ExpiresAt.Time.Equal(testNow.Add(3*time.Minute)) {
		t.Errorf("iat, exp = %v, %v; want now, now+3m", c.IssuedAt, c.ExpiresAt)
	}

	// What the host does with it: the same checks our HostVerifier makes,
	// with the host's base path.
	r := httptest.NewRequest("GET", u.String(), nil)
	r.Header.Set("Authorization", auth)
	v := &connect.HostVerifier{Secret: tenants{appKey: secretA}.secret, BasePath: "/wiki", Now: fixedNow}
	if _, err := v.VerifyRequest(context.Background(), r); err != nil {
		t.Errorf("HostVerifier refuses the signed request: %v", err)
	}

	t.Run("POST to Jira", func(t *testing.T) {
		u, _ := url.Parse("https://acme.atlassian.net/rest/api/3/permissions/check")
		auth, err := connect.SignHostRequest(appKey, secretA, "post", u, "", testNow)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", u.String(), strings.NewReader(`{}`))
		r.Header.Set("Authorization", auth)
		v := &connect.HostVerifier{Secret: tenants{appKey: secretA}.secret, Now: fixedNow}
		if _, err := v.VerifyRequest(context.Background(), r); err != nil {
			t.Errorf("HostVerifier refuses the signed request: %v", err)
		}
	})

	t.Run("refuses", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			appKey string
			secret []byte
			u      *url.URL
			want   error
		}{
			{"empty secret", appKey, nil, u, connect.ErrWeakKey},
			{"empty app key", "", secretA, u, nil},
			{"nil URL", appKey, secretA, nil, nil},
			{"bad query", appKey, secretA, &url.URL{Path: "/rest", RawQuery: "a=1;b=2"}, connect.ErrBadQuery},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got, err := connect.SignHostRequest(tt.appKey, tt.secret, "GET", tt.u, "", testNow)
				if err == nil || got != "" {
					t.Fatalf("SignHostRequest = %q, %v; want an error", got, err)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("error = %v, want %v", err, tt.want)
				}
			})
		}
	})
}
