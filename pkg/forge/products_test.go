package forge_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
)

// fakeProduct answers the product calls Products makes, for one user token.
type fakeProduct struct {
	*httptest.Server
	calls    atomic.Int64
	status   atomic.Int64 // non-zero: answer every call with it
	browse   map[string]bool
	admin    bool
	pageADF  string
	block    chan struct{} // non-nil: calls wait for it
	mu       sync.Mutex
	lastBody string
}

const userToken = "user-oauth-token"

func newFakeProduct(t testing.TB) *fakeProduct {
	f := &fakeProduct{browse: map[string]bool{"10001": true}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if f.block != nil {
			<-f.block
		}
		if s := f.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+userToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.lastBody = string(b)
		f.mu.Unlock()
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/rest/api/3/permissions/check"):
			var req struct {
				Global  []string `json:"globalPermissions"`
				Project []struct {
					Permissions []string      `json:"permissions"`
					Issues      []json.Number `json:"issues"`
				} `json:"projectPermissions"`
			}
			json.Unmarshal(b, &req)
			ans := map[string]any{"globalPermissions": []string{}, "projectPermissions": []any{}}
			if len(req.Global) > 0 && f.admin {
				ans["globalPermissions"] = []string{"ADMINISTER"}
			}
			for _, p := range req.Project {
				var ok []json.Number
				for _, id := range p.Issues {
					if f.browse[id.String()] {
						ok = append(ok, id)
					}
				}
				ans["projectPermissions"] = []any{map[string]any{"permission": "BROWSE_PROJECTS", "issues": ok}}
			}
			json.NewEncoder(w).Encode(ans)
		case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/wiki/api/v2/blogposts/555"):
			json.NewEncoder(w).Encode(map[string]any{"id": "555", "body": map[string]any{
				"atlas_doc_format": map[string]any{"value": f.pageADF, "representation": "atlas_doc_format"}}})
		case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/wiki/api/v2/pages/123"):
			json.NewEncoder(w).Encode(map[string]any{"id": "123", "body": map[string]any{
				"atlas_doc_format": map[string]any{"value": f.pageADF, "representation": "atlas_doc_format"}}})
		case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/wiki/rest/api/user/current"):
			ops := []any{}
			if f.admin {
				ops = append(ops, map[string]any{"operation": "administer", "targetType": "application"})
			}
			json.NewEncoder(w).Encode(map[string]any{"accountId": accountID, "operations": ops})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func macroADF(localID, key string) string {
	b, _ := json.Marshal(map[string]any{"type": "doc", "version": 1, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "hello"}}},
		map[string]any{"type": "extension", "attrs": map[string]any{
			"extensionType": "com.atlassian.ecosystem", "localId": localID,
			"extensionKey": "22222222-2222-4222-8222-222222222222/" + envID + "/static/" + key,
		}},
	}})
	return string(b)
}

func invocation(product, base string) *forge.Invocation {
	a := apps()[0]
	if product == forge.ProductConfluence {
		a = apps()[1]
	}
	return &forge.Invocation{App: a, Product: product, EnvironmentKey: envID, InstallKey: "inst",
		Principal: accountID, APIBaseURL: base + "/ex/" + product + "/" + cloudID}
}

func TestCheckContainerIssue(t *testing.T) {
	f := newFakeProduct(t)
	p := forge.NewProducts(forge.ProductsConfig{})
	inv := invocation(forge.ProductJira, f.URL)
	ok, err := p.CheckContainer(context.Background(), inv, userToken, forge.Container{IssueID: "10001"})
	if err != nil || !ok {
		t.Fatalf("browsable issue: %v %v", ok, err)
	}
	if !strings.Contains(f.lastBody, `"BROWSE_PROJECTS"`) || !strings.Contains(f.lastBody, `[10001]`) {
		t.Errorf("request body = %s", f.lastBody)
	}
	ok, err = p.CheckContainer(context.Background(), inv, userToken, forge.Container{IssueID: "10002"})
	if err != nil || ok {
		t.Errorf("unbrowsable issue: %v %v", ok, err)
	}
	// A fresh checker: a yes is cached per user and container, not token.
	ok, err = forge.NewProducts(forge.ProductsConfig{}).CheckContainer(context.Background(), inv, "someone-else", forge.Container{IssueID: "10001"})
	if err != nil || ok {
		t.Errorf("other token: %v %v", ok, err)
	}
	if _, err := p.CheckContainer(context.Background(), inv, "", forge.Container{IssueID: "10001"}); !errors.Is(err, forge.ErrNoUserToken) {
		t.Errorf("no token: %v", err)
	}
}

