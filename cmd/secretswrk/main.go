// Command secretswrk is the side-by-side load script of `make bench` for the
// hot authenticated reads: it starts secretsd in production mode behind a
// local stand-in for Atlassian (internal/replicas: a signed install over
// TLS, host tokens, qsh), creates the secrets of one issue through the API,
// and runs wrk against the list route and the module page. For each it
// prints requests per second, p50/p90/p99 latency, the server's CPU
// seconds, requests per server CPU-second and the server's peak RSS. Then it
// adds tenants (installed straight into the store while secretsd is
// stopped, as many as -tenants asks, with their keys and records as the
// engine writes them) and measures again, so one table shows the same
// requests at 1 and at 10,000 tenants. Built with -tags loadtest (as `make
// bench` runs it), each added tenant also gets -secrets-per-tenant secrets
// (100: a million at 10,000 tenants), written through engine.SeedLoadTest
// with one password derivation for all of them.
//
// Then Atlassian's own framework (ace.go): a minimal
// atlassian-connect-express (ACE) app in Node (ace/app.js: an in-memory
// store, one tenant, the same list body behind ACE's session token, its
// module page behind ACE's host-JWT check with qsh) is started and measured
// exactly like secretsd, as rows "ACE list" and "ACE module page". Issue 11's
// target is a ratio to it (the list at least 5 times ACE's requests per
// server CPU-second), so the last line prints secretsd's rates at the first
// tenant count divided by ACE's, measured in the same run on the same
// machine. It needs Node.js and the app's npm packages (`make ace-deps`,
// which `make bench` runs); -ace=false leaves it out.
//
// Last come two baselines (baseline.go): bare net/http and bare echo serving
// the same list response from a buffer, the ceiling of this route on this
// machine, so the table shows how much of a request's cost is ours.
//
// It talks only to the processes and servers it starts, on 127.0.0.1, and
// ends by itself. wrk must be on the PATH (`make bench` installs Debian's).
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/internal/replicas"
	"github.com/connect-secrets/secrets/pkg/backend"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
)

