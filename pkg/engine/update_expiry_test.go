package engine

import (
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// TestUpdateExpiry: an edit that moves a secret's expiry moves it for the
// janitor too (the old time no longer deletes it, the new one does); one
// that removes it keeps the secret for good; a refused expiry changes
// nothing.
func TestUpdateExpiry(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		who := alice("jira:issue:1")
		start := time.Now()
		s, err := e.CreateSecret(ctx, who, secrets.NewSecret{Title: "t", Content: "c", Password: "password-1", ExpiresAt: start.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		keepNever := create(t, e, who, "never", "password-1")
		u, err := e.UnlockSecret(ctx, who, s.ID, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		past := start.Add(-time.Minute)
		_, err = e.UpdateSecret(ctx, who, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "changed", Content: "changed", Version: 1, ExpiresAt: &past})
		wantCode(t, err, secrets.CodeInvalid)
		later := start.Add(7 * 24 * time.Hour)
		u2, err := e.UpdateSecret(ctx, who, s.ID, u.UnlockToken, secrets.SecretUpdate{Title: "t", Content: "c", Version: 1, ExpiresAt: &later})
		if err != nil {
			t.Fatal(err)
		}
		if !u2.Secret.ExpiresAt.Equal(later) || u2.Secret.Version != 2 {
			t.Fatalf("after the edit: %+v", u2.Secret)
		}

		// Remove the other secret's (absent) expiry explicitly: it stays none.
		u3, err := e.UnlockSecret(ctx, who, keepNever, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		never := time.Time{}
		if _, err := e.UpdateSecret(ctx, who, keepNever, u3.UnlockToken, secrets.SecretUpdate{Title: "db", Content: "never", Version: 1, ExpiresAt: &never}); err != nil {
			t.Fatal(err)
		}

		// Two hours on, the old expiry has passed: nothing is swept.
		e.Now = func() time.Time { return start.Add(2 * time.Hour) }
		if r, err := e.RunJanitor(ctx, "a", time.Minute, 0); err != nil || r.Expired != 0 {
			t.Fatalf("janitor past the old expiry: %+v %v", r, err)
		}
		// Past the new one, it goes; the secret without an expiry stays.
		e.Now = func() time.Time { return start.Add(8 * 24 * time.Hour) }
		if r, err := e.RunJanitor(ctx, "a", time.Minute, 0); err != nil || r.Expired != 1 {
			t.Fatalf("janitor past the new expiry: %+v %v", r, err)
		}
		list, _ := e.ListSecrets(ctx, who, secrets.ListQuery{})
		if len(list.Secrets) != 1 || list.Secrets[0].ID != keepNever || !list.Secrets[0].ExpiresAt.IsZero() {
			t.Fatalf("after the sweep: %+v", list.Secrets)
		}
	})
}
