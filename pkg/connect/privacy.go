package connect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/engine"
)

// PersonalDataPath is Atlassian's personal data reporting endpoint,
// relative to a site's baseUrl (see engine/privacy.go for what of its
// contract is unverified).
const PersonalDataPath = "/rest/atlassian-connect/latest/report/accounts"

// PersonalDataReporter reports accounts to Atlassian for a Connect
// installation, signed as the app for that site like every host call.
type PersonalDataReporter struct {
	// Host returns the installation to sign for.
	Host func(ctx context.Context, tenant string) (Host, error)
	// BaseURL, when set, replaces the site's baseUrl (a stand-in in dev).
	BaseURL string
	Client  *http.Client     // nil: hostClient's default
	Now     func() time.Time // nil: time.Now
}

// ReportAccounts sends one batch; a 429 becomes *engine.RetryAfterError.
func (p *PersonalDataReporter) ReportAccounts(ctx context.Context, tenant string, accounts []engine.ReportedAccount) (engine.ReportResult, error) {
	h, err := p.Host(ctx, tenant)
	if err != nil {
		return engine.ReportResult{}, err
	}
	if p.BaseURL != "" {
		h.BaseURL = p.BaseURL
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	body, err := engine.MarshalReport(accounts)
	if err != nil {
		return engine.ReportResult{}, err
	}
	return sendReport(ctx, hostClient(p.Client), h, body, now())
}

func sendReport(ctx context.Context, client *http.Client, h Host, body []byte, now time.Time) (engine.ReportResult, error) {
	var r engine.ReportResult
	base, err := url.Parse(strings.TrimSuffix(h.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return r, fmt.Errorf("%w: bad base URL", ErrHostUnavailable)
	}
	u := *base
	u.Path = base.Path + PersonalDataPath
	u.RawPath = ""
	auth, err := SignHostRequest(h.AppKey, h.SharedSecret, http.MethodPost, &u, base.EscapedPath(), now)
	if err != nil {
		return r, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return r, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return doReport(client, req)
}

// doReport sends req and reads the answer (engine.ReadReportAnswer).
func doReport(client *http.Client, req *http.Request) (engine.ReportResult, error) {
	res, err := client.Do(req)
	if err != nil {
		return engine.ReportResult{}, fmt.Errorf("%w: personal data report: %w", ErrHostUnavailable, err)
	}
	r, err := engine.ReadReportAnswer(res)
	if errors.Is(err, engine.ErrReportAnswer) {
		return r, fmt.Errorf("%w: %w", ErrHostUnavailable, err)
	}
	return r, err
}
