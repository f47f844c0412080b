// Command secretsload is the load script behind `make bench`. It builds
// secretsd and runs it as production does, through internal/replicas
// (production mode, a stand-in for Atlassian that installs the site and
// hands out session tokens through signed module pages): first one node on
// a bbolt file, then 1, 2 and 3 replicas on one PostgreSQL schema. On each
// it measures list throughput (clients listing one issue's secrets back to
// back) and unlock throughput (clients unlocking with the right password,
// while a few panels keep listing), every client spreading its requests
// round-robin over the replicas, and prints one table with latencies,
// errors, CPU use and peak memory, next to the raw argon2id rate of this
// machine. It ends by itself, and drops the schema it made.
//
// It only ever talks to the processes and servers it started, on loopback,
// and to the PostgreSQL server it is given (-postgres, default
// $SECRETS_TEST_POSTGRES), in a schema of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/connect-secrets/secrets/internal/replicas"
	"golang.org/x/crypto/argon2"
)

func main() {
	var o options
	flag.StringVar(&o.postgres, "postgres", os.Getenv("SECRETS_TEST_POSTGRES"), "PostgreSQL URL (postgres://…) the replicas share, in a fresh schema (default $SECRETS_TEST_POSTGRES)")
	flag.StringVar(&o.replicas, "replicas", "1,2,3", "comma-separated replica counts to measure on PostgreSQL, ascending")
	flag.IntVar(&o.listers, "listers", 8, "concurrent list clients in the list phase")
	flag.IntVar(&o.unlockers, "unlockers", 12, "concurrent unlock clients, one account each (at most 16 per replica wait their turn; more are refused by design)")
	flag.IntVar(&o.panels, "panels", 2, "list clients during the unlock phase, each listing every -list-interval")
	flag.DurationVar(&o.listEvery, "list-interval", 100*time.Millisecond, "pause between one panel's lists during the unlock phase")
	flag.IntVar(&o.secrets, "secrets", 20, "secrets in the issue the clients list and unlock")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "length of each measured phase")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each phase")
	flag.IntVar(&o.budgetMiB, "kdf-budget-mib", 256, "each replica's --kdf-memory-budget in MiB")
	flag.StringVar(&o.bin, "secretsd", "", "secretsd binary (default: build ./cmd/secretsd)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "secretsload:", err)
		os.Exit(1)
	}
}

type options struct {
	postgres, replicas, bin             string
	listers, unlockers, panels, secrets int
	budgetMiB                           int
	duration, warmup, listEvery         time.Duration
	counts                              []int
}

func run(o options) error {
	if o.postgres == "" {
		return errors.New("no PostgreSQL: pass -postgres postgres://… or set SECRETS_TEST_POSTGRES (`make testdb` prints one)")
	}
	for _, s := range strings.Split(o.replicas, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || (len(o.counts) > 0 && n <= o.counts[len(o.counts)-1]) {
			return fmt.Errorf("-replicas %q: want ascending counts like 1,2,3", o.replicas)
		}
		o.counts = append(o.counts, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "secretsload-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.bin == "" {
		o.bin = filepath.Join(dir, "secretsd")
		build := exec.Command("go", "build", "-o", o.bin, "./cmd/secretsd")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build secretsd: %w", err)
		}
	}

	// The raw rate is the better of one derivation at a time and as many
	// as the budget allows, so the comparison is against the machine's
	// best.
	par := max(1, o.budgetMiB/64)
	seq, parRate := rawArgon2Rate(1, 3*time.Second), rawArgon2Rate(par, 3*time.Second)
	raw := max(seq, parRate)
	fmt.Printf("raw argon2id (m=64MiB t=3 p=4), in this process: %.2f derivations/s one at a time, %.2f with %d at once\n", seq, parRate, par)

	atl, err := replicas.NewAtlassian(dir)
	if err != nil {
		return err
	}
	defer atl.Close()
	b := &bench{o: o, c: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}

	var rows []row
	// bbolt: one node, the default deployment.
	boltDir := filepath.Join(dir, "bolt")
	if err := os.Mkdir(boltDir, 0o700); err != nil {
		return err
	}
	err = b.measure(ctx, replicas.Config{Store: "bolt://" + filepath.Join(boltDir, "secrets.db"), Atlassian: atl, Dir: boltDir},
		"bbolt", []int{1}, &rows)
	if err != nil {
		return err
	}
	// PostgreSQL: the same schema, one replica more at each step.
	schema, err := replicas.NewSchema(ctx, o.postgres, "secretsload_")
	if err != nil {
		return err
	}
	defer func() {
		if err := schema.Drop(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(os.Stderr, "secretsload:", err)
		}
	}()
	pgDir := filepath.Join(dir, "postgres")
	if err := os.Mkdir(pgDir, 0o700); err != nil {
		return err
	}
	if err := b.measure(ctx, replicas.Config{Store: schema.URL, Atlassian: atl, Dir: pgDir}, "postgres", o.counts, &rows); err != nil {
		return err
	}
	printRows(o, rows, raw)
	return nil
}

