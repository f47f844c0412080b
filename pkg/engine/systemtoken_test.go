package engine

import (
	"bytes"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// TestKeepSystemToken: the first token is kept; a newer one while the kept
// one is good for more than the renew window writes nothing; within the
// window it replaces it; an expired kept token is not handed out; the
// token is stored sealed, never in the clear.
func TestKeepSystemToken(t *testing.T) {
	each(t, func(t *testing.T, st store.Store) {
		e := replica(t, st, testKeyring(t))
		installed(t, e, "site-a", secrets.ProductJira)
		c := &clock{time.Now()}
		e.Now = c.now
		if _, err := e.KeptSystemToken(ctx, "site-a"); secrets.ErrorCode(err) != secrets.CodeNotFound {
			t.Fatalf("none kept yet: %v", err)
		}
		exp := c.t.Add(55 * time.Minute)
		if kept, err := e.KeepSystemToken(ctx, "site-a", "sys-token-1", exp, "https://api.example/ex/jira/1"); err != nil || !kept {
			t.Fatalf("first: %v %v", kept, err)
		}
		if kept, err := e.KeepSystemToken(ctx, "site-a", "sys-token-2", c.t.Add(55*time.Minute), "https://api.example/ex/jira/1"); err != nil || kept {
			t.Fatalf("second within the window wrote: %v %v", kept, err)
		}
		got, err := e.KeptSystemToken(ctx, "site-a")
		if err != nil || got.Token != "sys-token-1" || !got.Expires.Equal(exp) || got.APIBaseURL != "https://api.example/ex/jira/1" {
			t.Fatalf("kept: %+v %v", got, err)
		}
		if err := st.View(ctx, func(tx store.Tx) error {
			v, err := tx.Get("site-a", store.Tenant, keySystemToken)
			if len(v) == 0 || bytes.Contains(v, []byte("sys-token-1")) {
				t.Fatalf("stored value %q", v)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}

		c.t = exp.Add(-SystemTokenRenewWindow + time.Second)
		exp3 := c.t.Add(55 * time.Minute)
		if kept, err := e.KeepSystemToken(ctx, "site-a", "sys-token-3", exp3, "https://api.example/ex/jira/1"); err != nil || !kept {
			t.Fatalf("renewal near expiry: %v %v", kept, err)
		}
		if got, err := e.KeptSystemToken(ctx, "site-a"); err != nil || got.Token != "sys-token-3" {
			t.Fatalf("renewed: %+v %v", got, err)
		}

		c.t = exp3
		if _, err := e.KeptSystemToken(ctx, "site-a"); secrets.ErrorCode(err) != secrets.CodeNotFound {
			t.Fatalf("expired token handed out: %v", err)
		}
		if kept, err := e.KeepSystemToken(ctx, "site-a", "stale", c.t.Add(-time.Second), "https://api.example/ex/jira/1"); err != nil || kept {
			t.Fatalf("an already expired token was kept: %v %v", kept, err)
		}
		if kept, err := e.KeepSystemToken(ctx, "no-such-site", "sys", c.t.Add(time.Hour), "https://api.example"); kept || secrets.ErrorCode(err) != secrets.CodeNotFound {
			t.Fatalf("unknown tenant: %v %v", kept, err)
		}
	})
}
