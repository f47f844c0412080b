package bolt

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenHeldByAnotherProcess: a second secretsd on a file another one
// holds hears who holds it and which flag to change, not bbolt's bare
// "timeout". bbolt's lock is per open file, so a handle in this process
// holds the file exactly as another process would.
func TestOpenHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.db")
	held, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	for name, open := range map[string]func() (*DB, error){
		"writable":  func() (*DB, error) { return open(path, 50*time.Millisecond) },
		"read-only": func() (*DB, error) { return openReadOnly(path, 50*time.Millisecond) },
	} {
		t.Run(name, func(t *testing.T) {
			db, err := open()
			if err == nil {
				db.Close()
				t.Fatal("opened a file another process holds")
			}
			if !errors.Is(err, ErrInUse) {
				t.Errorf("error %v is not ErrInUse", err)
			}
			msg := err.Error()
			for _, want := range []string{path, "held by another process", "probably a running secretsd"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if strings.HasSuffix(msg, "timeout") {
				t.Errorf("error %q is bbolt's bare timeout", msg)
			}
		})
	}
	t.Run("writable names the flag", func(t *testing.T) {
		_, err := open(path, 50*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "another --data") {
			t.Errorf("error %v does not name --data", err)
		}
	})
	// Once the holder lets go, the file opens: the error was about the
	// lock, not the file.
	held.Close()
	db, err := open(path, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	db.Close()
}
