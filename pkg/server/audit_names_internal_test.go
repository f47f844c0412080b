package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNameCacheBoundedAndExpiring: the display-name cache never holds more
// than nameCacheSize entries, and forgets a name once its TTL has passed.
func TestNameCacheBoundedAndExpiring(t *testing.T) {
	var c nameCache
	now := time.Unix(1_000_000, 0)
	for i := range nameCacheSize + 50 {
		c.put(fmt.Sprint("k", i), "n", time.Minute, now)
	}
	if len(c.m) > nameCacheSize {
		t.Fatalf("the cache holds %d names, bound %d", len(c.m), nameCacheSize)
	}
	c.put("alice", "Alice", time.Minute, now)
	if got, ok := c.get("alice", now.Add(59*time.Second)); !ok || got != "Alice" {
		t.Errorf("within its TTL: %q %v", got, ok)
	}
	if _, ok := c.get("alice", now.Add(time.Minute)); ok {
		t.Error("a name past its TTL is still served")
	}
}

// TestCleanNameKeepsOneLineOfText: a name from a host is one line of text,
// bounded; control and format characters become spaces.
func TestCleanNameKeepsOneLineOfText(t *testing.T) {
	for in, want := range map[string]string{
		"Ada Admin":              "Ada Admin",
		"  Ada\r\nAdmin\t":       "Ada Admin",
		"Ada\u202eAdmin\u0000":   "Ada Admin",
		strings.Repeat("é", 300): strings.Repeat("é", maxNameRunes),
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
