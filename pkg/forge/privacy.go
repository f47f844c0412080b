package forge

// Personal-data reporting for Forge installations (issue 13): the same
// report as Connect's (engine/privacy.go), sent with the app system token
// a Forge invocation left behind (engine/systemtoken.go) instead of a
// Connect JWT.
//
// The endpoint: Atlassian's Forge Privacy API docs say reportPersonalData
// "calls the 3LO /report-accounts endpoint"; that it is reached as
// POST {apiBaseUrl}/app/report-accounts/ with the system token as a bearer
// token is UNVERIFIED (from the brief). Body, answer, 429 and Cycle-Period
// are as for Connect, with the same unverified points.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// PersonalDataPath is the report endpoint, relative to an apiBaseUrl.
const PersonalDataPath = "/app/report-accounts/"

// ErrReportFailed: the report endpoint did not give a usable answer.
var ErrReportFailed = errors.New("forge: personal data report failed")

// PersonalDataReporter reports a Forge tenant's accounts with its kept
// app system token. It implements engine.PersonalDataReporter.
type PersonalDataReporter struct {
	// Token returns the tenant's kept, unexpired system token; a
	// CodeNotFound error means none (engine.Engine.KeptSystemToken).
	Token func(ctx context.Context, tenant string) (engine.SystemToken, error)
	// Drop, if set, forgets a kept token the endpoint refused, so the next
	// invocation's replaces it (engine.Engine.DropSystemToken).
	Drop func(ctx context.Context, tenant, token string) error
	// Client makes the calls; nil means one that does not follow redirects
	// (a redirect would carry the token elsewhere) with a 30 s timeout.
	Client *http.Client
}

var defaultReportClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// ReportAccounts sends one batch. No kept token (none seen yet, or
// expired) is engine.ErrNotReportable: the tenant is tried again next
// pass, after its users' next visit has left a fresh token. A 429 is
// *engine.RetryAfterError.
func (p *PersonalDataReporter) ReportAccounts(ctx context.Context, tenant string, accounts []engine.ReportedAccount) (engine.ReportResult, error) {
	var r engine.ReportResult
	tok, err := p.Token(ctx, tenant)
	if secrets.ErrorCode(err) == secrets.CodeNotFound {
		return r, engine.ErrNotReportable
	} else if err != nil {
		return r, err
	}
	base, err := url.Parse(strings.TrimSuffix(tok.APIBaseURL, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return r, fmt.Errorf("%w: bad apiBaseUrl", ErrReportFailed)
	}
	body, err := engine.MarshalReport(accounts)
	if err != nil {
		return r, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+PersonalDataPath, bytes.NewReader(body))
	if err != nil {
		return r, fmt.Errorf("%w: bad apiBaseUrl", ErrReportFailed)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := p.Client
	if client == nil {
		client = defaultReportClient
	}
	res, err := client.Do(req)
	if err != nil {
		// *url.Error names the URL only, never the header with the token.
		return r, fmt.Errorf("%w: %w", ErrReportFailed, err)
	}
	if res.StatusCode == http.StatusUnauthorized {
		// The token was revoked before its expiry, or was never one of the
		// platform's: forget it and report later with the next one rather
		// than fail the pass.
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		if p.Drop != nil {
			if err := p.Drop(ctx, tenant, tok.Token); err != nil {
				return r, err
			}
		}
		return r, engine.ErrNotReportable
	}
	r, err = engine.ReadReportAnswer(res)
	if errors.Is(err, engine.ErrReportAnswer) {
		return r, fmt.Errorf("%w: %w", ErrReportFailed, err)
	}
	return r, err
}
