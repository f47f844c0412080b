package platform_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/forge/platform"
)

// TestMintedFITsVerifyAndProductAnswers checks the stand-in against the
// real verifier and product checker: what the sandbox mints is what
// secretsd accepts, and its product API answers as the checks expect.
func TestMintedFITsVerifyAndProductAnswers(t *testing.T) {
	s, err := platform.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.KID(), "forge/invocation-token/wf-") {
		t.Errorf("kid %q", s.KID())
	}
	jwks := httptest.NewServer(s)
	defer jwks.Close()
	api := platform.NewProductAPI()
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	api.SetUser(platform.ProductUser{AccountID: "557058:a", Admin: true, Issues: map[string]bool{"10001": true}, Pages: map[string]bool{"7": true}})
	api.SetUser(platform.ProductUser{AccountID: "557058:b"})
	api.SetPage("7", platform.MacroADF("app-uuid", "env", "secrets-macro", "m1"))

	const app = "ari:cloud:ecosystem::app/00000000-0000-4000-8000-000000000001"
	v, err := forge.NewVerifier(forge.VerifierConfig{
		Apps: []forge.App{
			{Product: forge.ProductJira, ID: app, UIModules: []string{"panel"}, AdminModules: []string{"admin"}},
			{Product: forge.ProductConfluence, ID: app + "2", UIModules: []string{"secrets-macro"}, AdminModules: []string{"admin"}, MacroKey: "secrets-macro"},
		},
		Environments: []string{"env"}, APIBase: apiSrv.URL, Keys: forge.NewKeySet(forge.KeySetConfig{URL: jwks.URL}),
	})
	if err != nil {
		t.Fatal(err)
	}
	in := platform.Install{AppID: app, EnvironmentID: "env", InstallationID: "inst-1", CloudID: "cloud-1", APIBase: apiSrv.URL, Product: forge.ProductJira}
	tok, err := s.Mint(in, platform.Invocation{ModuleType: "jira:issuePanel", ModuleKey: "panel", Principal: "557058:a",
		Context: &forge.Context{CloudID: "cloud-1", Extension: forge.Extension{Issue: &forge.Ref{ID: "10001"}}}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if inv.TenantKey() != "forge:00000000-0000-4000-8000-000000000001:env:inst-1" || inv.CloudID != "cloud-1" {
		t.Errorf("invocation %+v", inv)
	}
	p := forge.NewProducts(forge.ProductsConfig{})
	ctx := context.Background()
	if ok, err := p.CheckContainer(ctx, inv, api.IssueUserToken("557058:a"), forge.Container{IssueID: "10001"}); !ok || err != nil {
		t.Errorf("a may browse: %v %v", ok, err)
	}
	if ok, err := p.IsAdmin(ctx, inv, api.IssueUserToken("557058:a")); !ok || err != nil {
		t.Errorf("a is admin: %v %v", ok, err)
	}
	invB := *inv
	invB.Principal = "557058:b"
	if ok, err := p.CheckContainer(ctx, &invB, api.IssueUserToken("557058:b"), forge.Container{IssueID: "10001"}); ok || err != nil {
		t.Errorf("b may not browse: %v %v", ok, err)
	}
	api.Fail(http.StatusBadGateway)
	invB.Principal = "557058:c"
	if _, err := p.IsAdmin(ctx, &invB, api.IssueUserToken("557058:a")); err == nil {
		t.Error("a failing product answered")
	}
	if api.TotalCalls() != 3 {
		t.Errorf("calls %v", api.Calls())
	}
}
