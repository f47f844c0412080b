package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connect-secrets/secrets/pkg/backend"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

// The durability check's writers spread over every identity of both dev
// sites: creates are rate limited per (tenant, user), so more users means
// more creates per cycle.
var writerIdentities = []identity{jiraAdmin, jiraUser, confluenceAdmin, confluenceUser}

// Kill moments are drawn uniformly from this range after the writers start.
const (
	minKillAfter = 500 * time.Millisecond
	maxKillAfter = 5 * time.Second
)

// maxUnlocks is how many times one secret is unlocked in a run, its checks
// included. It stays below a secret's lockout ceiling over all users (20 in
// 24 hours with the default policy; pkg/engine/attempts.go). Correct
// unlocks no longer count toward it (this check found that they did), but
// keeping the load spread over many secrets keeps a lockout, which is not
// what this check is about, out of its figures whatever the policy.
const maxUnlocks = 18

// record is a secret whose creation secretsd acknowledged, with the last
// content and version it acknowledged, and the content of an edit that was
// sent but never answered (the kill came first), which may or may not have
// been applied.
type record struct {
	id, title, password string
	who                 int // index in writerIdentities
	writer              int // the one writer that edits it
	content             string
	version             int
	pending             string
	unlocks             int
}

// attempt is a create that was sent but not acknowledged.
type attempt struct {
	who, writer       int
	password, content string
}

// ledger is what the writers were told, shared by all of them.
type ledger struct {
	mu      sync.Mutex
	records []*record
	unacked map[string]attempt // by title
	refused tally              // non-2xx answers

	creates, edits int // acknowledged this cycle
	liveLost       int // an unlock during the writes showed an older state
}

func (l *ledger) tryCreate(title string, a attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unacked[title] = a
}

func (l *ledger) created(r *record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.unacked, r.title)
	l.records = append(l.records, r)
	l.creates++
}

func (l *ledger) count(f func(l *ledger)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l)
}

