package platform

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
)

// ProductAPI stands in for the Jira and Confluence REST APIs at an
// installation's apiBaseUrl, for the calls secretsd makes as the user: the
// permission check, the page body, the current user's operations. Users are
// known by the opaque tokens IssueUserToken hands out, which is what the
// platform's x-forge-oauth-user header carries. It is safe for concurrent
// use; mount it where APIBase points, with that prefix stripped.
type ProductAPI struct {
	mu     sync.Mutex
	tokens map[string]string // user token → account id
	users  map[string]*ProductUser
	pages  map[string]string // page id → ADF document (JSON)
	fail   int               // non-zero: every call answers this status
	calls  map[string]int
}

// ProductUser is what the product knows of one user.
type ProductUser struct {
	AccountID string
	Admin     bool
	// Issues are the issue ids the user may browse; Pages the page ids the
	// user may read.
	Issues, Pages map[string]bool
}

// NewProductAPI returns an API with no users and no pages.
func NewProductAPI() *ProductAPI {
	return &ProductAPI{tokens: map[string]string{}, users: map[string]*ProductUser{}, pages: map[string]string{}, calls: map[string]int{}}
}

// SetUser adds or replaces a user.
func (p *ProductAPI) SetUser(u ProductUser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[u.AccountID] = &u
}

// SetPage sets a page's body (an ADF document as JSON).
func (p *ProductAPI) SetPage(id, adf string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages[id] = adf
}

// Fail makes every call answer status (0: answer normally).
func (p *ProductAPI) Fail(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = status
}

// Calls returns how many calls each route answered, keyed "METHOD route".
func (p *ProductAPI) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.calls)
}

// TotalCalls is the sum of Calls.
func (p *ProductAPI) TotalCalls() int {
	n := 0
	for _, v := range p.Calls() {
		n += v
	}
	return n
}

// IssueUserToken returns a fresh user token for accountID.
func (p *ProductAPI) IssueUserToken(accountID string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "dev-user-token-" + base64.RawURLEncoding.EncodeToString(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tokens) > 10_000 {
		clear(p.tokens)
	}
	p.tokens[tok] = accountID
	return tok
}

// MacroADF is a page body holding one Forge macro extension node per
// localId, keyed as the platform keys them (<app>/<env>/static/<macroKey>).
func MacroADF(appUUID, envID, macroKey string, localIDs ...string) string {
	content := []any{map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "Team runbook"}}}}
	for _, id := range localIDs {
		content = append(content, map[string]any{"type": "extension", "attrs": map[string]any{
			"extensionType": "com.atlassian.ecosystem",
			"extensionKey":  appUUID + "/" + envID + "/static/" + macroKey,
			"localId":       id,
			"text":          "Secrets",
		}})
	}
	b, _ := json.Marshal(map[string]any{"type": "doc", "version": 1, "content": content})
	return string(b)
}

// ServeHTTP answers /ex/<product>/<cloudId>/… .
func (p *ProductAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 4)
	if len(parts) < 4 || parts[0] != "ex" {
		http.NotFound(w, r)
		return
	}
	product, route := parts[1], "/"+parts[3]
	p.mu.Lock()
	fail := p.fail
	acct, known := p.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	u := p.users[acct]
	p.mu.Unlock()
	if fail != 0 {
		http.Error(w, `{"message":"failure"}`, fail)
		return
	}
	if !known || u == nil {
		http.Error(w, `{"message":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case product == "jira" && r.Method == http.MethodPost && route == "/rest/api/3/permissions/check":
		p.count("POST permissions/check")
		p.permissionsCheck(w, r, u)
	case product == "confluence" && r.Method == http.MethodGet && strings.HasPrefix(route, "/wiki/api/v2/pages/"):
		p.count("GET pages")
		id := strings.TrimPrefix(route, "/wiki/api/v2/pages/")
		p.mu.Lock()
		adf, ok := p.pages[id]
		p.mu.Unlock()
		if !ok || !u.Pages[id] || r.URL.Query().Get("body-format") != "atlas_doc_format" {
			http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "status": "current", "title": "Team runbook",
			"body": map[string]any{"atlas_doc_format": map[string]any{"representation": "atlas_doc_format", "value": adf}}})
	case product == "confluence" && r.Method == http.MethodGet && route == "/wiki/rest/api/user/current":
		p.count("GET user/current")
		ops := []any{map[string]any{"operation": "use", "targetType": "application"}}
		if u.Admin {
			ops = append(ops, map[string]any{"operation": "administer", "targetType": "application"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "known", "accountId": u.AccountID, "operations": ops})
	default:
		http.NotFound(w, r)
	}
}

func (p *ProductAPI) count(k string) {
	p.mu.Lock()
	p.calls[k]++
	p.mu.Unlock()
}

func (p *ProductAPI) permissionsCheck(w http.ResponseWriter, r *http.Request, u *ProductUser) {
	var req struct {
		GlobalPermissions  []string `json:"globalPermissions"`
		ProjectPermissions []struct {
			Permissions []string      `json:"permissions"`
			Issues      []json.Number `json:"issues"`
		} `json:"projectPermissions"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		http.Error(w, `{"message":"bad request"}`, http.StatusBadRequest)
		return
	}
	global := []string{}
	for _, g := range req.GlobalPermissions {
		if g == "ADMINISTER" && u.Admin {
			global = append(global, g)
		}
	}
	project := []any{}
	for _, pp := range req.ProjectPermissions {
		for _, perm := range pp.Permissions {
			ids := []json.Number{}
			for _, id := range pp.Issues {
				if perm == "BROWSE_PROJECTS" && u.Issues[id.String()] {
					ids = append(ids, id)
				}
			}
			project = append(project, map[string]any{"permission": perm, "issues": ids, "projects": []any{}})
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"globalPermissions": global, "projectPermissions": project})
}
