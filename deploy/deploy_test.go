// Package deploy_test checks the deployment files in this directory without
// a network, a Docker engine or a cluster: every file parses, and the rules an
// operator relies on hold (one replica on bbolt, several only on PostgreSQL,
// non-root, read-only root, private ops listener, key from a file, no
// database password in a file, only environment variables secretsd knows).
// The Kubernetes rules run on what `kubectl apply -k` would apply, built from
// each kustomization.
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
	"reflect"
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

// manifests loads the Kubernetes objects of files, keyed by "Kind/name". A
// document without apiVersion, kind or metadata.name, or an object defined
// twice, fails the test.
func manifests(t *testing.T, files []string) map[string]doc {
	t.Helper()
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

// kustomize builds the kustomization in dir as `kubectl apply -k` does, as
// far as these files use kustomize: resources (manifest files and other
// kustomizations), inline patches that delete an object, the namespace and
// images (checked apart). Anything else fails the test instead of being
// ignored, so the rules below always see what a cluster would get.
func kustomize(t *testing.T, dir string) map[string]doc {
	t.Helper()
	k := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0]
	for key := range k {
		switch key {
		case "apiVersion", "kind", "namespace", "resources", "patches", "images":
		default:
			t.Fatalf("%s/kustomization.yaml uses %q, which this test does not emulate", dir, key)
		}
	}
	objs := map[string]doc{}
	for _, r := range list(k["resources"]) {
		path := filepath.Join(dir, str(r))
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: resource %q: %v", dir, r, err)
		}
		add := map[string]doc{}
		if fi.IsDir() {
			add = kustomize(t, path)
		} else {
			add = manifests(t, []string{path})
		}
		for key, o := range add {
			if objs[key] != nil {
				t.Fatalf("%s: %s comes from two resources", dir, key)
			}
			objs[key] = o
		}
	}
	for i, p := range list(k["patches"]) {
		var patch doc
		if err := yaml.Unmarshal([]byte(str(get(p, "patch"))), &patch); err != nil {
			t.Fatalf("%s: patch %d: %v", dir, i, err)
		}
		if patch["$patch"] != "delete" || get(p, "path") != nil || get(p, "target") != nil {
			t.Fatalf("%s: patch %d: only inline `$patch: delete` patches are emulated", dir, i)
		}
		key := str(patch["kind"]) + "/" + str(get(patch, "metadata", "name"))
		if objs[key] == nil {
			t.Fatalf("%s: patch %d deletes %s, which no resource defines", dir, i, key)
		}
		delete(objs, key)
	}
	if ns := str(k["namespace"]); ns != "" {
		for _, o := range objs {
			if o["kind"] != "Namespace" {
				o["metadata"].(doc)["namespace"] = ns
			}
		}
	}
	return objs
}

// k8sObjects is what `kubectl apply -k kubernetes` applies: the
// single-replica StatefulSet on bbolt.
func k8sObjects(t *testing.T) map[string]doc {
	t.Helper()
	return kustomize(t, "kubernetes")
}

// pgObjects is what `kubectl apply -k kubernetes-postgres` applies: the
// replicated Deployment on PostgreSQL.
func pgObjects(t *testing.T) map[string]doc {
	t.Helper()
	return kustomize(t, "kubernetes-postgres")
}

