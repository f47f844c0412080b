// Package replicas runs secretsd as production does, on loopback: N real
// secretsd processes (--dev=false, an https base URL, one master key file)
// on one store — a PostgreSQL schema, or a bbolt file for a single node —
// behind a stand-in for Atlassian (Atlassian) that installs sites through
// the signed lifecycle route, serves the install keys and the sites' admin
// check over TLS, and opens module pages with host tokens, exactly as Jira
// does, so the session tokens it hands out are accepted by every replica.
//
// The multi-replica acceptance test (cmd/secretsd, TestReplicas) and the
// load script of `make bench` (cmd/secretsload) both run replicas through
// this package, so there is one way of doing it. It only ever starts
// processes and servers on 127.0.0.1 and talks to nothing else.
package replicas

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// DefaultBaseURL is the app's public base URL when Config leaves it empty:
// the load balancer's address, which every replica is told and every
// signed install names as its audience. Nothing resolves it; requests go
// to each replica's own listener.
const DefaultBaseURL = "https://secrets.test"

// Config is how a Cluster starts its replicas.
type Config struct {
	// Command runs one secretsd: the binary and any leading arguments. A
	// test may name its own binary, re-executing itself as secretsd (see
	// Env).
	Command []string
	// Env is added to each replica's environment. The parent's SECRETS_*
	// variables are not passed on, so only Config decides the settings.
	Env []string
	// Store is the --store URL every replica opens.
	Store string
	// Atlassian is the stand-in the replicas fetch install keys from and
	// whose sites they serve. Required.
	Atlassian *Atlassian
	// Dir holds the master key file and is the replicas' working
	// directory. Required.
	Dir string
	// BaseURL is --base-url; default DefaultBaseURL.
	BaseURL string
	// Args are more flags, after the ones the cluster sets (so they win).
	// The cluster learns a replica's addresses from its "secretsd
	// listening" line, so --log-level must stay at info or below.
	Args []string
	// MaxLogLines, when positive, bounds the log lines kept per replica:
	// past it the oldest half is dropped. A load run at the info level
	// logs every request; a test that reads the logs keeps them all (0).
	MaxLogLines int
	// Logs, when set, receives every replica's log lines, each prefixed
	// with the replica's name.
	Logs io.Writer
}

// Cluster is a set of secretsd replicas on one store.
type Cluster struct {
	cfg       Config
	masterKey string

	mu       sync.Mutex // guards replicas and writes to cfg.Logs
	replicas []*Replica
}

// NewCluster checks cfg and writes the master key file the replicas share
// (Dir/master.key, kept if it exists). It starts nothing.
func NewCluster(cfg Config) (*Cluster, error) {
	if len(cfg.Command) == 0 || cfg.Store == "" || cfg.Atlassian == nil || cfg.Dir == "" {
		return nil, errors.New("replicas: Config needs Command, Store, Atlassian and Dir")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	key := filepath.Join(cfg.Dir, "master.key")
	if _, err := os.Stat(key); errors.Is(err, os.ErrNotExist) {
		if err := seal.GenerateKeyFile(key); err != nil {
			return nil, err
		}
	}
	return &Cluster{cfg: cfg, masterKey: key}, nil
}

// BaseURL is the app's public base URL, shared by every replica.
func (c *Cluster) BaseURL() string { return c.cfg.BaseURL }

// Start starts n more replicas at once — they race for the schema
// migrations and the session key, as the replicas of a deployment do — and
// returns them once each answers /readyz, or the first failure. Replicas
// that started stay in the cluster either way, for Close.
func (c *Cluster) Start(ctx context.Context, n int) ([]*Replica, error) {
	rs := make([]*Replica, 0, n)
	for range n {
		r, err := c.spawn()
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.waitReady(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rs, nil
}

// Replicas returns every replica started, in order, running or not.
func (c *Cluster) Replicas() []*Replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.replicas)
}

// Close stops every running replica with SIGTERM and waits for it. It
// reports a replica that does not exit with status 0, one that had exited
// on its own before (other than by Kill), and one whose output holds a
// race detector report (which a killed replica never gets to exit with).
func (c *Cluster) Close() error {
	var errs []error
	for _, r := range c.Replicas() {
		if r.Exited() {
			if err := r.exitErr(); err != nil && !r.wasKilled() {
				errs = append(errs, fmt.Errorf("replica %s had exited: %w", r.Name, err))
			}
		} else {
			errs = append(errs, r.Stop())
		}
		if slices.ContainsFunc(r.Logs(), func(l string) bool { return strings.HasPrefix(l, "WARNING: DATA RACE") }) {
			errs = append(errs, fmt.Errorf("replica %s: the race detector reported a data race (see its output)", r.Name))
		}
	}
	return errors.Join(errs...)
}

// spawn starts one replica process.
func (c *Cluster) spawn() (*Replica, error) {
	c.mu.Lock()
	name := string(rune('A' + len(c.replicas)%26))
	if len(c.replicas) >= 26 {
		name += fmt.Sprint(len(c.replicas) / 26)
	}
	c.mu.Unlock()

	a := c.cfg.Atlassian
	args := append(slices.Clone(c.cfg.Command[1:]),
		"--addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--backup-addr", "127.0.0.1:0",
		"--base-url", c.cfg.BaseURL, "--dev=false", "--store", c.cfg.Store,
		"--master-key-file", c.masterKey, "--install-keys-url", a.InstallKeysURL(),
		"--allowed-hosts", a.Host(), "--log-format", "json")
	args = append(args, c.cfg.Args...)
	cmd := exec.Command(c.cfg.Command[0], args...)
	cmd.Dir = c.cfg.Dir
	cmd.Env = append(environ(), "SSL_CERT_FILE="+a.CertFile())
	cmd.Env = append(cmd.Env, c.cfg.Env...)
	cmd.SysProcAttr = sysProcAttr()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw

	r := &Replica{Name: name, BaseURL: c.cfg.BaseURL, cmd: cmd, listening: make(chan struct{}), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("replicas: starting %s: %w", name, err)
	}
	c.mu.Lock()
	c.replicas = append(c.replicas, r)
	c.mu.Unlock()
	go r.readLogs(pr, c)
	go func() {
		err := cmd.Wait()
		pw.Close()
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		close(r.done)
	}()
	return r, nil
}

// environ is this process's environment without the variables that would
// configure a replica behind Config's back.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SECRETS_") || strings.HasPrefix(kv, "SSL_CERT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// logLine is what the harness reads from a replica's JSON log lines.
type logLine struct {
	Message string `json:"message"`
	Addr    string `json:"addr"`
	OpsAddr string `json:"ops_addr"`
}

// readLogs keeps r's output and learns its listeners' addresses from the
// "secretsd listening" line.
func (r *Replica) readLogs(pr io.Reader, c *Cluster) {
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		r.mu.Lock()
		if c.cfg.MaxLogLines > 0 && len(r.lines) >= c.cfg.MaxLogLines {
			r.lines = slices.Delete(r.lines, 0, len(r.lines)/2)
		}
		r.lines = append(r.lines, line)
		r.mu.Unlock()
		if c.cfg.Logs != nil {
			c.mu.Lock()
			fmt.Fprintf(c.cfg.Logs, "%s| %s\n", r.Name, line)
			c.mu.Unlock()
		}
		var l logLine
		if r.URL == "" && json.Unmarshal([]byte(line), &l) == nil && l.Message == "secretsd listening" {
			r.URL, r.OpsURL = "http://"+l.Addr, "http://"+l.OpsAddr
			close(r.listening)
		}
	}
	// A line too long for the scanner: keep draining, or the process
	// blocks on its next write.
	_, _ = io.Copy(io.Discard, pr)
}

