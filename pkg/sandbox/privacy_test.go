package sandbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/engine"
)

// TestPersonalDataStandIn: the app's own reporter against the stand-in:
// batches are recorded, closed accounts come back closed, Cycle-Period is
// sent, a throttled call answers 429 with Retry-After, and a call signed
// with another site's secret is refused.
func TestPersonalDataStandIn(t *testing.T) {
	en := newEnv(t)
	secret := en.sb.SharedSecret("jira")
	rep := &connect.PersonalDataReporter{Client: en.client, Host: func(context.Context, string) (connect.Host, error) {
		return connect.Host{ClientKey: "dev-jira", BaseURL: en.baseURL + jiraBase, AppKey: jiraKey, SharedSecret: []byte(secret)}, nil
	}}
	batch := []engine.ReportedAccount{{AccountID: userID, UpdatedAt: time.Now()}, {AccountID: adminID, UpdatedAt: time.Now()}}
	en.sb.CloseAccount(userID)
	en.sb.SetCyclePeriod(48 * time.Hour)
	r, err := rep.ReportAccounts(context.Background(), "dev-jira", batch)
	if err != nil || len(r.Closed) != 1 || r.Closed[0] != userID || r.CyclePeriod != 48*time.Hour {
		t.Fatalf("report: %+v %v", r, err)
	}
	if b := en.sb.ReportedBatches(); len(b) != 1 || len(b[0]) != 2 {
		t.Fatalf("batches: %v", b)
	}
	en.sb.ThrottleNextReport(30 * time.Second)
	_, err = rep.ReportAccounts(context.Background(), "dev-jira", batch)
	var ra *engine.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 30*time.Second {
		t.Fatalf("throttled: %v", err)
	}
	secret = en.sb.SharedSecret("confluence")
	if _, err := rep.ReportAccounts(context.Background(), "dev-jira", batch); !errors.Is(err, connect.ErrHostUnavailable) {
		t.Fatalf("another site's secret: %v", err)
	}
	if b := en.sb.ReportedBatches(); len(b) != 1 {
		t.Fatalf("refused calls were recorded: %v", b)
	}
}
