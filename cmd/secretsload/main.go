// Command secretsload is the load script behind `make bench`: it builds and
// starts a real secretsd on 127.0.0.1 (dev mode, temporary database), takes
// session tokens the way a browser does (through the sandbox's signed
// iframe URLs), and then floods it with concurrent unlocks while list
// requests keep coming. It reports throughput, p50/p99 latency and the
// server's peak RSS next to the raw argon2id rate of this machine, and ends
// by itself.
//
// It only ever talks to the server it started, on loopback.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

func main() {
	var o options
	flag.IntVar(&o.unlockers, "unlockers", 100, "concurrent unlock clients")
	flag.IntVar(&o.listers, "listers", 4, "concurrent list clients during the flood")
	flag.DurationVar(&o.listEvery, "list-interval", 100*time.Millisecond, "pause between one list client's requests")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of the flood")
	flag.IntVar(&o.budgetMiB, "kdf-budget-mib", 256, "the server's --kdf-memory-budget in MiB")
	flag.StringVar(&o.bin, "secretsd", "", "secretsd binary (default: build ./cmd/secretsd)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "secretsload:", err)
		os.Exit(1)
	}
}

type options struct {
	unlockers, listers, budgetMiB int
	duration, listEvery           time.Duration
	bin                           string
}

func run(o options) error {
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

	// The raw rate is the better of one derivation at a time and as many as
	// the budget allows, so the comparison is against the machine's best.
	seq := rawArgon2Rate(1, 5*time.Second)
	par := rawArgon2Rate(max(1, o.budgetMiB/64), 5*time.Second)
	raw := max(seq, par)
	fmt.Printf("raw argon2id (m=64MiB t=3 p=4): %.2f derivations/s one at a time, %.2f with %d at once\n", seq, par, max(1, o.budgetMiB/64))

	addr, ops := freeAddr(), freeAddr()
	base := "http://" + addr
	srv := exec.Command(o.bin, "--addr", addr, "--ops-addr", ops, "--backup-addr", freeAddr(), "--base-url", base,
		"--data", filepath.Join(dir, "data", "secrets.db"), "--log-level", "warn",
		"--kdf-memory-budget", strconv.Itoa(o.budgetMiB)+"MiB")
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		_ = srv.Process.Signal(os.Interrupt)
		_ = srv.Wait()
	}()

	c := &http.Client{Timeout: 60 * time.Second}
	token, err := sessionToken(c, base)
	if err != nil {
		return err
	}
	ids := make([]string, o.unlockers)
	for i := range ids {
		// One secret per unlock client: lockout counts per (secret, user),
		// and a real flood comes from many secrets, not one.
		r, err := call(c, "POST", base+"/api/secrets", token, map[string]string{
			"title": fmt.Sprintf("load %d", i), "content": "body", "password": "load-test-password",
		})
		if err != nil || r.status != 201 {
			return fmt.Errorf("create secret: %d %v", r.status, err)
		}
		ids[i] = r.body["id"].(string)
	}
	rssBefore := peakRSS(srv.Process.Pid)

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var mu sync.Mutex
	var unlockLat, listLat []time.Duration
	var unlockErrs, listErrs int
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.unlockers {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				r, err := call(c, "POST", base+"/api/secrets/"+ids[i]+"/unlock", token, map[string]string{"password": "load-test-password"})
				d := time.Since(t0)
				mu.Lock()
				if err != nil || r.status != 200 {
					if ctx.Err() == nil {
						unlockErrs++
					}
				} else {
					unlockLat = append(unlockLat, d)
				}
				mu.Unlock()
			}
		})
	}
	for range o.listers {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				r, err := call(c, "GET", base+"/api/secrets", token, nil)
				d := time.Since(t0)
				mu.Lock()
				if err != nil || r.status != 200 {
					listErrs++
				} else {
					listLat = append(listLat, d)
				}
				mu.Unlock()
				time.Sleep(o.listEvery) // a steady stream of panels loading, not a second flood
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak := peakRSS(srv.Process.Pid)

	unlockRate := float64(len(unlockLat)) / elapsed.Seconds()
	fmt.Printf("flood: %d unlock clients (one secret each) + %d list clients (every %s, %d secrets per list) for %s\n",
		o.unlockers, o.listers, o.listEvery, o.unlockers, elapsed.Round(time.Millisecond))
	fmt.Printf("| %-8s | %8s | %10s | %10s | %10s | %6s |\n", "request", "count", "per second", "p50", "p99", "errors")
	fmt.Printf("| %-8s | %8d | %10.2f | %10s | %10s | %6d |\n", "unlock", len(unlockLat), unlockRate, pct(unlockLat, 50), pct(unlockLat, 99), unlockErrs)
	fmt.Printf("| %-8s | %8d | %10.2f | %10s | %10s | %6d |\n", "list", len(listLat), float64(len(listLat))/elapsed.Seconds(), pct(listLat, 50), pct(listLat, 99), listErrs)
	fmt.Printf("unlock throughput: %.0f%% of the raw argon2id rate\n", 100*unlockRate/raw)
	fmt.Printf("server peak RSS: %d MiB (before the flood %d MiB; target ≤ KDF budget %d MiB + 150 MiB)\n", peak>>20, rssBefore>>20, o.budgetMiB)
	return nil
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

var (
	iframeSrc = regexp.MustCompile(`<iframe[^>]+id="secrets-panel"[^>]*src="([^"]+)"|<iframe[^>]+src="([^"]+)"[^>]*id="secrets-panel"`)
	metaToken = regexp.MustCompile(`<meta name="token" content="([^"]+)"`)
)

// sessionToken loads the sandbox's Jira issue as a browser would and returns
// the session token of the panel it frames.
func sessionToken(c *http.Client, base string) (string, error) {
	var page string
	for i := 0; ; i++ {
		res, err := c.Get(base + "/dev/jira/browse/DEV-1?as=admin")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			page = string(b)
			if res.StatusCode == 200 {
				break
			}
		}
		if i > 200 {
			return "", errors.New("the sandbox did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	m := iframeSrc.FindStringSubmatch(page)
	if m == nil {
		return "", errors.New("no panel iframe on the sandbox issue page")
	}
	src := html.UnescapeString(m[1] + m[2])
	if strings.HasPrefix(src, "/") {
		src = base + src
	}
	for i := 0; ; i++ {
		res, err := c.Get(src)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if t := metaToken.FindSubmatch(b); res.StatusCode == 200 && t != nil {
			return string(t[1]), nil
		}
		// The dev sites are installed just after the server listens.
		if i > 50 {
			return "", fmt.Errorf("panel: %d", res.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type result struct {
	status int
	body   map[string]any
}

func call(c *http.Client, method, url, token string, body any) (result, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Authorization", "JWT "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return result{}, err
	}
	defer res.Body.Close()
	r := result{status: res.StatusCode}
	_ = json.NewDecoder(res.Body).Decode(&r.body)
	return r, nil
}

func pct(lat []time.Duration, p int) string {
	if len(lat) == 0 {
		return "-"
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(100 * time.Microsecond).String()
}

// peakRSS reads the process's high-water resident set size (VmHWM).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}
