package sandbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// reportingApp is the app's engine on a bbolt file with the dev Jira site
// installed, reporting through the Connect reporter to the sandbox's
// stand-in, on a clock the test moves.
type reportingApp struct {
	en   *env
	path string
	db   *bolt.DB
	eng  *engine.Engine
	now  time.Time
}

func newReportingApp(t *testing.T) *reportingApp {
	t.Helper()
	a := &reportingApp{en: newEnv(t), path: filepath.Join(t.TempDir(), "secrets.db"), now: time.Now()}
	a.open(t)
	inst := &secrets.Installation{ClientKey: "dev-jira", Product: secrets.ProductJira, BaseURL: a.en.baseURL + jiraBase,
		SharedSecret: a.en.sb.SharedSecret("jira"), State: secrets.StateInstalled, InstalledAt: a.now, UpdatedAt: a.now}
	if err := a.eng.SaveInstallation(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	return a
}

// open starts the engine on the file: a restart when it ran before.
func (a *reportingApp) open(t *testing.T) {
	t.Helper()
	db, err := bolt.Open(a.path)
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
	a.db, a.eng = db, engine.New(db, kr, kdf, secrets.DefaultPolicy())
	a.eng.Now = func() time.Time { return a.now }
}

func (a *reportingApp) restart(t *testing.T) {
	t.Helper()
	if err := a.db.Close(); err != nil {
		t.Fatal(err)
	}
	a.open(t)
}

func (a *reportingApp) pass(t *testing.T) engine.PrivacyReport {
	t.Helper()
	rep := &connect.PersonalDataReporter{Client: a.en.client, Host: func(ctx context.Context, tenant string) (connect.Host, error) {
		inst, err := a.eng.FindInstallation(ctx, tenant)
		if err != nil {
			return connect.Host{}, err
		}
		return connect.Host{ClientKey: inst.ClientKey, Product: "jira", BaseURL: inst.BaseURL, AppKey: jiraKey, SharedSecret: []byte(inst.SharedSecret)}, nil
	}}
	r, err := a.eng.RunPrivacyReport(context.Background(), "replica-1", time.Minute, rep)
	if err != nil || !r.Held {
		t.Fatalf("report pass: %+v %v", r, err)
	}
	return r
}

func actorN(i int) secrets.Actor {
	return secrets.Actor{ClientKey: "dev-jira", AccountID: fmt.Sprintf("acct-%03d", i), Container: secrets.Container(fmt.Sprintf("jira:issue:%d", 10000+i))}
}

// TestPersonalDataReportThroughStandIn runs the whole report against the
// sandbox's stand-in, signed for the site as in production: a 429 defers
// the site until its Retry-After, then 200 accounts go out in 3 batches of
// at most 90; the closed account's secret is kept, names nobody and still
// unlocks; after a restart nobody is reported again within the stand-in's
// Cycle-Period, and everyone left is once it has passed.
func TestPersonalDataReportThroughStandIn(t *testing.T) {
	a := newReportingApp(t)
	ctx := context.Background()
	ids := make([]string, 200)
	for i := range ids {
		s, err := a.eng.CreateSecret(ctx, actorN(i), secrets.NewSecret{Title: "db", Content: "c", Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID
	}
	const closed = 7
	a.en.sb.CloseAccount(actorN(closed).AccountID)
	a.en.sb.SetCyclePeriod(48 * time.Hour)

	a.en.sb.ThrottleNextReport(30 * time.Second)
	if r := a.pass(t); r.Deferred != 1 || r.Reported != 0 {
		t.Fatalf("throttled pass: %+v", r)
	}
	a.now = a.now.Add(10 * time.Second)
	if r := a.pass(t); r.Batches != 0 || len(a.en.sb.ReportedBatches()) != 0 {
		t.Fatalf("a pass before Retry-After called the endpoint: %+v", r)
	}
	a.now = a.now.Add(21 * time.Second)
	if r := a.pass(t); r.Reported != 200 || r.Closed != 1 {
		t.Fatalf("pass after Retry-After: %+v", r)
	}
	batches := a.en.sb.ReportedBatches()
	seen := map[string]int{}
	for _, b := range batches {
		if len(b) > 90 {
			t.Fatalf("a batch of %d accounts", len(b))
		}
		for _, id := range b {
			seen[id]++
		}
	}
	if len(batches) != 3 || len(seen) != 200 {
		t.Fatalf("%d batches, %d distinct accounts; want 3 and 200", len(batches), len(seen))
	}

	// The closed account's secret stays with the site and names nobody.
	owner := actorN(closed)
	reader := secrets.Actor{ClientKey: "dev-jira", AccountID: actorN(1).AccountID, Container: owner.Container}
	list, err := a.eng.ListSecrets(ctx, reader, secrets.ListQuery{})
	if err != nil || len(list.Secrets) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if got := list.Secrets[0]; got.CreatedBy != engine.ClosedAccount || got.UpdatedBy != engine.ClosedAccount {
		t.Fatalf("closed account still named: created by %q, updated by %q", got.CreatedBy, got.UpdatedBy)
	}
	if u, err := a.eng.UnlockSecret(ctx, reader, ids[closed], "password-1"); err != nil || u.Content != "c" {
		t.Fatalf("the closed account's secret no longer unlocks: %v", err)
	}

	// A restart within the cycle period reports nobody again.
	a.restart(t)
	a.now = a.now.Add(47 * time.Hour)
	if r := a.pass(t); r.Batches != 0 {
		t.Fatalf("reported again within Cycle-Period after a restart: %+v", r)
	}
	a.now = a.now.Add(2 * time.Hour)
	r := a.pass(t)
	if r.Reported != 199 || r.Batches != 3 { // everyone but the closed account
		t.Fatalf("after the cycle period: %+v", r)
	}
	for _, b := range a.en.sb.ReportedBatches()[3:] {
		for _, id := range b {
			if id == owner.AccountID {
				t.Fatal("the closed account was reported again")
			}
		}
	}
}
