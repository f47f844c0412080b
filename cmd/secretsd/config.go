package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
)

// Config is everything secretsd is told at start-up, from flags and their
// environment equivalents (a flag wins over its variable). Every default runs
// on a laptop.
type Config struct {
	Addr    string
	OpsAddr string
	// BackupAddr is the listener of /backup, apart from OpsAddr so that
	// monitoring can be let in to one and nobody to the other.
	BackupAddr string
	// BackupToken, read from --backup-token-file, is the credential /backup
	// requires; empty refuses every backup.
	BackupToken []byte
	BaseURL     string
	Data        string
	// Store is the storage URL: bolt://<path> (default: bolt:// + Data) or
	// postgres://… for many replicas.
	Store          string
	MasterKeyFile  string
	InstallKeysURL string
	// InstallKeysURLSet is true when the operator chose InstallKeysURL; in
	// dev mode the default is the sandbox's own key server instead.
	InstallKeysURLSet bool
	AllowedHosts      []string
	Dev               bool
	LogFormat         string // console or json
	LogLevel          string
	JiraKey           string
	ConfluenceKey     string

	KDFMemoryBudget int64 // bytes of argon2 memory in use at once
	KDFConcurrency  int   // derivations running at once, whatever memory is free
	KDF             seal.KDFParams
	Policy          secrets.Policy
	ShutdownTimeout time.Duration
	// Retention is how long an uninstalled tenant's data is kept, so a
	// re-install within it restores everything.
	Retention time.Duration
	// PersonalDataURL replaces each site's baseUrl as the base of the
	// personal-data report endpoint (the sandbox's stand-in in dev);
	// empty: the site's own.
	PersonalDataURL string
	// JanitorInterval is how often each replica tries for the janitor
	// lease and, holding it, sweeps expired secrets, stale revocations
	// and tenants past Retention. One minute in production; tests of the
	// janitor across replicas shorten it.
	JanitorInterval time.Duration

	// Forge Remote (forge.md). Forge is served when an app id is set, and
	// always in dev mode, where the sandbox plays the platform for what
	// is not set.
	ForgeJiraAppID       string   // ari:cloud:ecosystem::app/<uuid> of the Jira app
	ForgeConfluenceAppID string   // the same of the Confluence app
	ForgeEnvironments    []string // environment ids this deployment serves
	ForgeJWKSURL         string
	ForgeAPIBase         string
	// ForgeJWKSURLSet is true when the operator chose ForgeJWKSURL; in dev
	// mode the default is the sandbox's own JWKS instead (and its API base).
	ForgeJWKSURLSet bool

	// Licensing turns on Marketplace licensing for the Connect apps
	// (enableLicensing), ForgeLicensing for the Forge apps; it reads the
	// variable descriptor/forgeapp renders the manifests' licensing from,
	// so the two agree. Off by default.
	Licensing, ForgeLicensing bool

	// Regions are the other realms' deployments (data residency): each
	// one's base URL, rendered as the Connect descriptors' regionBaseUrls,
	// and its transfer key, for moving tenants there and accepting them
	// from there. Empty: no data residency.
	Regions map[string]server.Region
}

