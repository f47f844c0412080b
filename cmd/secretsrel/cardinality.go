package main

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxSeriesGrowth is how many series the junk requests may add after the
// warm-up has sent one of every kind: a status not seen in the warm-up
// (one counter series), say. Labels are fixed sets (route templates,
// standard methods or "other", statuses), so anything more is a label
// taken from the request.
const maxSeriesGrowth = 5

// Standard methods the junk requests use besides invented ones. CONNECT is
// left out: Go's client sends it in authority form, without a path.
var standardMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace,
}

// junkPaths are the shapes of the random paths: unrouted ones, and ones
// under routed prefixes where a template matches or nearly does.
var junkPaths = []func() string{
	func() string { return "/" + word() },
	func() string { return "/" + word() + "/" + word() + "?" + word() + "=" + word() },
	func() string { return "/api/secrets/" + word() },
	func() string { return "/api/secrets/" + word() + "/" + word() },
	func() string { return "/api/" + word() },
	func() string { return "/static/" + word() + "/" + word() + ".js" },
	func() string { return "/jira/" + word() },
	func() string { return "/confluence/" + word() + "/" + word() },
}

// word is a random path segment.
func word() string { return strings.ToLower(rand.Text()[:4+mrand.IntN(12)]) }

// inventedMethod is a random method token no standard method spells.
func inventedMethod() string {
	for {
		m := rand.Text()[:3+mrand.IntN(10)]
		if !strings.Contains(strings.Join(standardMethods, " ")+" CONNECT", m) {
			return m
		}
	}
}

// scrape is the size of one /metrics answer.
type scrape struct {
	series, lines, bytes int
}

func (s scrape) String() string {
	return fmt.Sprintf("%d series, %d lines, %d bytes", s.series, s.lines, s.bytes)
}

func cardinality(ctx context.Context, b bins, tmp string, requests int) error {
	d, done, err := startFresh(ctx, b, tmp, "cardinality", smallKDF...)
	if err != nil {
		return err
	}
	defer done()
	c := newHTTPClient()
	defer c.CloseIdleConnections()
	// The dev sites install just after the server is ready; their lifecycle
	// requests are series too, so wait for them before counting.
	if _, err := login(ctx, c, d.base, jiraAdmin); err != nil {
		return err
	}
	if _, err := login(ctx, c, d.base, confluenceAdmin); err != nil {
		return err
	}

	metrics := func() (scrape, error) {
		status, body, err := get(ctx, c, d.ops+"/metrics")
		if err != nil || status != http.StatusOK {
			return scrape{}, fmt.Errorf("/metrics: %d %v", status, err)
		}
		s := scrape{bytes: len(body)}
		for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
			s.lines++
			if !strings.HasPrefix(line, "#") {
				s.series++
			}
		}
		return s, nil
	}
	got := tally{}
	var mu sync.Mutex
	send := func(method, path string) {
		req, err := http.NewRequestWithContext(ctx, method, d.base+path, nil)
		if err != nil {
			mu.Lock()
			got["unsendable"]++
			mu.Unlock()
			return
		}
		res, err := c.Do(req)
		var a answer
		if err == nil {
			a.status = res.StatusCode
			res.Body.Close()
		}
		mu.Lock()
		got.add(a, err)
		mu.Unlock()
	}

	start, err := metrics()
	if err != nil {
		return err
	}
	// The warm-up sends every (method kind, path shape) once, so that the
	// series of every fixed label combination exist before counting.
	for _, path := range junkPaths {
		for _, m := range append(slices.Clone(standardMethods), inventedMethod()) {
			send(m, path())
		}
	}
	before, err := metrics()
	if err != nil {
		return err
	}
	t0 := time.Now()
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range jobs {
				m := inventedMethod()
				if mrand.IntN(4) == 0 {
					m = standardMethods[mrand.IntN(len(standardMethods))]
				}
				send(m, junkPaths[mrand.IntN(len(junkPaths))]())
			}
		})
	}
	for range requests {
		if ctx.Err() != nil {
			break
		}
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	took := time.Since(t0)
	after, err := metrics()
	if err != nil {
		return err
	}

	fmt.Printf("  /metrics at start:         %s\n", start)
	fmt.Printf("  after the %d-request warm-up: %s\n", len(junkPaths)*(len(standardMethods)+1), before)
	fmt.Printf("  after %d junk requests (3 in 4 with invented methods, all with random paths) in %s: %s\n", requests, took.Round(100*time.Millisecond), after)
	fmt.Printf("  growth: %+d series, %+d lines, %+d bytes (at most %d series)\n", after.series-before.series, after.lines-before.lines, after.bytes-before.bytes, maxSeriesGrowth)
	fmt.Printf("  answers: %s\n", got)
	if got["no answer"] > 0 {
		return fmt.Errorf("%d junk requests got no answer", got["no answer"])
	}
	if n := after.series - before.series; n > maxSeriesGrowth {
		return fmt.Errorf("%d junk requests added %d series: a label takes values from the request", requests, n)
	}
	return nil
}
