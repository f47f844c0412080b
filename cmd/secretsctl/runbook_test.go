package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// runbookMarker precedes the code block of deploy/README.md's master-key
// rotation runbook, which TestRotationRunbook runs as written.
const runbookMarker = "<!-- runbook: rotate-master-key -->"

// runbook is one marked command block of a Markdown file: its secretsctl
// command lines (as argument lists) and the keyrings its "# → FILE holds
// keys …; primary N" comments promise.
type runbook struct {
	commands [][]string
	promises []keyPromise
}

type keyPromise struct {
	path    string
	ids     []uint32
	primary uint32
}

var promiseRE = regexp.MustCompile(`^# → (\S+) holds keys? ([0-9, ]+); primary ([0-9]+)$`)

// readRunbook extracts the code block after marker in the Markdown file.
// It understands exactly what a runbook may hold: comments, blank lines and
// single-line secretsctl commands without shell quoting, variables or
// continuations, so what runs here is what an operator pastes.
func readRunbook(t *testing.T, file, marker string) runbook {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), marker+"\n")
	if !ok {
		t.Fatalf("%s has no %s", file, marker)
	}
	if !strings.HasPrefix(after, "```") {
		t.Fatalf("%s: %s is not followed by a code block", file, marker)
	}
	var rb runbook
	sc := bufio.NewScanner(strings.NewReader(after))
	sc.Scan() // the opening fence
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "```":
			return rb
		case line == "":
		case strings.HasPrefix(line, "#"):
			if m := promiseRE.FindStringSubmatch(line); m != nil {
				p := keyPromise{path: m[1]}
				for _, f := range strings.Split(m[2], ",") {
					id, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
					if err != nil {
						t.Fatalf("runbook line %q: %v", line, err)
					}
					p.ids = append(p.ids, uint32(id))
				}
				pid, _ := strconv.ParseUint(m[3], 10, 32)
				p.primary = uint32(pid)
				rb.promises = append(rb.promises, p)
			} else if strings.HasPrefix(line, "# →") {
				t.Fatalf("runbook line %q promises a keyring in a form the test does not read", line)
			}
		case strings.ContainsAny(line, "'\"$\\`|;&<>"):
			t.Fatalf("runbook line %q uses shell syntax; keep runbook commands to plain words", line)
		default:
			args := strings.Fields(line)
			if args[0] != "secretsctl" {
				t.Fatalf("runbook line %q is not a secretsctl command", line)
			}
			rb.commands = append(rb.commands, args[1:])
		}
	}
	t.Fatalf("%s: the code block after %s does not end", file, marker)
	return rb
}

// rooted moves an absolute path of the runbook under root; it is the only
// change made to the runbook's commands.
func rooted(root, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Join(root, p)
	}
	return p
}

// TestRotationRunbook runs deploy/README.md's master-key rotation commands,
// exactly as written except that their absolute paths live under a temporary
// root, on a database with tenants, secrets and a session key. Each step must
// succeed, every keyring must hold exactly the keys the runbook says, the old
// key must be gone from the final one, and every secret must still unlock.
func TestRotationRunbook(t *testing.T) {
	rb := readRunbook(t, filepath.Join("..", "..", "deploy", "README.md"), runbookMarker)
	if len(rb.commands) == 0 || len(rb.promises) == 0 {
		t.Fatalf("runbook has %d commands and %d keyring promises", len(rb.commands), len(rb.promises))
	}

	// The database and key file are where the runbook's first
	// rotate-master-key command says.
	var data, oldKey string
	for _, args := range rb.commands {
		if args[0] != "rotate-master-key" {
			continue
		}
		for i := 1; i+1 < len(args); i++ {
			switch args[i] {
			case "--data":
				data = args[i+1]
			case "--master-key-file":
				oldKey = args[i+1]
			}
		}
		break
	}
	if data == "" || oldKey == "" {
		t.Fatal("the runbook has no rotate-master-key with --data and --master-key-file")
	}
	root := t.TempDir()
	f := fixtureAt(t, rooted(root, data), rooted(root, oldKey))
	f.populate(t)
	// secretsd stores a session key wrapped by the master key; a rotation
	// that forgot it would log everybody out, or worse, retire its key.
	db := f.open(t, f.keyFile)
	if _, err := db.SessionKey(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	seen := map[string]bool{}
	for _, args := range rb.commands {
		cmd := slices.Clone(args)
		for i := range cmd {
			if filepath.IsAbs(cmd[i]) {
				cmd[i] = rooted(root, cmd[i])
				if err := os.MkdirAll(filepath.Dir(cmd[i]), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if cmd[i] == "--id" {
				t.Errorf("runbook command %q names a key id, which differs from one rotation to the next", strings.Join(args, " "))
			}
		}
		r := run(t, nil, cmd...)
		r.want(t, 0)
		if r.code != 0 {
			t.Fatalf("runbook step %q failed: %s", strings.Join(args, " "), r.stderr)
		}
		seen[args[0]] = true
	}
	for _, want := range []string{"backup", "rotate-master-key", "verify", "retire-master-key"} {
		if !seen[want] {
			t.Errorf("the runbook never runs %s", want)
		}
	}

	for _, p := range rb.promises {
		kr, err := seal.LoadKeyringFile(rooted(root, p.path))
		if err != nil {
			t.Fatalf("keyring the runbook promises: %v", err)
		}
		if !slices.Equal(kr.IDs(), p.ids) || kr.PrimaryID() != p.primary {
			t.Errorf("%s holds keys %v, primary %d; the runbook says %v, primary %d", p.path, kr.IDs(), kr.PrimaryID(), p.ids, p.primary)
		}
	}
	// secretsd starts with the keyring the last promise names: the old key
	// is gone from it, and every secret unlocks with it.
	final := rooted(root, rb.promises[len(rb.promises)-1].path)
	oldRing, err := seal.LoadKeyringFile(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	finalRing, err := seal.LoadKeyringFile(final)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range oldRing.IDs() {
		if slices.Contains(finalRing.IDs(), id) {
			t.Errorf("the final keyring still holds the old key %d", id)
		}
	}
	f.unlockAll(t, final)
	run(t, nil, "verify", "--data", f.data, "--master-key-file", final).want(t, 0, "no problems")
	run(t, nil, "stats", "--data", f.data, "--master-key-file", final).
		want(t, 0, "key "+strconv.Itoa(int(finalRing.PrimaryID()))+" wraps 5 tenant keys")
	// The backup of step 1 still opens with the old key, which the runbook
	// says to keep.
	for _, args := range rb.commands {
		if args[0] != "backup" {
			continue
		}
		out := rooted(root, args[slices.Index(args, "--out")+1])
		run(t, nil, "verify", "--data", out, "--master-key-file", f.keyFile).want(t, 0, "no problems")
	}
}
