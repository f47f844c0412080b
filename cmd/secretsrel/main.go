// Command secretsrel is the reliability check behind `make reliability`. It
// builds secretsd and secretsctl, runs real secretsd processes on 127.0.0.1
// (dev mode, temporary stores), drives them through the JSON API with session
// tokens taken as a browser takes them (the sandbox's signed iframe URLs),
// and checks three properties, printing the figures of each:
//
//   - durability: concurrent writers create and edit secrets until secretsd
//     is killed with SIGKILL at a random moment; the store is then verified
//     offline (secretsctl verify on bbolt, the engine's Verify on
//     PostgreSQL), secretsd restarted on it, and every write it had
//     acknowledged must be there, unlocked with its password and compared.
//     Several cycles on a bbolt file and on a fresh PostgreSQL schema
//     ($SECRETS_TEST_POSTGRES, else the server .ci/testdb.sh finds).
//   - fairness: a user of one tenant times sequential unlocks (secretsd's
//     default argon2id parameters) while idle and while both users of the
//     other tenant flood the key derivations with 150 parallel clients of
//     creates and unlocks, retrying each 429 when its Retry-After says;
//     idle and flood alternate in rounds. The victim's p99 may grow at most
//     3 times, and the victim is never refused (429) nor failed (5xx).
//   - cardinality: 20,000 requests with invented methods and random paths
//     must not add series to the /metrics output of the ops listener, once
//     a warm-up has sent one request of every kind.
//
// It exits 1 when a property fails. Every process it starts is killed and
// every temporary directory and schema removed before it returns, on failure
// too. It only ever talks to the servers it started, and prints counts and
// timings, never a password, title or content.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.checks, "checks", "durability,fairness,cardinality", "comma-separated checks to run")
	flag.StringVar(&o.stores, "stores", "bolt,postgres", "comma-separated stores of the durability check")
	flag.IntVar(&o.cycles, "cycles", 5, "kill -9 cycles per store")
	flag.IntVar(&o.writers, "writers", 8, "concurrent writers of the durability check")
	flag.IntVar(&o.attackers, "attackers", 150, "parallel attacker clients of the fairness check")
	flag.IntVar(&o.victimUnlocks, "victim-unlocks", 20, "sequential victim unlocks, idle and under the flood")
	flag.DurationVar(&o.attackerPause, "attacker-pause", 0, "how long an attacker client waits after a 429 (default: as its Retry-After says)")
	flag.Float64Var(&o.maxRatio, "max-ratio", 3, "largest victim p99 flood/idle ratio that passes")
	flag.IntVar(&o.requests, "requests", 20000, "junk requests of the cardinality check")
	flag.StringVar(&o.binDir, "bin", "", "directory with secretsd and secretsctl (default: build them)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "secretsrel:", err)
		os.Exit(1)
	}
}

type options struct {
	checks, stores           string
	cycles, writers          int
	attackers, victimUnlocks int
	maxRatio                 float64
	attackerPause            time.Duration
	requests                 int
	binDir                   string
}

// bins are the binaries under test.
type bins struct {
	secretsd, secretsctl string
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	dir, err := os.MkdirTemp("", "secretsrel-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	b := bins{secretsd: filepath.Join(o.binDir, "secretsd"), secretsctl: filepath.Join(o.binDir, "secretsctl")}
	if o.binDir == "" {
		b = bins{secretsd: filepath.Join(dir, "secretsd"), secretsctl: filepath.Join(dir, "secretsctl")}
		build := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./cmd/secretsd", "./cmd/secretsctl")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build secretsd and secretsctl: %w", err)
		}
	}

	type check struct {
		name string
		run  func(context.Context) error
	}
	var checks []check
	for _, name := range strings.Split(o.checks, ",") {
		switch name = strings.TrimSpace(name); name {
		case "durability":
			for _, st := range strings.Split(o.stores, ",") {
				st = strings.TrimSpace(st)
				if st != "bolt" && st != "postgres" {
					return fmt.Errorf("-stores: unknown store %q (bolt, postgres)", st)
				}
				checks = append(checks, check{"durability (" + st + ")", func(ctx context.Context) error {
					return durability(ctx, b, dir, st, o.cycles, o.writers)
				}})
			}
		case "fairness":
			checks = append(checks, check{name, func(ctx context.Context) error {
				return fairness(ctx, b, dir, o.attackers, o.victimUnlocks, o.maxRatio, o.attackerPause)
			}})
		case "cardinality":
			checks = append(checks, check{name, func(ctx context.Context) error {
				return cardinality(ctx, b, dir, o.requests)
			}})
		default:
			return fmt.Errorf("-checks: unknown check %q (durability, fairness, cardinality)", name)
		}
	}

	var failed []string
	for _, c := range checks {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Printf("== %s\n", c.name)
		t0 := time.Now()
		// Each check is bounded on its own, so a hung server fails the run
		// instead of stalling CI.
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		err := c.run(cctx)
		cancel()
		took := time.Since(t0).Round(100 * time.Millisecond)
		if err != nil {
			fmt.Printf("FAIL %s (%s): %v\n", c.name, took, err)
			failed = append(failed, c.name)
			continue
		}
		fmt.Printf("ok %s (%s)\n", c.name, took)
	}
	fmt.Printf("reliability: %d checks, %d failed, %s\n", len(checks), len(failed), time.Since(start).Round(100*time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}