// durability runs cycles of write, kill -9, verify, restart and check on one
// store kind ("bolt" or "postgres").
func durability(ctx context.Context, b bins, tmp, kind string, cycles, writers int) error {
	dir, err := os.MkdirTemp(tmp, kind+"-*")
	if err != nil {
		return err
	}
	var storeURL string
	verify := func(ctx context.Context) (string, error) { return verifyBolt(ctx, b.secretsctl, dir) }
	if kind == "postgres" {
		var drop func()
		storeURL, drop, err = freshSchema(ctx)
		if err != nil {
			return err
		}
		defer drop()
		verify = func(ctx context.Context) (string, error) { return verifyStore(ctx, storeURL, dir) }
	}
	// Two derivations at once: each of the small ones uses one lane, and
	// the writers should be limited by the store, not by argon2.
	d, err := newDaemon(b.secretsd, dir, storeURL, append([]string{"--kdf-concurrency", "2"}, smallKDF...)...)
	if err != nil {
		return err
	}
	defer d.kill()
	if err := d.start(ctx); err != nil {
		return err
	}

	l := &ledger{unacked: map[string]attempt{}, refused: tally{}}
	var totalAcked, totalLost, totalPhantom, totalApplied, cleanVerifies int
	for cycle := 1; cycle <= cycles; cycle++ {
		l.creates, l.edits, l.liveLost = 0, 0, 0
		c := newHTTPClient()
		sessions, err := loginAll(ctx, c, d.base, writerIdentities)
		if err != nil {
			return fmt.Errorf("%w; the server's log ends:\n%s", err, d.logTail(20))
		}
		wctx, stopWriters := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() { write(wctx, l, sessions[w%len(sessions)], w%len(sessions), w, cycle, maxUnlocks-cycles) })
		}
		after := minKillAfter + mrand.N(maxKillAfter-minKillAfter)
		if err := sleep(ctx, after); err != nil {
			stopWriters()
			wg.Wait()
			return err
		}
		d.kill()
		stopWriters()
		wg.Wait()
		c.CloseIdleConnections()
		inFlight := len(l.unacked)
		for _, r := range l.records {
			if r.pending != "" {
				inFlight++
			}
		}

		verdict, verr := verify(ctx)
		if verr == nil {
			cleanVerifies++
		}
		if err := d.start(ctx); err != nil {
			return err
		}
		res, err := checkLedger(ctx, d.base, l)
		if err != nil {
			return err
		}
		acked := l.creates + l.edits
		totalAcked += acked
		totalLost += res.lost + l.liveLost
		totalPhantom += res.phantom
		totalApplied += res.applied
		fmt.Printf("  cycle %d: SIGKILL after %s: %d acknowledged writes (%d creates, %d edits), %d unanswered\n",
			cycle, after.Round(time.Millisecond), acked, l.creates, l.edits, inFlight)
		fmt.Printf("           %s; after the restart %d secrets checked: %d lost, %d phantom, %d unanswered writes found applied\n",
			verdict, res.checked, res.lost+l.liveLost, res.phantom, res.applied)
		if verr != nil && !errors.Is(verr, errProblems) {
			return verr
		}
	}
	d.stop()
	fmt.Printf("  %s: %d cycles, %d acknowledged writes, %d lost, %d phantom, %d unanswered writes found applied, verify clean %d/%d, %d secrets at the end; refused while writing: %s\n",
		kind, cycles, totalAcked, totalLost, totalPhantom, totalApplied, cleanVerifies, cycles, len(l.records), l.refused)
	var failed []string
	if totalLost > 0 {
		failed = append(failed, fmt.Sprintf("%d acknowledged writes lost", totalLost))
	}
	if totalPhantom > 0 {
		failed = append(failed, fmt.Sprintf("%d secrets nobody created", totalPhantom))
	}
	if cleanVerifies < cycles {
		failed = append(failed, fmt.Sprintf("verify found problems after %d of %d kills", cycles-cleanVerifies, cycles))
	}
	if totalAcked == 0 {
		failed = append(failed, "no write was acknowledged: nothing was tested")
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

func loginAll(ctx context.Context, c *http.Client, base string, ids []identity) ([]*session, error) {
	out := make([]*session, len(ids))
	for i, id := range ids {
		s, err := login(ctx, c, base, id)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// write is writer number writer: it creates secrets as identity who and
// edits the ones it created in this cycle and earlier ones, each at most
// edits times in the run, one request at a time, until ctx ends or the
// server is gone.
func write(ctx context.Context, l *ledger, s *session, who, writer, cycle, edits int) {
	var own []*record
	l.count(func(l *ledger) {
		for _, r := range l.records {
			if r.writer == writer {
				own = append(own, r)
			}
		}
	})
	var createAfter time.Time // creates are rate limited until then
	for n := 0; ctx.Err() == nil; n++ {
		own = slices.DeleteFunc(own, func(r *record) bool { return r.unlocks >= edits })
		if time.Now().After(createAfter) && (len(own) < 2 || mrand.IntN(3) == 0) {
			title := fmt.Sprintf("rel c%d w%d #%d", cycle, writer, n)
			a := attempt{who: who, writer: writer, password: rand.Text(), content: newContent()}
			l.tryCreate(title, a)
			m, ans, err := s.create(ctx, title, a.content, a.password)
			if err != nil {
				return // killed: the create stays unanswered
			}
			if ans.status == http.StatusCreated {
				r := &record{id: m.ID, title: title, password: a.password, who: who, writer: writer, content: a.content, version: m.Version}
				l.created(r)
				own = append(own, r)
				continue
			}
			if ans.status == http.StatusTooManyRequests {
				createAfter = time.Now().Add(2 * time.Second)
			}
			l.count(func(l *ledger) { l.refused.add(ans, nil) })
			continue
		}
		if len(own) == 0 {
			if sleep(ctx, 50*time.Millisecond) != nil {
				return
			}
			continue
		}
		r := own[mrand.IntN(len(own))]
		r.unlocks++
		u, ans, err := s.unlock(ctx, r.id, r.password)
		if err != nil {
			return
		}
		if !ans.ok() {
			l.count(func(l *ledger) { l.refused.add(ans, nil) })
			continue
		}
		if u.Content != r.content || u.Version != r.version {
			// An acknowledged edit is already gone while the server runs.
			l.count(func(l *ledger) { l.liveLost++ })
			r.content, r.version = u.Content, u.Version
		}
		next := newContent()
		r.pending = next
		up, ans, err := s.update(ctx, r.id, u.UnlockToken, r.title, next, u.Version)
		if err != nil {
			return // killed: the edit stays pending
		}
		if ans.ok() {
			r.content, r.version, r.pending = next, up.Version, ""
			l.count(func(l *ledger) { l.edits++ })
			continue
		}
		if ans.status/100 == 4 {
			r.pending = "" // refused, so not applied
		}
		l.count(func(l *ledger) { l.refused.add(ans, nil) })
	}
}

// newContent is a secret body of 26 to 208 random characters.
func newContent() string {
	var sb strings.Builder
	for range 1 + mrand.IntN(8) {
		sb.WriteString(rand.Text())
	}
	return sb.String()
}

type checkResult struct {
	checked, lost, phantom, applied int
}

// checkLedger takes fresh sessions on the restarted server and checks every
// acknowledged write of l: each secret is listed, unlocks with its password
// and holds the last acknowledged content and version, or those of the edit
// that was pending when the server died. Secrets in the list that l does not
// know must be creates that were never answered, intact; any other is a
// phantom. l is then brought up to date with what was found.
func checkLedger(ctx context.Context, base string, l *ledger) (checkResult, error) {
	c := newHTTPClient()
	defer c.CloseIdleConnections()
	sessions, err := loginAll(ctx, c, base, writerIdentities)
	if err != nil {
		return checkResult{}, err
	}
	var mu sync.Mutex
	var res checkResult
	errs := make([]error, len(sessions))
	var wg sync.WaitGroup
	for who, s := range sessions {
		wg.Go(func() {
			r, err := checkIdentity(ctx, s, who, l)
			mu.Lock()
			defer mu.Unlock()
			res.checked += r.checked
			res.lost += r.lost
			res.phantom += r.phantom
			res.applied += r.applied
			errs[who] = err
		})
	}
	wg.Wait()
	clear(l.unacked)
	return res, errors.Join(errs...)
}

func checkIdentity(ctx context.Context, s *session, who int, l *ledger) (checkResult, error) {
	var res checkResult
	listed, ans, err := s.list(ctx)
	if err != nil || !ans.ok() {
		return res, fmt.Errorf("%s: list after restart: %v %v", writerIdentities[who].name, ans, err)
	}
	byID := map[string]secretMeta{}
	for _, m := range listed {
		byID[m.ID] = m
	}
	var own []*record
	l.count(func(l *ledger) {
		for _, r := range l.records {
			if r.who == who {
				own = append(own, r)
			}
		}
	})
	for _, r := range own {
		res.checked++
		if _, ok := byID[r.id]; !ok {
			res.lost++
			continue
		}
		delete(byID, r.id)
		r.unlocks++
		u, ans, err := unlockRetrying(ctx, s, r.id, r.password)
		if err != nil {
			return res, err
		}
		switch {
		case !ans.ok():
			fmt.Printf("    %s: a secret does not unlock after the restart: %v\n", writerIdentities[who].name, ans)
			res.lost++
		case u.Content == r.content && u.Version == r.version:
		case r.pending != "" && u.Content == r.pending && u.Version == r.version+1:
			r.content, r.version = u.Content, u.Version
			res.applied++
		default:
			res.lost++
			r.content, r.version = u.Content, u.Version // count each loss once
		}
		r.pending = ""
	}
	for _, m := range byID {
		var a attempt
		var ok bool
		l.count(func(l *ledger) { a, ok = l.unacked[m.Title] })
		if !ok || a.who != who {
			res.phantom++
			continue
		}
		// A create the kill cut off after it was applied: it must be
		// whole, and from now on it is checked like the others.
		u, ans, err := unlockRetrying(ctx, s, m.ID, a.password)
		if err != nil {
			return res, err
		}
		if !ans.ok() || u.Content != a.content {
			res.phantom++
			continue
		}
		res.applied++
		l.count(func(l *ledger) {
			l.records = append(l.records, &record{id: m.ID, title: m.Title, password: a.password, who: who, writer: a.writer, content: u.Content, version: u.Version, unlocks: 1})
		})
	}
	return res, nil
}

// unlockRetrying unlocks, waiting out a full KDF queue (429 rate_limited):
// the check's own unlocks may queue behind each other.
func unlockRetrying(ctx context.Context, s *session, id, password string) (unlocked, answer, error) {
	for {
		u, ans, err := s.unlock(ctx, id, password)
		if err != nil || ans.code != "rate_limited" {
			return u, ans, err
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return u, ans, err
		}
	}
}

// errProblems is the verify functions' error when the store has problems.
var errProblems = errors.New("verify found problems")

// verifyBolt runs secretsctl verify on the bbolt file in dir, as an operator
// would after a crash, and returns its verdict.
func verifyBolt(ctx context.Context, secretsctl, dir string) (string, error) {
	data := filepath.Join(dir, "secrets.db")
	out, err := exec.CommandContext(ctx, secretsctl, "verify", "--data", data).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	verdict := "secretsctl verify: " + strings.Replace(lines[len(lines)-1], " in "+data, "", 1)
	if err != nil {
		// The problem list names places and reasons, never content.
		fmt.Printf("%s\n", out)
		return verdict, fmt.Errorf("%w: %v", errProblems, err)
	}
	return verdict, nil
}

// verifyStore runs the engine's Verify on the PostgreSQL store, with the dev
// master key secretsd generated in dir: every record must open.
func verifyStore(ctx context.Context, storeURL, dir string) (string, error) {
	kr, err := seal.LoadKeyringFile(filepath.Join(dir, "master.key"))
	if err != nil {
		return "", err
	}
	st, err := backend.Open(ctx, storeURL, backend.Options{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	r, err := engine.New(st, kr, nil, secrets.DefaultPolicy()).Verify(ctx)
	if err != nil {
		return "", err
	}
	verdict := fmt.Sprintf("engine Verify: checked %d tenants and %d records: %d problems", r.Tenants, r.Records, len(r.Problems))
	if len(r.Problems) > 0 {
		for _, p := range r.Problems {
			fmt.Printf("    problem: tenant %q %s/%s: %s\n", p.Tenant, p.Bucket, p.Key, p.Reason)
		}
		return verdict, errProblems
	}
	return verdict, nil
}

// freshSchema creates an empty schema for one run in the test database
// ($SECRETS_TEST_POSTGRES, else the server .ci/testdb.sh finds) and returns
// a --store URL whose search_path selects it, and a function that drops it.
func freshSchema(ctx context.Context) (string, func(), error) {
	dbURL := os.Getenv("SECRETS_TEST_POSTGRES")
	if dbURL == "" {
		out, err := exec.CommandContext(ctx, "bash", ".ci/testdb.sh").Output()
		if err != nil {
			return "", nil, fmt.Errorf("no PostgreSQL: set SECRETS_TEST_POSTGRES or see .ci/testdb.sh: %w", err)
		}
		dbURL = strings.TrimSpace(string(out))
	}
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("the PostgreSQL URL %s is not a postgres:// URL", backend.Redact(dbURL))
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "secretsrel_" + hex.EncodeToString(b[:])
	if err := pgExec(ctx, dbURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", nil, err
	}
	drop := func() {
		// The run's context may be over: dropping must happen anyway.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pgExec(ctx, dbURL, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "secretsrel: dropping schema %s: %v\n", schema, err)
		}
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

func pgExec(ctx context.Context, dbURL, sql string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("postgres %s: %w", backend.Redact(dbURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("postgres: %s: %w", sql, err)
	}
	return nil
}
