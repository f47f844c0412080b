package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The personal data report's wire format, the same whichever way the call
// is authenticated: pkg/connect (signed for the site) and pkg/forge (the
// app system token) build the request and read the answer with these two.

// ErrReportAnswer: the report endpoint's answer was not one we can use;
// reporters wrap it with their own transport's error.
var ErrReportAnswer = errors.New("personal data report: unusable answer")

type reportBody struct {
	Accounts []reportAccount `json:"accounts"`
}

type reportAccount struct {
	AccountID string `json:"accountId"`
	UpdatedAt string `json:"updatedAt,omitempty"`
	Status    string `json:"status,omitempty"`
}

// MarshalReport is the request body for one batch.
func MarshalReport(accounts []ReportedAccount) ([]byte, error) {
	in := reportBody{Accounts: make([]reportAccount, len(accounts))}
	for i, a := range accounts {
		in.Accounts[i] = reportAccount{AccountID: a.AccountID, UpdatedAt: a.UpdatedAt.UTC().Format(time.RFC3339Nano)}
	}
	return json.Marshal(in)
}

// ReadReportAnswer reads the endpoint's answer and closes its body: 200
// with statuses, 204 with none, 429 as *RetryAfterError (Retry-After in
// seconds; absent, a minute), and the Cycle-Period header (seconds) on any
// of them. Anything else is ErrReportAnswer, naming only the status.
func ReadReportAnswer(res *http.Response) (ReportResult, error) {
	defer res.Body.Close()
	var r ReportResult
	if s, err := strconv.ParseInt(res.Header.Get("Cycle-Period"), 10, 64); err == nil && s > 0 {
		r.CyclePeriod = time.Duration(s) * time.Second
	}
	switch res.StatusCode {
	case http.StatusNoContent:
		return r, nil
	case http.StatusOK:
		var out reportBody
		if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out); err != nil {
			return r, fmt.Errorf("%w: undecodable", ErrReportAnswer)
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
		return r, &RetryAfterError{After: after}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return r, fmt.Errorf("%w: answered %d", ErrReportAnswer, res.StatusCode)
}
