package connect_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/engine"
)

// TestPersonalDataReporter: the report goes to the site's endpoint signed
// for that site (a host verifier with the site's secret accepts it, one
// with another secret does not); closed statuses, Cycle-Period and a 429's
// Retry-After come back to the engine.
func TestPersonalDataReporter(t *testing.T) {
	const appKey = "com.example.secrets"
	var answer func(w http.ResponseWriter)
	var got struct {
		Accounts []struct{ AccountID, UpdatedAt string } `json:"accounts"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &connect.HostVerifier{Secret: tenants{appKey: secretA}.secret, BasePath: "/wiki", Now: fixedNow}
		if r.URL.Path != "/wiki"+connect.PersonalDataPath || r.Method != http.MethodPost {
			http.Error(w, "wrong endpoint", http.StatusNotFound)
			return
		}
		if _, err := v.VerifyRequest(r.Context(), r); err != nil {
			http.Error(w, "unsigned", http.StatusUnauthorized)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		answer(w)
	}))
	defer srv.Close()
	secret := secretA
	rep := &connect.PersonalDataReporter{
		Host: func(_ context.Context, tenant string) (connect.Host, error) {
			return connect.Host{ClientKey: tenant, BaseURL: srv.URL + "/wiki", AppKey: appKey, SharedSecret: secret}, nil
		},
		Now: fixedNow,
	}
	batch := []engine.ReportedAccount{{AccountID: "a1", UpdatedAt: testNow}, {AccountID: "a2", UpdatedAt: testNow}}

	answer = func(w http.ResponseWriter) {
		w.Header().Set("Cycle-Period", "86400")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"accounts":[{"accountId":"a2","status":"closed"},{"accountId":"a1","status":"updated"}]}`))
	}
	r, err := rep.ReportAccounts(context.Background(), "site-a", batch)
	if err != nil || len(r.Closed) != 1 || r.Closed[0] != "a2" || r.CyclePeriod != 24*time.Hour {
		t.Fatalf("200: %+v %v", r, err)
	}
	if len(got.Accounts) != 2 || got.Accounts[0].AccountID != "a1" || got.Accounts[0].UpdatedAt == "" {
		t.Fatalf("body sent: %+v", got)
	}

	answer = func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }
	if r, err := rep.ReportAccounts(context.Background(), "site-a", batch); err != nil || len(r.Closed) != 0 {
		t.Fatalf("204: %+v %v", r, err)
	}

	answer = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	_, err = rep.ReportAccounts(context.Background(), "site-a", batch)
	var ra *engine.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 2*time.Minute {
		t.Fatalf("429: %v", err)
	}

	secret = []byte("another site's shared secret, 32+ bytes long")
	if _, err := rep.ReportAccounts(context.Background(), "site-a", batch); !errors.Is(err, connect.ErrHostUnavailable) {
		t.Fatalf("signed with the wrong secret: %v", err)
	}
}