// bench measures clusters.
type bench struct {
	o options
	c *http.Client
}

// row is one phase on one cluster size.
type row struct {
	store    string
	replicas int
	request  string
	done     stats
	panels   stats // lists during the unlock phase
	cpu      cpuUse
	peakRSS  int64 // the largest replica's, bytes
}

// measure starts the cluster, installs a site, creates the secrets, and
// then, growing the cluster to each of counts replicas, measures it.
func (b *bench) measure(ctx context.Context, cfg replicas.Config, store string, counts []int, rows *[]row) error {
	cfg.Command = []string{b.o.bin}
	// Logging at info, as in production: every request is a log line.
	cfg.Args = []string{"--kdf-memory-budget", strconv.Itoa(b.o.budgetMiB) + "MiB"}
	cfg.MaxLogLines = 10_000
	cl, err := replicas.NewCluster(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := cl.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "secretsload:", err)
		}
	}()
	fail := func(err error) error {
		for _, r := range cl.Replicas() {
			logs := r.Logs()
			fmt.Fprintf(os.Stderr, "replica %s, last log lines:\n%s\n", r.Name, strings.Join(logs[max(0, len(logs)-20):], "\n"))
		}
		return fmt.Errorf("%s: %w", store, err)
	}
	rs, err := cl.Start(ctx, counts[0])
	if err != nil {
		return fail(err)
	}
	site := cfg.Atlassian.NewSite(store)
	if err := site.Install(ctx, rs[0]); err != nil {
		return fail(err)
	}
	w, err := b.prepare(ctx, site, rs)
	if err != nil {
		return fail(err)
	}
	for _, n := range counts {
		if more := n - len(rs); more > 0 {
			started, err := cl.Start(ctx, more)
			if err != nil {
				return fail(err)
			}
			rs = append(rs, started...)
		}
		list, unlock, err := b.phases(ctx, w, rs)
		if err != nil {
			return fail(err)
		}
		list.store, unlock.store = store, store
		list.replicas, unlock.replicas = n, n
		*rows = append(*rows, list, unlock)
	}
	return nil
}

// workload is what the clients use: sessions and secrets of one issue.
type workload struct {
	lister    string   // the session of every list client
	unlockers []string // one session (account) per unlock client
	ids       []string
}

const (
	issueID  = "10001"
	password = "load-test-password"
	// writesPerUser stays within secretsd's per-user write burst (20).
	writesPerUser = 10
)

// prepare takes the sessions and creates the secrets.
func (b *bench) prepare(ctx context.Context, site *replicas.Site, rs []*replicas.Replica) (*workload, error) {
	w := &workload{}
	var err error
	if w.lister, err = site.Panel(ctx, rs[0], "lister", issueID); err != nil {
		return nil, err
	}
	for i := range b.o.unlockers {
		s, err := site.Panel(ctx, rs[0], fmt.Sprintf("unlocker-%d", i), issueID)
		if err != nil {
			return nil, err
		}
		w.unlockers = append(w.unlockers, s)
	}
	var creator string
	for i := range b.o.secrets {
		if i%writesPerUser == 0 {
			if creator, err = site.Panel(ctx, rs[0], fmt.Sprintf("creator-%d", i/writesPerUser), issueID); err != nil {
				return nil, err
			}
		}
		res, err := rs[0].Do(ctx, b.c, replicas.Request{Method: "POST", Path: "/api/secrets", Session: creator,
			Body: map[string]string{"title": fmt.Sprintf("load %d", i), "content": "body", "password": password}})
		var s replicas.Secret
		if err != nil || res.Status != http.StatusCreated || res.Decode(&s) != nil {
			return nil, fmt.Errorf("create secret: %v %s", err, res)
		}
		w.ids = append(w.ids, s.ID)
	}
	return w, nil
}

