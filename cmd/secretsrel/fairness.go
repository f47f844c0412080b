package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The fairness check's server: secretsd's default argon2id parameters
// (64 MiB, t=3, p=4), a memory budget for two derivations and one running
// at a time (the default concurrency on 2 CPUs, set so that the check
// expects the same on any machine). Each derivation already uses every
// CPU, so a victim served next waits for the derivation running and its
// own: about twice its idle time.
var fairnessFlags = []string{"--kdf-memory-budget", "128MiB", "--kdf-concurrency", "1"}

const (
	// fairnessRounds is how many times the check alternates between idle
	// and flood.
	fairnessRounds = 4
	// floodWarmup is how long the flood runs before the victim measures, so
	// the KDF queue is full when it does.
	floodWarmup = 1500 * time.Millisecond
	// attackerCreates is the share of the attacker's requests that are
	// creates (each a derivation, and rate limited); the rest are unlocks.
	attackerCreates = 0.2
)

// victim is the user whose unlocks are timed: tenant B (the Confluence dev
// site). The attacker is both users of tenant A (the Jira dev site).
var (
	victim    = confluenceUser
	attackers = []identity{jiraAdmin, jiraUser}
)

// The victim and the attacker spread their unlocks over enough secrets
// that none is unlocked more than maxUnlocks times: a locked secret answers
// 429 without a derivation, which would make a flood cheap and refuse the
// victim for the wrong reason.
const (
	victimSecrets   = 4
	attackerSecrets = 10 // per attacker user; creates allow 20 at once
)

// pool is a set of secrets one user unlocks, each at most maxUnlocks times.
type pool struct {
	s         *session
	mu        sync.Mutex
	ids, pws  []string
	used      []int
	exhausted bool
}

func newPool(ctx context.Context, s *session, n int) (*pool, error) {
	p := &pool{s: s}
	for range n {
		pw := rand.Text()
		m, ans, err := s.create(ctx, "fairness", newContent(), pw)
		if err != nil || ans.status != http.StatusCreated {
			return nil, fmt.Errorf("create: %v %v", ans, err)
		}
		p.ids, p.pws, p.used = append(p.ids, m.ID), append(p.pws, pw), append(p.used, 0)
	}
	return p, nil
}

// next picks the least used secret, or reports that all are used up.
func (p *pool) next() (k int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, n := range p.used {
		if n < p.used[k] {
			k = i
		}
	}
	if p.used[k] >= maxUnlocks {
		p.exhausted = true
		return 0, false
	}
	p.used[k]++
	return k, true
}

// unlock unlocks secret k of the pool. An unlock refused before it was
// tried (429: locked or the KDF queue full; 503: no derivation in time) is
// not counted by secretsd, so it gives its use back.
func (p *pool) unlock(ctx context.Context, k int) (answer, error) {
	_, ans, err := p.s.unlock(ctx, p.ids[k], p.pws[k])
	if err == nil && (ans.status == http.StatusTooManyRequests || ans.status == http.StatusServiceUnavailable) {
		p.mu.Lock()
		p.used[k]--
		p.mu.Unlock()
	}
	return ans, err
}