func object(t *testing.T, objs map[string]doc, key string) doc {
	t.Helper()
	d, ok := objs[key]
	if !ok {
		t.Fatalf("no %s", key)
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
	files := []string{"compose.yaml", "compose.postgres.yaml"}
	k8s, _ := filepath.Glob("kubernetes/*.yaml")
	pg, _ := filepath.Glob("kubernetes-postgres/*.yaml")
	files = append(append(files, k8s...), pg...)
	if len(k8s) < 7 {
		t.Errorf("kubernetes/ has %d YAML files, want at least 7", len(k8s))
	}
	if len(pg) < 4 {
		t.Errorf("kubernetes-postgres/ has %d YAML files, want at least 4", len(pg))
	}
	for _, f := range files {
		// yamlDocs fails on syntax errors, on empty files and, through
		// yaml.v3, on duplicate keys (a classic silent override).
		yamlDocs(t, f)
	}
	// Every manifest has apiVersion, kind and a name, each defined once.
	manifests(t, k8s)
	manifests(t, pg)
}

// --- Kubernetes --------------------------------------------------------------

// secretsdPod checks the rules every secretsd pod follows, whichever
// workload runs it: non-root with a read-only root and no capabilities,
// probes on the ops listener, the backup listener on loopback, the master
// key from a read-only Secret file, memory for the KDF budget, and labels
// that the Services, NetworkPolicies and disruption budgets select. It
// returns the container, its literal environment and its Secret files (by
// path) for the workload's own rules.
func secretsdPod(t *testing.T, objs map[string]doc, key string) (c doc, env map[string]string, files map[string]secretFile) {
	t.Helper()
	spec := get(object(t, objs, key), "spec")
	pod := get(spec, "template", "spec")
	if g, ok := get(pod, "terminationGracePeriodSeconds").(int); !ok || g < 35 {
		t.Errorf("%s: terminationGracePeriodSeconds = %v, want ≥ 35 (30 s drain + margin)", key, g)
	}
	if get(pod, "automountServiceAccountToken") != false {
		t.Errorf("%s: automountServiceAccountToken is not false; secretsd never talks to the API", key)
	}
	psc := get(pod, "securityContext")
	for _, c := range []struct {
		key  string
		want any
	}{
		{"runAsNonRoot", true}, {"runAsUser", 65532}, {"fsGroup", 65532},
	} {
		if got := get(psc, c.key); got != c.want {
			t.Errorf("%s: pod securityContext.%s = %v, want %v", key, c.key, got, c.want)
		}
	}
	if got := str(get(psc, "seccompProfile", "type")); got != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile = %q, want RuntimeDefault", key, got)
	}

	containers := list(get(pod, "containers"))
	if len(containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", key, len(containers))
	}
	c = containers[0].(doc)
	csc := get(c, "securityContext")
	if get(csc, "readOnlyRootFilesystem") != true {
		t.Errorf("%s: container readOnlyRootFilesystem is not true", key)
	}
	if get(csc, "allowPrivilegeEscalation") != false {
		t.Errorf("%s: container allowPrivilegeEscalation is not false", key)
	}
	if !slices.Contains(list(get(csc, "capabilities", "drop")), any("ALL")) {
		t.Errorf("%s: container capabilities do not drop ALL", key)
	}

	// Probes hit the ops listener, by number or by port name.
	ports := map[string]int{}
	for _, p := range list(get(c, "ports")) {
		ports[str(get(p, "name"))], _ = get(p, "containerPort").(int)
		if port, _ := get(p, "containerPort").(int); port == backupPort {
			t.Errorf("%s: the backup port %d is a container port; it must stay on the pod's loopback", key, backupPort)
		}
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
			t.Errorf("%s: %s path = %q, want %q", key, probe, got, path)
		}
		if got := probePort(get(hg, "port")); got != opsPort {
			t.Errorf("%s: %s port = %v, want %d", key, probe, get(hg, "port"), opsPort)
		}
	}

	env = map[string]string{}
	for _, e := range list(get(c, "env")) {
		if get(e, "valueFrom") == nil {
			env[str(get(e, "name"))] = str(get(e, "value"))
		}
	}
	if got := env["SECRETS_OPS_ADDR"]; !strings.HasSuffix(got, ":"+strconv.Itoa(opsPort)) {
		t.Errorf("%s: SECRETS_OPS_ADDR = %q, want port %d (the probes' port)", key, got, opsPort)
	}
	if a, ok := env["SECRETS_BACKUP_ADDR"]; ok && !strings.HasPrefix(a, "127.0.0.1:") {
		t.Errorf("%s: SECRETS_BACKUP_ADDR = %q, want the pod's loopback", key, a)
	}

	// Secret files by path, mounted read-only and readable by the owner
	// only; the master key is one of them.
	mounts := map[string]doc{}
	for _, m := range list(get(c, "volumeMounts")) {
		mounts[str(get(m, "name"))] = m.(doc)
	}
	files = map[string]secretFile{}
	for _, v := range list(get(pod, "volumes")) {
		if get(v, "secret") == nil {
			continue
		}
		m := mounts[str(get(v, "name"))]
		if get(m, "readOnly") != true {
			t.Errorf("%s: secret volume %v is not mounted readOnly", key, get(v, "name"))
		}
		if mode := get(v, "secret", "defaultMode"); mode != 0o400 {
			t.Errorf("%s: secret defaultMode = %v, want 0400", key, mode)
		}
		item := get(v, "secret", "items", 0)
		files[str(get(m, "mountPath"))+"/"+str(get(item, "path"))] = secretFile{str(get(v, "secret", "secretName")), str(get(item, "key"))}
	}
	if _, ok := files[env["SECRETS_MASTER_KEY_FILE"]]; !ok {
		t.Errorf("%s: SECRETS_MASTER_KEY_FILE = %q, but no Secret file is there (%v)", key, env["SECRETS_MASTER_KEY_FILE"], files)
	}

	// Config: the ConfigMap the pod reads, and memory for its KDF budget.
	cmName := str(get(c, "envFrom", 0, "configMapRef", "name"))
	cm := object(t, objs, "ConfigMap/"+cmName)
	budget := str(get(cm, "data", "SECRETS_KDF_MEMORY_BUDGET"))
	if budget == "" {
		budget = "256MiB" // secretsd's default
	}
	limit := str(get(c, "resources", "limits", "memory"))
	checkMemory(t, key, parseSize(t, limit, k8sUnits), parseSize(t, budget, secretsdUnits))
	if got := str(get(cm, "data", "SECRETS_DEV")); got != "false" {
		t.Errorf("ConfigMap SECRETS_DEV = %q, want \"false\"", got)
	}

	// The pod's labels are what Services, NetworkPolicies and disruption
	// budgets select, and the workload's own selector.
	labels, _ := get(spec, "template", "metadata", "labels").(doc)
	selects := func(what string, selector any) {
		sel, _ := selector.(doc)
		if len(sel) == 0 {
			t.Errorf("%s selects nothing in particular", what)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%v, which the pods of %s do not carry", what, k, v, key)
			}
		}
	}
	selects(key, get(spec, "selector", "matchLabels"))
	for okey, o := range objs {
		switch o["kind"] {
		case "Service":
			selects(okey, get(o, "spec", "selector"))
		case "NetworkPolicy":
			selects(okey, get(o, "spec", "podSelector", "matchLabels"))
		case "PodDisruptionBudget":
			selects(okey, get(o, "spec", "selector", "matchLabels"))
		}
	}
	return c, env, files
}

