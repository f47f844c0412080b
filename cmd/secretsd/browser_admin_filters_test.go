package main

import (
	"context"
	"encoding/csv"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserAdminAuditFilters: Ada and Reggie each add a secret; on the
// audit log, choosing one secret shows only its events, choosing one user
// (by display name) shows only theirs, and the CSV exported then holds
// exactly the rows on screen: the download asks for the same filters.
func TestBrowserAdminAuditFilters(t *testing.T) {
	s := newSuite(t)
	ss := s.begin(t)
	const (
		adas    = "Filter test: Ada's deploy key"
		reggies = "Filter test: Reggie's vault"
	)
	addSecret(ss.open("ada", ada, "/dev/jira/browse/DEV-1").frame("secrets-panel"), adas, "Walnut-harbour-31", "one")
	addSecret(ss.open("reggie", reggie, "/dev/jira/browse/DEV-1").frame("secrets-panel"), reggies, "Copper-lantern-56", "two")

	adm := ss.open("ada-admin", ada, "/dev/jira/admin")
	af := adm.frame("secrets-admin")
	af.app().click("Audit log")
	// Both secrets' events are on the page before any filter.
	all := auditRows(af, "both secrets in the log", func(rows []auditRow) bool {
		return slices.ContainsFunc(rows, func(r auditRow) bool { return r.Secret == adas }) &&
			slices.ContainsFunc(rows, func(r auditRow) bool { return r.Secret == reggies })
	})
	reggieID := ""
	for _, r := range all {
		if r.Secret == reggies && r.Type == "created" {
			reggieID = r.Account
		}
	}
	if reggieID == "" {
		t.Fatalf("no created event of %q: %v", reggies, all)
	}

	chooseOption(af, "Secret", adas)
	af.app().click("Apply")
	rows := auditRows(af, "only "+adas, func(rows []auditRow) bool {
		return len(rows) > 0 && !slices.ContainsFunc(rows, func(r auditRow) bool { return r.Secret != adas })
	})
	if !slices.ContainsFunc(rows, func(r auditRow) bool { return r.Type == "created" }) {
		t.Errorf("filtered by %q, the created event is missing: %v", adas, rows)
	}

	// The user filter names people as the host does, with the account id.
	chooseOption(af, "Secret", "All secrets")
	chooseOption(af, "User", "Reggie User ("+reggieID+")")
	af.app().click("Apply")
	rows = auditRows(af, "only Reggie's events", func(rows []auditRow) bool {
		return len(rows) > 0 && !slices.ContainsFunc(rows, func(r auditRow) bool { return r.Account != reggieID })
	})
	if !slices.ContainsFunc(rows, func(r auditRow) bool { return r.Secret == reggies }) {
		t.Errorf("Reggie's events do not include his secret: %v", rows)
	}

	// Export: the request carries the filter, and the file holds Reggie's
	// rows only.
	dir := t.TempDir()
	c := chromedp.FromContext(adm.ctx)
	if _, err := cdp.Call(adm.ctx, c.Browser, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	}); err != nil {
		t.Fatalf("allowing downloads: %v", err)
	}
	af.app().click("Export CSV")
	af.app().waitText(".admin-audit .status", "Downloaded secrets-audit.csv")
	adm.rec.mu.Lock()
	asked := slices.ContainsFunc(adm.rec.requests, func(u string) bool {
		return strings.Contains(u, "/api/admin/audit.csv?") && strings.Contains(u, "account="+url.QueryEscape(reggieID))
	})
	adm.rec.mu.Unlock()
	if !asked {
		t.Errorf("the CSV was not asked for with account=%s", reggieID)
	}
	records := waitDownload(t, adm, filepath.Join(dir, "secrets-audit.csv"))
	if len(records) < 2 {
		t.Fatalf("the CSV has no rows: %v", records)
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[name] = i
	}
	titles := []string{}
	for _, rec := range records[1:] {
		if rec[col["account_id"]] != reggieID {
			t.Errorf("a CSV row of another account: %v", rec)
		}
		titles = append(titles, rec[col["secret_title"]])
	}
	if !slices.Contains(titles, reggies) || slices.Contains(titles, adas) {
		t.Errorf("CSV secret titles %q: want %q and not %q", titles, reggies, adas)
	}
}