func TestCheckContainerCachesOnlyYes(t *testing.T) {
	f := newFakeProduct(t)
	clk := &clock{t: time.Now()}
	p := forge.NewProducts(forge.ProductsConfig{Now: clk.Now, TTL: time.Minute})
	inv := invocation(forge.ProductJira, f.URL)
	for range 3 {
		p.CheckContainer(context.Background(), inv, userToken, forge.Container{IssueID: "10001"})
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("3 checks of a yes: %d calls", got)
	}
	for range 3 {
		p.CheckContainer(context.Background(), inv, userToken, forge.Container{IssueID: "10002"})
	}
	if got := f.calls.Load(); got != 4 {
		t.Errorf("3 checks of a no: %d calls in all, want 4", got)
	}
	clk.Add(2 * time.Minute)
	p.CheckContainer(context.Background(), inv, userToken, forge.Container{IssueID: "10001"})
	if got := f.calls.Load(); got != 5 {
		t.Errorf("after the TTL: %d calls, want 5", got)
	}
	// Another user is asked for separately.
	inv2 := *inv
	inv2.Principal = "557058:other"
	p.CheckContainer(context.Background(), &inv2, userToken, forge.Container{IssueID: "10001"})
	if got := f.calls.Load(); got != 6 {
		t.Errorf("another user: %d calls, want 6", got)
	}
}

func TestCheckContainerCoalesces(t *testing.T) {
	f := newFakeProduct(t)
	f.block = make(chan struct{})
	p := forge.NewProducts(forge.ProductsConfig{})
	inv := invocation(forge.ProductJira, f.URL)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := p.CheckContainer(context.Background(), inv, userToken, forge.Container{IssueID: "10001"}); !ok || err != nil {
				t.Errorf("%v %v", ok, err)
			}
		}()
	}
	// Let the first call through once it has arrived; the rest joined it.
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(f.block)
	wg.Wait()
	if got := f.calls.Load(); got > 2 {
		t.Errorf("20 concurrent identical checks made %d calls", got)
	}
}

func TestCheckContainerProductFailureRefuses(t *testing.T) {
	for _, status := range []int{500, 502, 503, 429, 302} {
		f := newFakeProduct(t)
		f.status.Store(int64(status))
		p := forge.NewProducts(forge.ProductsConfig{})
		ok, err := p.CheckContainer(context.Background(), invocation(forge.ProductJira, f.URL), userToken, forge.Container{IssueID: "10001"})
		if ok || !errors.Is(err, forge.ErrProductUnavailable) {
			t.Errorf("status %d: %v %v, want refused with ErrProductUnavailable", status, ok, err)
		}
		ok, err = p.IsAdmin(context.Background(), invocation(forge.ProductConfluence, f.URL), userToken)
		if ok || err == nil {
			t.Errorf("admin, status %d: %v %v", status, ok, err)
		}
	}
}

func TestCheckContainerTimeoutRefuses(t *testing.T) {
	f := newFakeProduct(t)
	f.block = make(chan struct{})
	defer close(f.block)
	p := forge.NewProducts(forge.ProductsConfig{Timeout: 50 * time.Millisecond})
	ok, err := p.CheckContainer(context.Background(), invocation(forge.ProductJira, f.URL), userToken, forge.Container{IssueID: "10001"})
	if ok || !errors.Is(err, forge.ErrProductUnavailable) {
		t.Errorf("timeout: %v %v", ok, err)
	}
}

func TestCheckContainerMacro(t *testing.T) {
	f := newFakeProduct(t)
	inv := invocation(forge.ProductConfluence, f.URL)
	for _, tc := range []struct {
		name, adf, page, local string
		want                   bool
	}{
		{"our macro", macroADF("local-a", macroKey), "123", "local-a", true},
		{"other localId", macroADF("local-a", macroKey), "123", "local-b", false},
		{"other app's macro", macroADF("local-a", "other-macro"), "123", "local-a", false},
		{"suffix without slash", macroADF("local-a", "evil"+macroKey), "123", "local-a", false},
		{"unreadable page", macroADF("local-a", macroKey), "999", "local-a", false},
		{"blog post", macroADF("local-a", macroKey), "555", "local-a", true},
		{"page id of a blog post", macroADF("local-a", macroKey), "555", "local-a", false},
	} {
		f.pageADF = tc.adf
		c := forge.Container{PageID: tc.page, LocalID: tc.local, BlogPost: tc.name == "blog post"}
		got, err := forge.NewProducts(forge.ProductsConfig{}).CheckContainer(context.Background(), inv, userToken, c)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestIsAdmin(t *testing.T) {
	for _, product := range []string{forge.ProductJira, forge.ProductConfluence} {
		for _, admin := range []bool{true, false} {
			f := newFakeProduct(t)
			f.admin = admin
			got, err := forge.NewProducts(forge.ProductsConfig{}).IsAdmin(context.Background(), invocation(product, f.URL), userToken)
			if err != nil || got != admin {
				t.Errorf("%s admin=%v: %v %v", product, admin, got, err)
			}
		}
	}
}
