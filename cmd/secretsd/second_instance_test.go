package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/sandbox"
	bbolt "go.etcd.io/bbolt"
)

// TestDevURLsFollowAddr: with only --addr changed, the base URL and every
// sandbox URL move with it, instead of staying on :8080 where the
// sandbox's signed installs reach some other server.
func TestDevURLsFollowAddr(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{":8080", "http://localhost:8080"},
		{":8081", "http://localhost:8081"},
		{"0.0.0.0:9443", "http://localhost:9443"},
		{"127.0.0.1:8082", "http://127.0.0.1:8082"},
	}
	for _, tc := range tests {
		c, err := ParseConfig([]string{"--addr", tc.addr}, env(), io.Discard)
		if err != nil {
			t.Fatalf("--addr %s: %v", tc.addr, err)
		}
		if c.BaseURL != tc.want || !c.Dev {
			t.Errorf("--addr %s: base URL %q (dev %v), want %q in dev mode", tc.addr, c.BaseURL, c.Dev, tc.want)
		}
		sb, err := sandbox.New(sandbox.Config{BaseURL: c.BaseURL, JiraKey: c.JiraKey, ConfluenceKey: c.ConfluenceKey})
		if err != nil {
			t.Fatal(err)
		}
		if got := sb.InstallKeysURL(); !strings.HasPrefix(got, tc.want+"/") {
			t.Errorf("--addr %s: sandbox install keys at %s, not under %s", tc.addr, got, tc.want)
		}
	}
	// SECRETS_ADDR moves it the same way; an explicit base URL (a proxy in
	// front) is left alone.
	c, err := ParseConfig(nil, env("SECRETS_ADDR", ":7070"), io.Discard)
	if err != nil || c.BaseURL != "http://localhost:7070" {
		t.Errorf("SECRETS_ADDR :7070: %q, %v", c.BaseURL, err)
	}
	c, err = ParseConfig([]string{"--addr", ":8081", "--base-url", "http://localhost:8080"}, env(), io.Discard)
	if err != nil || c.BaseURL != "http://localhost:8080" {
		t.Errorf("explicit --base-url: %q, %v", c.BaseURL, err)
	}
	c, err = ParseConfig([]string{"--addr", ":8081"}, env("SECRETS_BASE_URL", "http://localhost:8080"), io.Discard)
	if err != nil || c.BaseURL != "http://localhost:8080" {
		t.Errorf("SECRETS_BASE_URL: %q, %v", c.BaseURL, err)
	}
	// A random port cannot be a base URL: say which flag to add.
	_, err = ParseConfig([]string{"--addr", "127.0.0.1:0"}, env(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "pass --base-url") {
		t.Errorf("--addr :0 without --base-url: %v", err)
	}
}