func main() {
	var o options
	flag.StringVar(&o.tenants, "tenants", "1,10000", "comma-separated tenant counts to measure at, ascending")
	flag.IntVar(&o.secrets, "secrets", 20, "secrets in the issue the list returns")
	flag.IntVar(&o.perTenant, "secrets-per-tenant", 100, "secrets seeded into each added tenant (10,000 tenants: a million), in builds with -tags loadtest")
	flag.IntVar(&o.connections, "connections", 64, "wrk connections (-c)")
	flag.IntVar(&o.threads, "threads", 1, "wrk threads (-t)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured load before each run")
	flag.StringVar(&o.bin, "secretsd", "", "secretsd binary (default: build ./cmd/secretsd)")
	flag.StringVar(&o.wrk, "wrk", "wrk", "the wrk command")
	flag.BoolVar(&o.baseline, "baseline", true, "also measure the bare frameworks serving the same list body (the ceiling)")
	flag.BoolVar(&o.ace, "ace", true, "also measure a minimal atlassian-connect-express app serving the same list (issue 11's yardstick)")
	flag.StringVar(&o.aceDir, "ace-dir", filepath.Join("cmd", "secretswrk", "ace"), "the ACE app's folder, with its node_modules (`make ace-deps`)")
	serve := flag.String("serve-baseline", "", "internal: serve this file as the bare-framework baseline (see baseline.go)")
	flag.Parse()
	if *serve != "" {
		if err := serveBaseline(*serve); err != nil {
			fmt.Fprintln(os.Stderr, "secretswrk:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "secretswrk:", err)
		os.Exit(1)
	}
}

type options struct {
	tenants, bin, wrk    string
	aceDir               string
	secrets, perTenant   int
	connections, threads int
	duration, warmup     time.Duration
	counts               []int
	baseline, ace        bool
}

const issueID = "10001"

func run(o options) error {
	for _, s := range strings.Split(o.tenants, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || (len(o.counts) > 0 && n <= o.counts[len(o.counts)-1]) {
			return fmt.Errorf("-tenants %q: want ascending counts like 1,10000", o.tenants)
		}
		o.counts = append(o.counts, n)
	}
	if _, err := exec.LookPath(o.wrk); err != nil {
		return fmt.Errorf("%s not found: install wrk (Debian: apt-get install wrk; `make bench` does it)", o.wrk)
	}
	if o.ace {
		dir, err := filepath.Abs(o.aceDir)
		if err != nil {
			return err
		}
		o.aceDir = dir
		if err := checkACE(o.aceDir); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "secretswrk-*")
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
	atl, err := replicas.NewAtlassian(dir)
	if err != nil {
		return err
	}
	defer atl.Close()
	storePath := filepath.Join(dir, "secrets.db")
	cl, err := replicas.NewCluster(replicas.Config{
		Command: []string{o.bin}, Store: "bolt://" + storePath, Atlassian: atl, Dir: dir,
		// Logging at info, as in production: every request is a log line.
		MaxLogLines: 1000,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := cl.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "secretswrk:", err)
		}
	}()
	rs, err := cl.Start(ctx, 1)
	if err != nil {
		return err
	}
	r := rs[0]
	site := atl.NewSite("wrk")
	if err := site.Install(ctx, r); err != nil {
		return err
	}
	if err := createSecrets(ctx, site, r, o.secrets); err != nil {
		return err
	}

	fmt.Printf("wrk -t%d -c%d, %s after %s of warm-up, against one secretsd (bbolt, production mode) on 127.0.0.1; %d secrets in the issue\n",
		o.threads, o.connections, o.duration, o.warmup, o.secrets)
	if !canSeedSecrets && len(o.counts) > 1 {
		fmt.Println("(the added tenants hold no secrets: build with -tags loadtest, as make bench does, for 100 each)")
	}
	fmt.Printf("| %8s | %9s | %-15s | %10s | %8s | %8s | %8s | %6s | %9s | %12s | %9s |\n",
		"tenants", "secrets", "request", "req/s", "p50", "p90", "p99", "errors", "server s", "req/server s", "peak RSS")
	fmt.Println("|" + strings.Repeat("-", 133) + "|")
	have := 1
	held := o.secrets  // secrets in the store
	var session string // the last step's, for the baselines
	// secretsd's requests per server CPU-second at the first tenant count,
	// for the ratios to ACE.
	var first struct{ list, page float64 }
	for _, n := range o.counts {
		// Each step measures a fresh process, so that its peak RSS is the
		// step's, not the creates' key derivations (64 MiB each).
		if err := r.Stop(); err != nil {
			return err
		}
		if n > have {
			per := o.perTenant
			if !canSeedSecrets {
				per = 0
			}
			if err := seedTenants(ctx, storePath, filepath.Join(dir, "master.key"), have, n, per); err != nil {
				return err
			}
			held += (n - have) * per
			have = n
		}
		if rs, err = cl.Start(ctx, 1); err != nil {
			return err
		}
		r = rs[0]
		// A fresh session and a fresh signed page URL for each step: the
		// host token lives three minutes.
		session, err = site.Panel(ctx, r, "lister", issueID)
		if err != nil {
			return err
		}
		page, err := site.PanelURL(r, "lister", issueID)
		if err != nil {
			return err
		}
		for _, req := range []struct {
			name, url string
			header    []string
		}{
			{"list", r.URL + "/api/secrets", []string{"Authorization: JWT " + session}},
			// As browsers ask for it.
			{"list, gzip", r.URL + "/api/secrets", []string{"Authorization: JWT " + session, "Accept-Encoding: gzip, deflate, br"}},
			{"module page", page, nil},
		} {
			res, err := measure(ctx, o, r, req.url, req.header)
			if err != nil {
				return fmt.Errorf("%s at %d tenants: %w", req.name, n, err)
			}
			rate := printRow(strconv.Itoa(n), strconv.Itoa(held), req.name, res)
			if n == o.counts[0] {
				switch req.name {
				case "list":
					first.list = rate
				case "module page":
					first.page = rate
				}
			}
		}
	}
	if !o.ace && !o.baseline {
		return nil
	}
	// ACE and the baselines serve secretsd's own list response.
	body, err := fetchList(ctx, r.URL+"/api/secrets", "JWT "+session)
	if err != nil {
		return err
	}
	var ace aceRates
	if o.ace {
		if ace, err = measureACE(ctx, o, dir, body); err != nil {
			return err
		}
	}
	if o.baseline {
		if err := measureBaselines(ctx, o, dir, body); err != nil {
			return err
		}
	}
	if o.ace {
		fmt.Printf("secretsd at %d tenant(s) / ACE, in requests per server CPU-second: list %.1fx, module page %.1fx (issue 11: at least 5x and 3x)\n",
			o.counts[0], first.list/ace.list, first.page/ace.page)
	}
	return nil
}

// printRow prints one row of the table and returns its requests per server
// CPU-second.
func printRow(tenants, secrets, name string, r result) float64 {
	rate := float64(r.requests) / r.cpuSeconds
	fmt.Printf("| %8s | %9s | %-15s | %10.0f | %8s | %8s | %8s | %6d | %9.2f | %12.0f | %5d MiB |\n",
		tenants, secrets, name, r.perSecond, r.p50, r.p90, r.p99, r.errors, r.cpuSeconds, rate, r.peakRSS>>20)
	return rate
}

// fetchList is secretsd's list response body, which ACE and the baselines
// serve.
func fetchList(ctx context.Context, listURL, auth string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, listURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", auth)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list answered %d", res.StatusCode)
	}
	return body, nil
}

