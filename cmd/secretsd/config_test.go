package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.OpsAddr != "127.0.0.1:9090" || c.BaseURL != "http://localhost:8080" ||
		c.Data != "./data/secrets.db" || c.InstallKeysURL != "https://connect-install-keys.atlassian.com" ||
		len(c.AllowedHosts) != 1 || c.AllowedHosts[0] != "*.atlassian.net" {
		t.Errorf("defaults: %+v", c)
	}
	if !c.Dev || c.LogFormat != "console" || c.LogLevel != "info" {
		t.Errorf("localhost should mean dev with console logs: %+v", c)
	}
	if c.KDFMemoryBudget != 256<<20 || c.Policy.UnlockTTL != 10*time.Minute || c.Retention != 30*24*time.Hour {
		t.Errorf("budget %d ttl %v retention %v", c.KDFMemoryBudget, c.Policy.UnlockTTL, c.Retention)
	}
}

func TestParseConfigPrecedence(t *testing.T) {
	getenv := env("SECRETS_ADDR", ":7000", "SECRETS_DATA", "/env/db", "SECRETS_ALLOWED_HOSTS", "a.example.com, *.b.example.com")
	c, err := ParseConfig([]string{"--addr", ":9000"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" {
		t.Errorf("flag should win over env: %q", c.Addr)
	}
	if c.Data != "/env/db" {
		t.Errorf("env should win over default: %q", c.Data)
	}
	if strings.Join(c.AllowedHosts, "|") != "a.example.com|*.b.example.com" {
		t.Errorf("allowed hosts %q", c.AllowedHosts)
	}
}

func TestParseConfigProduction(t *testing.T) {
	_, err := ParseConfig([]string{"--base-url", "https://secrets.example.com"}, env(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "master-key-file") {
		t.Fatalf("production without a master key: %v", err)
	}
	c, err := ParseConfig([]string{"--base-url", "https://secrets.example.com/", "--master-key-file", "/k"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dev || c.LogFormat != "json" || c.BaseURL != "https://secrets.example.com" {
		t.Errorf("production config: %+v", c)
	}
}

func TestParseConfigInvalid(t *testing.T) {
	for name, args := range map[string][]string{
		"http outside dev":    {"--base-url", "http://secrets.example.com", "--master-key-file", "/k"},
		"relative base URL":   {"--base-url", "/secrets"},
		"bad dev flag":        {"--dev", "maybe"},
		"bad log format":      {"--log-format", "xml"},
		"no allowed hosts":    {"--allowed-hosts", " , "},
		"budget below a call": {"--kdf-memory-budget", "32MiB"},
		"budget garbage":      {"--kdf-memory-budget", "lots"},
		"weak kdf":            {"--kdf-memory", "1024"},
		"one kdf pass":        {"--kdf-time", "1"},
		"unlock ttl too long": {"--unlock-ttl", "48h"},
		"negative retention":  {"--retention", "-1h"},
		"stray argument":      {"serve"},
		"http install keys in production": {"--base-url", "https://secrets.example.com", "--master-key-file", "/k",
			"--install-keys-url", "http://keys.example.com"},
		"relative install keys": {"--install-keys-url", "/keys"},
		"unknown flag":          {"--no-such-flag"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseConfig(args, env(), io.Discard); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GiB": 1 << 30, "64KiB": 64 << 10, "1000": 1000, "10B": 10} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1MiB", "0", "1TB", "MiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}
