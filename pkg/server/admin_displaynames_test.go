package server_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/rs/zerolog"
)

// csvByActor reads an audit CSV and returns, per account id, the display
// name columns of its rows (actor, subject), and the header.
func csvByActor(t *testing.T, res *http.Response) (map[string][2]string, []string) {
	t.Helper()
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("audit.csv: %d %s", res.StatusCode, b)
	}
	rows, err := csv.NewReader(res.Body).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("csv: %v %v", err, rows)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	out := map[string][2]string{}
	for _, r := range rows[1:] {
		out[r[col["account_id"]]] = [2]string{r[col["account_display_name"]], r[col["subject_display_name"]]}
	}
	return out, rows[0]
}

// TestAdminAuditCSVDisplayNamesConnect: the CSV names the people of
// Connect sites as the host names them, asked signed as the app; an account
// the host cannot name keeps its row with an empty name, and a name made to
// look like a formula is defused.
func TestAdminAuditCSVDisplayNamesConnect(t *testing.T) {
	h := newHarness(t, func(h *harness, d *server.Deps) {
		d.Users = &connect.UserDirectory{Client: h.host.client()}
	})
	h.host.mu.Lock()
	h.host.names = map[string]string{"alice": "Alice Doe", "bob": `=HYPERLINK("https://evil.example","x")`}
	h.host.mu.Unlock()
	jira, conf := jiraTenant("acme"), confluenceTenant("wiki")
	h.install(jira)
	h.install(conf)
	for _, tc := range []struct {
		tn      tenant
		session func(sub string) string
	}{
		{jira, func(sub string) string { return h.issueSession(jira, "7", sub) }},
		{conf, func(sub string) string { return h.macroSession(conf, "123", "m1", sub) }},
	} {
		t.Run(string(tc.tn.product), func(t *testing.T) {
			for _, who := range []string{"alice", "bob", "carol"} {
				h.newSecret(tc.session(who), "Key of "+who, "c", "password-1")
			}
			req, _ := http.NewRequest("GET", h.baseURL+"/api/admin/audit.csv", nil)
			req.Header.Set("Authorization", "JWT "+h.adminSession(tc.tn, "admin-1"))
			got, header := csvByActor(t, h.do(req))
			if header[len(header)-2] != "account_display_name" || header[len(header)-1] != "subject_display_name" {
				t.Errorf("header %v: the name columns must come last", header)
			}
			if got["alice"][0] != "Alice Doe" {
				t.Errorf("alice's row names %q, want Alice Doe", got["alice"][0])
			}
			if want := `'=HYPERLINK("https://evil.example","x")`; got["bob"][0] != want {
				t.Errorf("bob's row names %q, want the defused %q", got["bob"][0], want)
			}
			if name, ok := got["carol"]; !ok || name[0] != "" {
				t.Errorf("carol, whom the host cannot name: row %v (present %v), want an empty name", name, ok)
			}
		})
	}
	// Every lookup was signed as the app for the very request.
	lookups := 0
	for _, c := range h.host.recorded() {
		if strings.HasSuffix(c.path, "/rest/api/3/user") || (strings.HasSuffix(c.path, "/rest/api/user") && c.method == "GET") {
			lookups++
			if !c.qshMatched || c.issuer == "" {
				t.Errorf("lookup %+v not signed for the request", c)
			}
		}
	}
	if lookups == 0 {
		t.Error("no user lookup reached the host")
	}
	// The stand-in answers nobody who does not sign: an unsigned lookup is
	// refused, so names can only come from signed calls.
	req, _ := http.NewRequest("GET", "https://acme.atlassian.net/rest/api/3/user?accountId=alice", nil)
	res, err := h.host.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned lookup: %d, want 401", res.StatusCode)
	}
}

// roundTrip is an http.RoundTripper from a function.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAdminAuditCSVDisplayNamesForge: on a Forge site the names are asked
// at the apiBaseUrl with the kept system token; an account whose lookup
// fails keeps its row, unnamed.
func TestAdminAuditCSVDisplayNamesForge(t *testing.T) {
	const sysToken = "sys-token-for-names"
	var (
		mu      sync.Mutex
		asked   []string
		badAuth int
	)
	product := roundTrip(func(r *http.Request) (*http.Response, error) {
		answer := func(status int, body string) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		}
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+sysToken {
			mu.Lock()
			badAuth++
			mu.Unlock()
			return answer(http.StatusUnauthorized, `{"message":"unauthorized"}`)
		}
		if !strings.HasSuffix(r.URL.Path, "/ex/jira/"+forgeCloud+"/rest/api/3/user") {
			return answer(http.StatusNotFound, `{}`)
		}
		if r.URL.Query().Get("accountId") != alice {
			return answer(http.StatusInternalServerError, `{"message":"failure"}`)
		}
		return answer(http.StatusOK, `{"accountId":"`+alice+`","displayName":"Alice Forge"}`)
	})
	f := buildForgeHarness(t, zerolog.Nop(), func(d *server.Deps) {
		d.Forge.Users = &forge.UserDirectory{
			Token:  d.Forge.SystemTokens.(*engine.Engine).KeptSystemToken,
			Client: &http.Client{Transport: product},
		}
	})
	in := f.jiraInstall()
	for _, who := range []string{alice, bob} {
		r := f.call("POST", "/forge/api/secrets", f.mint(in, panel(who, "10001")), who,
			map[string]any{"title": "Key of " + who, "content": "c", "password": "correct horse battery"},
			"X-Forge-Oauth-System", sysToken)
		if r.status != http.StatusCreated {
			t.Fatalf("create as %s: %d %s", who, r.status, r.raw)
		}
	}
	req, _ := http.NewRequest("GET", f.baseURL+"/forge/api/admin/audit.csv", nil)
	req.Header.Set("Authorization", "Bearer "+f.mint(in, adminPage(alice)))
	req.Header.Set("X-B3-TraceId", "0123456789abcdef")
	req.Header.Set("X-Forge-Oauth-User", f.product.IssueUserToken(alice))
	got, _ := csvByActor(t, f.do(req))
	mu.Lock()
	defer mu.Unlock()
	if got[alice][0] != "Alice Forge" {
		t.Errorf("alice's row names %q, want Alice Forge (asked %v)", got[alice][0], asked)
	}
	if name, ok := got[bob]; !ok || name[0] != "" {
		t.Errorf("bob, whose lookup fails: row %v (present %v), want an empty name", name, ok)
	}
	if badAuth != 0 || len(asked) == 0 {
		t.Errorf("%d of %d lookups went out without the kept system token", badAuth, len(asked))
	}
}