// ParseConfig reads flags from args and variables through getenv, and
// validates the result.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("secretsd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	str := func(p *string, name, envName, def, usage string) {
		fs.StringVar(p, name, env(envName, def), usage+" ($"+envName+")")
	}
	str(&c.Addr, "addr", "SECRETS_ADDR", ":8080", "public listen address")
	str(&c.OpsAddr, "ops-addr", "SECRETS_OPS_ADDR", "127.0.0.1:9090", "operations listen address (health, readiness, metrics); keep it private")
	str(&c.BackupAddr, "backup-addr", "SECRETS_BACKUP_ADDR", "127.0.0.1:9091", "backup listen address (GET /backup with the backup token); keep it private")
	var backupTokenFile string
	str(&backupTokenFile, "backup-token-file", "SECRETS_BACKUP_TOKEN_FILE", "", "file holding the token GET /backup requires (at least 32 characters); unset: backups are refused")
	str(&c.BaseURL, "base-url", "SECRETS_BASE_URL", "http://localhost:8080", "public base URL of the app, as hosts reach it")
	str(&c.Data, "data", "SECRETS_DATA", "./data/secrets.db", "database file (the default bolt:// store; dev mode keeps its master key beside it)")
	str(&c.Store, "store", "SECRETS_STORE", "", "storage URL: bolt://<path> or postgres://user@host/db (default: bolt:// and --data)")
	str(&c.MasterKeyFile, "master-key-file", "SECRETS_MASTER_KEY_FILE", "", "master keyring file (required outside dev mode; dev generates one next to the database)")
	str(&c.InstallKeysURL, "install-keys-url", "SECRETS_INSTALL_KEYS_URL", "https://connect-install-keys.atlassian.com", "where Atlassian's signed-install public keys are fetched")
	var hosts, dev, budget, unlockTTL, retention, janitorEvery string
	str(&hosts, "allowed-hosts", "SECRETS_ALLOWED_HOSTS", "*.atlassian.net", "comma-separated host patterns a site must match")
	str(&dev, "dev", "SECRETS_DEV", "", "development mode with the local sandbox (default: on when the base URL is on localhost)")
	str(&c.LogFormat, "log-format", "SECRETS_LOG_FORMAT", "", "console or json (default: console in dev, json otherwise)")
	str(&c.LogLevel, "log-level", "SECRETS_LOG_LEVEL", "info", "debug, info, warn or error")
	str(&c.JiraKey, "jira-app-key", "SECRETS_JIRA_APP_KEY", "com.connect-secrets.jira", "app key of the Jira descriptor")
	str(&c.ConfluenceKey, "confluence-app-key", "SECRETS_CONFLUENCE_APP_KEY", "com.connect-secrets.confluence", "app key of the Confluence descriptor")
	str(&budget, "kdf-memory-budget", "SECRETS_KDF_MEMORY_BUDGET", "256MiB", "argon2 memory in use at once; more unlocks queue")
	str(&unlockTTL, "unlock-ttl", "SECRETS_UNLOCK_TTL", "10m", "how long an unlock lasts")
	str(&retention, "retention", "SECRETS_RETENTION", "720h", "how long an uninstalled site's data is kept before it is deleted")
	str(&janitorEvery, "janitor-interval", "SECRETS_JANITOR_INTERVAL", "1m", "how often the janitor (expiry, revocations, retention) runs, on one replica at a time")
	var forgeEnvs string
	str(&c.ForgeJiraAppID, "forge-jira-app-id", "SECRETS_FORGE_JIRA_APP_ID", "", "app id (ARI) of the Jira Forge app, from forge register; empty: no Jira Forge app")
	str(&c.ForgeConfluenceAppID, "forge-confluence-app-id", "SECRETS_FORGE_CONFLUENCE_APP_ID", "", "app id (ARI) of the Confluence Forge app")
	str(&forgeEnvs, "forge-environments", "SECRETS_FORGE_ENVIRONMENTS", "", "comma-separated Forge environment ids this deployment serves (required with a Forge app id)")
	str(&c.ForgeJWKSURL, "forge-jwks-url", "SECRETS_FORGE_JWKS_URL", forge.DefaultJWKSURL, "where the Forge platform's token keys are fetched")
	str(&c.ForgeAPIBase, "forge-api-base", "SECRETS_FORGE_API_BASE", forge.DefaultAPIBase, "the origin every Forge apiBaseUrl must start with")
	var licensing, forgeLicensing, regionURLs, regionKeys string
	str(&regionURLs, "region-urls", "SECRETS_REGION_URLS", "", "data residency: the other realms' deployments, REGION=https://…,… (regions as Atlassian names them: EU, US, AU, DE, …)")
	str(&regionKeys, "region-transfer-keys", "SECRETS_REGION_TRANSFER_KEYS", "", "their transfer keys, REGION=KEY,… ('secretsctl tenant transfer-key' prints a deployment's)")
	str(&licensing, "licensing", "SECRETS_LICENSING", "false", "Marketplace licensing of the Connect apps: sites without an active licence cannot add or edit secrets")
	str(&forgeLicensing, "forge-licensing", "SECRETS_FORGE_LICENSING", "false", "the same for the Forge apps (set it as for descriptor/forgeapp)")
	kdfMem := fs.Uint("kdf-memory", uint(seal.DefaultKDFParams.Memory), "argon2id memory per derivation, KiB")
	kdfTime := fs.Uint("kdf-time", uint(seal.DefaultKDFParams.Time), "argon2id passes")
	kdfThreads := fs.Uint("kdf-threads", uint(seal.DefaultKDFParams.Threads), "argon2id lanes")
	fs.IntVar(&c.KDFConcurrency, "kdf-concurrency", max(1, runtime.GOMAXPROCS(0)/2), "argon2id derivations running at once (each already uses --kdf-threads lanes); more queue")
	str(&c.PersonalDataURL, "personal-data-url", "SECRETS_PERSONAL_DATA_URL", "", "base URL of Atlassian's personal data reporting API; empty: each site's baseUrl")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for in-flight requests")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.InstallKeysURLSet = getenv("SECRETS_INSTALL_KEYS_URL") != ""
	c.ForgeJWKSURLSet = getenv("SECRETS_FORGE_JWKS_URL") != ""
	fs.Visit(func(f *flag.Flag) {
		c.InstallKeysURLSet = c.InstallKeysURLSet || f.Name == "install-keys-url"
		c.ForgeJWKSURLSet = c.ForgeJWKSURLSet || f.Name == "forge-jwks-url"
	})
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	if c.Store == "" {
		c.Store = "bolt://" + c.Data
	}
	if !strings.HasPrefix(c.Store, "bolt://") && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		return c, errors.New("--store must be bolt://<path> or postgres://…")
	}
	if backupTokenFile != "" {
		b, err := os.ReadFile(backupTokenFile)
		if err != nil {
			return c, fmt.Errorf("--backup-token-file: %w", err)
		}
		c.BackupToken = bytes.TrimSpace(b)
		if len(c.BackupToken) < server.MinBackupTokenLen {
			return c, fmt.Errorf("--backup-token-file must hold at least %d characters (e.g. openssl rand -hex 32)", server.MinBackupTokenLen)
		}
	}

	if !isFlagSet(fs, getenv, "base-url", "SECRETS_BASE_URL") {
		// Every dev URL (the descriptors' baseUrl, the sandbox's sites,
		// its install keys, the audience of its signed installs) derives
		// from the base URL, so it must follow a changed --addr: left at
		// :8080 it sends the sandbox's installs to whatever else listens
		// there, which refuses them as "install signature is not valid".
		base, err := devBaseURL(c.Addr)
		if err != nil {
			return c, err
		}
		c.BaseURL = base
	}
	if err := checkListeners(map[string]string{"--addr": c.Addr, "--ops-addr": c.OpsAddr, "--backup-addr": c.BackupAddr}); err != nil {
		return c, err
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return c, fmt.Errorf("--base-url %q must be an absolute http(s) URL", c.BaseURL)
	}
	if dev == "" {
		c.Dev = isLoopbackHost(u.Hostname())
	} else if c.Dev, err = strconv.ParseBool(dev); err != nil {
		return c, fmt.Errorf("--dev %q is not a boolean", dev)
	}
	if !c.Dev && u.Scheme != "https" {
		return c, errors.New("--base-url must be https outside dev mode")
	}
	if ku, err := url.Parse(c.InstallKeysURL); err != nil || ku.Host == "" || (ku.Scheme != "https" && !(c.Dev && ku.Scheme == "http")) {
		return c, fmt.Errorf("--install-keys-url %q must be an absolute https URL: install keys decide who may install", c.InstallKeysURL)
	}
	if !c.Dev && c.MasterKeyFile == "" {
		return c, errors.New("--master-key-file is required outside dev mode")
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			c.AllowedHosts = append(c.AllowedHosts, strings.ToLower(h))
		}
	}
	if len(c.AllowedHosts) == 0 {
		return c, errors.New("--allowed-hosts must name at least one host pattern")
	}
	if c.LogFormat == "" {
		c.LogFormat = map[bool]string{true: "console", false: "json"}[c.Dev]
	}
	if c.LogFormat != "console" && c.LogFormat != "json" {
		return c, fmt.Errorf("--log-format %q must be console or json", c.LogFormat)
	}
	if c.KDFMemoryBudget, err = parseBytes(budget); err != nil {
		return c, fmt.Errorf("--kdf-memory-budget: %w", err)
	}
	if c.KDFConcurrency < 1 || c.KDFConcurrency > 1024 {
		return c, errors.New("--kdf-concurrency must be 1 to 1024")
	}
	c.KDF = seal.KDFParams{Memory: uint32(*kdfMem), Time: uint32(*kdfTime), Threads: uint8(*kdfThreads)}
	if *kdfMem > 1<<22 || *kdfTime > 64 || *kdfThreads > 255 {
		return c, errors.New("--kdf-memory, --kdf-time or --kdf-threads is out of range")
	}
	if err := c.KDF.ValidateTemplate(); err != nil {
		return c, fmt.Errorf("argon2id parameters: %w", err)
	}
	if c.KDFMemoryBudget < int64(c.KDF.Memory)*1024 {
		return c, fmt.Errorf("--kdf-memory-budget must hold at least one derivation (%d KiB)", c.KDF.Memory)
	}
	c.Policy = secrets.DefaultPolicy()
	if c.Policy.UnlockTTL, err = time.ParseDuration(unlockTTL); err != nil || c.Policy.UnlockTTL < time.Minute || c.Policy.UnlockTTL > 24*time.Hour {
		return c, fmt.Errorf("--unlock-ttl %q must be a duration from 1m to 24h", unlockTTL)
	}
	if c.Retention, err = time.ParseDuration(retention); err != nil || c.Retention < 0 {
		return c, fmt.Errorf("--retention %q must be a non-negative duration such as 720h", retention)
	}
	if c.JanitorInterval, err = time.ParseDuration(janitorEvery); err != nil || c.JanitorInterval < time.Second || c.JanitorInterval > 24*time.Hour {
		return c, fmt.Errorf("--janitor-interval %q must be a duration from 1s to 24h", janitorEvery)
	}
	for _, e := range strings.Split(forgeEnvs, ",") {
		if e = strings.TrimSpace(e); e != "" {
			c.ForgeEnvironments = append(c.ForgeEnvironments, e)
		}
	}
	if c.Licensing, err = strconv.ParseBool(licensing); err != nil {
		return c, fmt.Errorf("--licensing %q is not a boolean", licensing)
	}
	if c.ForgeLicensing, err = strconv.ParseBool(forgeLicensing); err != nil {
		return c, fmt.Errorf("--forge-licensing %q is not a boolean", forgeLicensing)
	}
	if c.Regions, err = parseRegions(regionURLs, regionKeys); err != nil {
		return c, err
	}
	if err := c.checkForge(); err != nil {
		return c, err
	}
	return c, nil
}

