// Package deploy_test checks the deployment files in this directory without
// a network, a Docker engine or a cluster: every file parses, and the rules an
// operator relies on hold (one replica, non-root, read-only root, private ops
// listener, key from a file, only environment variables secretsd knows).
package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// futureEnv are SECRETS_* names the deploy files may use although
// cmd/secretsd/config.go does not (yet) read them. Keep it short; each entry
// needs a reason, and goes once config.go has the name.
var futureEnv = map[string]string{
	// Retention of uninstalled sites' data: written alongside the deploy
	// files, so these may land before the config change does.
	"SECRETS_RETENTION": "retention of uninstalled tenants' data",
}

// opsPort is the ops listener's port; it must never be public.
const opsPort = 9090

// backupPort is the backup listener's port: loopback only, everywhere.
const backupPort = 9091

// --- YAML --------------------------------------------------------------------

// doc is one YAML document decoded into generic values.
type doc = map[string]any

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []doc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []doc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, len(docs)+1, err)
		}
		if d != nil { // a bare "---" separator
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no YAML documents", path)
	}
	return docs
}

// get walks maps (string keys) and lists (int keys); nil if a step is missing.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// k8sObjects loads every manifest under kubernetes/, keyed by "Kind/name".
func k8sObjects(t *testing.T) map[string]doc {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no kubernetes/*.yaml: %v", err)
	}
	objs := map[string]doc{}
	for _, f := range files {
		for _, d := range yamlDocs(t, f) {
			kind, name := str(d["kind"]), str(get(d, "metadata", "name"))
			if kind == "Kustomization" {
				continue
			}
			if d["apiVersion"] == nil || kind == "" || name == "" {
				t.Fatalf("%s: a document lacks apiVersion, kind or metadata.name", f)
			}
			if _, dup := objs[kind+"/"+name]; dup {
				t.Fatalf("%s: %s/%s defined twice", f, kind, name)
			}
			objs[kind+"/"+name] = d
		}
	}
	return objs
}

func object(t *testing.T, objs map[string]doc, key string) doc {
	t.Helper()
	d, ok := objs[key]
	if !ok {
		t.Fatalf("no %s in kubernetes/", key)
	}
	return d
}

// --- sizes -------------------------------------------------------------------

// Unit tables for the size spellings of each tool; all are binary except
// Kubernetes' decimal suffixes (and its "m" means milli, not mega).
var (
	secretsdUnits = map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "B": 1, "": 1}
	k8sUnits      = map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 1e3, "M": 1e6, "G": 1e9, "": 1}
	dockerUnits   = map[string]int64{"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "": 1}
	systemdUnits  = map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "": 1}
)

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*([A-Za-z]*)$`)

func parseSize(t *testing.T, s string, units map[string]int64) int64 {
	t.Helper()
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		t.Fatalf("size %q: not a number with a unit", s)
	}
	mult, ok := units[m[2]]
	if !ok {
		t.Fatalf("size %q: unknown unit %q", s, m[2])
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n * mult
}

// kdfHeadroom is what secretsd needs besides the argon2 budget.
const kdfHeadroom = 200 << 20

func checkMemory(t *testing.T, where string, limit, budget int64) {
	t.Helper()
	if limit < budget+kdfHeadroom {
		t.Errorf("%s: memory limit %d MiB must exceed the KDF budget %d MiB by %d MiB",
			where, limit>>20, budget>>20, kdfHeadroom>>20)
	}
}

// --- all YAML files ----------------------------------------------------------

func TestYAMLFilesParse(t *testing.T) {
	files := []string{"compose.yaml"}
	k8s, _ := filepath.Glob("kubernetes/*.yaml")
	files = append(files, k8s...)
	if len(k8s) < 7 {
		t.Errorf("kubernetes/ has %d YAML files, want at least 7", len(k8s))
	}
	for _, f := range files {
		// yamlDocs fails on syntax errors, on empty files and, through
		// yaml.v3, on duplicate keys (a classic silent override).
		yamlDocs(t, f)
	}
	// Every manifest has apiVersion, kind and a name, each defined once.
	k8sObjects(t)
}

// --- Kubernetes --------------------------------------------------------------

func TestStatefulSet(t *testing.T) {
	objs := k8sObjects(t)
	sts := object(t, objs, "StatefulSet/secretsd")
	spec := sts["spec"]

	if got := get(spec, "replicas"); got != 1 {
		t.Errorf("replicas = %v, want 1: bbolt allows one process per file", got)
	}
	if got := str(get(spec, "podManagementPolicy")); got != "OrderedReady" {
		t.Errorf("podManagementPolicy = %q, want OrderedReady", got)
	}
	if got := str(get(spec, "updateStrategy", "type")); got != "RollingUpdate" && got != "OnDelete" {
		t.Errorf("updateStrategy = %q", got)
	}
	if svc := str(get(spec, "serviceName")); objs["Service/"+svc] == nil {
		t.Errorf("serviceName %q is not a Service in kubernetes/", svc)
	}

	pod := get(spec, "template", "spec")
	if g, ok := get(pod, "terminationGracePeriodSeconds").(int); !ok || g < 35 {
		t.Errorf("terminationGracePeriodSeconds = %v, want ≥ 35 (30 s drain + margin)", g)
	}
	psc := get(pod, "securityContext")
	for _, c := range []struct {
		key  string
		want any
	}{
		{"runAsNonRoot", true}, {"runAsUser", 65532}, {"fsGroup", 65532},
	} {
		if got := get(psc, c.key); got != c.want {
			t.Errorf("pod securityContext.%s = %v, want %v", c.key, got, c.want)
		}
	}
	if got := str(get(psc, "seccompProfile", "type")); got != "RuntimeDefault" {
		t.Errorf("seccompProfile = %q, want RuntimeDefault", got)
	}

	containers := list(get(pod, "containers"))
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0]
	csc := get(c, "securityContext")
	if get(csc, "readOnlyRootFilesystem") != true {
		t.Error("container readOnlyRootFilesystem is not true")
	}
	if get(csc, "allowPrivilegeEscalation") != false {
		t.Error("container allowPrivilegeEscalation is not false")
	}
	if !slices.Contains(list(get(csc, "capabilities", "drop")), any("ALL")) {
		t.Error("container capabilities do not drop ALL")
	}

	// Probes hit the ops listener, by number or by port name.
	ports := map[string]int{}
	for _, p := range list(get(c, "ports")) {
		ports[str(get(p, "name"))], _ = get(p, "containerPort").(int)
	}
	probePort := func(v any) int {
		if n, ok := v.(int); ok {
			return n
		}
		return ports[str(v)]
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		hg := get(c, probe, "httpGet")
		if got := str(get(hg, "path")); got != path {
			t.Errorf("%s path = %q, want %q", probe, got, path)
		}
		if got := probePort(get(hg, "port")); got != opsPort {
			t.Errorf("%s port = %v, want %d", probe, get(hg, "port"), opsPort)
		}
	}

	env := map[string]string{}
	for _, e := range list(get(c, "env")) {
		env[str(get(e, "name"))] = str(get(e, "value"))
	}
	if got := env["SECRETS_OPS_ADDR"]; !strings.HasSuffix(got, ":"+strconv.Itoa(opsPort)) {
		t.Errorf("SECRETS_OPS_ADDR = %q, want port %d (the probes' port)", got, opsPort)
	}

	// Volumes: /data from the claim template; the key from the Secret, as
	// a read-only file where SECRETS_MASTER_KEY_FILE points.
	mounts := map[string]doc{}
	for _, m := range list(get(c, "volumeMounts")) {
		mounts[str(get(m, "name"))] = m.(doc)
	}
	claims := list(get(spec, "volumeClaimTemplates"))
	if len(claims) != 1 {
		t.Fatalf("%d volumeClaimTemplates, want 1", len(claims))
	}
	claim := str(get(claims[0], "metadata", "name"))
	if got := str(get(mounts[claim], "mountPath")); got == "" || filepath.Dir(env["SECRETS_DATA"]) != got {
		t.Errorf("claim %q is mounted at %q; SECRETS_DATA = %q", claim, got, env["SECRETS_DATA"])
	}
	if got := list(get(claims[0], "spec", "accessModes")); !slices.Equal(got, []any{"ReadWriteOnce"}) {
		t.Errorf("claim accessModes = %v, want [ReadWriteOnce]", got)
	}

	// Secret files by path: the master key and the backup token.
	type secretFile struct{ name, key string }
	files := map[string]secretFile{}
	for _, v := range list(get(pod, "volumes")) {
		if get(v, "secret") == nil {
			continue
		}
		m := mounts[str(get(v, "name"))]
		if get(m, "readOnly") != true {
			t.Errorf("secret volume %v is not mounted readOnly", get(v, "name"))
		}
		if mode := get(v, "secret", "defaultMode"); mode != 0o400 {
			t.Errorf("secret defaultMode = %v, want 0400", mode)
		}
		item := get(v, "secret", "items", 0)
		files[str(get(m, "mountPath"))+"/"+str(get(item, "path"))] = secretFile{str(get(v, "secret", "secretName")), str(get(item, "key"))}
	}
	master, ok := files[env["SECRETS_MASTER_KEY_FILE"]]
	if !ok {
		t.Errorf("SECRETS_MASTER_KEY_FILE = %q, but no Secret file is there (%v)", env["SECRETS_MASTER_KEY_FILE"], files)
	}
	secretName, secretKey := master.name, master.key
	// The backup token comes from a Secret of its own, and /backup listens
	// on the pod's loopback, out of reach of every Service and policy rule.
	if tok, ok := files[env["SECRETS_BACKUP_TOKEN_FILE"]]; !ok || tok.name == secretName {
		t.Errorf("SECRETS_BACKUP_TOKEN_FILE = %q is not a file of its own Secret (%v)", env["SECRETS_BACKUP_TOKEN_FILE"], files)
	}
	if a := env["SECRETS_BACKUP_ADDR"]; !strings.HasPrefix(a, "127.0.0.1:") {
		t.Errorf("SECRETS_BACKUP_ADDR = %q, want the pod's loopback", a)
	}
	for _, p := range list(get(c, "ports")) {
		if port, _ := get(p, "containerPort").(int); port == backupPort {
			t.Errorf("the backup port %d is a container port; it must stay on the pod's loopback", backupPort)
		}
	}

	// The example Secret has the name and key the pod reads, and a value
	// secretsd refuses, so applying it by mistake fails loudly.
	ex := yamlDocs(t, "kubernetes/secret.example.yaml")[0]
	if got := str(get(ex, "metadata", "name")); got != secretName {
		t.Errorf("secret.example.yaml is named %q, the pod mounts %q", got, secretName)
	}
	placeholder, ok := get(ex, "stringData", secretKey).(string)
	if !ok {
		t.Fatalf("secret.example.yaml has no stringData.%s", secretKey)
	}
	if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(placeholder)); err == nil && len(raw) == 32 {
		t.Error("secret.example.yaml holds a usable key; it must be an invalid placeholder")
	}

	// Config: the ConfigMap the pod reads, and memory for its KDF budget.
	cmName := str(get(c, "envFrom", 0, "configMapRef", "name"))
	cm := object(t, objs, "ConfigMap/"+cmName)
	budget := str(get(cm, "data", "SECRETS_KDF_MEMORY_BUDGET"))
	if budget == "" {
		budget = "256MiB" // secretsd's default
	}
	limit := str(get(c, "resources", "limits", "memory"))
	checkMemory(t, "statefulset", parseSize(t, limit, k8sUnits), parseSize(t, budget, secretsdUnits))
	if got := str(get(cm, "data", "SECRETS_DEV")); got != "false" {
		t.Errorf("ConfigMap SECRETS_DEV = %q, want \"false\"", got)
	}

	// The pod's labels are what Services and the NetworkPolicy select.
	labels, _ := get(spec, "template", "metadata", "labels").(doc)
	for key, o := range objs {
		var selector any
		switch o["kind"] {
		case "Service":
			selector = get(o, "spec", "selector")
		case "NetworkPolicy":
			selector = get(o, "spec", "podSelector", "matchLabels")
		default:
			continue
		}
		sel, _ := selector.(doc)
		if len(sel) == 0 {
			t.Errorf("%s selects nothing in particular", key)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%v, which the pod does not carry", key, k, v)
			}
		}
	}
}

// exposesOps tells whether a Service port reaches the ops listener.
func exposesOps(p any) bool {
	return get(p, "port") == opsPort || get(p, "targetPort") == opsPort ||
		get(p, "targetPort") == "ops" || get(p, "name") == "ops"
}

func TestServicesKeepOpsPrivate(t *testing.T) {
	objs := k8sObjects(t)
	routed := map[string]bool{} // Services an Ingress sends traffic to
	for key, o := range objs {
		if o["kind"] != "Ingress" {
			continue
		}
		for _, r := range list(get(o, "spec", "rules")) {
			for _, p := range list(get(r, "http", "paths")) {
				b := get(p, "backend", "service")
				name := str(get(b, "name"))
				if objs["Service/"+name] == nil {
					t.Errorf("%s routes to Service %q, which does not exist", key, name)
				}
				routed[name] = true
				if get(b, "port", "number") == opsPort || get(b, "port", "name") == "ops" {
					t.Errorf("%s routes to the ops port", key)
				}
			}
		}
	}
	if !routed["secretsd"] {
		t.Error("no Ingress routes to Service secretsd")
	}
	var services int
	for key, o := range objs {
		if o["kind"] != "Service" {
			continue
		}
		services++
		typ := str(get(o, "spec", "type"))
		if typ != "" && typ != "ClusterIP" {
			t.Errorf("%s has type %s; only ClusterIP, the ingress is the way in", key, typ)
		}
		for _, p := range list(get(o, "spec", "ports")) {
			if !exposesOps(p) {
				continue
			}
			if routed[str(get(o, "metadata", "name"))] {
				t.Errorf("%s is routed by an Ingress and exposes the ops port", key)
			}
			if get(o, "spec", "externalIPs") != nil {
				t.Errorf("%s exposes the ops port on external IPs", key)
			}
		}
	}
	if services == 0 {
		t.Fatal("no Services")
	}
}

func TestIngressMatchesBaseURL(t *testing.T) {
	objs := k8sObjects(t)
	ing := object(t, objs, "Ingress/secretsd")
	base := str(get(object(t, objs, "ConfigMap/secretsd-config"), "data", "SECRETS_BASE_URL"))
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		t.Fatalf("SECRETS_BASE_URL = %q, want an https URL", base)
	}
	var tlsHosts []any
	for _, tls := range list(get(ing, "spec", "tls")) {
		tlsHosts = append(tlsHosts, list(get(tls, "hosts"))...)
		if str(get(tls, "secretName")) == "" {
			t.Error("ingress tls entry without secretName")
		}
	}
	rules := list(get(ing, "spec", "rules"))
	if len(rules) == 0 {
		t.Fatal("ingress has no rules")
	}
	for _, r := range rules {
		host := str(get(r, "host"))
		if !slices.Contains(tlsHosts, any(host)) {
			t.Errorf("ingress host %q is not covered by tls", host)
		}
		if host != u.Host {
			t.Errorf("ingress host %q differs from SECRETS_BASE_URL host %q", host, u.Host)
		}
	}
}

func TestNetworkPolicy(t *testing.T) {
	objs := k8sObjects(t)
	np := object(t, objs, "NetworkPolicy/secretsd")
	if !slices.Contains(list(get(np, "spec", "policyTypes")), any("Ingress")) {
		t.Fatal("NetworkPolicy does not restrict Ingress")
	}
	allowed := map[int][]string{} // port → namespaces admitted
	for i, rule := range list(get(np, "spec", "ingress")) {
		from := list(get(rule, "from"))
		ports := list(get(rule, "ports"))
		if len(from) == 0 || len(ports) == 0 {
			t.Errorf("ingress rule %d admits every source or every port", i)
			continue
		}
		for _, f := range from {
			ns := str(get(f, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
			if ns == "" || get(f, "ipBlock") != nil {
				t.Errorf("ingress rule %d: a source that is not a named namespace: %v", i, f)
			}
			for _, p := range ports {
				port, _ := get(p, "port").(int)
				allowed[port] = append(allowed[port], ns)
			}
		}
	}
	if got := allowed[opsPort]; len(got) != 1 || got[0] != "monitoring" {
		t.Errorf("port %d admitted from %v, want only [monitoring]", opsPort, got)
	}
	if len(allowed[8080]) == 0 {
		t.Error("port 8080 is admitted from nowhere: the ingress controller cannot reach it")
	}
	for port := range allowed {
		if port != 8080 && port != opsPort {
			t.Errorf("port %d is admitted; secretsd listens on 8080 and %d only", port, opsPort)
		}
	}
}

func TestKustomization(t *testing.T) {
	k := yamlDocs(t, "kubernetes/kustomization.yaml")[0]
	if k["kind"] != "Kustomization" {
		t.Fatalf("kind = %v", k["kind"])
	}
	var listed []string
	for _, r := range list(k["resources"]) {
		name := str(r)
		listed = append(listed, name)
		if _, err := os.Stat(filepath.Join("kubernetes", name)); err != nil {
			t.Errorf("resource %q: %v", name, err)
		}
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		base := filepath.Base(f)
		switch base {
		case "kustomization.yaml":
		case "secret.example.yaml":
			// Listing it would overwrite the real key on every apply.
			if slices.Contains(listed, base) {
				t.Errorf("%s is a resource: `kubectl apply -k` would replace the real master key", base)
			}
		default:
			if !slices.Contains(listed, base) {
				t.Errorf("%s is not listed in kustomization.yaml", base)
			}
		}
	}
}

// --- compose -----------------------------------------------------------------

// composePort is one published port, from the short or the long syntax.
type composePort struct {
	hostIP    string
	published string
	target    int
}

func composePorts(t *testing.T, ports []any) []composePort {
	t.Helper()
	var out []composePort
	for _, p := range ports {
		if m, ok := p.(doc); ok { // long syntax
			target, _ := m["target"].(int)
			out = append(out, composePort{str(m["host_ip"]), str(m["published"]), target})
			continue
		}
		// [host_ip:][published:]target[/proto]; IPv6 host IPs come in [].
		s, _, _ := strings.Cut(str(p), "/")
		var hostIP string
		if strings.HasPrefix(s, "[") {
			end := strings.Index(s, "]")
			hostIP, s = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		}
		parts := strings.Split(s, ":")
		if len(parts) == 3 {
			hostIP, parts = parts[0], parts[1:]
		}
		var published string
		if len(parts) == 2 {
			published, parts = parts[0], parts[1:]
		}
		target, err := strconv.Atoi(parts[0])
		if err != nil {
			t.Fatalf("port %q: %v", p, err)
		}
		out = append(out, composePort{hostIP, published, target})
	}
	return out
}

// composeEnv reads a service's environment in map or list form.
func composeEnv(v any) map[string]string {
	env := map[string]string{}
	switch e := v.(type) {
	case doc:
		for k, v := range e {
			env[k] = str(v)
		}
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(str(kv), "=")
			env[k] = v
		}
	}
	return env
}

func TestCompose(t *testing.T) {
	c := yamlDocs(t, "compose.yaml")[0]
	services, _ := c["services"].(doc)
	sd, ok := services["secretsd"].(doc)
	if !ok {
		t.Fatal("no secretsd service")
	}

	if got := str(get(sd, "build", "dockerfile")); got != "deploy/Dockerfile" {
		t.Errorf("build.dockerfile = %q, want deploy/Dockerfile", got)
	}
	if ctx := str(get(sd, "build", "context")); filepath.Clean(ctx) != ".." {
		t.Errorf("build.context = %q, want the repository root (..)", ctx)
	}
	if sd["read_only"] != true {
		t.Error("secretsd: read_only is not true")
	}
	if !slices.Contains(list(sd["cap_drop"]), any("ALL")) {
		t.Error("secretsd: cap_drop lacks ALL")
	}
	if !slices.Contains(list(sd["security_opt"]), any("no-new-privileges:true")) {
		t.Error("secretsd: security_opt lacks no-new-privileges:true")
	}
	if r := get(sd, "deploy", "replicas"); r != nil && r != 1 {
		t.Errorf("secretsd: deploy.replicas = %v; bbolt allows one process", r)
	}

	// Ops port: never published beyond the host's loopback, by anyone.
	for name, s := range services {
		for _, p := range composePorts(t, list(get(s, "ports"))) {
			if (p.target == opsPort || p.target == backupPort) && p.hostIP != "127.0.0.1" && p.hostIP != "::1" {
				t.Errorf("%s publishes port %d on %q; only loopback is allowed", name, p.target, p.hostIP)
			}
			if name == "secretsd" && p.target != opsPort && p.target != backupPort {
				t.Errorf("secretsd publishes port %d; the proxy is the way in", p.target)
			}
		}
	}

	// The master key is a compose secret, and the variable points at it.
	env := composeEnv(sd["environment"])
	secretsList := list(sd["secrets"])
	if len(secretsList) != 2 {
		t.Fatalf("secretsd mounts %d secrets, want the master key and the backup token", len(secretsList))
	}
	if got := env["SECRETS_BACKUP_TOKEN_FILE"]; got != "/run/secrets/"+str(secretsList[1]) {
		t.Errorf("SECRETS_BACKUP_TOKEN_FILE = %q, want /run/secrets/%v", got, secretsList[1])
	}
	source, target := str(secretsList[0]), str(secretsList[0]) // short syntax
	if m, ok := secretsList[0].(doc); ok {
		source, target = str(m["source"]), str(m["source"])
		if m["target"] != nil {
			target = str(m["target"])
		}
	}
	if got := env["SECRETS_MASTER_KEY_FILE"]; got != "/run/secrets/"+target {
		t.Errorf("SECRETS_MASTER_KEY_FILE = %q, want /run/secrets/%s", got, target)
	}
	if get(c, "secrets", source, "file") == nil {
		t.Errorf("top-level secret %q has no file", source)
	}
	// The host is interpolated by compose; the scheme must be https.
	if !strings.HasPrefix(env["SECRETS_BASE_URL"], "https://") {
		t.Errorf("SECRETS_BASE_URL = %q, want https://…", env["SECRETS_BASE_URL"])
	}

	// /data is a named volume (persistent, initialised with the image's owner).
	var dataVolume string
	for _, v := range list(sd["volumes"]) {
		src, dst, _ := strings.Cut(str(v), ":")
		if m, ok := v.(doc); ok {
			src, dst = str(m["source"]), str(m["target"])
		}
		if strings.TrimSuffix(dst, ":rw") == "/data" {
			dataVolume = src
		}
	}
	declared, _ := get(c, "volumes").(doc)
	if _, ok := declared[dataVolume]; dataVolume == "" || !ok {
		t.Errorf("/data is on %q, want a named volume declared under volumes:", dataVolume)
	}

	budget := env["SECRETS_KDF_MEMORY_BUDGET"]
	if budget == "" {
		budget = "256MiB"
	}
	limit := str(sd["mem_limit"])
	if limit == "" {
		t.Fatal("secretsd has no mem_limit")
	}
	checkMemory(t, "compose secretsd", parseSize(t, limit, dockerUnits), parseSize(t, budget, secretsdUnits))

	// The proxy reaches secretsd on 8080 only, over TLS with HSTS.
	if _, ok := services["caddy"]; !ok {
		t.Fatal("no caddy service")
	}
	caddy, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	upstreams := regexp.MustCompile(`(?m)^\s*reverse_proxy\s+(.+)$`).FindAllStringSubmatch(string(caddy), -1)
	if len(upstreams) == 0 {
		t.Error("Caddyfile has no reverse_proxy")
	}
	for _, u := range upstreams {
		if strings.TrimSpace(u[1]) != "secretsd:8080" {
			t.Errorf("Caddyfile proxies to %q, want only secretsd:8080", u[1])
		}
	}
	if !strings.Contains(string(caddy), "Strict-Transport-Security") {
		t.Error("Caddyfile sends no HSTS header")
	}
	if !regexp.MustCompile(`@ops\s+path\s+[^\n]*/metrics`).Match(caddy) {
		t.Error("Caddyfile does not refuse /metrics")
	}
}

// --- Dockerfile --------------------------------------------------------------

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case
	args string
}

func dockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // comments inside a continued instruction
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{start, strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continued line", path)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := dockerfile(t, "Dockerfile")
	fromRE := regexp.MustCompile(`(?i)^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$`)
	stages := map[string]bool{}
	var froms []int // index of each FROM
	for i, in := range ins {
		switch in.cmd {
		case "FROM":
			m := fromRE.FindStringSubmatch(in.args)
			if m == nil {
				t.Fatalf("line %d: FROM %q", in.line, in.args)
			}
			froms = append(froms, i)
			if m[2] != "" {
				stages[strings.ToLower(m[2])] = true
			}
		case "COPY", "ADD":
			if strings.Contains(in.args, "http://") || strings.Contains(in.args, "https://") {
				t.Errorf("line %d: %s from a URL; fetch nothing unverified", in.line, in.cmd)
			}
			for _, f := range strings.Fields(in.args) {
				if from, ok := strings.CutPrefix(f, "--from="); ok && !stages[strings.ToLower(from)] {
					t.Errorf("line %d: COPY --from=%s is not an earlier named stage", in.line, from)
				}
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("%d FROM lines, want a multi-stage build", len(froms))
	}
	if !strings.Contains(ins[froms[0]].args, "golang:1.26") && !strings.Contains(ins[froms[0]].args, "golang:${GO_VERSION}") {
		t.Errorf("build stage FROM %q, want golang:1.26", ins[froms[0]].args)
	}

	// Build stage: modules in their own layer before the sources; a static,
	// trimmed build of both binaries.
	build := ins[froms[0]:froms[1]]
	order := func(pred func(instruction) bool) int {
		return slices.IndexFunc(build, pred)
	}
	copyMods := order(func(in instruction) bool { return in.cmd == "COPY" && strings.Contains(in.args, "go.mod") })
	download := order(func(in instruction) bool { return in.cmd == "RUN" && strings.Contains(in.args, "go mod download") })
	copyAll := order(func(in instruction) bool { return in.cmd == "COPY" && strings.HasPrefix(in.args, ". ") })
	if copyMods < 0 || download < copyMods || copyAll < download {
		t.Errorf("want COPY go.mod go.sum, RUN go mod download, COPY . . in that order; got %d, %d, %d", copyMods, download, copyAll)
	}
	var buildCmd string
	for _, in := range build {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			buildCmd = in.args
		}
	}
	for _, want := range []string{"-trimpath", "./cmd/secretsd", "./cmd/secretsctl"} {
		if !strings.Contains(buildCmd, want) {
			t.Errorf("go build lacks %s: %q", want, buildCmd)
		}
	}
	if !slices.ContainsFunc(build, func(in instruction) bool {
		return (in.cmd == "ENV" || in.cmd == "ARG") && strings.Contains(in.args, "CGO_ENABLED=0")
	}) && !strings.Contains(buildCmd, "CGO_ENABLED=0") {
		t.Error("the build stage does not set CGO_ENABLED=0")
	}

	// Final stage.
	final := ins[froms[len(froms)-1]:]
	if img := ins[froms[len(froms)-1]].args; !strings.Contains(img, "distroless") && !strings.HasPrefix(img, "scratch") {
		t.Errorf("final stage FROM %q, want distroless or scratch", img)
	}
	var user, entrypoint string
	var volumes, exposed []string
	env := map[string]string{}
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "VOLUME":
			volumes = append(volumes, strings.Fields(strings.Trim(in.args, `[]"`))...)
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case "HEALTHCHECK":
			t.Errorf("line %d: HEALTHCHECK in an image without a shell; orchestrators probe /healthz", in.line)
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("final USER = %q, want non-root (65532 or nonroot)", user)
	}
	if !slices.Contains(volumes, "/data") {
		t.Errorf("VOLUME %v, want /data", volumes)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entrypoint), &argv); err != nil || len(argv) == 0 {
		t.Errorf("ENTRYPOINT %q is not exec form: %v", entrypoint, err)
	} else if filepath.Base(argv[0]) != "secretsd" {
		t.Errorf("ENTRYPOINT runs %q, want secretsd", argv[0])
	}
	for _, p := range []string{"8080", "9090"} {
		if !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE %v lacks %s", exposed, p)
		}
	}
	if d := env["SECRETS_DATA"]; !strings.HasPrefix(d, "/data/") {
		t.Errorf("SECRETS_DATA = %q, want a file on the /data volume", d)
	}
	if env["SECRETS_DEV"] != "false" {
		t.Errorf("SECRETS_DEV = %q; the image must never fall back to dev mode", env["SECRETS_DEV"])
	}

	// BuildKit reads deploy/Dockerfile.dockerignore for this Dockerfile.
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	patterns := strings.Fields(string(regexp.MustCompile(`(?m)#.*$`).ReplaceAll(ignore, nil)))
	for _, want := range []string{".git", "data", "bin", "test-artifacts"} {
		if !slices.ContainsFunc(patterns, func(p string) bool { return strings.TrimSuffix(p, "/") == want }) {
			t.Errorf("Dockerfile.dockerignore does not exclude %s", want)
		}
	}
}

