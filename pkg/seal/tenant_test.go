package seal_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// MustTenantKey returns a tenant key over raw or fails the test.
func MustTenantKey(tb testing.TB, raw []byte) *seal.TenantKey {
	tb.Helper()
	t, err := seal.NewTenantKey(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestNewTenantKeySize(t *testing.T) {
	for _, n := range []int{0, 31, 32, 33} {
		_, err := seal.NewTenantKey(make([]byte, n))
		if got, want := err == nil, n == 32; got != want {
			t.Errorf("NewTenantKey(%d bytes): err = %v, want ok = %v", n, err, want)
		}
	}
}

func TestTenantKeySealOpen(t *testing.T) {
	rawA := MustRandomKey(t)
	a, b := MustTenantKey(t, rawA), MustTenantKey(t, MustRandomKey(t))
	ad := seal.AD("tenant", "client-a", "secrets", "s1")
	env := MustSeal(t, a, []byte(`{"title":"db"}`), ad)

	tests := []struct {
		name     string
		opener   sealer
		ad       []byte
		wantOpen bool
	}{
		{"same tenant", a, ad, true},
		{"same raw key, new TenantKey", MustTenantKey(t, rawA), ad, true},
		{"other tenant", b, ad, false},
		{"other location", a, seal.AD("tenant", "client-a", "secrets", "s2"), false},
		// Records are sealed with a derived subkey, never the tenant key itself.
		{"raw tenant key", MustNewKey(t, 0, rawA), ad, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.opener.Open(env, tt.ad)
			switch {
			case tt.wantOpen && err != nil:
				t.Errorf("Open: %v, want success", err)
			case !tt.wantOpen && !errors.Is(err, seal.ErrOpen):
				t.Errorf("Open: %v, want ErrOpen", err)
			}
		})
	}
	if id, err := seal.EnvelopeKeyID(env); err != nil || id != 0 {
		t.Errorf("EnvelopeKeyID = %d, %v; want 0 (tenant keys are not keyring keys)", id, err)
	}
}

func TestTenantKeyMAC(t *testing.T) {
	rawA := MustRandomKey(t)
	a, b := MustTenantKey(t, rawA), MustTenantKey(t, MustRandomKey(t))
	base := a.MAC("containers", "jira:issue:10001")
	if len(base) != 32 {
		t.Fatalf("len(MAC) = %d, want 32", len(base))
	}

	tests := []struct {
		name      string
		mac       []byte
		wantEqual bool
	}{
		{"same tenant key, same parts", a.MAC("containers", "jira:issue:10001"), true},
		{"same raw key, new TenantKey", MustTenantKey(t, rawA).MAC("containers", "jira:issue:10001"), true},
		{"other tenant", b.MAC("containers", "jira:issue:10001"), false},
		{"other id", a.MAC("containers", "jira:issue:10002"), false},
		{"other bucket", a.MAC("attempts", "jira:issue:10001"), false},
		{"part boundary", a.MAC("containersj", "ira:issue:10001"), false},
		{"one part", a.MAC("containersjira:issue:10001"), false},
		// The index subkey is derived, not the raw tenant key.
		{"HMAC under the raw key", hmacSHA256(rawA, seal.AD("containers", "jira:issue:10001")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bytes.Equal(tt.mac, base); got != tt.wantEqual {
				t.Errorf("equal = %v, want %v", got, tt.wantEqual)
			}
		})
	}
}

// TestMemoMAC: the remembered MAC is the MAC, per key and per pair, also after
// the memo filled up and started over.
func TestMemoMAC(t *testing.T) {
	a, b := MustTenantKey(t, MustRandomKey(t)), MustTenantKey(t, MustRandomKey(t))
	want := a.MAC("container", "jira:issue:1")
	first := a.MemoMAC("container", "jira:issue:1")
	if !bytes.Equal(first, want) {
		t.Fatal("MemoMAC differs from MAC")
	}
	if bytes.Equal(b.MemoMAC("container", "jira:issue:1"), want) {
		t.Fatal("another tenant's key gave the same MAC")
	}
	if bytes.Equal(a.MemoMAC("containe", "rjira:issue:1"), want) {
		t.Fatal("the label/value boundary is not part of the MAC")
	}
	for i := range 2000 { // more pairs than the memo keeps
		v := fmt.Sprintf("jira:issue:%d", i)
		if !bytes.Equal(a.MemoMAC("container", v), a.MAC("container", v)) {
			t.Fatalf("pair %d: MemoMAC differs from MAC", i)
		}
	}
	if got := a.MemoMAC("container", "jira:issue:1"); !bytes.Equal(got, want) {
		t.Fatal("MemoMAC changed after the memo started over")
	}
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}