// checkForge validates the Forge settings; the verifier checks the rest
// (app id shapes) when it is built.
func (c Config) checkForge() error {
	if c.ForgeJiraAppID == "" && c.ForgeConfluenceAppID == "" {
		return nil
	}
	if c.ForgeJiraAppID == c.ForgeConfluenceAppID {
		return errors.New("--forge-jira-app-id and --forge-confluence-app-id must differ: one Forge app per product")
	}
	if len(c.ForgeEnvironments) == 0 && !c.Dev {
		return errors.New("--forge-environments is required with a Forge app id: dev and production share the app id")
	}
	for name, raw := range map[string]string{"--forge-jwks-url": c.ForgeJWKSURL, "--forge-api-base": c.ForgeAPIBase} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(c.Dev && u.Scheme == "http")) {
			return fmt.Errorf("%s %q must be an absolute https URL", name, raw)
		}
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// parseBytes reads sizes like 256MiB, 1GiB or a plain number of bytes.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size like 256MiB", s)
	}
	return n * mult, nil
}

// parseRegions pairs --region-urls with --region-transfer-keys.
func parseRegions(urls, keys string) (map[string]server.Region, error) {
	pairs := func(flag, s string) (map[string]string, error) {
		m := map[string]string{}
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			k, v, ok := strings.Cut(part, "=")
			if !ok || k == "" || v == "" {
				return nil, fmt.Errorf("%s: want REGION=VALUE pairs separated by commas", flag)
			}
			m[strings.ToUpper(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		return m, nil
	}
	u, err := pairs("--region-urls", urls)
	if err != nil {
		return nil, err
	}
	k, err := pairs("--region-transfer-keys", keys)
	if err != nil {
		return nil, err
	}
	regions := map[string]server.Region{}
	for region, base := range u {
		raw, ok := k[region]
		if !ok {
			return nil, fmt.Errorf("--region-transfer-keys has no key for region %s", region)
		}
		key, err := seal.ParseTransferKey(raw)
		if err != nil {
			return nil, fmt.Errorf("--region-transfer-keys %s: %w", region, err)
		}
		regions[region] = server.Region{BaseURL: strings.TrimSuffix(base, "/"), TransferKey: key}
	}
	for region := range k {
		if _, ok := u[region]; !ok {
			return nil, fmt.Errorf("--region-urls has no URL for region %s", region)
		}
	}
	if len(regions) == 0 {
		return nil, nil
	}
	return regions, nil
}

// isFlagSet reports whether the operator chose a flag, on the command line
// or through its variable.
func isFlagSet(fs *flag.FlagSet, getenv func(string) string, name, envName string) bool {
	set := getenv(envName) != ""
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// devBaseURL is the base URL when none is given: http://localhost on the
// port of addr (http://localhost:8080 for the default :8080), or the
// loopback host addr names, so that the one flag --addr moves everything.
func devBaseURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q must be host:port or :port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("--addr %q has no fixed port to derive the base URL from: pass --base-url too", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip == nil || !ip.IsLoopback() {
		// A wildcard or another interface: the browser and the sandbox
		// still reach it on localhost.
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// checkListeners refuses two listeners on one port where their hosts
// overlap (the same host, or either on every interface), which would fail
// later as a bare "address already in use" naming neither flag. The usual
// case is --addr :9090, the ops listener's default port.
func checkListeners(addrs map[string]string) error {
	type listener struct{ flag, host, port string }
	var ls []listener
	for flagName, addr := range addrs {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("%s %q must be host:port or :port", flagName, addr)
		}
		if port == "0" || port == "" {
			continue // the system picks a free one
		}
		ls = append(ls, listener{flagName, host, port})
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	for i, a := range ls {
		for _, b := range ls[i+1:] {
			if a.port != b.port || !(a.host == b.host || wildcard(a.host) || wildcard(b.host)) {
				continue
			}
			first, second := a, b
			if first.flag > second.flag {
				first, second = second, first
			}
			return fmt.Errorf("%s %s and %s %s both listen on port %s: give each its own port (a second instance needs its own --addr, --ops-addr and --backup-addr)",
				first.flag, addrs[first.flag], second.flag, addrs[second.flag], first.port)
		}
	}
	return nil
}