// phases measures lists, then unlocks (with a few panels listing), on rs.
func (b *bench) phases(ctx context.Context, w *workload, rs []*replicas.Replica) (list, unlock row, err error) {
	listOnce := func(ctx context.Context, r *replicas.Replica) error {
		res, err := r.Do(ctx, b.c, replicas.Request{Method: "GET", Path: "/api/secrets", Session: w.lister})
		if err != nil {
			return err
		}
		if res.Status != http.StatusOK {
			return fmt.Errorf("list: %s", res)
		}
		return nil
	}
	list.request = "list"
	list.done, list.cpu = b.load(ctx, rs, b.o.listers, func(ctx context.Context, _, _ int, r *replicas.Replica) error {
		return listOnce(ctx, r)
	}, nil)

	unlock.request = "unlock"
	var panels stats
	unlock.done, unlock.cpu = b.load(ctx, rs, b.o.unlockers, func(ctx context.Context, worker, n int, r *replicas.Replica) error {
		id := w.ids[(worker+n*b.o.unlockers)%len(w.ids)]
		res, err := r.Do(ctx, b.c, replicas.Request{Method: "POST", Path: "/api/secrets/" + id + "/unlock", Session: w.unlockers[worker],
			Body: map[string]string{"password": password}})
		if err != nil {
			return err
		}
		if res.Status == http.StatusTooManyRequests {
			// As the browser app does, and as the API asks: a refused
			// unlock is tried again after Retry-After, not at once. A
			// client that retries at once is a flood, which
			// `make reliability` measures separately.
			if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
				select {
				case <-time.After(time.Duration(s) * time.Second):
				case <-ctx.Done():
				}
			}
		}
		if res.Status != http.StatusOK {
			return fmt.Errorf("unlock: %s", res)
		}
		return nil
	}, func(ctx context.Context, stop <-chan struct{}, measuring func() bool) {
		// A steady stream of panels loading, not a second flood.
		panels = b.panels(ctx, stop, rs, listOnce, measuring)
	})
	unlock.panels = panels
	for _, r := range rs {
		list.peakRSS = max(list.peakRSS, r.PeakRSS())
	}
	unlock.peakRSS = list.peakRSS
	if list.done.count() == 0 || unlock.done.count() == 0 {
		return list, unlock, fmt.Errorf("nothing succeeded (list errors: %v; unlock errors: %v)", list.done.firstErr, unlock.done.firstErr)
	}
	return list, unlock, nil
}