// Replica is one running (or exited) secretsd process of a Cluster.
type Replica struct {
	Name    string // A, B, C, … in start order
	URL     string // its public listener, http://127.0.0.1:<port>
	OpsURL  string // its ops listener (/readyz, /metrics)
	BaseURL string // the app's public base URL, the cluster's

	cmd       *exec.Cmd
	listening chan struct{} // closed once URL and OpsURL are known
	done      chan struct{} // closed once the process has exited

	mu     sync.Mutex
	lines  []string
	err    error // of cmd.Wait
	killed bool
}

// startTimeout bounds how long a replica may take to listen and be ready.
const startTimeout = time.Minute

// waitReady waits until r listens and answers /readyz.
func (r *Replica) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	select {
	case <-r.listening:
	case <-r.done:
		return fmt.Errorf("replica %s exited before listening (%v):\n%s", r.Name, r.exitErr(), r.tail(20))
	case <-ctx.Done():
		return fmt.Errorf("replica %s did not listen: %w:\n%s", r.Name, ctx.Err(), r.tail(20))
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.OpsURL+"/readyz", nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s is not ready: %w", r.Name, ctx.Err())
		case <-r.done:
			return fmt.Errorf("replica %s exited (%v):\n%s", r.Name, r.exitErr(), r.tail(20))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// PID is the process id.
func (r *Replica) PID() int { return r.cmd.Process.Pid }

// Kill ends the process with SIGKILL, mid-request or not, and waits for it
// to be gone.
func (r *Replica) Kill() error {
	r.mu.Lock()
	r.killed = true
	r.mu.Unlock()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil && !r.Exited() {
		return err
	}
	<-r.done
	return nil
}

// stopTimeout bounds a graceful stop; secretsd drains in-flight requests
// for up to its --shutdown-timeout (30 s by default).
const stopTimeout = 40 * time.Second

// Stop ends the process with SIGTERM, as an orchestrator does, and waits
// for it. It is an error unless the process exits with status 0.
func (r *Replica) Stop() error {
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil && !r.Exited() {
		return err
	}
	select {
	case <-r.done:
	case <-time.After(stopTimeout):
		_ = r.Kill()
		return fmt.Errorf("replica %s did not stop within %s", r.Name, stopTimeout)
	}
	if err := r.exitErr(); err != nil {
		return fmt.Errorf("replica %s exited with %w:\n%s", r.Name, err, r.tail(20))
	}
	return nil
}

// Exited reports whether the process has ended.
func (r *Replica) Exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *Replica) exitErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Replica) wasKilled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.killed
}

// Logs returns every line the process has written so far (JSON log lines,
// and whatever else reached its stderr, such as a race report).
func (r *Replica) Logs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// LogEntries returns the JSON log lines whose message is msg, decoded.
func (r *Replica) LogEntries(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range r.Logs() {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// tail returns the last n lines of output, for error messages.
func (r *Replica) tail(n int) string {
	lines := r.Logs()
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