// --- systemd -----------------------------------------------------------------

// unit is a parsed systemd unit: section → key → values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				t.Fatalf("%s:%d: bad section header %q", path, n+1, line)
			}
			section = line[1 : len(line)-1]
			if u[section] != nil {
				t.Fatalf("%s:%d: section [%s] twice", path, n+1, section)
			}
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not key=value inside a section", path, n+1, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u
}

// envFile reads KEY=VALUE lines, skipping comments.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(k) {
			t.Fatalf("%s:%d: %q is not KEY=VALUE", path, n+1, line)
		}
		env[k] = v
	}
	return env
}

func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, "systemd/secretsd.service")
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Errorf("no [%s] section", s)
		}
	}
	svc := u["Service"]
	one := func(key string) string {
		if v := svc[key]; len(v) > 0 {
			return v[len(v)-1] // the last assignment wins
		}
		return "<unset>"
	}

	exec := strings.Fields(one("ExecStart"))
	if len(exec) == 0 || filepath.Base(strings.TrimLeft(exec[0], "-@:+!")) != "secretsd" {
		t.Errorf("ExecStart = %q, want secretsd", one("ExecStart"))
	}
	for key, want := range map[string]string{
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"NoNewPrivileges":         "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
		"CapabilityBoundingSet":   "",
		"UMask":                   "0077",
		"Restart":                 "on-failure",
		"KillSignal":              "SIGTERM",
		"StateDirectory":          "secrets",
		"DynamicUser":             "yes",
	} {
		if got := one(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if !slices.Contains(svc["SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter = %q, want @system-service", svc["SystemCallFilter"])
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(one("TimeoutStopSec"), "s")); err != nil || n < 35 {
		t.Errorf("TimeoutStopSec = %q, want ≥ 35 s (30 s drain + margin)", one("TimeoutStopSec"))
	}

	env := map[string]string{}
	for _, e := range svc["Environment"] {
		for _, kv := range strings.Fields(e) {
			k, v, _ := strings.Cut(strings.Trim(kv, `"`), "=")
			env[k] = v
		}
	}
	// The key and the backup token arrive as credentials; the variables
	// name their files.
	creds := map[string]bool{}
	for _, lc := range svc["LoadCredential"] {
		if cred, src, _ := strings.Cut(lc, ":"); src != "" {
			creds["%d/"+cred] = true
		}
	}
	for _, v := range []string{"SECRETS_MASTER_KEY_FILE", "SECRETS_BACKUP_TOKEN_FILE"} {
		if !creds[env[v]] {
			t.Errorf("%s = %q is not the file of a LoadCredential (%v)", v, env[v], svc["LoadCredential"])
		}
	}
	if d := env["SECRETS_DATA"]; !strings.HasPrefix(d, "/var/lib/"+one("StateDirectory")+"/") {
		t.Errorf("SECRETS_DATA = %q is not in the StateDirectory", d)
	}
	if env["SECRETS_DEV"] != "false" {
		t.Errorf("SECRETS_DEV = %q, want false", env["SECRETS_DEV"])
	}

	// The example env file is what EnvironmentFile reads; its budget must fit.
	if ef := one("EnvironmentFile"); !strings.HasSuffix(ef, "/secretsd.env") {
		t.Errorf("EnvironmentFile = %q, want …/secretsd.env", ef)
	}
	ex := envFile(t, "systemd/secretsd.env.example")
	if u, err := url.Parse(ex["SECRETS_BASE_URL"]); err != nil || u.Scheme != "https" {
		t.Errorf("secretsd.env.example SECRETS_BASE_URL = %q, want https", ex["SECRETS_BASE_URL"])
	}
	if ops := ex["SECRETS_OPS_ADDR"]; ops != "" && !strings.HasPrefix(ops, "127.0.0.1:") && !strings.HasPrefix(ops, "[::1]:") {
		t.Errorf("secretsd.env.example SECRETS_OPS_ADDR = %q, want loopback", ops)
	}
	if _, ok := ex["SECRETS_MASTER_KEY_FILE"]; ok {
		t.Error("secretsd.env.example overrides SECRETS_MASTER_KEY_FILE; the unit's credential should stand")
	}
	budget := ex["SECRETS_KDF_MEMORY_BUDGET"]
	if budget == "" {
		budget = "256MiB"
	}
	checkMemory(t, "systemd MemoryMax", parseSize(t, one("MemoryMax"), systemdUnits), parseSize(t, budget, secretsdUnits))
}

// --- environment variables ---------------------------------------------------

// TestEnvNamesAreKnown keeps the deploy files in step with cmd/secretsd: a
// variable renamed there, or misspelt here, fails.
func TestEnvNamesAreKnown(t *testing.T) {
	src, err := os.ReadFile("../cmd/secretsd/config.go")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(SECRETS_[A-Z0-9_]+)"`).FindAllSubmatch(src, -1) {
		known[string(m[1])] = true
	}
	if len(known) < 5 {
		t.Fatalf("found only %d SECRETS_* names in config.go; did its layout change?", len(known))
	}
	for name := range futureEnv {
		if known[name] {
			t.Logf("%s is read by secretsd now; its futureEnv entry can go", name)
		}
	}

	use := regexp.MustCompile(`\bSECRETS_[A-Z0-9_]+\b`)
	var checked int
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for n, line := range strings.Split(string(data), "\n") {
			for _, name := range use.FindAllString(line, -1) {
				if !known[name] && futureEnv[name] == "" {
					t.Errorf("%s:%d: %s is not a variable secretsd reads", path, n+1, name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Errorf("checked only %d files under deploy/", checked)
	}
}