// createSecrets creates n secrets in the issue through the API, ten per
// account (each account's write burst is limited).
func createSecrets(ctx context.Context, site *replicas.Site, r *replicas.Replica, n int) error {
	c := &http.Client{Timeout: time.Minute}
	var session string
	for i := range n {
		if i%10 == 0 {
			var err error
			if session, err = site.Panel(ctx, r, fmt.Sprintf("creator-%d", i/10), issueID); err != nil {
				return err
			}
		}
		res, err := r.Do(ctx, c, replicas.Request{Method: "POST", Path: "/api/secrets", Session: session,
			Body: map[string]string{"title": fmt.Sprintf("Production database %d", i), "content": "body", "password": "load-test-password"}})
		if err != nil || res.Status != http.StatusCreated {
			return fmt.Errorf("create secret: %v %s", err, res)
		}
	}
	return nil
}

// seedTenants installs tenants from have up to n straight into the stopped
// server's store, through the engine, so they are what installs write.
func seedTenants(ctx context.Context, storePath, keyFile string, have, n, perTenant int) error {
	kr, err := seal.LoadKeyringFile(keyFile)
	if err != nil {
		return err
	}
	st, err := backend.Open(ctx, "bolt://"+storePath, backend.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	kdf, err := seal.NewKDF(64<<20, seal.MinKDFParams)
	if err != nil {
		return err
	}
	e := engine.New(st, kr, kdf, secrets.DefaultPolicy())
	now := time.Now()
	var seeded []string
	for i := have; i < n; i++ {
		ck := fmt.Sprintf("seeded-%06d-%s", i, rand.Text()[:8])
		seeded = append(seeded, ck)
		err := e.SaveInstallation(ctx, &secrets.Installation{
			ClientKey: ck, Product: secrets.ProductJira,
			AppKey: "secrets", SharedSecret: rand.Text() + rand.Text(),
			BaseURL: fmt.Sprintf("https://seeded-%d.atlassian.net", i), State: secrets.StateInstalled,
			InstalledAt: now, UpdatedAt: now, TokensValidFrom: now,
		})
		if err != nil {
			return fmt.Errorf("seed tenant %d: %w", i, err)
		}
	}
	if perTenant > 0 {
		if err := seedSecrets(ctx, e, seeded, perTenant); err != nil {
			return err
		}
	}
	return st.Close()
}

type result struct {
	requests, errors int
	perSecond        float64
	p50, p90, p99    string
	cpuSeconds       float64
	peakRSS          int64
}

// process is a measured server: secretsd (a *replicas.Replica) or a baseline.
type process interface {
	CPUTicks() uint64
	PeakRSS() int64
}

// measure warms up, then runs wrk once while taking the server's CPU time.
func measure(ctx context.Context, o options, r process, url string, header []string) (result, error) {
	if _, err := runWrk(ctx, o, url, header, o.warmup); err != nil {
		return result{}, err
	}
	before := r.CPUTicks()
	res, err := runWrk(ctx, o, url, header, o.duration)
	if err != nil {
		return res, err
	}
	res.cpuSeconds = float64(r.CPUTicks()-before) / 100 // USER_HZ
	res.peakRSS = r.PeakRSS()
	if res.cpuSeconds <= 0 {
		return res, errors.New("no server CPU time measured (is /proc readable?)")
	}
	if res.errors > 0 {
		return res, fmt.Errorf("%d of %d responses were not 2xx", res.errors, res.requests)
	}
	return res, nil
}

var (
	wrkPercentile = regexp.MustCompile(`(?m)^\s+(50|90|99)%\s+(\S+)`)
	wrkRequests   = regexp.MustCompile(`(?m)^\s+(\d+) requests in`)
	wrkRate       = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
	wrkNon2xx     = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses: (\d+)`)
	wrkSocketErrs = regexp.MustCompile(`(?m)^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk runs wrk against url for d and reads its summary.
func runWrk(ctx context.Context, o options, url string, header []string, d time.Duration) (result, error) {
	args := []string{"-t" + strconv.Itoa(o.threads), "-c" + strconv.Itoa(o.connections), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency"}
	for _, h := range header {
		args = append(args, "-H", h)
	}
	out, err := exec.CommandContext(ctx, o.wrk, append(args, url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	var res result
	s := string(out)
	for _, m := range wrkPercentile.FindAllStringSubmatch(s, -1) {
		switch m[1] {
		case "50":
			res.p50 = m[2]
		case "90":
			res.p90 = m[2]
		case "99":
			res.p99 = m[2]
		}
	}
	m := wrkRequests.FindStringSubmatch(s)
	rate := wrkRate.FindStringSubmatch(s)
	if m == nil || rate == nil || res.p99 == "" {
		return res, fmt.Errorf("cannot read wrk's summary:\n%s", out)
	}
	res.requests, _ = strconv.Atoi(m[1])
	res.perSecond, _ = strconv.ParseFloat(rate[1], 64)
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		res.errors, _ = strconv.Atoi(m[1])
	}
	if m := wrkSocketErrs.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			res.errors += n
		}
	}
	return res, nil
}
