package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// smallKDF are the cheapest argon2id parameters secretsd accepts, for the
// checks that count writes rather than time derivations.
var smallKDF = []string{"--kdf-memory", "19456", "--kdf-time", "2", "--kdf-threads", "1"}

// daemon is one secretsd in dev mode on loopback. Its addresses and store stay
// the same across restarts: the dev sites' base URLs are derived from its
// base URL, and a restart must find them where it left them.
type daemon struct {
	bin     string
	args    []string
	base    string // public listener, http://127.0.0.1:<port>
	ops     string // operations listener, http://127.0.0.1:<port>
	logPath string

	cmd    *exec.Cmd
	exited chan struct{}
}

// newDaemon prepares a secretsd whose data directory is dir (the bbolt file
// and the dev master key); store, when set, is its --store URL instead.
func newDaemon(bin, dir, store string, extra ...string) (*daemon, error) {
	addrs := make([]string, 3)
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	d := &daemon{
		bin: bin, base: "http://" + addrs[0], ops: "http://" + addrs[1],
		logPath: filepath.Join(dir, "secretsd.log"),
	}
	d.args = []string{
		"--addr", addrs[0], "--ops-addr", addrs[1], "--backup-addr", addrs[2],
		"--base-url", d.base, "--data", filepath.Join(dir, "secrets.db"), "--log-level", "warn",
	}
	if store != "" {
		d.args = append(d.args, "--store", store)
	}
	d.args = append(d.args, extra...)
	return d, nil
}

// start runs secretsd and waits until its store answers /readyz.
func (d *daemon) start(ctx context.Context) error {
	if d.cmd != nil {
		return errors.New("secretsd is already running")
	}
	log, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own descriptor
	cmd := exec.Command(d.bin, d.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(d.exited)
	}()

	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := c.Get(d.ops + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.exited:
			d.cmd = nil
			return fmt.Errorf("secretsd exited at start:\n%s", d.logTail(20))
		case <-ctx.Done():
			d.kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("secretsd not ready after 30s:\n%s", d.logTail(20))
		}
	}
}

// kill ends secretsd with SIGKILL, as a crash or the OOM killer would, and
// waits until it is gone. It does nothing when secretsd is not running.
func (d *daemon) kill() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	d.cmd = nil
}

// stop ends secretsd with SIGTERM, as an orchestrator would, and kills it
// when it has not drained within 15s.
func (d *daemon) stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		d.cmd = nil
	case <-time.After(15 * time.Second):
		d.kill()
	}
}

// logTail returns the last n lines secretsd logged, for a failure message.
func (d *daemon) logTail(n int) string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startFresh starts one secretsd in a new directory under tmp (named after
// the check), on the embedded store; done stops it gracefully, or kills it
// if it does not stop.
func startFresh(ctx context.Context, b bins, tmp, check string, extra ...string) (d *daemon, done func(), err error) {
	dir, err := os.MkdirTemp(tmp, check+"-*")
	if err != nil {
		return nil, nil, err
	}
	if d, err = newDaemon(b.secretsd, dir, "", extra...); err != nil {
		return nil, nil, err
	}
	if err := d.start(ctx); err != nil {
		d.kill()
		return nil, nil, err
	}
	return d, func() { d.stop(); d.kill() }, nil
}
