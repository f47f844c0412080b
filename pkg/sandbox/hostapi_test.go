package sandbox_test

import (
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/sandbox"
)

// signer signs a request to a dev site as some caller would.
type signer func(en *env, r *http.Request)

// signed signs as the app does (connect.SignHostRequest): iss appKey, the
// shared secret of product's tenant, and the qsh relative to hostBasePath.
func signed(appKey, product, hostBasePath string) signer {
	return signedAt(appKey, product, hostBasePath, time.Now())
}

func signedAt(appKey, product, hostBasePath string, now time.Time) signer {
	return func(en *env, r *http.Request) {
		h, err := connect.SignHostRequest(appKey, []byte(en.sb.SharedSecret(product)), r.Method, r.URL, hostBasePath, now)
		if err != nil {
			en.t.Fatal(err)
		}
		r.Header.Set("Authorization", h)
	}
}

// signedFor signs as the app would sign another request (method, target),
// then sends the signature with this one.
func signedFor(method, target string, s signer) signer {
	return func(en *env, r *http.Request) {
		other, err := http.NewRequest(method, en.baseURL+target, nil)
		if err != nil {
			en.t.Fatal(err)
		}
		s(en, other)
		r.Header.Set("Authorization", other.Header.Get("Authorization"))
	}
}

func header(name, value string) signer {
	return func(_ *env, r *http.Request) { r.Header.Set(name, value) }
}

// browser marks a request as the sandbox's AP.request sends it, with the
// header standing in for the browser's site session.
var browser = header("X-Sandbox-Session", "browser")

const (
	jiraBase  = "/dev/jira"
	confBase  = "/dev/confluence/wiki"
	checkPath = jiraBase + "/rest/api/3/permissions/check"
	jiraUser  = jiraBase + "/rest/api/3/user"
	confUser  = confBase + "/rest/api/user"

	adminID = "557058:dev-admin"
	userID  = "557058:dev-user"
)

func checkBody(accountID string) string {
	return `{"accountId":"` + accountID + `","globalPermissions":["ADMINISTER"]}`
}

