package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/connect-secrets/secrets/internal/replicas"
	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/golang-jwt/jwt/v5"
)

// Issue 11 sets secretsd's target as a ratio to Atlassian's own Connect
// framework, atlassian-connect-express (ACE), on the same machine. So the
// bench runs a minimal ACE app (ace/app.js: Node, an in-memory store, the
// same list behind ACE's session token) next to secretsd and measures it
// exactly as it measures secretsd: the same wrk, the same server CPU
// seconds from /proc, the same list body. The ratio then holds on whatever
// machine runs it, where absolute figures measured elsewhere do not.

// aceProc is the running ACE app, a child process measured like secretsd.
type aceProc struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:PORT, ACE's baseUrl
	log  string // its stdout and stderr
	done chan struct{}
}

func (a *aceProc) CPUTicks() uint64 { return replicas.ProcessTicks(a.cmd.Process.Pid) }
func (a *aceProc) PeakRSS() int64   { return replicas.ProcessPeakRSS(a.cmd.Process.Pid) }

// stop kills the app and waits for it.
func (a *aceProc) stop() {
	_ = a.cmd.Process.Kill()
	<-a.done
}

// tail is the end of the app's output, for errors, with anything shaped
// like a JWT blanked: ACE's warnings quote the token they refused.
func (a *aceProc) tail() string {
	b, _ := os.ReadFile(a.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(jwtShaped.ReplaceAllString(string(b), "[token]"))
}

var jwtShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*`)

// aceTenant is the install ACE's store is seeded with, the fields of a
// Connect installed payload that ACE's checks read.
type aceTenant struct {
	ClientKey    string `json:"clientKey"`
	SharedSecret string `json:"sharedSecret"`
	BaseURL      string `json:"baseUrl"`
	ProductType  string `json:"productType"`
}

// aceRates are the ACE rows' requests per server CPU-second.
type aceRates struct{ list, page float64 }

// checkACE fails early, before secretsd is built and loaded, when the ACE
// app cannot run here.
func checkACE(dir string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node not found: the ACE comparison needs Node.js (Debian: apt-get install nodejs npm), then `make ace-deps`; or pass -ace=false")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "atlassian-connect-express", "package.json")); err != nil {
		return fmt.Errorf("atlassian-connect-express is not installed in %s: run `make ace-deps` (npm ci there; `make bench` does it), or pass -ace=false", dir)
	}
	return nil
}

// measureACE starts the ACE app with one tenant and secretsd's list body,
// checks that it refuses a tampered session token, and measures its list
// and module page, printing rows in the table's format.
func measureACE(ctx context.Context, o options, dir string, body []byte) (aceRates, error) {
	listFile := filepath.Join(dir, "ace-list.json")
	if err := os.WriteFile(listFile, body, 0o600); err != nil {
		return aceRates{}, err
	}
	t := aceTenant{
		ClientKey: "secretswrk-ace-" + rand.Text()[:8], SharedSecret: rand.Text() + rand.Text(),
		BaseURL: "https://secretswrk-ace.atlassian.net", ProductType: "jira",
	}
	b, err := json.Marshal(t)
	if err != nil {
		return aceRates{}, err
	}
	tenantFile := filepath.Join(dir, "ace-tenant.json")
	if err := os.WriteFile(tenantFile, b, 0o600); err != nil {
		return aceRates{}, err
	}
	a, err := startACE(ctx, o.aceDir, dir, tenantFile, listFile)
	if err != nil {
		return aceRates{}, err
	}
	defer a.stop()

	c := &http.Client{Timeout: 30 * time.Second}
	page, err := signACEPanel(a.url, t)
	if err != nil {
		return aceRates{}, err
	}
	token, err := replicas.PageSession(ctx, c, page)
	if err != nil {
		return aceRates{}, fmt.Errorf("ACE module page: %w\n%s", err, a.tail())
	}
	if err := checkACERefuses(ctx, c, a.url+"/api/secrets", token, page); err != nil {
		return aceRates{}, err
	}

	var rates aceRates
	for _, req := range []struct {
		name   string
		rate   *float64
		url    func() (string, error)
		header []string
	}{
		{"ACE list", &rates.list, func() (string, error) { return a.url + "/api/secrets", nil }, []string{"Authorization: JWT " + token}},
		// Signed afresh: the host token lives three minutes.
		{"ACE module page", &rates.page, func() (string, error) { return signACEPanel(a.url, t) }, nil},
	} {
		u, err := req.url()
		if err != nil {
			return rates, err
		}
		res, err := measure(ctx, o, a, u, req.header)
		if err != nil {
			return rates, fmt.Errorf("%s: %w\n%s", req.name, err, a.tail())
		}
		*req.rate = printRow("1", strconv.Itoa(o.secrets), req.name, res)
	}
	return rates, nil
}

// startACE runs `node app.js` in aceDir in production mode on a free port
// of 127.0.0.1 and waits until it serves its descriptor.
func startACE(ctx context.Context, aceDir, dir, tenantFile, listFile string) (*aceProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "ace.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, "node", "app.js")
	cmd.Dir = aceDir
	// ACE reads AC_* variables (AC_OPTS=no-auth turns its checks off, for
	// one): none from our environment may change what is measured.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AC_") && !strings.HasPrefix(kv, "NODE_ENV=") && !strings.HasPrefix(kv, "PORT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "NODE_ENV=production", "PORT="+strconv.Itoa(port),
		"SECRETSWRK_ACE_TENANT="+tenantFile, "SECRETSWRK_ACE_LIST="+listFile)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Like the baselines: the kernel ends the app if we die, so it never
	// outlives a run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the ACE app: %w", err)
	}
	a := &aceProc{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(a.done)
	}()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := c.Get(a.url + "/atlassian-connect.json")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return a, nil
			}
		}
		select {
		case <-a.done:
			return nil, fmt.Errorf("the ACE app exited at start: %v\n%s", cmd.ProcessState, a.tail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.stop()
			return nil, fmt.Errorf("the ACE app did not answer in 30 s\n%s", a.tail())
		}
	}
}

// freePort is a port of 127.0.0.1 free a moment ago: ACE takes its port
// from the environment, and builds its baseUrl (which qsh is relative to)
// from it, so it cannot be told to pick one itself.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// signACEPanel is the URL of the ACE app's issue panel signed as Jira signs
// an iframe's: HS256 with the tenant's shared secret, iss its clientKey,
// the qsh of the very request (relative to ACE's baseUrl, which has no
// path), as internal/replicas signs secretsd's.
func signACEPanel(base string, t aceTenant) (string, error) {
	const route = "/panel"
	query := url.Values{"issueId": {issueID}, "issueKey": {"DEV-" + issueID}, "projectId": {"10000"}, "projectKey": {"DEV"}}.Encode()
	qsh, err := connect.QSH(http.MethodGet, route, query, "")
	if err != nil {
		return "", err
	}
	now := time.Now()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, connect.HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.ClientKey,
			Subject:   "lister",
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Minute)),
		},
		QSH:     qsh,
		Context: json.RawMessage(`{}`),
	}).SignedString([]byte(t.SharedSecret))
	if err != nil {
		return "", err
	}
	return base + route + "?" + query + "&jwt=" + signed, nil
}

// checkACERefuses makes sure the ACE app really verifies before it is
// measured, so that its figures include the checks: the session token with
// its signature changed must be refused on the list, and the signed module
// page URL with a parameter added (so its qsh no longer matches) must get
// 401 on the page.
//
// ACE answers a bad signature with 400 ("Unable to decodeSymmetric JWT
// token", lib/middleware/authentication.js), not 401, so either counts as
// refused there.
func checkACERefuses(ctx context.Context, c *http.Client, listURL, token, pageURL string) error {
	dot := strings.LastIndexByte(token, '.')
	if dot < 0 || dot+1 >= len(token) {
		return errors.New("ACE: the session token is not a JWT")
	}
	tampered := []byte(token)
	// The first character of the signature: all six of its bits are
	// signature bits (the last character's low bits may be padding, which
	// decoders ignore).
	if tampered[dot+1] == 'A' {
		tampered[dot+1] = 'B'
	} else {
		tampered[dot+1] = 'A'
	}
	status, err := getStatus(ctx, c, listURL, "JWT "+string(tampered))
	if err != nil {
		return err
	}
	if status != http.StatusUnauthorized && status != http.StatusBadRequest {
		return fmt.Errorf("ACE answered a session token with a forged signature with %d, want 401 or 400: its figures would not include a token check", status)
	}
	if status, err = getStatus(ctx, c, pageURL+"&projectKey=OTHER", ""); err != nil {
		return err
	}
	if status != http.StatusUnauthorized {
		return fmt.Errorf("ACE answered a module page URL whose qsh does not match with %d, want 401: its figures would not include a qsh check", status)
	}
	return nil
}

// getStatus is the status of a GET of u, with an Authorization header when
// auth is not empty.
func getStatus(ctx context.Context, c *http.Client, u, auth string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}
