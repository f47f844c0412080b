package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
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

type reportBody struct {
	Accounts []reportAccount `json:"accounts"`
}

type reportAccount struct {
	AccountID string `json:"accountId"`
	UpdatedAt string `json:"updatedAt,omitempty"`
	Status    string `json:"status,omitempty"`
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
	in := reportBody{Accounts: make([]reportAccount, len(accounts))}
	for i, a := range accounts {
		in.Accounts[i] = reportAccount{AccountID: a.AccountID, UpdatedAt: a.UpdatedAt.UTC().Format(time.RFC3339Nano)}
	}
	body, err := json.Marshal(in)
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

// doReport sends req and reads the answer: 200 with statuses, 204 with
// none, 429 with Retry-After (seconds; absent: a minute).
func doReport(client *http.Client, req *http.Request) (engine.ReportResult, error) {
	var r engine.ReportResult
	res, err := client.Do(req)
	if err != nil {
		return r, fmt.Errorf("%w: personal data report: %w", ErrHostUnavailable, err)
	}
	defer res.Body.Close()
	if s, err := strconv.ParseInt(res.Header.Get("Cycle-Period"), 10, 64); err == nil && s > 0 {
		r.CyclePeriod = time.Duration(s) * time.Second
	}
	switch res.StatusCode {
	case http.StatusNoContent:
		return r, nil
	case http.StatusOK:
		var out reportBody
		if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out); err != nil {
			return r, fmt.Errorf("%w: personal data report: undecodable answer", ErrHostUnavailable)
		}
		for _, a := range out.Accounts {
			if a.Status == "closed" {
				r.Closed = append(r.Closed, a.AccountID)
			}
		}
		return r, nil
	case http.StatusTooManyRequests:
		after := time.Minute
		if s, err := strconv.ParseInt(res.Header.Get("Retry-After"), 10, 64); err == nil && s >= 0 {
			after = time.Duration(s) * time.Second
		}
		return r, &engine.RetryAfterError{After: after}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return r, fmt.Errorf("%w: personal data report answered %d", ErrHostUnavailable, res.StatusCode)
}