// load runs workers clients for the warm-up and then the measured
// duration; client worker's n-th request goes to rs[(worker+n) % len(rs)].
// beside, if set, runs meanwhile until stop is closed, and learns whether
// the measurement has begun.
func (b *bench) load(ctx context.Context, rs []*replicas.Replica, workers int, do func(ctx context.Context, worker, n int, r *replicas.Replica) error,
	beside func(ctx context.Context, stop <-chan struct{}, measuring func() bool)) (stats, cpuUse) {
	var mu sync.Mutex
	var st stats
	begin := time.Now().Add(b.o.warmup)
	end := begin.Add(b.o.duration)
	measuring := func() bool { return !time.Now().Before(begin) }
	var wg sync.WaitGroup
	stop := make(chan struct{})
	if beside != nil {
		wg.Go(func() { beside(ctx, stop, measuring) })
	}
	for worker := range workers {
		wg.Go(func() {
			for n := 0; time.Now().Before(end); n++ {
				t0 := time.Now()
				err := do(ctx, worker, n, rs[(worker+n)%len(rs)])
				// Counted: what completed within the phase, so the
				// rate is completions per second even when one request
				// takes longer than the phase (unlocks queue).
				if t1 := time.Now(); t1.Before(begin) || t1.After(end) {
					continue
				}
				mu.Lock()
				st.add(time.Since(t0), err)
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Until(begin))
	before := sampleCPU(rs)
	time.Sleep(time.Until(end))
	after := sampleCPU(rs)
	close(stop)
	wg.Wait()
	st.elapsed = b.o.duration
	return st, after.since(before)
}

// panels lists every listEvery from each of the -panels clients until stop
// is closed, and returns what was measured.
func (b *bench) panels(ctx context.Context, stop <-chan struct{}, rs []*replicas.Replica, list func(context.Context, *replicas.Replica) error, measuring func() bool) stats {
	var mu sync.Mutex
	var st stats
	var wg sync.WaitGroup
	for p := range b.o.panels {
		wg.Go(func() {
			for n := p; ; n++ {
				t0 := time.Now()
				err := list(ctx, rs[n%len(rs)])
				if measuring() {
					mu.Lock()
					st.add(time.Since(t0), err)
					mu.Unlock()
				}
				select {
				case <-stop:
					return
				case <-time.After(b.o.listEvery):
				}
			}
		})
	}
	wg.Wait()
	return st
}

// stats are the outcomes of one kind of request.
type stats struct {
	lat      []time.Duration // of the successes
	errs     int
	firstErr error
	elapsed  time.Duration
}

func (s *stats) add(d time.Duration, err error) {
	if err != nil {
		s.errs++
		if s.firstErr == nil {
			s.firstErr = err
		}
		return
	}
	s.lat = append(s.lat, d)
}

func (s stats) count() int { return len(s.lat) }

func (s stats) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(len(s.lat)) / s.elapsed.Seconds()
}

func (s stats) pct(p int) string {
	if len(s.lat) == 0 {
		return "-"
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	return l[min(len(l)-1, len(l)*p/100)].Round(100 * time.Microsecond).String()
}

// printRows prints the measurements: every phase in detail, then the
// summary the bench is for.
func printRows(o options, rows []row, raw float64) {
	fmt.Printf("\nlist: %d clients back to back; unlock: %d clients (one account each) over %d secrets, with %d panels listing every %s; %s each after %s of warm-up; requests round-robin over the replicas\n",
		o.listers, o.unlockers, o.secrets, o.panels, o.listEvery, o.duration, o.warmup)
	fmt.Printf("| %-8s | %8s | %-7s | %10s | %9s | %9s | %6s | %15s | %11s | %13s | %14s | %9s |\n",
		"store", "replicas", "request", "per second", "p50", "p99", "errors", "panel list p99", "machine CPU", "secretsd CPU", "per secretsd s", "peak RSS")
	fmt.Printf("|%s|\n", strings.Repeat("-", 156))
	cores := float64(runtime.NumCPU())
	for _, r := range rows {
		panel := "-"
		if r.request == "unlock" {
			panel = r.panels.pct(99)
		}
		perCPU := 0.0
		if r.cpu.secretsd > 0 {
			perCPU = r.done.rate() / (r.cpu.secretsd * cores)
		}
		fmt.Printf("| %-8s | %8d | %-7s | %10.1f | %9s | %9s | %6d | %15s | %10.0f%% | %12.0f%% | %14.1f | %5d MiB |\n",
			r.store, r.replicas, r.request, r.done.rate(), r.done.pct(50), r.done.pct(99), r.done.errs, panel,
			100*r.cpu.busy, 100*r.cpu.secretsd, perCPU, r.peakRSS>>20)
	}
	fmt.Printf("machine CPU: busy share of all %d cores over the phase, whatever ran; secretsd CPU: the replicas' share (the rest is\n"+
		"PostgreSQL, this load generator, the OS and anything else on the machine); per secretsd s: requests per second of\n"+
		"secretsd CPU time, the cost that stays comparable when other work shares the machine\n", runtime.NumCPU())

	fmt.Printf("\n| %-8s | %8s | %10s | %10s | %18s |\n", "store", "replicas", "list/s", "unlock/s", "unlock/s of raw KDF")
	fmt.Printf("|%s|\n", strings.Repeat("-", 68))
	for i := 0; i+1 < len(rows); i += 2 {
		l, u := rows[i], rows[i+1]
		fmt.Printf("| %-8s | %8d | %10.1f | %10.2f | %17.0f%% |\n", l.store, l.replicas, l.done.rate(), u.done.rate(), 100*u.done.rate()/raw)
	}
	for _, r := range rows {
		if r.done.firstErr != nil {
			fmt.Printf("first %s error on %s×%d: %v\n", r.request, r.store, r.replicas, r.done.firstErr)
		}
	}
}

// rawArgon2Rate measures derivations per second with the server's default
// parameters, workers at once, in this process.
func rawArgon2Rate(workers int, d time.Duration) float64 {
	var mu sync.Mutex
	n := 0
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				argon2.IDKey([]byte("password"), []byte("0123456789abcdef"), 3, 64*1024, 4, 32)
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}