// secretFile is the Secret and key a mounted file comes from.
type secretFile struct{ name, key string }

// workloads lists the objects that run pods.
func workloads(objs map[string]doc) []string {
	var keys []string
	for key, o := range objs {
		switch o["kind"] {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "Job", "CronJob":
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}

func TestStatefulSet(t *testing.T) {
	objs := k8sObjects(t)
	if got := workloads(objs); !slices.Equal(got, []string{"StatefulSet/secretsd"}) {
		t.Errorf("kubernetes/ runs %v, want only StatefulSet/secretsd", got)
	}
	sts := object(t, objs, "StatefulSet/secretsd")
	spec := sts["spec"]
	c, env, files := secretsdPod(t, objs, "StatefulSet/secretsd")

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
	if s, ok := env["SECRETS_STORE"]; ok && !strings.HasPrefix(s, "bolt://") {
		t.Errorf("SECRETS_STORE = %q: the StatefulSet is the bbolt deployment", s)
	}
	for _, o := range objs {
		if o["kind"] == "PodDisruptionBudget" {
			t.Error("a PodDisruptionBudget for one replica would block every node drain")
		}
	}

	// /data from the claim template.
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

	// The backup token comes from a Secret of its own, and /backup listens
	// on the pod's loopback, out of reach of every Service and policy rule.
	master := files[env["SECRETS_MASTER_KEY_FILE"]]
	if tok, ok := files[env["SECRETS_BACKUP_TOKEN_FILE"]]; !ok || tok.name == master.name {
		t.Errorf("SECRETS_BACKUP_TOKEN_FILE = %q is not a file of its own Secret (%v)", env["SECRETS_BACKUP_TOKEN_FILE"], files)
	}
	if a := env["SECRETS_BACKUP_ADDR"]; !strings.HasPrefix(a, "127.0.0.1:") {
		t.Errorf("SECRETS_BACKUP_ADDR = %q, want the pod's loopback", a)
	}

	// The example Secret has the name and key the pod reads, and a value
	// secretsd refuses, so applying it by mistake fails loudly.
	ex := yamlDocs(t, "kubernetes/secret.example.yaml")[0]
	if got := str(get(ex, "metadata", "name")); got != master.name {
		t.Errorf("secret.example.yaml is named %q, the pod mounts %q", got, master.name)
	}
	placeholder, ok := get(ex, "stringData", master.key).(string)
	if !ok {
		t.Fatalf("secret.example.yaml has no stringData.%s", master.key)
	}
	if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(placeholder)); err == nil && len(raw) == 32 {
		t.Error("secret.example.yaml holds a usable key; it must be an invalid placeholder")
	}
}

// TestPostgresDeployment: kubernetes-postgres runs several replicas of the
// same pod on PostgreSQL, with nothing of bbolt left: no StatefulSet, no
// volume, the store URL from a Secret.
func TestPostgresDeployment(t *testing.T) {
	objs := pgObjects(t)
	if got := workloads(objs); !slices.Equal(got, []string{"Deployment/secretsd"}) {
		t.Fatalf("kubernetes-postgres/ runs %v, want only Deployment/secretsd (the StatefulSet deleted)", got)
	}
	dep := object(t, objs, "Deployment/secretsd")
	spec := dep["spec"]
	c, env, _ := secretsdPod(t, objs, "Deployment/secretsd")

	replicas, _ := get(spec, "replicas").(int)
	if replicas < 2 {
		t.Errorf("replicas = %v, want several", get(spec, "replicas"))
	}
	if got := str(get(spec, "strategy", "type")); got != "RollingUpdate" {
		t.Errorf("strategy = %q, want RollingUpdate: replicas are replaced one by one", got)
	}

	// Same security as the single-node pod, to the letter.
	sts := object(t, manifests(t, []string{"kubernetes/statefulset.yaml"}), "StatefulSet/secretsd")
	stsPod := get(sts, "spec", "template", "spec")
	if got, want := get(spec, "template", "spec", "securityContext"), get(stsPod, "securityContext"); !reflect.DeepEqual(got, want) {
		t.Errorf("pod securityContext = %v, want the StatefulSet's %v", got, want)
	}
	if got, want := get(c, "securityContext"), get(stsPod, "containers", 0, "securityContext"); !reflect.DeepEqual(got, want) {
		t.Errorf("container securityContext = %v, want the StatefulSet's %v", got, want)
	}

	// PostgreSQL, never bbolt: no file, no volume to share.
	for _, name := range []string{"SECRETS_DATA", "SECRETS_BACKUP_TOKEN_FILE"} {
		if _, ok := env[name]; ok {
			t.Errorf("%s is set; the PostgreSQL deployment has no file to keep or copy", name)
		}
	}
	for name, v := range env {
		if strings.HasPrefix(v, "bolt://") {
			t.Errorf("%s = %q: bbolt allows one process, not %d", name, v, replicas)
		}
	}
	if _, ok := env["SECRETS_STORE"]; ok {
		t.Error("SECRETS_STORE is a literal value; it carries the database password, so it comes from a Secret")
	}
	var store doc
	for _, e := range list(get(c, "env")) {
		if get(e, "name") == "SECRETS_STORE" {
			store, _ = get(e, "valueFrom", "secretKeyRef").(doc)
		}
	}
	if store == nil {
		t.Fatal("SECRETS_STORE does not come from a Secret (valueFrom.secretKeyRef)")
	}
	for _, v := range list(get(spec, "template", "spec", "volumes")) {
		if get(v, "persistentVolumeClaim") != nil || get(v, "hostPath") != nil {
			t.Errorf("volume %v keeps state on a node or a claim; the replicas are stateless", get(v, "name"))
		}
	}
	if get(spec, "volumeClaimTemplates") != nil {
		t.Error("a Deployment with volumeClaimTemplates")
	}

	// The example Secret has the name and key the pod reads, and a
	// postgres:// URL whose password is a placeholder.
	ex := yamlDocs(t, "kubernetes-postgres/secret.example.yaml")[0]
	if got := str(get(ex, "metadata", "name")); got != str(store["name"]) {
		t.Errorf("secret.example.yaml is named %q, the pod reads %q", got, store["name"])
	}
	example := str(get(ex, "stringData", str(store["key"])))
	if u, err := url.Parse(example); err != nil || u.Scheme != "postgres" {
		t.Errorf("secret.example.yaml: %s = %q, want a postgres:// URL", store["key"], example)
	} else if pw, _ := u.User.Password(); pw != "PLACEHOLDER" {
		t.Errorf("secret.example.yaml: the URL's password is %q, want PLACEHOLDER", pw)
	}

	// A drain evicts some replicas, never all, and never blocks forever.
	var budgets int
	for key, o := range objs {
		if o["kind"] != "PodDisruptionBudget" {
			continue
		}
		budgets++
		maxUnavailable, hasMax := get(o, "spec", "maxUnavailable").(int)
		minAvailable, hasMin := get(o, "spec", "minAvailable").(int)
		switch {
		case hasMax && (maxUnavailable < 1 || maxUnavailable >= replicas):
			t.Errorf("%s: maxUnavailable = %d of %d replicas", key, maxUnavailable, replicas)
		case hasMin && (minAvailable < 1 || minAvailable >= replicas):
			t.Errorf("%s: minAvailable = %d of %d replicas", key, minAvailable, replicas)
		case !hasMax && !hasMin:
			t.Errorf("%s has neither maxUnavailable nor minAvailable as a number", key)
		}
	}
	if budgets != 1 {
		t.Errorf("%d PodDisruptionBudgets, want 1", budgets)
	}

	// Egress to the database on its port, and nothing else added.
	np := object(t, objs, "NetworkPolicy/secretsd-postgres")
	if got := list(get(np, "spec", "policyTypes")); !slices.Equal(got, []any{"Egress"}) {
		t.Errorf("NetworkPolicy/secretsd-postgres policyTypes = %v, want [Egress] (ingress stays the base policy's)", got)
	}
	for i, rule := range list(get(np, "spec", "egress")) {
		for _, p := range list(get(rule, "ports")) {
			if port, _ := get(p, "port").(int); port != 5432 {
				t.Errorf("NetworkPolicy/secretsd-postgres rule %d admits port %v, want 5432 only", i, get(p, "port"))
			}
		}
		if len(list(get(rule, "ports"))) == 0 || len(list(get(rule, "to"))) == 0 {
			t.Errorf("NetworkPolicy/secretsd-postgres rule %d admits every port or every destination", i)
		}
	}
}

// TestMigrateJob: the one-off migration Job runs secretsctl migrate from
// the StatefulSet's claim, read-only, into the database the Deployment
// uses, with the same key and the same pod security, and takes no traffic.
func TestMigrateJob(t *testing.T) {
	job := object(t, manifests(t, []string{"kubernetes-postgres/migrate-job.yaml"}), "Job/secretsd-migrate")
	pod := get(job, "spec", "template", "spec")
	if get(pod, "restartPolicy") != "Never" || get(job, "spec", "backoffLimit") != 0 {
		t.Errorf("restartPolicy %v, backoffLimit %v: a failed migration is for the operator to read, not to retry",
			get(pod, "restartPolicy"), get(job, "spec", "backoffLimit"))
	}
	sts := object(t, k8sObjects(t), "StatefulSet/secretsd")
	stsPod := get(sts, "spec", "template", "spec")
	if got, want := get(pod, "securityContext"), get(stsPod, "securityContext"); !reflect.DeepEqual(got, want) {
		t.Errorf("pod securityContext = %v, want the StatefulSet's %v", got, want)
	}
	c := get(pod, "containers", 0)
	if got, want := get(c, "securityContext"), get(stsPod, "containers", 0, "securityContext"); !reflect.DeepEqual(got, want) {
		t.Errorf("container securityContext = %v, want the StatefulSet's %v", got, want)
	}
	labels, _ := get(job, "spec", "template", "metadata", "labels").(doc)
	for key, o := range pgObjects(t) {
		if o["kind"] != "Service" {
			continue
		}
		sel, _ := get(o, "spec", "selector").(doc)
		matches := len(sel) > 0
		for k, v := range sel {
			matches = matches && labels[k] == v
		}
		if matches {
			t.Errorf("%s selects the migration pod: it would get traffic", key)
		}
	}

	// secretsctl migrate --from <the claim's file> --to $(SECRETS_STORE).
	var args []string
	for _, a := range list(get(c, "args")) {
		args = append(args, str(a))
	}
	flag := func(name string) string {
		if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
			return args[i+1]
		}
		return ""
	}
	if cmd := list(get(c, "command")); len(cmd) != 1 || filepath.Base(str(cmd[0])) != "secretsctl" || len(args) == 0 || args[0] != "migrate" {
		t.Fatalf("the Job runs %v %v, want secretsctl migrate", cmd, args)
	}
	if flag("--to") != "$(SECRETS_STORE)" {
		t.Errorf("--to %q, want $(SECRETS_STORE), from the Deployment's Secret", flag("--to"))
	}
	dep := object(t, pgObjects(t), "Deployment/secretsd")
	secretRef := func(container any, name string) any {
		for _, e := range list(get(container, "env")) {
			if get(e, "name") == name {
				return get(e, "valueFrom", "secretKeyRef")
			}
		}
		return nil
	}
	if got, want := secretRef(c, "SECRETS_STORE"), secretRef(get(dep, "spec", "template", "spec", "containers", 0), "SECRETS_STORE"); want == nil || !reflect.DeepEqual(got, want) {
		t.Errorf("SECRETS_STORE from %v, the Deployment's from %v", got, want)
	}
	mounts := map[string]doc{}
	for _, m := range list(get(c, "volumeMounts")) {
		mounts[str(get(m, "name"))] = m.(doc)
	}
	claimTemplate := str(get(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name"))
	var stsData string
	for _, e := range list(get(stsPod, "containers", 0, "env")) {
		if get(e, "name") == "SECRETS_DATA" {
			stsData = str(get(e, "value"))
		}
	}
	var claimMounted, keyMounted bool
	for _, v := range list(get(pod, "volumes")) {
		m := mounts[str(get(v, "name"))]
		if claim := get(v, "persistentVolumeClaim"); claim != nil {
			// The StatefulSet's only pod's claim: <template>-<name>-0.
			if want := claimTemplate + "-secretsd-0"; get(claim, "claimName") != want {
				t.Errorf("the Job mounts claim %v, want %s", get(claim, "claimName"), want)
			}
			if get(claim, "readOnly") != true || get(m, "readOnly") != true {
				t.Error("the StatefulSet's claim is not mounted read-only")
			}
			if from := flag("--from"); from != filepath.Join(str(get(m, "mountPath")), filepath.Base(stsData)) {
				t.Errorf("--from %q is not SECRETS_DATA %q on the claim's mount %v", from, stsData, get(m, "mountPath"))
			}
			claimMounted = true
		}
		if get(v, "secret", "secretName") == "secrets-master-key" {
			keyMounted = flag("--master-key-file") == str(get(m, "mountPath"))+"/"+str(get(v, "secret", "items", 0, "path"))
		}
	}
	if !claimMounted || !keyMounted {
		t.Errorf("the Job mounts the claim: %v, the master key where --master-key-file points: %v", claimMounted, keyMounted)
	}

	// The image the kustomizations run.
	img := str(get(c, "image"))
	tag := str(get(yamlDocs(t, "kubernetes/kustomization.yaml")[0], "images", 0, "newTag"))
	if img != "ghcr.io/connect-secrets/secretsd:"+tag {
		t.Errorf("the Job runs %s, the kustomizations tag %s", img, tag)
	}
}

// TestKustomizeImages: both kustomizations run the same image.
func TestKustomizeImages(t *testing.T) {
	images := func(dir string) []any {
		return list(yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0]["images"])
	}
	base, pg := images("kubernetes"), images("kubernetes-postgres")
	if len(base) == 0 || !reflect.DeepEqual(base, pg) {
		t.Errorf("images: kubernetes %v, kubernetes-postgres %v; keep them in step", base, pg)
	}
}

// exposesOps tells whether a Service port reaches the ops listener.
func exposesOps(p any) bool {
	return get(p, "port") == opsPort || get(p, "targetPort") == opsPort ||
		get(p, "targetPort") == "ops" || get(p, "name") == "ops"
}

func TestServicesKeepOpsPrivate(t *testing.T) {
	for dir, objs := range map[string]map[string]doc{"kubernetes": k8sObjects(t), "kubernetes-postgres": pgObjects(t)} {
		t.Run(dir, func(t *testing.T) { servicesKeepOpsPrivate(t, objs) })
	}
}

func servicesKeepOpsPrivate(t *testing.T, objs map[string]doc) {
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

// TestNetworkPolicy: whatever the NetworkPolicies add up to, secretsd is
// reached on 8080 from the ingress controller and on 9090 from monitoring
// only, in both deployments.
func TestNetworkPolicy(t *testing.T) {
	for dir, objs := range map[string]map[string]doc{"kubernetes": k8sObjects(t), "kubernetes-postgres": pgObjects(t)} {
		t.Run(dir, func(t *testing.T) { networkPolicy(t, objs) })
	}
}

func networkPolicy(t *testing.T, objs map[string]doc) {
	np := object(t, objs, "NetworkPolicy/secretsd")
	if !slices.Contains(list(get(np, "spec", "policyTypes")), any("Ingress")) {
		t.Fatal("NetworkPolicy/secretsd does not restrict Ingress")
	}
	allowed := map[int][]string{} // port → namespaces admitted, over every policy
	for key, o := range objs {
		if o["kind"] != "NetworkPolicy" {
			continue
		}
		if !slices.Contains(list(get(o, "spec", "policyTypes")), any("Ingress")) {
			if get(o, "spec", "ingress") != nil {
				t.Errorf("%s has ingress rules but no Ingress policy type", key)
			}
			continue
		}
		for i, rule := range list(get(o, "spec", "ingress")) {
			from := list(get(rule, "from"))
			ports := list(get(rule, "ports"))
			if len(from) == 0 || len(ports) == 0 {
				t.Errorf("%s: ingress rule %d admits every source or every port", key, i)
				continue
			}
			for _, f := range from {
				ns := str(get(f, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
				if ns == "" || get(f, "ipBlock") != nil {
					t.Errorf("%s: ingress rule %d: a source that is not a named namespace: %v", key, i, f)
				}
				for _, p := range ports {
					port, _ := get(p, "port").(int)
					allowed[port] = append(allowed[port], ns)
				}
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

// TestKustomization: every manifest of a directory is applied, but never
// an example Secret.
func TestKustomization(t *testing.T) {
	for _, dir := range []string{"kubernetes", "kubernetes-postgres"} {
		t.Run(dir, func(t *testing.T) {
			k := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0]
			if k["kind"] != "Kustomization" {
				t.Fatalf("kind = %v", k["kind"])
			}
			var listed []string
			for _, r := range list(k["resources"]) {
				name := str(r)
				listed = append(listed, name)
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Errorf("resource %q: %v", name, err)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			for _, f := range files {
				base := filepath.Base(f)
				switch base {
				case "kustomization.yaml":
				case "secret.example.yaml":
					// Listing it would overwrite the real Secret on every apply.
					if slices.Contains(listed, base) {
						t.Errorf("%s is a resource: `kubectl apply -k` would replace the real Secret", base)
					}
				case "migrate-job.yaml":
					// A one-off, applied once by hand (TestMigrateJob).
					if slices.Contains(listed, base) {
						t.Errorf("%s is a resource: every `kubectl apply -k` would try to migrate again", base)
					}
				default:
					if !slices.Contains(listed, base) {
						t.Errorf("%s is not listed in kustomization.yaml", base)
					}
				}
			}
		})
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

// composeSecretsd checks the rules both compose files follow: the secretsd
// image built from the repository, read-only, no capabilities, no new
// privileges, the ops and backup ports on loopback only (for every
// service), the master key from a compose secret, an https base URL,
// memory for the KDF budget, and Caddy proxying secretsd:8080 only. It
// returns the file, its services, the secretsd service and its environment.
func composeSecretsd(t *testing.T, file string) (c, services, sd doc, env map[string]string) {
	t.Helper()
	c = yamlDocs(t, file)[0]
	services, _ = c["services"].(doc)
	sd, ok := services["secretsd"].(doc)
	if !ok {
		t.Fatalf("%s: no secretsd service", file)
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
	if sd["cap_add"] != nil {
		t.Errorf("secretsd: cap_add = %v; it needs no capability", sd["cap_add"])
	}
	if !slices.Contains(list(sd["security_opt"]), any("no-new-privileges:true")) {
		t.Error("secretsd: security_opt lacks no-new-privileges:true")
	}
	if sd["container_name"] != nil {
		t.Error("secretsd: container_name pins one container")
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
	env = composeEnv(sd["environment"])
	secretsList := list(sd["secrets"])
	if len(secretsList) == 0 {
		t.Fatal("secretsd mounts no secrets; the master key is one")
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
	caddy, ok := services["caddy"].(doc)
	if !ok {
		t.Fatal("no caddy service")
	}
	var caddyfile string
	for _, v := range list(caddy["volumes"]) {
		if src, dst, _ := strings.Cut(str(v), ":"); strings.HasPrefix(dst, "/etc/caddy/Caddyfile") {
			caddyfile = src
		}
	}
	if filepath.Clean(caddyfile) != "Caddyfile" {
		t.Errorf("caddy mounts %q as its Caddyfile, want ./Caddyfile (the one checked here)", caddyfile)
	}
	checkCaddyfile(t)
	return c, services, sd, env
}

// checkCaddyfile: Caddy proxies to secretsd:8080 only, sends HSTS and
// refuses the ops paths.
func checkCaddyfile(t *testing.T) {
	t.Helper()
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

// namedVolume returns the named volume mounted at dir in service s, or ""
// when dir is not on a volume declared under the file's volumes:.
func namedVolume(c, s doc, dir string) string {
	declared, _ := get(c, "volumes").(doc)
	for _, v := range list(s["volumes"]) {
		src, dst, _ := strings.Cut(str(v), ":")
		if m, ok := v.(doc); ok {
			src, dst = str(m["source"]), str(m["target"])
		}
		dst, _, _ = strings.Cut(dst, ":")
		if dst == dir {
			if _, ok := declared[src]; ok {
				return src
			}
		}
	}
	return ""
}

// TestCompose: compose.yaml runs exactly one secretsd on a bbolt volume.
func TestCompose(t *testing.T) {
	c, _, sd, env := composeSecretsd(t, "compose.yaml")
	if r := get(sd, "deploy", "replicas"); r != nil && r != 1 {
		t.Errorf("secretsd: deploy.replicas = %v; bbolt allows one process", r)
	}
	if s, ok := env["SECRETS_STORE"]; ok && !strings.HasPrefix(s, "bolt://") {
		t.Errorf("SECRETS_STORE = %q: compose.yaml is the bbolt deployment", s)
	}
	// /data is a named volume (persistent, initialised with the image's owner).
	if namedVolume(c, sd, "/data") == "" {
		t.Error("/data is not on a named volume declared under volumes:")
	}
	secretsList := list(sd["secrets"])
	if len(secretsList) != 2 {
		t.Fatalf("secretsd mounts %d secrets, want the master key and the backup token", len(secretsList))
	}
	if got := env["SECRETS_BACKUP_TOKEN_FILE"]; got != "/run/secrets/"+str(secretsList[1]) {
		t.Errorf("SECRETS_BACKUP_TOKEN_FILE = %q, want /run/secrets/%v", got, secretsList[1])
	}
}

// TestComposePostgres: compose.postgres.yaml runs secretsd on a PostgreSQL
// service it waits for, without a password in any file, and it can scale.
func TestComposePostgres(t *testing.T) {
	c, services, sd, env := composeSecretsd(t, "compose.postgres.yaml")
	pg, ok := services["postgres"].(doc)
	if !ok {
		t.Fatal("no postgres service")
	}
	if img := str(pg["image"]); !strings.HasPrefix(img, "postgres:15") {
		t.Errorf("postgres image = %q, want postgres:15 (what the tests run on)", img)
	}
	if namedVolume(c, pg, "/var/lib/postgresql/data") == "" {
		t.Error("postgres: its data directory is not on a named volume declared under volumes:")
	}
	if test := strings.Join(strings.Fields(fmt.Sprint(get(pg, "healthcheck", "test"))), " "); !strings.Contains(test, "pg_isready") {
		t.Errorf("postgres healthcheck %q does not run pg_isready", test)
	}
	if len(list(pg["ports"])) > 0 {
		t.Errorf("postgres publishes %v; only secretsd needs it, on the compose network", pg["ports"])
	}
	if got := str(get(sd, "depends_on", "postgres", "condition")); got != "service_healthy" {
		t.Errorf("secretsd depends_on postgres with condition %q, want service_healthy", got)
	}

	// The store: PostgreSQL on the postgres service, never bbolt, and no
	// password in the file (it comes from .env, interpolated).
	store, err := url.Parse(env["SECRETS_STORE"])
	if err != nil || store.Scheme != "postgres" || store.Hostname() != "postgres" {
		t.Fatalf("SECRETS_STORE = %q, want postgres://…@postgres…", env["SECRETS_STORE"])
	}
	if _, ok := store.User.Password(); ok || store.Query().Has("password") {
		t.Error("SECRETS_STORE holds a password; it belongs in .env (PGPASSWORD)")
	}
	if _, ok := env["SECRETS_DATA"]; ok {
		t.Error("SECRETS_DATA is set: the PostgreSQL deployment has no file")
	}
	for name, v := range composeEnv(pg["environment"]) {
		if strings.Contains(name, "PASSWORD") && !strings.HasPrefix(v, "${") {
			t.Errorf("postgres %s is a literal; take it from .env", name)
		}
	}
	for name, v := range env {
		if strings.Contains(name, "PASSWORD") && !strings.HasPrefix(v, "${") {
			t.Errorf("secretsd %s is a literal; take it from .env", name)
		}
	}

	// It scales: no fixed host port two replicas would both claim, no
	// backup listener (there is no file to copy).
	for _, p := range composePorts(t, list(sd["ports"])) {
		if p.target == backupPort {
			t.Error("secretsd publishes the backup port; PostgreSQL has no file to copy")
		}
		if lo, hi, ok := strings.Cut(p.published, "-"); p.published != "" && (!ok || lo == hi) {
			t.Errorf("secretsd publishes host port %q: a second replica cannot; use a range", p.published)
		}
	}
	if r, ok := get(sd, "deploy", "replicas").(int); ok && r < 1 {
		t.Errorf("secretsd: deploy.replicas = %d", r)
	}
	if namedVolume(c, sd, "/data") != "" {
		t.Error("secretsd keeps a /data volume; replicas cannot share a bbolt file")
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
