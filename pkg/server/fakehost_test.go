package server_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/golang-jwt/jwt/v5"
)

// fakeHost stands in for every site's REST API (Jira and Confluence) on
// 127.0.0.1. It checks each call as a host would — our app key as issuer,
// the tenant's shared secret, a qsh of the very request — and records
// whether the qsh matched.
type fakeHost struct {
	t       testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	admins  map[string]bool   // account ids that administer every site
	secrets map[string]string // site host → its tenant's shared secret
	// licences is each site's licence of the app (absent: none, as the
	// licence endpoint answers for a site that has not paid).
	licences map[string]bool
	// names are the display names of accounts; an account without one is
	// unknown to the user lookups (404).
	names map[string]string
	calls []hostCall
}

type hostCall struct {
	method, path string
	qshMatched   bool
	issuer       string
}

func newFakeHost(t testing.TB) *fakeHost {
	f := &fakeHost{t: t, admins: map[string]bool{"admin-1": true}, secrets: map[string]string{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// client reaches the fake host whatever site host name a URL names, as if
// DNS pointed every site at it.
func (f *fakeHost) client() *http.Client {
	addr := f.srv.Listener.Addr().String()
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test server's own certificate
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// trust makes the fake host accept tokens signed with secret for site.
func (f *fakeHost) trust(site, secret string) {
	f.mu.Lock()
	f.secrets[site] = secret
	f.mu.Unlock()
}

func (f *fakeHost) serve(w http.ResponseWriter, r *http.Request) {
	tokStr, ok := strings.CutPrefix(r.Header.Get("Authorization"), "JWT ")
	if !ok {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	basePath := ""
	if strings.HasPrefix(r.URL.Path, "/wiki/") {
		basePath = "/wiki"
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(tokStr, claims, func(tok *jwt.Token) (any, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return []byte(f.secrets[r.Host]), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil || !tok.Valid {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	want, _ := connect.QSH(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, basePath)
	iss, _ := claims.GetIssuer()
	call := hostCall{method: r.Method, path: r.URL.Path, qshMatched: claims["qsh"] == want, issuer: iss}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	if !call.qshMatched {
		http.Error(w, "qsh mismatch", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/rest/api/3/permissions/check":
		var req struct {
			AccountID         string   `json:"accountId"`
			GlobalPermissions []string `json:"globalPermissions"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		granted := []string{}
		if f.isAdmin(req.AccountID) {
			granted = append(granted, "ADMINISTER")
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"globalPermissions": granted, "projectPermissions": []any{}})
	case r.Method == "GET" && (r.URL.Path == "/rest/api/3/user" || r.URL.Path == "/wiki/rest/api/user") && r.URL.Query().Get("expand") == "":
		f.mu.Lock()
		name, ok := f.names[r.URL.Query().Get("accountId")]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"accountId": r.URL.Query().Get("accountId"), "displayName": name})
	case r.Method == "GET" && r.URL.Path == "/wiki/rest/api/user":
		id := r.URL.Query().Get("accountId")
		ops := []map[string]string{{"operation": "use", "targetType": "application"}}
		if f.isAdmin(id) {
			ops = append(ops, map[string]string{"operation": "administer", "targetType": "application"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"accountId": id, "operations": ops})
	case r.Method == "GET" && strings.HasPrefix(strings.TrimPrefix(r.URL.Path, "/wiki"), "/rest/atlassian-connect/1/addons/"):
		key := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/wiki"), "/rest/atlassian-connect/1/addons/")
		out := map[string]any{"key": key, "version": "1", "state": "ENABLED"}
		f.mu.Lock()
		if active, ok := f.licences[r.Host]; ok {
			out["license"] = map[string]any{"active": active, "type": "COMMERCIAL", "evaluation": false}
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(out)
	default:
		http.NotFound(w, r)
	}
}

// setLicence sets site's licence of the app.
func (f *fakeHost) setLicence(site string, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.licences == nil {
		f.licences = map[string]bool{}
	}
	f.licences[site] = active
}

func (f *fakeHost) isAdmin(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.admins[id]
}

func (f *fakeHost) recorded() []hostCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hostCall(nil), f.calls...)
}