// auditRow is one row of the audit table as a person reads it.
type auditRow struct {
	Type    string `json:"type"`
	Secret  string `json:"secret"`
	Account string `json:"account"` // the Who cell's tooltip
}

// auditRows waits until the audit table has loaded and its rows satisfy ok,
// and returns them.
func auditRows(f *appFrame, what string, ok func([]auditRow) bool) []auditRow {
	f.t.Helper()
	var last []auditRow
	_, err := poll(f.tab.ctx, func(ctx context.Context) (probe[[]auditRow], error) {
		rows, err := frameCall[[]auditRow](ctx, f, `function() {
			const section = document.querySelector('.admin-audit');
			if (!section || section.hasAttribute('aria-busy')) return null;
			return [...section.querySelectorAll('tr.admin-event')].map((tr) => ({
				type: tr.dataset.type,
				secret: tr.querySelector('td[data-col="secret"]').textContent,
				account: (tr.querySelector('td[data-col="who"] .person') || {}).title || '',
			}));
		}`)
		if err != nil {
			return probe[[]auditRow]{}, retry(err)
		}
		last = rows
		return probe[[]auditRow]{OK: rows != nil && ok(rows), Got: rows}, nil
	})
	if err != nil {
		f.t.Fatalf("waiting for %s: %v\nrows: %v", what, err, last)
	}
	return last
}

// chooseOption picks the option showing text in the select labelled label
// from the keyboard, as a person does without a mouse: focus the select,
// Home to its first option, then the down arrow until text is chosen.
func chooseOption(f *appFrame, label, text string) {
	f.t.Helper()
	options := waitFrame[[]string](f, "the option "+text+" of "+label, scopeJS(`(label, text) => {
		const [el] = controlsIn(document, 'field', label);
		const options = el ? [...el.options].map((o) => o.text) : [];
		return {ok: options.includes(text), got: options};
	}`), label, text)
	n := f.app().control("field", label)
	if err := chromedp.Do(f.tab.ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, dom.Focus, dom.FocusParams{NodeID: n.NodeID})
			return err
		}),
		chromedp.KeyEvent(kb.Home)); err != nil {
		f.t.Fatalf("focusing %q: %v", label, err)
	}
	chosen := func() string {
		return eval[string](f, scopeJS(`(label) => {
			const [el] = controlsIn(document, 'field', label);
			return el && el.selectedOptions[0] ? el.selectedOptions[0].text : '';
		}`), label)
	}
	for range options {
		if chosen() == text {
			return
		}
		if err := chromedp.Do(f.tab.ctx, chromedp.KeyEvent(kb.ArrowDown)); err != nil {
			f.t.Fatalf("choosing %q in %q: %v", text, label, err)
		}
	}
	if got := chosen(); got != text {
		f.t.Fatalf("%q shows %q after going through its options %q, want %q", label, got, options, text)
	}
}

// waitDownload waits until the browser has saved the file at path and
// returns it read as CSV.
func waitDownload(t *testing.T, p *tab, path string) [][]string {
	t.Helper()
	records, err := poll(p.ctx, func(context.Context) (probe[[][]string], error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return probe[[][]string]{Got: nil}, nil
		}
		if err != nil {
			return probe[[][]string]{}, err
		}
		recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil {
			return probe[[][]string]{}, err
		}
		return probe[[][]string]{OK: true, Got: recs}, nil
	})
	if err != nil {
		t.Fatalf("waiting for the download %s: %v", path, err)
	}
	return records
}