// TestListenersMustNotCollide: --addr :9090 (the ops listener's default
// port) is refused at start, naming both flags, rather than failing as a
// bare "address already in use".
func TestListenersMustNotCollide(t *testing.T) {
	for _, args := range [][]string{
		{"--addr", ":9090"},
		{"--addr", "127.0.0.1:9191", "--backup-addr", "127.0.0.1:9191"},
		{"--ops-addr", "[::]:9300", "--backup-addr", "127.0.0.1:9300"},
	} {
		_, err := ParseConfig(args, env(), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "both listen on port") || !strings.Contains(err.Error(), "own port") {
			t.Errorf("%q: %v", args, err)
		}
	}
	// Different hosts on one port are fine, and so are random ports.
	for _, args := range [][]string{
		{"--ops-addr", "127.0.0.1:9300", "--backup-addr", "127.0.0.2:9300"},
		{"--addr", "127.0.0.1:0", "--base-url", "http://localhost:1", "--ops-addr", "127.0.0.1:0", "--backup-addr", "127.0.0.1:0"},
	} {
		if _, err := ParseConfig(args, env(), io.Discard); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}

// TestPortInUseNamesItsFlag: a second secretsd with its own --data but the
// first one's ports hears which flag to change, not only "address already
// in use".
func TestPortInUseNamesItsFlag(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	err = Run(context.Background(), []string{"--addr", "127.0.0.1:0", "--base-url", "http://localhost:1", "--ops-addr", addr, "--backup-addr", "127.0.0.1:0",
		"--data", filepath.Join(t.TempDir(), "secrets.db")}, env(), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "--ops-addr "+addr) || !strings.Contains(err.Error(), "give this one its own --ops-addr") {
		t.Errorf("got %v", err)
	}
}

// TestSecondSecretsdOnHeldDatabase: a second secretsd on a file the first
// holds says who holds it and which flag to change, not bbolt's
// "open …: timeout". (bbolt's lock is per open file, so a handle here
// holds the file as another process does; the wait is the real 2 s.)
func TestSecondSecretsdOnHeldDatabase(t *testing.T) {
	data := filepath.Join(t.TempDir(), "secrets.db")
	held, err := bbolt.Open(data, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	err = Run(context.Background(), []string{"--data", data, "--addr", "127.0.0.1:0", "--base-url", "http://localhost:1"}, env(), io.Discard, nil)
	if err == nil {
		t.Fatal("a second secretsd started on a held database")
	}
	for _, want := range []string{data, "held by another process", "probably a running secretsd", "another --data"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestReadmeSecondInstance takes the second instance's flags from README.md
// and starts it beside a default one (`make run`): both serve, each
// sandbox installs its dev sites in its own server, and nothing is shared.
// Only the ports change (to free loopback ones, the same port mapped to the
// same one) and relative paths move to a temporary directory.
func TestReadmeSecondInstance(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(raw), "<!-- readme: second-instance -->\n```sh\n")
	if !ok {
		t.Fatal("README.md has no second-instance block")
	}
	block, _, _ = strings.Cut(block, "```")
	fields := strings.Fields(strings.TrimSpace(block))
	if len(fields) < 2 || fields[0] != "bin/secretsd" {
		t.Fatalf("second-instance block %q is not one bin/secretsd command", block)
	}
	second := fields[1:]
	for _, want := range []string{"--data", "--addr", "--ops-addr", "--backup-addr"} {
		if !containsFlag(second, want) {
			t.Errorf("the README's second instance does not set %s", want)
		}
	}
	// The defaults, as the first instance (make run) gets them.
	first := []string{"--data", "./data/secrets.db", "--addr", ":8080", "--ops-addr", "127.0.0.1:9090", "--backup-addr", "127.0.0.1:9091"}

	// Both parse, and share neither a file nor a listener.
	c1, err := ParseConfig(first, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ParseConfig(second, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Data == c2.Data || filepath.Dir(c1.Data) == filepath.Dir(c2.Data) {
		t.Errorf("both use %s / %s: the dev master key lives beside the database", c1.Data, c2.Data)
	}
	if c1.BaseURL == c2.BaseURL {
		t.Errorf("both have base URL %s", c1.BaseURL)
	}
	all := map[string]string{}
	for i, c := range []Config{c1, c2} {
		for name, addr := range map[string]string{"--addr": c.Addr, "--ops-addr": c.OpsAddr, "--backup-addr": c.BackupAddr} {
			all[name+"#"+string(rune('1'+i))] = addr
		}
	}
	if err := checkListeners(all); err != nil {
		t.Errorf("the two instances collide: %v", err)
	}

	// Both run side by side.
	dir := t.TempDir()
	ports := map[string]string{}
	logs := make([]*syncBuffer, 2)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	bases := make([]string, 2)
	for i, args := range [][]string{first, second} {
		args = localize(t, args, dir, ports)
		args = append(args, "--kdf-memory", "19456", "--kdf-time", "2", "--kdf-threads", "1", "--kdf-memory-budget", "64MiB", "--log-format", "json")
		logs[i] = &syncBuffer{}
		ready := make(chan net.Addr, 1)
		done := make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			done <- Run(ctx, args, env(), logs[i], func(p, _ net.Addr) { ready <- p })
		}()
		select {
		case p := <-ready:
			bases[i] = "http://" + p.String()
		case err := <-done:
			t.Fatalf("instance %d (%q) stopped: %v\n%s", i+1, args, err, logs[i])
		case <-time.After(30 * time.Second):
			t.Fatalf("instance %d did not start within 30s\n%s", i+1, logs[i])
		}
	}
	for i, base := range bases {
		log := logs[i].String()
		if !strings.Contains(log, "sandbox ready") || strings.Contains(log, "installing the dev sites failed") {
			t.Errorf("instance %d: its sandbox did not install:\n%s", i+1, log)
		}
		res, err := http.Get(base + "/jira/atlassian-connect.json")
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			BaseURL string `json:"baseUrl"`
		}
		err = json.NewDecoder(res.Body).Decode(&d)
		res.Body.Close()
		if err != nil || !strings.HasSuffix(d.BaseURL, base[strings.LastIndex(base, ":"):]) {
			t.Errorf("instance %d at %s: descriptor baseUrl %q, %v", i+1, base, d.BaseURL, err)
		}
	}
}

func containsFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// localize moves relative paths under dir and gives each port a free
// loopback one (the same port the same free one); wildcard hosts become
// 127.0.0.1, so the test listens on loopback only.
func localize(t *testing.T, args []string, dir string, ports map[string]string) []string {
	t.Helper()
	out := make([]string, len(args))
	copy(out, args)
	for i := 1; i < len(out); i++ {
		switch out[i-1] {
		case "--data":
			out[i] = filepath.Join(dir, out[i])
		case "--addr", "--ops-addr", "--backup-addr":
			host, port, err := net.SplitHostPort(out[i])
			if err != nil {
				t.Fatal(err)
			}
			if ports[port] == "" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				_, ports[port], _ = net.SplitHostPort(ln.Addr().String())
				ln.Close()
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			out[i] = net.JoinHostPort(host, ports[port])
		}
	}
	return out
}

// syncBuffer is a log the server writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
