package bolt_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

func TestInstallationRoundTrip(t *testing.T) {
	e := MustOpen(t)
	ctx := context.Background()
	want := e.install(t, "tenant-a", secrets.ProductJira)

	got, err := e.installs.FindInstallation(ctx, "tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.SharedSecret != want.SharedSecret || got.BaseURL != want.BaseURL || got.DisplayURL != want.DisplayURL || got.State != secrets.StateInstalled {
		t.Errorf("got %+v, want %+v", got, want)
	}
	_, err = e.installs.FindInstallation(ctx, "nobody")
	wantCode(t, err, secrets.CodeNotFound)
}

func TestReinstallKeepsData(t *testing.T) {
	e := MustOpen(t)
	ctx := context.Background()
	e.install(t, "tenant-a", secrets.ProductJira)
	a := secrets.Actor{ClientKey: "tenant-a", AccountID: "user-1", Container: "jira:issue:1"}
	s, err := e.secrets.CreateSecret(ctx, a, secrets.NewSecret{Title: "db", Content: "body", Password: "password-1"})
	if err != nil {
		t.Fatal(err)
	}

	// A newer install (a rotated shared secret) replaces the record but keeps
	// the tenant key, so existing secrets still open.
	inst := e.install(t, "tenant-a", secrets.ProductJira)
	inst.SharedSecret = "rotated-secret-0123456789abcdef0123"
	if err := e.installs.SaveInstallation(ctx, inst); err != nil {
		t.Fatal(err)
	}
	e.reopen(t)
	got, err := e.installs.FindInstallation(ctx, "tenant-a")
	if err != nil || got.SharedSecret != inst.SharedSecret {
		t.Fatalf("shared secret not replaced: %v", err)
	}
	u, err := e.secrets.UnlockSecret(ctx, a, s.ID, "password-1")
	if err != nil || u.Content != "body" {
		t.Fatalf("secret lost across re-install: %v", err)
	}
}

func TestInstallationState(t *testing.T) {
	e := MustOpen(t)
	ctx := context.Background()
	e.install(t, "tenant-a", secrets.ProductConfluence)
	a := secrets.Actor{ClientKey: "tenant-a", AccountID: "u", Container: "confluence:page:1:m"}
	for _, tc := range []struct {
		state    secrets.State
		wantCode secrets.Code
	}{
		{secrets.StateDisabled, secrets.CodeUnauthorized},
		{secrets.StateEnabled, ""},
		{secrets.StateUninstalled, secrets.CodeUnauthorized},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			at := e.clock.Now().Add(time.Minute)
			if err := e.installs.SetInstallationState(ctx, "tenant-a", tc.state, at); err != nil {
				t.Fatal(err)
			}
			got, _ := e.installs.FindInstallation(ctx, "tenant-a")
			if got.State != tc.state || !got.UpdatedAt.Equal(at) {
				t.Errorf("state %q at %v", got.State, got.UpdatedAt)
			}
			_, err := e.secrets.ListSecrets(ctx, a)
			wantCode(t, err, tc.wantCode)
		})
	}
	wantCode(t, e.installs.SetInstallationState(ctx, "nobody", secrets.StateEnabled, time.Now()), secrets.CodeNotFound)
}

func TestListAndDeleteInstallations(t *testing.T) {
	e := MustOpen(t)
	ctx := context.Background()
	e.install(t, "b", secrets.ProductJira)
	e.install(t, "a", secrets.ProductConfluence)
	list, err := e.installs.ListInstallations(ctx)
	if err != nil || len(list) != 2 || list[0].ClientKey != "a" || list[1].ClientKey != "b" {
		t.Fatalf("list = %v, %v", list, err)
	}
	if err := e.installs.DeleteInstallation(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	_, err = e.installs.FindInstallation(ctx, "a")
	wantCode(t, err, secrets.CodeNotFound)
	wantCode(t, e.installs.DeleteInstallation(ctx, "a"), secrets.CodeNotFound)
}

// TestFileRevealsNothing is the at-rest promise: after installs and secrets
// with known markers, the raw file holds none of them.
func TestFileRevealsNothing(t *testing.T) {
	e := MustOpen(t)
	ctx := context.Background()
	inst := e.install(t, "tenant-a", secrets.ProductJira)
	a := secrets.Actor{ClientKey: "tenant-a", AccountID: "account-MARKER-557", Container: "jira:issue:ISSUE-MARKER-991"}
	s, err := e.secrets.CreateSecret(ctx, a, secrets.NewSecret{
		Title: "TITLE-MARKER-123", Content: "BODY-MARKER-456", Password: "PASSWORD-MARKER-789",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.secrets.UnlockSecret(ctx, a, s.ID, "wrong-password"); secrets.ErrorCode(err) != secrets.CodeWrongPassword {
		t.Fatal(err)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{
		inst.SharedSecret, inst.BaseURL, inst.DisplayURL, "atlassian.net",
		"TITLE-MARKER-123", "BODY-MARKER-456", "PASSWORD-MARKER-789",
		"account-MARKER-557", "ISSUE-MARKER-991",
	} {
		if bytes.Contains(raw, []byte(marker)) {
			t.Errorf("database file contains %q in clear", marker)
		}
	}
}
