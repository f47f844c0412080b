package forge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/forge/platform"
	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyGoodToken(t *testing.T) {
	s := signer(t)
	j := newJWKSServer(t, s)
	v := newVerifier(t, forge.NewKeySet(forge.KeySetConfig{URL: j.URL}), nil)
	tok, err := s.Mint(jiraInstall(), panelInvocation(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := inv.TenantKey(), "forge:11111111-1111-4111-8111-111111111111:"+envID+":44444444-4444-4444-8444-444444444444"; got != want {
		t.Errorf("tenant key = %q, want %q", got, want)
	}
	if inv.Product != forge.ProductJira || inv.CloudID != cloudID || inv.Principal != accountID || !inv.FromUI() || inv.FromAdmin() || inv.FromEndpoint("lifecycle") {
		t.Errorf("invocation = %+v", inv)
	}
}

// TestVerifyRefuses covers each claim rule at the package level; the
// server's tests repeat the forgery matrix over HTTP with state checks.
func TestVerifyRefuses(t *testing.T) {
	s := signer(t)
	j := newJWKSServer(t, s)
	now := time.Now()
	v := newVerifier(t, forge.NewKeySet(forge.KeySetConfig{URL: j.URL}), nil)
	app := func(c jwt.MapClaims) map[string]any { return c["app"].(map[string]any) }
	cases := map[string]func(jwt.MapClaims){
		"wrong iss":         func(c jwt.MapClaims) { c["iss"] = "forge/other" },
		"other aud":         func(c jwt.MapClaims) { c["aud"] = "ari:cloud:ecosystem::app/99999999-9999-4999-8999-999999999999" },
		"two auds":          func(c jwt.MapClaims) { c["aud"] = []string{jiraAppID, confAppID} },
		"app.id ≠ aud":      func(c jwt.MapClaims) { app(c)["id"] = confAppID },
		"expired":           func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() },
		"no exp":            func(c jwt.MapClaims) { delete(c, "exp") },
		"no iat":            func(c jwt.MapClaims) { delete(c, "iat") },
		"no nbf":            func(c jwt.MapClaims) { delete(c, "nbf") },
		"nbf future":        func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() },
		"long lifetime":     func(c jwt.MapClaims) { c["exp"] = now.Add(time.Hour).Unix() },
		"other environment": func(c jwt.MapClaims) { app(c)["environment"] = map[string]any{"type": "PRODUCTION", "id": "other-env"} },
		"installation ids": func(c jwt.MapClaims) {
			app(c)["installation"].(map[string]any)["id"] = "ari:cloud:ecosystem::installation/other"
		},
		"no installation":    func(c jwt.MapClaims) { delete(app(c), "installation") },
		"apiBaseUrl cloud":   func(c jwt.MapClaims) { app(c)["apiBaseUrl"] = apiBase + "/ex/jira/other-cloud" },
		"apiBaseUrl host":    func(c jwt.MapClaims) { app(c)["apiBaseUrl"] = "https://evil.example/ex/jira/" + cloudID },
		"apiBaseUrl product": func(c jwt.MapClaims) { app(c)["apiBaseUrl"] = apiBase + "/ex/confluence/" + cloudID },
		"apiBaseUrl path":    func(c jwt.MapClaims) { app(c)["apiBaseUrl"] = apiBase + "/ex/jira/" + cloudID + "/../x" },
		"context cloud":      func(c jwt.MapClaims) { c["context"].(*forge.Context).CloudID = "other-cloud" },
		"icLabel":            func(c jwt.MapClaims) { c["icLabel"] = "" },
		"principal shape":    func(c jwt.MapClaims) { c["principal"] = "a b" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			inv := panelInvocation(now)
			ctx := *inv.Context
			inv.Context = &ctx
			c := jiraInstall().Claims(inv)
			mutate(c)
			tok, err := s.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), tok)
			t.Log(err)
			if !errors.Is(err, forge.ErrInvalidToken) {
				t.Errorf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestVerifyKeysUnavailable(t *testing.T) {
	s := signer(t)
	j := newJWKSServer(t, s)
	j.down.Store(true)
	v := newVerifier(t, forge.NewKeySet(forge.KeySetConfig{URL: j.URL}), nil)
	tok, _ := s.Mint(jiraInstall(), panelInvocation(time.Now()))
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, forge.ErrKeysUnavailable) {
		t.Errorf("Verify = %v, want ErrKeysUnavailable", err)
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	ks := forge.NewKeySet(forge.KeySetConfig{})
	for name, cfg := range map[string]forge.VerifierConfig{
		"no environments": {Apps: apps(), Keys: ks},
		"no apps":         {Environments: []string{envID}, Keys: ks},
		"bad app id":      {Apps: []forge.App{{Product: "jira", ID: "ari:cloud:ecosystem::app/a b", UIModules: []string{"x"}, AdminModules: []string{"y"}}}, Environments: []string{envID}, Keys: ks},
		"no keys":         {Apps: apps(), Environments: []string{envID}},
	} {
		if _, err := forge.NewVerifier(cfg); err == nil {
			t.Errorf("%s: NewVerifier succeeded", name)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s := signer(b)
	j := newJWKSServer(b, s)
	v := newVerifier(b, forge.NewKeySet(forge.KeySetConfig{URL: j.URL}), nil)
	tok, _ := s.Mint(jiraInstall(), longPanelInvocation(time.Now()))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// longPanelInvocation is a panel invocation that outlives a long
// benchmark run.
func longPanelInvocation(now time.Time) (inv platform.Invocation) {
	inv = panelInvocation(now)
	inv.Lifetime = 4 * time.Minute
	return inv
}
