package forge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
)

// FuzzVerify feeds arbitrary tokens to the verifier: it must never panic,
// and never accept anything but a token signed by the platform key.
func FuzzVerify(f *testing.F) {
	s := signer(f)
	j := newJWKSServer(f, s)
	v := newVerifier(f, forge.NewKeySet(forge.KeySetConfig{URL: j.URL}), nil)
	good, _ := s.Mint(jiraInstall(), panelInvocation(time.Now()))
	for _, seed := range []string{
		"", good, good + "x", good[:len(good)/2],
		"eyJhbGciOiJub25lIn0.eyJpc3MiOiJmb3JnZS9pbnZvY2F0aW9uLXRva2VuIn0.",
		"a.b.c", "....", "eyJ9.eyJ9.eyJ9",
		forgedWithKid(f, "forge/invocation-token/wf-x"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		inv, err := v.Verify(context.Background(), tok)
		if err == nil {
			if tok != good {
				t.Fatalf("accepted a token that is not the signed one")
			}
			if inv.TenantKey() == "" {
				t.Fatal("empty tenant key")
			}
			return
		}
		if !errors.Is(err, forge.ErrInvalidToken) && !errors.Is(err, forge.ErrKeysUnavailable) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
