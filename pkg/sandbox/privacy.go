package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// personalData is the dev sites' stand-in for Atlassian's personal data
// reporting API (POST /rest/atlassian-connect/latest/report/accounts):
// it checks the app signed the call for the site, records each batch,
// answers accounts marked closed as "closed" and the rest "updated", sends
// a Cycle-Period header, and can answer the next call 429 with a
// Retry-After. Tests and the dev page drive it through the exported hooks.
type personalData struct {
	mu       sync.Mutex
	closed   map[string]bool
	throttle time.Duration // >0: the next report gets a 429 with it
	cycle    time.Duration // 0: no Cycle-Period header
	batches  [][]string
}

// CloseAccount makes the stand-in answer accountID as closed from now on.
func (s *Sandbox) CloseAccount(accountID string) {
	s.pdr.mu.Lock()
	defer s.pdr.mu.Unlock()
	if s.pdr.closed == nil {
		s.pdr.closed = map[string]bool{}
	}
	s.pdr.closed[accountID] = true
}

// ThrottleNextReport makes the next report answer 429 with Retry-After.
func (s *Sandbox) ThrottleNextReport(after time.Duration) {
	s.pdr.mu.Lock()
	defer s.pdr.mu.Unlock()
	s.pdr.throttle = after
}

// SetCyclePeriod sets the Cycle-Period header the stand-in sends.
func (s *Sandbox) SetCyclePeriod(d time.Duration) {
	s.pdr.mu.Lock()
	defer s.pdr.mu.Unlock()
	s.pdr.cycle = d
}

// ReportedBatches returns the account ids of every batch received so far.
func (s *Sandbox) ReportedBatches() [][]string {
	s.pdr.mu.Lock()
	defer s.pdr.mu.Unlock()
	return append([][]string(nil), s.pdr.batches...)
}

// maxReportBatch is the most accounts the stand-in accepts in one call.
const maxReportBatch = 90

// reportAccounts serves the report endpoint of site t.
func (s *Sandbox) reportAccounts(t *tenant) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.verifyApp(c, t); err != nil {
			return err
		}
		var in struct {
			Accounts []struct {
				AccountID string `json:"accountId"`
				UpdatedAt string `json:"updatedAt"`
			} `json:"accounts"`
		}
		if err := json.NewDecoder(io.LimitReader(c.Request().Body, 1<<20)).Decode(&in); err != nil {
			return refuse(http.StatusBadRequest, "The body is not a report of accounts.")
		}
		if len(in.Accounts) == 0 || len(in.Accounts) > maxReportBatch {
			return refuse(http.StatusBadRequest, "A report carries 1 to 90 accounts.")
		}
		p := &s.pdr
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.throttle > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(p.throttle/time.Second)))
			p.throttle = 0
			return c.JSON(http.StatusTooManyRequests, map[string]string{"message": "Rate limited."})
		}
		if p.cycle > 0 {
			c.Response().Header().Set("Cycle-Period", strconv.Itoa(int(p.cycle/time.Second)))
		}
		type status struct {
			AccountID string `json:"accountId"`
			Status    string `json:"status"`
		}
		var ids []string
		var out []status
		for _, a := range in.Accounts {
			ids = append(ids, a.AccountID)
			if p.closed[a.AccountID] {
				out = append(out, status{a.AccountID, "closed"})
			}
		}
		p.batches = append(p.batches, ids)
		if len(out) == 0 {
			return c.NoContent(http.StatusNoContent)
		}
		return c.JSON(http.StatusOK, map[string]any{"accounts": out})
	}
}
