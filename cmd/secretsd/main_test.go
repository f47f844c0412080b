package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// TestRunDevAndShutdown starts secretsd as `make run` does (dev mode, no
// setup), checks it serves, then cancels it as SIGTERM does and checks it
// returns with the database closed (a second open succeeds).
func TestRunDevAndShutdown(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data", "secrets.db")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--addr", addr, "--ops-addr", "127.0.0.1:0", "--backup-addr", "127.0.0.1:0", "--base-url", "http://" + addr, "--data", data, "--kdf-memory", "19456", "--kdf-time", "2", "--kdf-threads", "1", "--kdf-memory-budget", "64MiB"},
			env(), io.Discard, func(p, o net.Addr) { ready <- [2]net.Addr{p, o} })
	}()
	var addrs [2]net.Addr
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}

	get := func(u string) (int, string) {
		t.Helper()
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("http://" + addrs[1].String() + "/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("healthz: %d %q", code, body)
	}
	if code, _ := get("http://" + addrs[1].String() + "/readyz"); code != 200 {
		t.Errorf("readyz: %d", code)
	}
	if code, body := get("http://" + addr + "/jira/atlassian-connect.json"); code != 200 || !strings.Contains(body, `"baseUrl": "http://`+addr+`"`) {
		t.Errorf("descriptor: %d %s", code, body)
	}
	// The dev master key was generated next to the database, private.
	fi, err := os.Stat(filepath.Join(dir, "data", "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dev master key: %v %v", fi, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still listening after shutdown")
	}
	db, err := bbolt.Open(data, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("database not released on shutdown: %v", err)
	}
	db.Close()
}

func TestRunRefusesProductionWithoutKey(t *testing.T) {
	err := Run(context.Background(), []string{"--base-url", "https://secrets.example.com"}, env(), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "master-key-file") {
		t.Fatalf("got %v", err)
	}
}