func fairness(ctx context.Context, b bins, tmp string, clients, unlocks int, maxRatio float64, pause time.Duration) error {
	d, done, err := startFresh(ctx, b, tmp, "fairness", fairnessFlags...)
	if err != nil {
		return err
	}
	defer done()
	c := newHTTPClient()
	defer c.CloseIdleConnections()

	vs, err := login(ctx, c, d.base, victim)
	if err != nil {
		return err
	}
	vp, err := newPool(ctx, vs, victimSecrets)
	if err != nil {
		return fmt.Errorf("victim: %w", err)
	}
	if 2*unlocks+1 > victimSecrets*maxUnlocks {
		return fmt.Errorf("-victim-unlocks %d: at most %d", unlocks, (victimSecrets*maxUnlocks-1)/2)
	}
	var aps []*pool
	for _, id := range attackers {
		s, err := login(ctx, c, d.base, id)
		if err != nil {
			return err
		}
		p, err := newPool(ctx, s, attackerSecrets)
		if err != nil {
			return fmt.Errorf("attacker: %w", err)
		}
		aps = append(aps, p)
	}

	// measure times n sequential victim unlocks; any answer but 200 is a
	// refusal of the victim, which must not happen.
	victimGot := tally{}
	measure := func(n int) ([]time.Duration, error) {
		var lat []time.Duration
		for range n {
			k, _ := vp.next()
			t0 := time.Now()
			ans, err := vp.unlock(ctx, k)
			if err != nil {
				return nil, fmt.Errorf("victim unlock: %w", err)
			}
			victimGot.add(ans, nil)
			if ans.ok() {
				lat = append(lat, time.Since(t0))
			}
		}
		return lat, nil
	}
	if _, err := measure(1); err != nil { // first use: argon2's memory, the caches
		return err
	}
	// Idle and flood alternate in rounds, so that the load of whatever else
	// runs on the machine weighs on both alike.
	var idle, flood []time.Duration
	attackerGot := tally{}
	var queued, running string
	for r := range fairnessRounds {
		n := unlocks/fairnessRounds + min(1, max(0, unlocks%fairnessRounds-r))
		lat, err := measure(n)
		if err != nil {
			return err
		}
		idle = append(idle, lat...)
		stopFlood := startFlood(ctx, aps, clients, pause, attackerGot)
		err = sleep(ctx, floodWarmup)
		if err == nil {
			queued, running = kdfGauges(ctx, c, d.ops)
			lat, err = measure(n)
			flood = append(flood, lat...)
		}
		stopFlood()
		if err != nil {
			return err
		}
	}

	idle99, flood99 := percentile(idle, 99), percentile(flood, 99)
	ratio := float64(flood99) / float64(max(idle99, 1))
	fmt.Printf("  victim (tenant B, 1 user): %d sequential unlocks idle and %d under the flood, in %d alternating rounds; argon2id m=64MiB t=3 p=4, one derivation at a time\n", unlocks, unlocks, fairnessRounds)
	fmt.Printf("  idle:  p50 %s  p99 %s\n", round(percentile(idle, 50)), round(idle99))
	fmt.Printf("  flood: p50 %s  p99 %s  (KDF queue %s waiting, %s running as the last round started)\n", round(percentile(flood, 50)), round(flood99), queued, running)
	// The p50 ratio is printed beside the one that decides: with 20
	// samples a p99 is one sample, which other load on the machine moves.
	fmt.Printf("  p99 ratio flood/idle: %.2f (at most %.2f); p50 ratio %.2f\n", ratio, maxRatio,
		float64(percentile(flood, 50))/float64(max(percentile(idle, 50), 1)))
	retry := "as Retry-After says"
	if pause > 0 {
		retry = "after " + pause.String()
	}
	fmt.Printf("  attacker (tenant A, %d users, %d parallel clients, %.0f%% creates, retrying a 429 %s): %s\n", len(attackers), clients, 100*attackerCreates, retry, attackerGot)
	fmt.Printf("  victim answers: %s\n", victimGot)

	var failed []string
	if n := victimGot["200"]; n != 2*unlocks+1 {
		failed = append(failed, fmt.Sprintf("the victim was refused or failed: %s", victimGot))
	}
	if ratio > maxRatio {
		failed = append(failed, fmt.Sprintf("victim p99 grew %.2f times under the flood (at most %.2f)", ratio, maxRatio))
	}
	if attackerGot["200"] == 0 || attackerGot["429 rate_limited"] == 0 {
		failed = append(failed, "the flood did not fill the KDF queue (no attacker unlock answered, or none refused): nothing was tested")
	}
	for _, p := range aps {
		if p.exhausted {
			failed = append(failed, "the attacker used up its secrets: the flood thinned out before the victim finished")
			break
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// startFlood runs clients attacker clients over the pools until the returned
// function is called, which waits for them to finish. Their answers are
// added to got.
func startFlood(ctx context.Context, pools []*pool, clients int, pause time.Duration, got tally) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range clients {
		p := pools[i%len(pools)]
		wg.Go(func() {
			for ctx.Err() == nil {
				var ans answer
				var err error
				k, ok := 0, false
				if mrand.Float64() >= attackerCreates {
					k, ok = p.next()
				}
				if ok {
					ans, err = p.unlock(ctx, k)
				} else {
					_, ans, err = p.s.create(ctx, "fairness flood", "x", "flood-password")
				}
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				got.add(ans, err)
				mu.Unlock()
				switch {
				case err != nil:
					_ = sleep(ctx, time.Second)
				case ans.status == http.StatusTooManyRequests && pause > 0:
					_ = sleep(ctx, pause)
				case ans.status == http.StatusTooManyRequests:
					_ = sleep(ctx, ans.retryAfter)
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// kdfGauges reads the KDF queue depth and running derivations from /metrics.
func kdfGauges(ctx context.Context, c *http.Client, ops string) (queued, running string) {
	queued, running = "?", "?"
	_, body, err := get(ctx, c, ops+"/metrics")
	if err != nil {
		return queued, running
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "secrets_kdf_queue_depth "); ok {
			queued = v
		}
		if v, ok := strings.CutPrefix(line, "secrets_kdf_running "); ok {
			running = v
		}
	}
	return queued, running
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
