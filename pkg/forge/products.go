package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrProductUnavailable: the product API did not give a usable answer
// (error status, timeout, malformed body). The check is refused, never
// granted; callers answer 503.
var ErrProductUnavailable = errors.New("forge: the product API did not answer")

// ErrNoUserToken: the request carries no x-forge-oauth-user token, so the
// product cannot be asked as the user.
var ErrNoUserToken = errors.New("forge: no user token")

// maxProductBody bounds a product API response (a page body in ADF can be
// large; 4 MiB is far more than a page holding a few macros needs).
const maxProductBody = 4 << 20

// ProductsConfig configures Products. Zero values take the defaults.
type ProductsConfig struct {
	// Client makes the calls; nil means a client that does not follow
	// redirects (a redirect would carry the user's token elsewhere).
	Client *http.Client
	// Timeout bounds one check; default 5 s.
	Timeout time.Duration
	// TTL is how long a positive answer is remembered; default 60 s.
	// Negative answers and errors are not remembered.
	TTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Products asks Jira and Confluence, as the user, what a FIT only claims.
// It is safe for concurrent use; create it with NewProducts.
type Products struct {
	cfg    ProductsConfig
	flight singleflight.Group

	mu    sync.Mutex
	cache map[string]time.Time // key → when the positive answer expires
}

// maxProductCache bounds the answer cache; past it the cache starts over.
const maxProductCache = 50_000

// NewProducts returns a Products for cfg.
func NewProducts(cfg ProductsConfig) *Products {
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.TTL <= 0 {
		cfg.TTL = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Products{cfg: cfg, cache: map[string]time.Time{}}
}

// Container is what a UI call's context says it is about, reduced to ids:
// an issue, or a macro on a page.
type Container struct {
	IssueID string // Jira
	PageID  string // Confluence: the page's (or blog post's) id
	LocalID string // Confluence: the macro's localId
	// BlogPost is set when the macro is on a blog post, not a page.
	BlogPost bool
}

func (c Container) key() string {
	return fmt.Sprint(c.IssueID, "\x00", c.PageID, "\x00", c.LocalID, "\x00", c.BlogPost)
}

// CheckContainer reports whether the invocation's user may see the
// container: for an issue, BROWSE_PROJECTS on it; for a macro, the page is
// readable by the user and holds an extension node with LocalID whose key
// ends in our macro key. userToken is the request's x-forge-oauth-user.
// A "no" is (false, nil); a failure to ask is ErrProductUnavailable.
func (p *Products) CheckContainer(ctx context.Context, inv *Invocation, userToken string, c Container) (bool, error) {
	return p.check(ctx, "container\x00"+inv.TenantKey()+"\x00"+inv.Principal+"\x00"+c.key(), userToken, func(ctx context.Context) (bool, error) {
		switch inv.Product {
		case ProductJira:
			return p.canBrowseIssue(ctx, inv, userToken, c.IssueID)
		case ProductConfluence:
			return p.pageHoldsMacro(ctx, inv, userToken, c)
		}
		return false, nil
	})
}

// IsAdmin reports whether the invocation's user administers the site:
// Jira's ADMINISTER global permission, or Confluence's administer operation
// on the application, asked as the user.
func (p *Products) IsAdmin(ctx context.Context, inv *Invocation, userToken string) (bool, error) {
	return p.check(ctx, "admin\x00"+inv.TenantKey()+"\x00"+inv.Principal, userToken, func(ctx context.Context) (bool, error) {
		switch inv.Product {
		case ProductJira:
			return p.jiraAdmin(ctx, inv, userToken)
		case ProductConfluence:
			return p.confluenceAdmin(ctx, inv, userToken)
		}
		return false, nil
	})
}

// check answers from the cache, or asks once for all identical concurrent
// checks, with a timeout that no single caller's cancellation shortens.
func (p *Products) check(ctx context.Context, key, userToken string, ask func(context.Context) (bool, error)) (bool, error) {
	if userToken == "" {
		return false, ErrNoUserToken
	}
	now := p.cfg.Now()
	p.mu.Lock()
	exp, ok := p.cache[key]
	p.mu.Unlock()
	if ok && now.Before(exp) {
		return true, nil
	}
	v, err, _ := p.flight.Do(key, func() (any, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.Timeout)
		defer cancel()
		yes, err := ask(cctx)
		if err != nil {
			return false, err
		}
		if yes {
			p.mu.Lock()
			if len(p.cache) >= maxProductCache {
				clear(p.cache)
			}
			p.cache[key] = p.cfg.Now().Add(p.cfg.TTL)
			p.mu.Unlock()
		}
		return yes, nil
	})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// call makes one request as the user and decodes a 200 JSON answer into
// out. It reports (false, nil) for 401/403/404, which mean "no" for every
// check here; any other status, a timeout or a bad body is
// ErrProductUnavailable.
func (p *Products) call(ctx context.Context, userToken, method, u string, body, out any) (bool, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return false, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return false, fmt.Errorf("%w: building the request", ErrProductUnavailable)
	}
	req.Header.Set("Authorization", "Bearer "+userToken)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		// The error may quote the URL, never the token (it is a header).
		return false, fmt.Errorf("%w: %v", ErrProductUnavailable, err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("%w: status %d", ErrProductUnavailable, res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxProductBody+1))
	if err != nil || len(data) > maxProductBody {
		return false, fmt.Errorf("%w: unreadable or oversized answer", ErrProductUnavailable)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("%w: malformed answer", ErrProductUnavailable)
	}
	return true, nil
}

// permissionsCheck is the answer of Jira's POST /rest/api/3/permissions/check.
type permissionsCheck struct {
	GlobalPermissions  []string `json:"globalPermissions"`
	ProjectPermissions []struct {
		Permission string `json:"permission"`
		Issues     []ID   `json:"issues"`
	} `json:"projectPermissions"`
}

func (p *Products) canBrowseIssue(ctx context.Context, inv *Invocation, userToken, issueID string) (bool, error) {
	n, err := jsonNumberID(issueID)
	if err != nil {
		return false, nil
	}
	var ans permissionsCheck
	ok, err := p.call(ctx, userToken, http.MethodPost, inv.APIBaseURL+"/rest/api/3/permissions/check",
		map[string]any{"projectPermissions": []map[string]any{{"permissions": []string{"BROWSE_PROJECTS"}, "issues": []json.Number{n}}}}, &ans)
	if !ok || err != nil {
		return false, err
	}
	for _, pp := range ans.ProjectPermissions {
		if pp.Permission != "BROWSE_PROJECTS" {
			continue
		}
		for _, id := range pp.Issues {
			if string(id) == issueID {
				return true, nil
			}
		}
	}
	return false, nil
}

// jsonNumberID is an issue id as the permission check wants it: a number.
func jsonNumberID(id string) (json.Number, error) {
	if id == "" || len(id) > 19 || strings.Trim(id, "0123456789") != "" {
		return "", errors.New("forge: not a numeric id")
	}
	return json.Number(id), nil
}

func (p *Products) jiraAdmin(ctx context.Context, inv *Invocation, userToken string) (bool, error) {
	var ans permissionsCheck
	ok, err := p.call(ctx, userToken, http.MethodPost, inv.APIBaseURL+"/rest/api/3/permissions/check",
		map[string]any{"globalPermissions": []string{"ADMINISTER"}}, &ans)
	if !ok || err != nil {
		return false, err
	}
	for _, g := range ans.GlobalPermissions {
		if g == "ADMINISTER" {
			return true, nil
		}
	}
	return false, nil
}

func (p *Products) confluenceAdmin(ctx context.Context, inv *Invocation, userToken string) (bool, error) {
	var ans struct {
		Operations []struct {
			Operation  string `json:"operation"`
			TargetType string `json:"targetType"`
		} `json:"operations"`
	}
	ok, err := p.call(ctx, userToken, http.MethodGet, inv.APIBaseURL+"/wiki/rest/api/user/current?expand=operations", nil, &ans)
	if !ok || err != nil {
		return false, err
	}
	for _, op := range ans.Operations {
		if op.Operation == "administer" && op.TargetType == "application" {
			return true, nil
		}
	}
	return false, nil
}

// pageHoldsMacro reads the page (or blog post) as the user, in ADF, and looks for our macro
// with this localId.
func (p *Products) pageHoldsMacro(ctx context.Context, inv *Invocation, userToken string, c Container) (bool, error) {
	pageID, localID := c.PageID, c.LocalID
	if !safeID.MatchString(pageID) || !safeID.MatchString(localID) || inv.App.MacroKey == "" {
		return false, nil
	}
	var page struct {
		ID   ID `json:"id"`
		Body struct {
			ADF struct {
				Value string `json:"value"`
			} `json:"atlas_doc_format"`
		} `json:"body"`
	}
	kind := "pages"
	if c.BlogPost {
		kind = "blogposts"
	}
	u := inv.APIBaseURL + "/wiki/api/v2/" + kind + "/" + url.PathEscape(pageID) + "?body-format=atlas_doc_format"
	ok, err := p.call(ctx, userToken, http.MethodGet, u, nil, &page)
	if !ok || err != nil {
		return false, err
	}
	if string(page.ID) != pageID {
		return false, nil
	}
	var doc adfNode
	if err := json.Unmarshal([]byte(page.Body.ADF.Value), &doc); err != nil {
		return false, fmt.Errorf("%w: malformed page body", ErrProductUnavailable)
	}
	return doc.holds(localID, inv.App.MacroKey, 0), nil
}

// adfNode is a node of an Atlassian Document Format tree, as far as finding
// extension nodes needs.
type adfNode struct {
	Type  string `json:"type"`
	Attrs struct {
		LocalID      string `json:"localId"`
		ExtensionKey string `json:"extensionKey"`
		Parameters   struct {
			LocalID string `json:"localId"`
		} `json:"parameters"`
	} `json:"attrs"`
	Content []adfNode `json:"content"`
}

// maxADFDepth bounds the walk of a page body.
const maxADFDepth = 64

// holds reports whether the tree has an extension node with localID whose
// extension key ends in /macroKey (Forge keys are
// <app>/<env>/static/<module key>) or is macroKey itself.
func (n *adfNode) holds(localID, macroKey string, depth int) bool {
	if depth > maxADFDepth {
		return false
	}
	switch n.Type {
	case "extension", "bodiedExtension", "inlineExtension":
		key := n.Attrs.ExtensionKey
		if (key == macroKey || strings.HasSuffix(key, "/"+macroKey)) &&
			(n.Attrs.LocalID == localID || n.Attrs.Parameters.LocalID == localID) {
			return true
		}
	}
	for i := range n.Content {
		if n.Content[i].holds(localID, macroKey, depth+1) {
			return true
		}
	}
	return false
}