func TestHostREST(t *testing.T) {
	en := newEnv(t)
	jiraApp := signed(jiraKey, "jira", jiraBase)
	confApp := signed(confluenceKey, "confluence", confBase)
	adminOps := confUser + "?accountId=" + url.QueryEscape(adminID) + "&expand=operations"
	userOps := confUser + "?accountId=" + url.QueryEscape(userID) + "&expand=operations"

	for _, tc := range []struct {
		name              string
		method, target    string
		body, contentType string
		sign              signer
		wantStatus        int
		wantBody          string // JSON; checked when set
		wantCall          string // the Calls key that must go up by one; none otherwise
	}{
		// Jira's admin check.
		{name: "jira check: admin", method: "POST", target: checkPath, body: checkBody(adminID), sign: jiraApp,
			wantStatus: 200, wantBody: `{"globalPermissions":["ADMINISTER"],"projectPermissions":[]}`,
			wantCall: sandbox.CallJiraPermissionsCheck},
		{name: "jira check: regular user", method: "POST", target: checkPath, body: checkBody(userID), sign: jiraApp,
			wantStatus: 200, wantBody: `{"globalPermissions":[],"projectPermissions":[]}`,
			wantCall: sandbox.CallJiraPermissionsCheck},
		{name: "jira check: unknown account", method: "POST", target: checkPath, body: checkBody("557058:nobody"), sign: jiraApp,
			wantStatus: 200, wantBody: `{"globalPermissions":[],"projectPermissions":[]}`,
			wantCall: sandbox.CallJiraPermissionsCheck},
		{name: "jira check: unsigned", method: "POST", target: checkPath, body: checkBody(adminID),
			wantStatus: 401},
		{name: "jira check: another tenant's secret", method: "POST", target: checkPath, body: checkBody(adminID),
			sign: signed(jiraKey, "confluence", jiraBase), wantStatus: 401},
		{name: "jira check: iss is the client key, not the app key", method: "POST", target: checkPath, body: checkBody(adminID),
			sign: signed("dev-jira", "jira", jiraBase), wantStatus: 401},
		{name: "jira check: the Confluence app's key", method: "POST", target: checkPath, body: checkBody(adminID),
			sign: signed(confluenceKey, "jira", jiraBase), wantStatus: 401},
		{name: "jira check: qsh of another method", method: "POST", target: checkPath, body: checkBody(adminID),
			sign: signedFor("GET", checkPath, jiraApp), wantStatus: 401},
		{name: "jira check: qsh with the site path left in", method: "POST", target: checkPath, body: checkBody(adminID),
			sign: signed(jiraKey, "jira", ""), wantStatus: 401},
		{name: "jira check: expired", method: "POST", target: checkPath, body: checkBody(adminID),
			sign: signedAt(jiraKey, "jira", jiraBase, time.Now().Add(-10*time.Minute)), wantStatus: 401},
		{name: "jira check: not a JWT", method: "POST", target: checkPath, body: checkBody(adminID),
			sign: header("Authorization", "JWT not.a.token"), wantStatus: 401},
		{name: "jira check: not JSON", method: "POST", target: checkPath, body: checkBody(adminID), contentType: "text/plain",
			sign: jiraApp, wantStatus: 415},
		{name: "jira check: malformed JSON", method: "POST", target: checkPath, body: `{"accountId":`, sign: jiraApp,
			wantStatus: 400},
		{name: "jira check: too large", method: "POST", target: checkPath,
			body: `{"accountId":"` + strings.Repeat("x", 70<<10) + `"}`, sign: jiraApp, wantStatus: 413},

		// Confluence's admin check.
		{name: "confluence user: admin", method: "GET", target: adminOps, sign: confApp, wantStatus: 200,
			wantBody: `{"type":"known","accountId":"557058:dev-admin","accountType":"atlassian","displayName":"Ada Admin",
				"publicName":"Ada Admin","operations":[{"operation":"administer","targetType":"application"},
				{"operation":"use","targetType":"application"}]}`,
			wantCall: sandbox.CallConfluenceUser},
		{name: "confluence user: regular user", method: "GET", target: userOps, sign: confApp, wantStatus: 200,
			wantBody: `{"type":"known","accountId":"557058:dev-user","accountType":"atlassian","displayName":"Reggie User",
				"publicName":"Reggie User","operations":[{"operation":"use","targetType":"application"}]}`,
			wantCall: sandbox.CallConfluenceUser},
		{name: "confluence user: operations only when expanded", method: "GET",
			target: confUser + "?accountId=" + url.QueryEscape(adminID), sign: confApp, wantStatus: 200,
			wantBody: `{"type":"known","accountId":"557058:dev-admin","accountType":"atlassian","displayName":"Ada Admin",
				"publicName":"Ada Admin"}`,
			wantCall: sandbox.CallConfluenceUser},
		{name: "confluence user: unknown account", method: "GET", target: confUser + "?accountId=557058:nobody&expand=operations",
			sign: confApp, wantStatus: 404},
		{name: "confluence user: no account", method: "GET", target: confUser + "?expand=operations",
			sign: confApp, wantStatus: 400},
		{name: "confluence user: the Jira tenant's secret", method: "GET", target: adminOps,
			sign: signed(confluenceKey, "jira", confBase), wantStatus: 401},
		{name: "confluence user: qsh with /wiki left in", method: "GET", target: adminOps,
			sign: signed(confluenceKey, "confluence", "/dev/confluence"), wantStatus: 401},
		{name: "confluence user: qsh of another query", method: "GET", target: adminOps,
			sign: signedFor("GET", confUser+"?accountId="+url.QueryEscape(userID)+"&expand=operations", confApp), wantStatus: 401},
		{name: "confluence user: token in the query, qsh of another query", method: "GET",
			target: adminOps + "&jwt=x", wantStatus: 401},

		// The user lookups the app's pages make through AP.request.
		{name: "browser: jira user", method: "GET", sign: browser, target: jiraUser + "?accountId=" + url.QueryEscape(userID), wantStatus: 200,
			wantBody: `{"accountId":"557058:dev-user","displayName":"Reggie User"}`, wantCall: sandbox.CallJiraUserBrowser},
		{name: "browser: confluence user", method: "GET", sign: browser, target: confUser + "?accountId=" + url.QueryEscape(adminID), wantStatus: 200,
			wantBody: `{"accountId":"557058:dev-admin","displayName":"Ada Admin"}`, wantCall: sandbox.CallConfluenceUserBrowser},
		{name: "browser: unknown account", method: "GET", sign: browser, target: jiraUser + "?accountId=557058:nobody", wantStatus: 404},
		{name: "browser: no account", method: "GET", sign: browser, target: confUser, wantStatus: 400},

		// A server that does not sign has no browser session: refused.
		{name: "server: unsigned jira user", method: "GET", target: jiraUser + "?accountId=" + url.QueryEscape(adminID), wantStatus: 401},
		{name: "server: unsigned confluence user", method: "GET", target: confUser + "?accountId=" + url.QueryEscape(adminID), wantStatus: 401},

		// The Jira user resource signed by the app.
		{name: "jira user: signed", method: "GET", target: jiraUser + "?accountId=" + url.QueryEscape(adminID),
			sign: jiraApp, wantStatus: 200,
			wantBody: `{"accountId":"557058:dev-admin","accountType":"atlassian","displayName":"Ada Admin","active":true}`,
			wantCall: sandbox.CallJiraUser},
		{name: "jira user: badly signed", method: "GET", target: jiraUser + "?accountId=" + url.QueryEscape(adminID),
			sign: signed(jiraKey, "confluence", jiraBase), wantStatus: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := en.sb.Calls()
			res, body := en.do(tc.method, tc.target, tc.body, func(r *http.Request) {
				if tc.body != "" {
					ct := tc.contentType
					if ct == "" {
						ct = "application/json"
					}
					r.Header.Set("Content-Type", ct)
				}
				if tc.sign != nil {
					tc.sign(en, r)
				}
			})
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.wantStatus, body)
			}
			if tc.wantBody != "" {
				if got, want := decodeJSON(t, body), decodeJSON(t, tc.wantBody); !reflect.DeepEqual(got, want) {
					t.Errorf("body %s\nwant %s", body, tc.wantBody)
				}
			}
			if res.StatusCode >= 400 {
				checkProductError(t, tc.target, body)
			}

			want := maps.Clone(before)
			if tc.wantCall != "" {
				want[tc.wantCall]++
			}
			if got := en.sb.Calls(); !maps.Equal(got, want) {
				t.Errorf("Calls() went from %v to %v, want %v", before, got, want)
			}
		})
	}
}

// checkProductError checks that a refusal looks like the product's own.
func checkProductError(t *testing.T, target, body string) {
	t.Helper()
	v, _ := decodeJSON(t, body).(map[string]any)
	key := "message"
	if strings.HasPrefix(target, jiraBase+"/") {
		key = "errorMessages"
	}
	if _, ok := v[key]; !ok {
		t.Errorf("error body %s lacks %q", body, key)
	}
}

func TestCallsIsACopy(t *testing.T) {
	en := newEnv(t)
	en.sb.Calls()[sandbox.CallJiraPermissionsCheck] = 42
	if n := en.sb.Calls()[sandbox.CallJiraPermissionsCheck]; n != 0 {
		t.Errorf("a caller changed the sandbox's counts: %d", n)
	}
}
