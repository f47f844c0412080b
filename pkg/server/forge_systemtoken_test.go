package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

// TestForgeKeepsSystemToken: a verified invocation carrying
// x-forge-oauth-system leaves its token, with its expiry and the FIT's
// apiBaseUrl, for background work; a second one while the kept token is
// good writes nothing; one when it is about to expire replaces it; the
// token is never logged.
func TestForgeKeepsSystemToken(t *testing.T) {
	var logs bytes.Buffer
	f := newForgeHarnessLogging(t, &logs)
	in := f.jiraInstall()
	tenant := tenantKeyOf(in)
	ctx := context.Background()

	// Expiring within the renew window, so the next call replaces it.
	soon := time.Now().Add(5 * time.Minute).Truncate(time.Second)
	r := f.call("GET", "/forge/api/secrets", f.mint(in, panel(alice, "10001")), alice, nil,
		"X-Forge-Oauth-System", "sys-token-one", "X-Forge-Oauth-System-Expiry", strconv.FormatInt(soon.Unix(), 10))
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	got, err := f.installs.KeptSystemToken(ctx, tenant)
	if err != nil || got.Token != "sys-token-one" || !got.Expires.Equal(soon) || got.APIBaseURL != in.APIBase+"/ex/jira/"+forgeCloud {
		t.Fatalf("kept: %+v %v", got, err)
	}

	// No expiry header: 55 minutes assumed.
	r = f.call("GET", "/forge/api/secrets", f.mint(in, panel(bob, "10001")), bob, nil, "X-Forge-Oauth-System", "sys-token-two")
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	got, err = f.installs.KeptSystemToken(ctx, tenant)
	if err != nil || got.Token != "sys-token-two" || got.Expires.Before(time.Now().Add(50*time.Minute)) || got.Expires.After(time.Now().Add(55*time.Minute)) {
		t.Fatalf("renewed: %+v %v", got, err)
	}

	// Good for long: the next call writes nothing.
	r = f.call("GET", "/forge/api/secrets", f.mint(in, panel(alice, "10001")), alice, nil, "X-Forge-Oauth-System", "sys-token-three")
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	if got, err := f.installs.KeptSystemToken(ctx, tenant); err != nil || got.Token != "sys-token-two" {
		t.Fatalf("a fresh token was rewritten: %+v %v", got, err)
	}
	for _, s := range []string{"sys-token-one", "sys-token-two", "sys-token-three"} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("the logs hold %s", s)
		}
	}
}

// TestForgeSystemTokenNeedsVerifiedFIT: a request with a bad FIT keeps no
// token, nor does a good FIT from a module the route refuses.
func TestForgeSystemTokenNeedsVerifiedFIT(t *testing.T) {
	f := newForgeHarness(t)
	in := f.jiraInstall()
	tenant := tenantKeyOf(in)
	if r := f.ui("GET", "/forge/api/secrets", panel(alice, "10001"), nil); r.status != http.StatusOK {
		t.Fatalf("install: %d %s", r.status, r.raw)
	}
	good := f.mint(in, panel(alice, "10001"))
	unsigned := good[:strings.LastIndex(good, ".")+1]
	r := f.call("GET", "/forge/api/secrets", unsigned, alice, nil, "X-Forge-Oauth-System", "sys-token-forged")
	if r.status != http.StatusUnauthorized {
		t.Fatalf("bad FIT: %d %s", r.status, r.raw)
	}
	r = f.call("GET", "/forge/api/secrets", f.mint(in, adminPage(alice)), alice, nil, "X-Forge-Oauth-System", "sys-token-wrong-module")
	if r.status != http.StatusForbidden {
		t.Fatalf("admin module on a UI route: %d %s", r.status, r.raw)
	}
	if got, err := f.installs.KeptSystemToken(context.Background(), tenant); secrets.ErrorCode(err) != secrets.CodeNotFound {
		t.Fatalf("a token was kept: %+v %v", got, err)
	}
}
