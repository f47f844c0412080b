package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/descriptor"
	"github.com/connect-secrets/secrets/pkg/bolt"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/forge/platform"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

func realmKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	raw, err := seal.RandomKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring([]byte(base64.StdEncoding.EncodeToString(raw) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// realm is a harness with its own master keyring and data residency on,
// knowing the other realms in regions.
func realm(t *testing.T, kr *seal.Keyring, regions map[string]server.Region) *harness {
	return newHarness(t, func(h *harness, d *server.Deps) {
		kdf, err := seal.NewKDF(4*int64(seal.MinKDFParams.Memory)*1024, seal.MinKDFParams)
		if err != nil {
			t.Fatal(err)
		}
		e := engine.New(h.db, kr, kdf, secrets.DefaultPolicy())
		h.installs, h.secretSvc = e, e
		d.Installations, d.Secrets, d.Admin = e, e, e
		d.Migration = &server.Migration{Moves: e, Regions: regions}
	})
}

func transferKeyOf(t *testing.T, kr *seal.Keyring) seal.TransferKey {
	t.Helper()
	k, err := kr.TransferPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hook calls a dare-migration hook of tn as Atlassian's migration service
// does: signed with the tenant's shared secret.
func (h *harness) hook(tn tenant, name string, body any) apiResult {
	h.t.Helper()
	path := "/" + string(tn.product) + server.MigrationHookPath + "/" + name
	tok := hostToken(h.t, tn.secret, jwt.MapClaims{
		"iss": tn.clientKey, "qsh": mustQSH(h.t, "POST", path, ""),
		"iat": time.Now().Unix(), "exp": time.Now().Add(3 * time.Minute).Unix(),
	})
	return h.api("POST", path, "", body, "Authorization", "JWT "+tok)
}

// waitMove polls the status hook until the move settles.
func (h *harness) waitMove(tn tenant, id string) string {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r := h.hook(tn, "status", map[string]string{"migrationId": id})
		if st := r.str("status"); st != string(engine.MoveStarted) && st != string(engine.MoveScheduled) {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatal("the move never settled")
	return ""
}

// TestDataResidencyHooks: the migration service moves a Jira site from
// the US deployment to the EU one (another master keyring) through the
// hooks; the source serves until the commit, the destination after it.
func TestDataResidencyHooks(t *testing.T) {
	usKey, euKey := realmKeyring(t), realmKeyring(t)
	eu := realm(t, euKey, map[string]server.Region{"US": {BaseURL: "https://us.example.com", TransferKey: transferKeyOf(t, usKey)}})
	us := realm(t, usKey, map[string]server.Region{"EU": {BaseURL: eu.baseURL, TransferKey: transferKeyOf(t, euKey)}})

	if d := readBody(us.get(us.baseURL + "/jira/atlassian-connect.json")); !strings.Contains(d, `"regionBaseUrls": {`) || !strings.Contains(d, `"EU": "`+eu.baseURL+`"`) ||
		!strings.Contains(d, `"dare-migration": "/jira/dare-migration"`) {
		t.Errorf("descriptor without the regions or the hook:\n%s", d)
	}

	tn := jiraTenant("moving")
	us.install(tn)
	token := us.issueSession(tn, "1", "alice")
	one := us.newSecret(token, "One", "body one", "password-1")
	two := us.newSecret(token, "Two", "body two", "password-2")

	wantAPI(t, us.hook(tn, "schedule", map[string]string{"migrationId": "m-1", "location": "MARS"}), 400, "invalid")
	wantAPI(t, us.hook(tn, "schedule", map[string]string{"migrationId": "m-1", "location": "EU"}), 200, "")
	wantAPI(t, us.hook(tn, "start", map[string]string{"migrationId": "m-1"}), 202, "")
	if st := us.waitMove(tn, "m-1"); st != string(engine.MoveReady) {
		t.Fatalf("move: %s", st)
	}
	// Until the commit, the source serves, and the copy verifies.
	if u := us.unlock(token, one, "password-1"); u.str("content") != "body one" {
		t.Fatalf("source before commit: %s", u.raw)
	}
	if r, err := eu.installs.VerifyTenant(context.Background(), tn.clientKey); err != nil || len(r.Problems) > 0 {
		t.Fatalf("destination verify: %v %+v", err, r)
	}
	wantAPI(t, us.hook(tn, "commit", map[string]string{"migrationId": "m-1"}), 200, "")
	if _, err := us.installs.FindInstallation(context.Background(), tn.clientKey); secrets.ErrorCode(err) != secrets.CodeNotFound {
		t.Errorf("source after commit: %v", err)
	}
	// The site now loads from the EU deployment, with its shared secret.
	euToken := eu.issueSession(tn, "1", "alice")
	for id, want := range map[string]string{one: "body one", two: "body two"} {
		pw := map[string]string{one: "password-1", two: "password-2"}[id]
		if u := eu.unlock(euToken, id, pw); u.str("content") != want {
			t.Fatalf("unlock at the destination: %s", u.raw)
		}
	}

	t.Run("rollback", func(t *testing.T) {
		tn := jiraTenant("staying")
		us.install(tn)
		id := us.newSecret(us.issueSession(tn, "1", "alice"), "t", "stays", "password-1")
		wantAPI(t, us.hook(tn, "schedule", map[string]string{"migrationId": "m-2", "location": "EU"}), 200, "")
		wantAPI(t, us.hook(tn, "start", map[string]string{"migrationId": "m-2"}), 202, "")
		if st := us.waitMove(tn, "m-2"); st != string(engine.MoveReady) {
			t.Fatalf("move: %s", st)
		}
		wantAPI(t, us.hook(tn, "rollback", map[string]string{"migrationId": "m-2"}), 200, "")
		if _, err := eu.installs.FindInstallation(context.Background(), tn.clientKey); secrets.ErrorCode(err) != secrets.CodeNotFound {
			t.Errorf("destination copy after rollback: %v", err)
		}
		if u := us.unlock(us.issueSession(tn, "1", "alice"), id, "password-1"); u.str("content") != "stays" {
			t.Errorf("source after rollback: %s", u.raw)
		}
		wantAPI(t, us.hook(tn, "commit", map[string]string{"migrationId": "m-2"}), 404, "not_found")
	})

	t.Run("refusals", func(t *testing.T) {
		tn := jiraTenant("other")
		us.install(tn)
		forged := tn
		forged.secret = "not-the-shared-secret-0123456789abcdef"
		wantAPI(t, us.hook(forged, "schedule", map[string]string{"migrationId": "m-3", "location": "EU"}), 401, "unauthorized")
		wantAPI(t, us.hook(tn, "status", map[string]string{"migrationId": "m-3"}), 404, "not_found")
		wantAPI(t, us.hook(tn, "schedule", map[string]string{"location": "EU"}), 400, "invalid")
		wantAPI(t, us.hook(tn, "commit", map[string]string{"migrationId": "m-3"}), 404, "not_found")

		// An export from a deployment the EU one does not know.
		db, err := bolt.Open(filepath.Join(t.TempDir(), "stranger.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		stranger := engine.New(db, realmKeyring(t), nil, secrets.DefaultPolicy())
		if err := stranger.SaveInstallation(context.Background(), &secrets.Installation{ClientKey: "client-planted", Product: secrets.ProductJira, State: secrets.StateInstalled}); err != nil {
			t.Fatal(err)
		}
		x, err := stranger.ExportTenant(context.Background(), "client-planted", transferKeyOf(t, euKey))
		if err != nil {
			t.Fatal(err)
		}
		{
			b, _ := engine.MarshalExport(x)
			req, _ := http.NewRequest("POST", eu.baseURL+"/migration/import", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			res := eu.do(req)
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("import from a stranger: %d %s", res.StatusCode, readBody(res))
			}
			if _, err := eu.installs.FindInstallation(context.Background(), "client-planted"); secrets.ErrorCode(err) != secrets.CodeNotFound {
				t.Errorf("a stranger's export was imported: %v", err)
			}
		}
		b, _ := json.Marshal(map[string]any{"tenant": "client-moving", "digest": []byte("not sealed")})
		wantAPI(t, eu.api("POST", "/migration/discard", "", string(b)), 409, "conflict")
		if _, err := eu.installs.FindInstallation(context.Background(), "client-moving"); err != nil {
			t.Errorf("a forged discard removed the moved tenant: %v", err)
		}
	})
}

// TestDataResidencyForge: the Forge platform's migration:dataResidency
// calls move an installation the same way; only that module, without a
// user, may call them.
func TestDataResidencyForge(t *testing.T) {
	usKey, err := seal.ParseKeyring([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")) // the harness's
	if err != nil {
		t.Fatal(err)
	}
	euKey := realmKeyring(t)
	eu := realm(t, euKey, map[string]server.Region{"US": {BaseURL: "https://us.example.com", TransferKey: transferKeyOf(t, usKey)}})
	f := buildForgeHarness(t, zerolog.Nop(), func(d *server.Deps) {
		d.Migration = &server.Migration{Moves: d.Installations.(*engine.Engine),
			Regions: map[string]server.Region{"EU": {BaseURL: eu.baseURL, TransferKey: transferKeyOf(t, euKey)}}}
	})
	c := f.ui("POST", "/forge/api/secrets", panel(alice, "10001"), map[string]any{"title": "Staging DB", "content": "hunter2", "password": pw})
	wantAPI(t, c, http.StatusCreated, "")
	in := f.jiraInstall()
	dare := platform.Invocation{ModuleType: "migration:dataResidency", ModuleKey: descriptor.ForgeMigrationKey}
	hook := func(inv platform.Invocation, name string, body any) apiResult {
		return f.call("POST", descriptor.ForgeMigrationRoute+"/"+name, f.mint(in, inv), inv.Principal, body)
	}

	wantAPI(t, hook(panel(alice, "10001"), "schedule", map[string]string{"migrationId": "f-1", "location": "EU"}), 403, "forbidden")
	withUser := dare
	withUser.Principal = alice
	wantAPI(t, hook(withUser, "schedule", map[string]string{"migrationId": "f-1", "location": "EU"}), 403, "forbidden")
	wantAPI(t, hook(endpoint(lifecycleKey), "schedule", map[string]string{"migrationId": "f-1", "location": "EU"}), 403, "forbidden")

	wantAPI(t, hook(dare, "schedule", map[string]string{"migrationId": "f-1", "location": "EU"}), 200, "")
	wantAPI(t, hook(dare, "start", map[string]string{"migrationId": "f-1"}), 202, "")
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := hook(dare, "status", map[string]string{"migrationId": "f-1"}).str("status")
		if st == string(engine.MoveReady) {
			break
		}
		if st == string(engine.MoveFailed) || time.Now().After(deadline) {
			t.Fatalf("move: %s", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantAPI(t, hook(dare, "commit", map[string]string{"migrationId": "f-1"}), 200, "")
	tenant := tenantKeyOf(in)
	if _, err := f.installs.FindInstallation(context.Background(), tenant); secrets.ErrorCode(err) != secrets.CodeNotFound {
		t.Errorf("source after commit: %v", err)
	}
	who := secrets.Actor{ClientKey: tenant, AccountID: alice, Container: "jira:issue:10001"}
	if u, err := eu.installs.UnlockSecret(context.Background(), who, c.str("id"), pw); err != nil || u.Content != "hunter2" {
		t.Fatalf("unlock at the destination: %v", err)
	}
}
