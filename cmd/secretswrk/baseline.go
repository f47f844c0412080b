package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/connect-secrets/secrets/internal/replicas"
	"github.com/labstack/echo/v4"
)

// The baselines answer "how far can this route get on this machine at all?".
// They serve the list response secretsd just sent (the same bytes and the
// same headers, so the same TCP sends), from a static buffer, with nothing
// else: no session check, no store, no logging. One is bare net/http, one is
// echo over net/http (our router). Each runs in its own process, started as
// `secretswrk -serve-baseline FILE`, and is measured exactly like secretsd.
// What secretsd reaches per CPU-second against them is the share of the
// request's cost that is ours.

// baselineProc is a running baseline server.
type baselineProc struct {
	cmd *exec.Cmd
	url string
}

func (b *baselineProc) CPUTicks() uint64 { return replicas.ProcessTicks(b.cmd.Process.Pid) }
func (b *baselineProc) PeakRSS() int64   { return replicas.ProcessPeakRSS(b.cmd.Process.Pid) }

// measureBaselines measures both baselines serving body, secretsd's list
// response, printing rows in the table's format.
func measureBaselines(ctx context.Context, o options, dir string, body []byte) error {
	file := filepath.Join(dir, "baseline-body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, kind := range []string{"net/http", "echo"} {
		b, err := startBaseline(ctx, self, file, kind)
		if err != nil {
			return err
		}
		r, err := measure(ctx, o, b, b.url, nil)
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		if err != nil {
			return fmt.Errorf("baseline %s: %w", kind, err)
		}
		printRow("-", "-", "bare "+kind, r)
	}
	fmt.Printf("(bare: the same %d-byte list response from a buffer, nothing else; the ceiling on this machine)\n", len(body))
	return nil
}

// startBaseline starts a baseline process and waits for the address it
// prints on its first line.
func startBaseline(ctx context.Context, self, file, kind string) (*baselineProc, error) {
	cmd := exec.CommandContext(ctx, self, "-serve-baseline", file)
	cmd.Env = append(os.Environ(), "SECRETSWRK_BASELINE="+kind)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		buf := make([]byte, 128)
		n, _ := io.ReadAtLeast(out, buf, 1)
		line <- strings.TrimSpace(string(buf[:n]))
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			_ = cmd.Process.Kill()
			return nil, errors.New("baseline printed no address")
		}
		return &baselineProc{cmd: cmd, url: "http://" + addr + "/api/secrets"}, nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, errors.New("baseline did not start in 30 s")
	}
}

// serveBaseline is the baseline process: it serves file on 127.0.0.1 with
// the headers secretsd sends on a list, until killed: by its parent, or by
// the kernel when the parent dies (Pdeathsig), so it never outlives a run.
func serveBaseline(file string) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	length := strconv.Itoa(len(body))
	headers := func(h http.Header) {
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		h["Cache-Control"] = []string{"no-store"}
		h["Vary"] = []string{"Accept-Encoding"}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		h["Referrer-Policy"] = []string{"no-referrer"}
		h["X-Request-Id"] = []string{"000000000000000000000000"}
	}
	var handler http.Handler
	switch os.Getenv("SECRETSWRK_BASELINE") {
	case "echo":
		e := echo.New()
		e.HideBanner, e.HidePort = true, true
		e.GET("/api/secrets", func(c echo.Context) error {
			headers(c.Response().Header())
			c.Response().WriteHeader(http.StatusOK)
			_, err := c.Response().Write(body)
			return err
		})
		handler = e
	default:
		handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			headers(w.Header())
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, err := fmt.Println(ln.Addr().String()); err != nil {
		return err
	}
	return (&http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}
