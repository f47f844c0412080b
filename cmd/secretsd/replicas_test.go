package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/internal/replicas"
	"github.com/connect-secrets/secrets/pkg/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// runAsSecretsd, set to 1 in a process's environment, makes this test
// binary run as secretsd: TestReplicas starts its replicas from the very
// binary under test (built with the test's flags, -race included, so a
// race inside a replica fails the test) instead of building another.
const runAsSecretsd = "SECRETSD_TEST_RUN_AS_SECRETSD"

func TestMain(m *testing.M) {
	if os.Getenv(runAsSecretsd) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestReplicas is the multi-replica acceptance test (issue 10): three real
// secretsd processes in production mode on one PostgreSQL schema, behind a
// stand-in for Atlassian that installs the site through the signed
// lifecycle route and hands out session tokens through signed module
// pages, with every request spread over the replicas.
func TestReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pg := pgtest.URL(t)
	dir := t.TempDir()
	schema, err := replicas.NewSchema(ctx, pg, "secrets_test_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := schema.Drop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	atl, err := replicas.NewAtlassian(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(atl.Close)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := replicas.NewCluster(replicas.Config{
		Command: []string{self}, Env: []string{runAsSecretsd + "=1"},
		Store: schema.URL, Atlassian: atl, Dir: dir,
		Args: []string{
			"--kdf-memory", "19456", "--kdf-time", "2", "--kdf-threads", "1", "--kdf-memory-budget", "64MiB",
			"--janitor-interval", "1s", "--retention", "1s", "--log-level", "info",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			for _, r := range cl.Replicas() {
				logs := r.Logs()
				t.Logf("replica %s, last of %d log lines:\n%s", r.Name, len(logs), strings.Join(logs[max(0, len(logs)-200):], "\n"))
				// Race reports and panics are not JSON, and may be older.
				other := slices.DeleteFunc(logs, func(l string) bool { return strings.HasPrefix(l, "{") })
				if len(other) > 0 {
					t.Logf("replica %s, output other than log lines:\n%s", r.Name, strings.Join(other, "\n"))
				}
			}
		}
	})
	rs, err := cl.Start(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := rs[0], rs[1], rs[2]
	h := &replicaClient{t: t, ctx: ctx, c: &http.Client{Timeout: 30 * time.Second}}

	site := atl.NewSite("acme")
	atl.SetAdmin("admin")
	if err := site.Install(ctx, a); err != nil {
		t.Fatal(err)
	}
	// The URL's search_path chose the schema: the tenant is in it.
	if n := countTenants(t, ctx, pg, schema.Name); n != 1 {
		t.Fatalf("tenants in schema %s: %d, want 1", schema.Name, n)
	}
	// Session tokens minted by one replica are good on every other.
	const issue = "10001"
	h.site = site
	alice := h.session(b, "alice", issue)
	bob := h.session(c, "bob", issue)
	carol := h.session(a, "carol", issue)
	admin := h.adminSession(c, "admin")
	const pw = "correct horse battery"

	t.Run("unlock on A, edit on B, delete on C", func(t *testing.T) {
		h := h.with(t)
		s := h.create(a, alice, map[string]any{"title": "db", "content": "first", "password": pw})
		res := h.unlock(a, alice, s.ID, pw)
		u := decode[replicas.Secret](t, res, http.StatusOK)
		if u.Content != "first" {
			t.Fatalf("unlocked content %q", u.Content)
		}
		res = h.do(b, replicas.Request{Method: "PUT", Path: "/api/secrets/" + s.ID, Session: alice, Unlock: u.UnlockToken,
			Body: map[string]any{"title": "db", "content": "second", "version": u.Version}})
		e := decode[replicas.Secret](t, res, http.StatusOK)
		if e.Version != u.Version+1 {
			t.Errorf("edited version %d, want %d", e.Version, u.Version+1)
		}
		res = h.do(c, replicas.Request{Method: "DELETE", Path: "/api/secrets/" + s.ID, Session: alice, Unlock: e.UnlockToken})
		if res.Status != http.StatusNoContent {
			t.Fatalf("delete on C: %s", res)
		}
		for _, r := range rs {
			if h.listed(r, alice, s.ID) {
				t.Errorf("%s still lists the deleted secret", r.Name)
			}
		}
	})

	t.Run("a lock on C makes A's token fail everywhere", func(t *testing.T) {
		h := h.with(t)
		s := h.create(b, alice, map[string]any{"title": "lock me", "content": "x", "password": pw})
		u := decode[replicas.Secret](t, h.unlock(a, alice, s.ID, pw), http.StatusOK)
		res := h.do(c, replicas.Request{Method: "POST", Path: "/api/secrets/" + s.ID + "/lock", Session: alice, Unlock: u.UnlockToken})
		if res.Status != http.StatusNoContent {
			t.Fatalf("lock on C: %s", res)
		}
		res = h.do(a, replicas.Request{Method: "PUT", Path: "/api/secrets/" + s.ID, Session: alice, Unlock: u.UnlockToken,
			Body: map[string]any{"title": "lock me", "content": "y", "version": u.Version}})
		if res.Status != http.StatusForbidden || res.Code() != "unlock_required" {
			t.Errorf("edit on A with the locked token: %s, want 403 unlock_required", res)
		}
		res = h.do(b, replicas.Request{Method: "DELETE", Path: "/api/secrets/" + s.ID, Session: alice, Unlock: u.UnlockToken})
		if res.Status != http.StatusForbidden || res.Code() != "unlock_required" {
			t.Errorf("delete on B with the locked token: %s, want 403 unlock_required", res)
		}
		if !h.listed(c, alice, s.ID) {
			t.Error("the locked secret is gone")
		}
	})

	t.Run("a password change on C revokes other unlocks on every replica", func(t *testing.T) {
		h := h.with(t)
		s := h.create(a, alice, map[string]any{"title": "rotate", "content": "x", "password": pw})
		ub := decode[replicas.Secret](t, h.unlock(b, bob, s.ID, pw), http.StatusOK)
		ua := decode[replicas.Secret](t, h.unlock(a, alice, s.ID, pw), http.StatusOK)
		const pw2 = "another horse battery"
		res := h.do(c, replicas.Request{Method: "PUT", Path: "/api/secrets/" + s.ID + "/password", Session: alice, Unlock: ua.UnlockToken,
			Body: map[string]any{"password": pw2}})
		if res.Status != http.StatusOK {
			t.Fatalf("password change on C: %s", res)
		}
		res = h.do(a, replicas.Request{Method: "PUT", Path: "/api/secrets/" + s.ID, Session: bob, Unlock: ub.UnlockToken,
			Body: map[string]any{"title": "rotate", "content": "y", "version": ub.Version}})
		if res.Status != http.StatusForbidden || res.Code() != "unlock_required" {
			t.Errorf("bob's edit on A after the change: %s, want 403 unlock_required", res)
		}
		if res := h.unlock(b, bob, s.ID, pw); res.Code() != "wrong_password" {
			t.Errorf("the old password on B: %s, want wrong_password", res)
		}
		if res := h.unlock(a, bob, s.ID, pw2); res.Status != http.StatusOK {
			t.Errorf("the new password on A: %s", res)
		}
	})

	t.Run("wrong passwords spread over the replicas lock out after exactly 5 derivations", func(t *testing.T) {
		h := h.with(t)
		s := h.create(a, alice, map[string]any{"title": "guess me", "content": "x", "password": pw})
		before := h.derivations(rs)
		const attempts = 12
		got := parallel(attempts, func(i int) (replicas.Response, error) {
			return rs[i%3].Do(ctx, h.c, replicas.Request{Method: "POST", Path: "/api/secrets/" + s.ID + "/unlock", Session: carol,
				Body: map[string]any{"password": fmt.Sprintf("wrong guess %d", i)}})
		})
		counts := map[string]int{}
		for i, r := range got {
			if r.err != nil {
				t.Fatalf("attempt %d: %v", i, r.err)
			}
			counts[fmt.Sprintf("%d %s", r.res.Status, r.res.Code())]++
			if r.res.Code() == "locked" && r.res.Header.Get("Retry-After") == "" {
				t.Errorf("attempt %d: locked without Retry-After", i)
			}
		}
		if want := map[string]int{"403 wrong_password": 5, "429 locked": attempts - 5}; fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("answers to %d concurrent wrong passwords: %v, want %v", attempts, counts, want)
		}
		if d := h.derivations(rs) - before; d != 5 {
			t.Errorf("key derivations over all replicas: %v, want 5", d)
		}
		for _, r := range rs {
			if res := h.unlock(r, carol, s.ID, pw); res.Status != http.StatusTooManyRequests || res.Code() != "locked" {
				t.Errorf("the right password on %s while locked out: %s, want 429 locked", r.Name, res)
			}
		}
		if d := h.derivations(rs) - before; d != 5 {
			t.Errorf("key derivations after the locked-out tries: %v, want still 5", d)
		}
		// One user's failures lock only that user out.
		if res := h.unlock(c, alice, s.ID, pw); res.Status != http.StatusOK {
			t.Errorf("another user's unlock on C: %s", res)
		}
		if n := len(h.audit(b, admin, "unlock_failed", s.ID)); n != 5 {
			t.Errorf("unlock_failed audit events: %d, want 5", n)
		}
		if n := len(h.audit(b, admin, "locked_out", s.ID)); n != 1 {
			t.Errorf("locked_out audit events: %d, want 1", n)
		}
	})

	t.Run("20 concurrent edits of one version: one wins, the rest conflict", func(t *testing.T) {
		h := h.with(t)
		s := h.create(b, alice, map[string]any{"title": "contended", "content": "base", "password": pw})
		u := decode[replicas.Secret](t, h.unlock(c, alice, s.ID, pw), http.StatusOK)
		const editors = 20
		got := parallel(editors, func(i int) (replicas.Response, error) {
			return rs[i%3].Do(ctx, h.c, replicas.Request{Method: "PUT", Path: "/api/secrets/" + s.ID, Session: alice, Unlock: u.UnlockToken,
				Body: map[string]any{"title": "contended", "content": fmt.Sprintf("edit %d", i), "version": u.Version}})
		})
		winner, conflicts := -1, 0
		for i, r := range got {
			switch {
			case r.err != nil:
				t.Fatalf("edit %d: %v", i, r.err)
			case r.res.Status == http.StatusOK && winner < 0:
				winner = i
			case r.res.Status == http.StatusConflict && r.res.Code() == "conflict":
				conflicts++
			default:
				t.Errorf("edit %d on %s: %s", i, rs[i%3].Name, r.res)
			}
		}
		if winner < 0 || conflicts != editors-1 {
			t.Fatalf("winner %d, %d conflicts; want one winner and %d conflicts", winner, conflicts, editors-1)
		}
		now := decode[replicas.Secret](t, h.unlock(a, alice, s.ID, pw), http.StatusOK)
		if want := fmt.Sprintf("edit %d", winner); now.Content != want || now.Version != u.Version+1 {
			t.Errorf("after the race: version %d %q, want %d %q", now.Version, now.Content, u.Version+1, want)
		}
	})

	// The janitor's work: a secret expiring now, and a site uninstalled
	// past the (1 s) retention. Checked again, once every replica has
	// had many more passes, at the end.
	var expiring replicas.Secret
	globex := atl.NewSite("globex")
	t.Run("the janitor deletes an expired secret and purges an uninstalled site", func(t *testing.T) {
		h := h.with(t)
		expiring = h.create(a, alice, map[string]any{"title": "self-destructs", "content": "x", "password": pw,
			"expiresAt": time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)})
		if err := globex.Install(ctx, b); err != nil {
			t.Fatal(err)
		}
		if _, err := globex.Panel(ctx, a, "dave", issue); err != nil {
			t.Fatalf("globex before its uninstall: %v", err)
		}
		if err := globex.Uninstall(ctx, c); err != nil {
			t.Fatal(err)
		}
		h.eventually("the expired secret's audit event", func() bool { return len(h.audit(c, admin, "expired", expiring.ID)) > 0 })
		h.eventually("globex purged", func() bool { return len(purges(cl.Replicas(), globex.ClientKey)) > 0 })
		for _, r := range rs {
			if h.listed(r, alice, expiring.ID) {
				t.Errorf("%s lists the expired secret", r.Name)
			}
		}
		if n := countTenants(t, ctx, pg, schema.Name); n != 1 {
			t.Errorf("tenants after the purge: %d, want 1", n)
		}
	})

	t.Run("a replica killed mid-load loses no acknowledged write", func(t *testing.T) {
		h := h.with(t)
		victim, survivors := b, []*replicas.Replica{a, c}
		const loadIssue = "20001"
		type editor struct {
			session, id     string
			version         int
			content, unlock string
		}
		eds := make([]*editor, 6)
		for i := range eds {
			r := rs[i%3]
			e := &editor{session: h.session(r, fmt.Sprintf("editor-%d", i), loadIssue)}
			e.id = h.create(r, e.session, map[string]any{"title": "load", "content": "v1", "password": pw}).ID
			u := decode[replicas.Secret](t, h.unlock(r, e.session, e.id, pw), http.StatusOK)
			e.version, e.content, e.unlock = u.Version, u.Content, u.UnlockToken
			eds[i] = e
		}
		creator := h.session(a, "creator", loadIssue)

		var (
			killed  atomic.Bool
			acked   atomic.Int64 // acknowledged edits
			busy    atomic.Int64 // writes refused as busy
			cut     atomic.Int64 // edits cut off by the kill
			stop    = make(chan struct{})
			wg      sync.WaitGroup
			mu      sync.Mutex
			created []string // acknowledged creates
			errs    []string // what the workers saw that they should not have
		)
		fail := func(format string, args ...any) {
			mu.Lock()
			errs = append(errs, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		failed := func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(errs) > 0
		}
		pick := func(n int) *replicas.Replica {
			if killed.Load() {
				return survivors[n%len(survivors)]
			}
			return rs[n%len(rs)]
		}
		stopped := func() bool {
			select {
			case <-stop:
				return true
			default:
				return false
			}
		}
		// readBack learns from a survivor what became of an edit that got
		// no acknowledgement: committed (if it may have) or not.
		readBack := func(i int, e *editor, n int, content string, mayHaveCommitted bool) bool {
			var u replicas.Response
			var err error
			for try := 0; try < 10; try++ {
				// An unlock writes too, and may be refused as busy.
				u, err = survivors[n%2].Do(ctx, h.c, replicas.Request{Method: "POST", Path: "/api/secrets/" + e.id + "/unlock",
					Session: e.session, Body: map[string]any{"password": pw}})
				if err != nil || u.Status != http.StatusServiceUnavailable {
					break
				}
				busy.Add(1)
				time.Sleep(50 * time.Millisecond)
			}
			var s replicas.Secret
			if err != nil || u.Status != http.StatusOK || u.Decode(&s) != nil {
				fail("editor %d: reading back: %v %s", i, err, u)
				return false
			}
			switch {
			case s.Version == e.version && s.Content == e.content:
			case mayHaveCommitted && s.Version == e.version+1 && s.Content == content:
				e.version, e.content = s.Version, content
			default:
				fail("editor %d: read back version %d %q; acknowledged %d %q (may have committed: %v)",
					i, s.Version, s.Content, e.version, e.content, mayHaveCommitted)
				return false
			}
			e.unlock = s.UnlockToken
			return true
		}
		for i, e := range eds {
			wg.Go(func() {
				for n := i; !stopped(); n++ {
					r := pick(n)
					content := fmt.Sprintf("editor %d version %d", i, e.version+1)
					res, err := r.Do(ctx, h.c, replicas.Request{Method: "PUT", Path: "/api/secrets/" + e.id, Session: e.session, Unlock: e.unlock,
						Body: map[string]any{"title": "load", "content": content, "version": e.version}})
					switch {
					case err == nil && res.Status == http.StatusOK:
						var s replicas.Secret
						if err := res.Decode(&s); err != nil {
							fail("editor %d: %v", i, err)
							return
						}
						e.version, e.content, e.unlock = s.Version, content, s.UnlockToken
						acked.Add(1)
					case err != nil && r == victim && killed.Load():
						// Cut off mid-request: the edit may or may not
						// have committed.
						cut.Add(1)
						if !readBack(i, e, n, content, true) {
							return
						}
					case err == nil && res.Status == http.StatusServiceUnavailable && res.Code() == "unavailable":
						// Refused as busy (the tenant's writes all
						// contend for its audit sequence): not
						// acknowledged, and not committed either.
						busy.Add(1)
						if !readBack(i, e, n, content, false) {
							return
						}
					default:
						fail("editor %d: edit on %s: %v %s", i, r.Name, err, res)
						return
					}
				}
			})
		}
		wg.Go(func() {
			// Creates, round robin, within the per-user write limit.
			for n := 0; n < 15 && !stopped(); n++ {
				r := pick(n)
				res, err := r.Do(ctx, h.c, replicas.Request{Method: "POST", Path: "/api/secrets", Session: creator,
					Body: map[string]any{"title": fmt.Sprintf("created %d", n), "content": "c", "password": pw}})
				var s replicas.Secret
				switch {
				case err == nil && res.Status == http.StatusCreated && res.Decode(&s) == nil:
					mu.Lock()
					created = append(created, s.ID)
					mu.Unlock()
				case err != nil && r == victim && killed.Load():
					// Unacknowledged: it may exist or not.
				case err == nil && res.Status == http.StatusServiceUnavailable && res.Code() == "unavailable":
					busy.Add(1)
				default:
					fail("create on %s: %v %s", r.Name, err, res)
					return
				}
			}
		})

		// However this subtest ends, the load stops with it.
		var once sync.Once
		end := func() { once.Do(func() { close(stop) }); wg.Wait() }
		defer end()
		h.eventually("100 acknowledged edits", func() bool { return acked.Load() >= 100 || failed() })
		killed.Store(true)
		if err := victim.Kill(); err != nil {
			t.Fatal(err)
		}
		atKill := acked.Load()
		h.eventually("100 more acknowledged edits after the kill", func() bool { return acked.Load() >= atKill+100 || failed() })
		end()
		for _, e := range errs {
			t.Error(e)
		}
		if t.Failed() {
			return
		}

		// A replica started now sees every acknowledged write, as do the
		// survivors.
		more, err := cl.Start(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		readers := slices.Concat(survivors, more)
		for i, e := range eds {
			r := readers[i%len(readers)]
			s := decode[replicas.Secret](t, h.unlock(r, e.session, e.id, pw), http.StatusOK)
			if s.Version != e.version || s.Content != e.content {
				t.Errorf("editor %d on %s: version %d %q, want %d %q", i, r.Name, s.Version, s.Content, e.version, e.content)
			}
		}
		for _, r := range readers {
			for _, id := range created {
				if !h.listed(r, creator, id) {
					t.Errorf("%s does not list acknowledged create %s", r.Name, id)
				}
			}
		}
		t.Logf("%d acknowledged edits (%d before the kill), %d cut off by it, %d acknowledged creates, %d writes refused as busy",
			acked.Load(), atKill, cut.Load(), len(created), busy.Load())
	})

	t.Run("the janitor's work was done once", func(t *testing.T) {
		h := h.with(t)
		if n := len(h.audit(a, admin, "expired", expiring.ID)); n != 1 {
			t.Errorf("expired audit events: %d, want 1", n)
		}
		deleted := 0.0
		for _, r := range cl.Replicas() {
			for _, e := range r.LogEntries("expired secrets deleted") {
				n, _ := e["deleted"].(float64)
				deleted += n
			}
		}
		if deleted != 1 {
			t.Errorf("expired secrets deleted, over all replicas' logs: %v, want 1", deleted)
		}
		if p := purges(cl.Replicas(), globex.ClientKey); len(p) != 1 {
			t.Errorf("purges of globex reported by %v, want one", p)
		}
	})
}

// purges names the replicas that logged purging the tenant, once per
// report.
func purges(rs []*replicas.Replica, clientKey string) []string {
	var by []string
	for _, r := range rs {
		for _, e := range r.LogEntries("uninstalled tenant purged after retention") {
			if e["client_key"] == clientKey {
				by = append(by, r.Name)
			}
		}
	}
	return by
}

// countTenants counts the tenants in the schema's table.
func countTenants(t *testing.T, ctx context.Context, url, schema string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "tenants"}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// replicaClient calls the replicas for a test as the browser app and the
// site would. Its methods fail the test when no answer comes at all; what
// the answer is, the test checks.
type replicaClient struct {
	t    *testing.T
	ctx  context.Context
	c    *http.Client
	site *replicas.Site
}

// with is h for subtest t.
func (h *replicaClient) with(t *testing.T) *replicaClient {
	c := *h
	c.t = t
	return &c
}

func (h *replicaClient) do(r *replicas.Replica, req replicas.Request) replicas.Response {
	h.t.Helper()
	res, err := r.Do(h.ctx, h.c, req)
	if err != nil {
		h.t.Fatalf("%s %s on %s: %v", req.Method, req.Path, r.Name, err)
	}
	return res
}

// session opens the issue panel from r as accountID and returns its
// session token.
func (h *replicaClient) session(r *replicas.Replica, accountID, issue string) string {
	h.t.Helper()
	tok, err := h.site.Panel(h.ctx, r, accountID, issue)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *replicaClient) adminSession(r *replicas.Replica, accountID string) string {
	h.t.Helper()
	tok, err := h.site.AdminPage(h.ctx, r, accountID)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// create creates a secret on r, failing the test unless it is created.
func (h *replicaClient) create(r *replicas.Replica, session string, body map[string]any) replicas.Secret {
	h.t.Helper()
	return decode[replicas.Secret](h.t, h.do(r, replicas.Request{Method: "POST", Path: "/api/secrets", Session: session, Body: body}), http.StatusCreated)
}

func (h *replicaClient) unlock(r *replicas.Replica, session, id, password string) replicas.Response {
	h.t.Helper()
	return h.do(r, replicas.Request{Method: "POST", Path: "/api/secrets/" + id + "/unlock", Session: session,
		Body: map[string]any{"password": password}})
}

// listed reports whether r lists the secret id in the session's container.
func (h *replicaClient) listed(r *replicas.Replica, session, id string) bool {
	h.t.Helper()
	list := decode[struct{ Secrets []replicas.Secret }](h.t, h.do(r, replicas.Request{Method: "GET", Path: "/api/secrets", Session: session}), http.StatusOK)
	for _, s := range list.Secrets {
		if s.ID == id {
			return true
		}
	}
	return false
}

// auditEvent is an admin audit log entry, the fields the test reads.
type auditEvent struct {
	Type     string `json:"type"`
	SecretID string `json:"secretId"`
}

// audit returns the audit events of one type about one secret, from r's
// admin API.
func (h *replicaClient) audit(r *replicas.Replica, session, typ, secretID string) []auditEvent {
	h.t.Helper()
	q := url.Values{"type": {typ}, "secret": {secretID}}
	page := decode[struct{ Events []auditEvent }](h.t, h.do(r, replicas.Request{Method: "GET", Path: "/api/admin/audit?" + q.Encode(), Session: session}), http.StatusOK)
	return page.Events
}

// derivations sums the key derivations the replicas have completed.
func (h *replicaClient) derivations(rs []*replicas.Replica) float64 {
	h.t.Helper()
	sum := 0.0
	for _, r := range rs {
		n, err := r.Metric(h.ctx, h.c, "secrets_kdf_derivations_total")
		if err != nil {
			h.t.Fatal(err)
		}
		sum += n
	}
	return sum
}

// eventually polls cond until it holds, failing the test after 30 s.
func (h *replicaClient) eventually(what string, cond func() bool) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			h.t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// decode checks res's status and decodes its body.
func decode[T any](t *testing.T, res replicas.Response, status int) T {
	t.Helper()
	var v T
	if res.Status != status {
		t.Fatalf("got %s, want %d", res, status)
	}
	if err := res.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

type answer struct {
	res replicas.Response
	err error
}

// parallel runs n calls at once, released together, and returns their
// answers in order.
func parallel(n int, call func(i int) (replicas.Response, error)) []answer {
	out := make([]answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i].res, out[i].err = call(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}
