package forge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

const forgeTenant = "forge:app:env:inst"

// reportAPI stands in for Atlassian's report endpoint on loopback: it
// accepts only the bearer token it is given, records each batch, answers
// closed accounts, and can rate-limit the next call.
type reportAPI struct {
	mu      sync.Mutex
	token   string
	batches [][]string
	auths   []string
	closed  map[string]bool
	limit   string // non-empty: the next call is a 429 with this Retry-After
}

func (a *reportAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/ex/jira/cloud-1"+forge.PersonalDataPath {
		http.NotFound(w, r)
		return
	}
	a.auths = append(a.auths, r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if a.limit != "" {
		w.Header().Set("Retry-After", a.limit)
		a.limit = ""
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	var in struct {
		Accounts []struct {
			AccountID string `json:"accountId"`
			UpdatedAt string `json:"updatedAt"`
		} `json:"accounts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ids []string
	type status struct {
		AccountID string `json:"accountId"`
		Status    string `json:"status"`
	}
	var out struct {
		Accounts []status `json:"accounts"`
	}
	for _, acc := range in.Accounts {
		if _, err := time.Parse(time.RFC3339Nano, acc.UpdatedAt); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ids = append(ids, acc.AccountID)
		if a.closed[acc.AccountID] {
			out.Accounts = append(out.Accounts, status{acc.AccountID, "closed"})
		}
	}
	a.batches = append(a.batches, ids)
	if len(out.Accounts) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	json.NewEncoder(w).Encode(out)
}

type privacyFixture struct {
	eng *engine.Engine
	api *reportAPI
	url string
	now time.Time
}

// newPrivacyFixture is an engine with one Forge tenant holding secrets
// created by n accounts, and the report stand-in.
func newPrivacyFixture(t *testing.T, n int) *privacyFixture {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "secrets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := seal.ParseKeyring([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"))
	if err != nil {
		t.Fatal(err)
	}
	kdf, err := seal.NewKDF(8*int64(seal.MinKDFParams.Memory)*1024, seal.MinKDFParams)
	if err != nil {
		t.Fatal(err)
	}
	f := &privacyFixture{eng: engine.New(db, kr, kdf, secrets.DefaultPolicy()), api: &reportAPI{token: "sys-token-good", closed: map[string]bool{}}, now: time.Now()}
	f.eng.Now = func() time.Time { return f.now }
	srv := httptest.NewServer(f.api)
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/ex/jira/cloud-1"
	ctx := context.Background()
	if err := f.eng.SaveInstallation(ctx, &secrets.Installation{ClientKey: forgeTenant, Product: secrets.ProductJira, BaseURL: f.url,
		CloudID: "cloud-1", State: secrets.StateInstalled, InstalledAt: f.now, UpdatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		a := secrets.Actor{ClientKey: forgeTenant, AccountID: fmt.Sprintf("acct-%03d", i), Container: secrets.Container(fmt.Sprintf("jira:issue:%d", 10000+i))}
		if _, err := f.eng.CreateSecret(ctx, a, secrets.NewSecret{Title: "db", Content: "c", Password: "password-1"}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *privacyFixture) keep(t *testing.T, token string, exp time.Time) {
	t.Helper()
	if _, err := f.eng.KeepSystemToken(context.Background(), forgeTenant, token, exp, f.url); err != nil {
		t.Fatal(err)
	}
}

func (f *privacyFixture) run(t *testing.T) engine.PrivacyReport {
	t.Helper()
	rep := &forge.PersonalDataReporter{Token: f.eng.KeptSystemToken, Drop: f.eng.DropSystemToken}
	r, err := f.eng.RunPrivacyReport(context.Background(), "a", time.Minute, rep)
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	return r
}

// TestForgeReportBatches: 200 accounts go to {apiBaseUrl}/app/report-accounts/
// in 3 batches of at most 90, each with the kept system token as bearer.
func TestForgeReportBatches(t *testing.T) {
	f := newPrivacyFixture(t, 200)
	f.keep(t, "sys-token-good", f.now.Add(55*time.Minute))
	f.api.closed["acct-007"] = true
	r := f.run(t)
	if r.Reported != 200 || r.Batches != 3 || r.Closed != 1 {
		t.Fatalf("pass: %+v", r)
	}
	seen := map[string]bool{}
	for _, b := range f.api.batches {
		if len(b) > engine.MaxReportBatch {
			t.Fatalf("batch of %d", len(b))
		}
		for _, id := range b {
			seen[id] = true
		}
	}
	if len(seen) != 200 {
		t.Fatalf("%d distinct accounts", len(seen))
	}
	for _, a := range f.api.auths {
		if a != "Bearer sys-token-good" {
			t.Fatalf("authorization %q", a)
		}
	}
	// The closed account's secret no longer names it: the next report,
	// after the cycle, leaves it out.
	f.now = f.now.Add(engine.DefaultCyclePeriod + time.Minute)
	f.keep(t, "sys-token-good", f.now.Add(55*time.Minute))
	f.api.batches = nil
	if r := f.run(t); r.Reported != 199 {
		t.Fatalf("after the cycle: %+v", r)
	}
}

// TestForgeReportRetryAfter: a 429 defers the tenant for its Retry-After,
// then the report goes out.
func TestForgeReportRetryAfter(t *testing.T) {
	f := newPrivacyFixture(t, 3)
	f.keep(t, "sys-token-good", f.now.Add(55*time.Minute))
	f.api.limit = "120"
	if r := f.run(t); r.Deferred != 1 || r.Reported != 0 {
		t.Fatalf("rate limited: %+v", r)
	}
	f.now = f.now.Add(119 * time.Second)
	if r := f.run(t); r.Deferred != 1 || r.Batches != 0 {
		t.Fatalf("before Retry-After: %+v", r)
	}
	f.now = f.now.Add(2 * time.Second)
	if r := f.run(t); r.Reported != 3 || len(f.api.batches) != 1 {
		t.Fatalf("after Retry-After: %+v, %d batches", r, len(f.api.batches))
	}
}

// TestForgeReportNoToken: with no kept token, an expired one, or one the
// API refuses, nothing is reported and the pass does not fail; the tenant
// is reported once a good token is kept.
func TestForgeReportNoToken(t *testing.T) {
	f := newPrivacyFixture(t, 2)
	if r := f.run(t); r.Reported != 0 || len(f.api.auths) != 0 {
		t.Fatalf("no token: %+v, %d calls", r, len(f.api.auths))
	}
	f.keep(t, "sys-token-good", f.now.Add(55*time.Minute))
	f.now = f.now.Add(56 * time.Minute)
	if r := f.run(t); r.Reported != 0 || len(f.api.auths) != 0 {
		t.Fatalf("expired token: %+v, %d calls", r, len(f.api.auths))
	}
	f.keep(t, "sys-token-revoked", f.now.Add(55*time.Minute))
	if r := f.run(t); r.Reported != 0 || len(f.api.auths) != 1 {
		t.Fatalf("refused token: %+v, %d calls", r, len(f.api.auths))
	}
	// The refused token is forgotten: the next invocation's is kept at
	// once, not after the refused one's expiry.
	if _, err := f.eng.KeptSystemToken(context.Background(), forgeTenant); secrets.ErrorCode(err) != secrets.CodeNotFound {
		t.Fatalf("refused token still kept: %v", err)
	}
	f.keep(t, "sys-token-good", f.now.Add(55*time.Minute))
	if r := f.run(t); r.Reported != 2 {
		t.Fatalf("with a good token: %+v", r)
	}
	// A refusal of a token no longer kept leaves the kept one alone.
	if err := f.eng.DropSystemToken(context.Background(), forgeTenant, "sys-token-revoked"); err != nil {
		t.Fatal(err)
	}
	if kept, err := f.eng.KeptSystemToken(context.Background(), forgeTenant); err != nil || kept.Token != "sys-token-good" {
		t.Fatalf("kept token after dropping another: %q %v", kept.Token, err)
	}
}

// TestForgeReportErrors: a 5xx or a bad apiBaseUrl is an error that names
// neither the token nor the accounts.
func TestForgeReportErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	for _, base := range []string{srv.URL, "not a url", "file:///etc"} {
		rep := &forge.PersonalDataReporter{Token: func(context.Context, string) (engine.SystemToken, error) {
			return engine.SystemToken{Token: "sys-secret-token", Expires: time.Now().Add(time.Hour), APIBaseURL: base}, nil
		}}
		_, err := rep.ReportAccounts(context.Background(), forgeTenant, []engine.ReportedAccount{{AccountID: "acct-secret", UpdatedAt: time.Now()}})
		if !errors.Is(err, forge.ErrReportFailed) {
			t.Fatalf("%s: %v", base, err)
		}
		for _, s := range []string{"sys-secret-token", "acct-secret"} {
			if msg := err.Error(); strings.Contains(msg, s) {
				t.Fatalf("error %q names %s", msg, s)
			}
		}
	}
}
