package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/connect-secrets/secrets/pkg/server"
	"github.com/rs/zerolog"
)

// TestBackupNeedsItsOwnCredential: /backup is not on the ops listener (which
// monitoring may reach), and on its own listener it answers only the backup
// token; with no token configured it refuses everyone.
func TestBackupNeedsItsOwnCredential(t *testing.T) {
	calls := 0
	backup := func(w io.Writer, size func(int64)) (int64, error) {
		calls++
		size(4)
		n, err := w.Write([]byte("COPY"))
		return int64(n), err
	}
	const token = "backup-token-0123456789abcdef0123456789"
	ops := httptest.NewServer(server.OpsHandler(server.OpsDeps{Ready: nil, Backup: backup, Logger: zerolog.Nop(),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metrics") })}))
	defer ops.Close()
	bk := httptest.NewServer(server.BackupHandler(server.BackupDeps{Backup: backup, Token: []byte(token), Logger: zerolog.Nop()}))
	defer bk.Close()
	off := httptest.NewServer(server.BackupHandler(server.BackupDeps{Backup: backup, Logger: zerolog.Nop()}))
	defer off.Close()

	get := func(u, auth string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		name, url, auth string
		want            int
	}{
		{"ops listener has no backup", ops.URL + "/backup", "", 404},
		{"ops listener has no backup, even with the token", ops.URL + "/backup", "Bearer " + token, 404},
		{"no token", bk.URL + "/backup", "", 401},
		{"wrong token", bk.URL + "/backup", "Bearer " + token + "x", 401},
		{"token prefix", bk.URL + "/backup", "Bearer " + token[:10], 401},
		{"wrong scheme", bk.URL + "/backup", "Basic " + token, 401},
		{"empty bearer", bk.URL + "/backup", "Bearer ", 401},
		{"no token configured", off.URL + "/backup", "Bearer " + token, 403},
		{"no token configured, empty bearer", off.URL + "/backup", "Bearer ", 403},
		{"metrics stay open to the scraper", ops.URL + "/metrics", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(tc.url, tc.auth); got != tc.want {
				t.Errorf("GET %s = %d, want %d", tc.url, got, tc.want)
			}
		})
	}
	if calls != 0 {
		t.Fatalf("a refused request made %d backups", calls)
	}
	if got := get(bk.URL+"/backup", "Bearer "+token); got != 200 || calls != 1 {
		t.Errorf("with the token: %d, %d backups", got, calls)
	}
}
