package seal_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// MustRandomKey returns a fresh 32-byte key or fails the test.
func MustRandomKey(tb testing.TB) []byte {
	tb.Helper()
	raw, err := seal.RandomKey()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// MustNewKey returns a Key with id over raw or fails the test.
func MustNewKey(tb testing.TB, id uint32, raw []byte) *seal.Key {
	tb.Helper()
	k, err := seal.NewKey(id, raw)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// sealer is what Key, Keyring and TenantKey have in common.
type sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(envelope, ad []byte) ([]byte, error)
}

// MustSeal seals plaintext under ad or fails the test.
func MustSeal(tb testing.TB, s sealer, plaintext, ad []byte) []byte {
	tb.Helper()
	env, err := s.Seal(plaintext, ad)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 32, 33, 64} {
		_, err := seal.NewKey(1, make([]byte, n))
		if got, want := err == nil, n == 32; got != want {
			t.Errorf("NewKey(%d bytes): err = %v, want ok = %v", n, err, want)
		}
	}
}

func TestKeySealOpen(t *testing.T) {
	key := MustNewKey(t, 3, MustRandomKey(t))
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"empty", nil, nil},
		{"short", []byte("hunter2"), seal.AD("tenant", "c1", "secrets", "s1")},
		{"1KiB", bytes.Repeat([]byte{0xa5}, 1<<10), seal.AD("x")},
		{"128KiB", bytes.Repeat([]byte("body"), 32<<10), seal.AD("tenant", "c1", "secrets", "s1", "v3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := MustSeal(t, key, tt.plaintext, tt.ad)
			if got, want := len(env), 1+4+24+len(tt.plaintext)+16; got != want {
				t.Errorf("len(envelope) = %d, want %d", got, want)
			}
			if env[0] != 1 {
				t.Errorf("version = %d, want 1", env[0])
			}
			if got := binary.BigEndian.Uint32(env[1:5]); got != 3 {
				t.Errorf("header key id = %d, want 3", got)
			}
			if len(tt.plaintext) >= 8 && bytes.Contains(env, tt.plaintext[:8]) {
				t.Error("envelope contains the plaintext")
			}
			got, err := key.Open(env, tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %d bytes, want the %d sealed", len(got), len(tt.plaintext))
			}
		})
	}
}

func TestKeySealFreshNonce(t *testing.T) {
	key := MustNewKey(t, 1, MustRandomKey(t))
	ad := seal.AD("r")
	a := MustSeal(t, key, []byte("same"), ad)
	b := MustSeal(t, key, []byte("same"), ad)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal")
	}
	if bytes.Equal(a[5:29], b[5:29]) {
		t.Fatal("two seals share a nonce")
	}
	for _, env := range [][]byte{a, b} {
		if _, err := key.Open(env, ad); err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
}

func TestKeyOpenTampered(t *testing.T) {
	key := MustNewKey(t, 1, MustRandomKey(t))
	ad := seal.AD("tenant", "c1", "secrets", "s1")
	env := MustSeal(t, key, []byte("the body of a secret"), ad)
	for _, mask := range []byte{0x01, 0x80, 0xff} {
		for i := range env {
			tampered := bytes.Clone(env)
			tampered[i] ^= mask
			if _, err := key.Open(tampered, ad); !errors.Is(err, seal.ErrOpen) {
				t.Errorf("byte %d ^ %#x: err = %v, want ErrOpen", i, mask, err)
			}
		}
	}
	if _, err := key.Open(env, ad); err != nil {
		t.Fatalf("original no longer opens: %v", err)
	}
}

func TestKeyOpenWrongLength(t *testing.T) {
	key := MustNewKey(t, 1, MustRandomKey(t))
	env := MustSeal(t, key, []byte("abc"), nil)
	for n := range len(env) {
		if _, err := key.Open(env[:n], nil); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrOpen", n, err)
		}
	}
	if _, err := key.Open(append(bytes.Clone(env), 0), nil); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("extended by one byte: err = %v, want ErrOpen", err)
	}
}

func TestKeyOpenWrongAD(t *testing.T) {
	key := MustNewKey(t, 1, MustRandomKey(t))
	tests := []struct {
		name     string
		sealAD   []byte
		openAD   []byte
		wantOpen bool
	}{
		{"same", seal.AD("t", "c1", "secrets", "s1"), seal.AD("t", "c1", "secrets", "s1"), true},
		{"nil and empty are alike", nil, []byte{}, true},
		{"other record", seal.AD("t", "c1", "secrets", "s1"), seal.AD("t", "c1", "secrets", "s2"), false},
		{"other tenant", seal.AD("t", "c1", "secrets", "s1"), seal.AD("t", "c2", "secrets", "s1"), false},
		{"other version", seal.AD("s1", "v3"), seal.AD("s1", "v4"), false},
		{"part boundary", seal.AD("ab", "c"), seal.AD("a", "bc"), false},
		{"empty trailing part", seal.AD("a"), seal.AD("a", ""), false},
		{"missing", seal.AD("a"), nil, false},
		{"raw concatenation", seal.AD("ab", "c"), []byte("abc"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := MustSeal(t, key, []byte("v"), tt.sealAD)
			_, err := key.Open(env, tt.openAD)
			switch {
			case tt.wantOpen && err != nil:
				t.Errorf("Open: %v, want success", err)
			case !tt.wantOpen && !errors.Is(err, seal.ErrOpen):
				t.Errorf("Open: %v, want ErrOpen", err)
			}
		})
	}
}

func TestKeyOpenWrongKey(t *testing.T) {
	a := MustNewKey(t, 1, MustRandomKey(t))
	b := MustNewKey(t, 1, MustRandomKey(t))
	env := MustSeal(t, a, []byte("v"), nil)
	if _, err := b.Open(env, nil); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("Open with another key: err = %v, want ErrOpen", err)
	}
}

// TestKeyOpenHeaderBound uses one raw key under two ids, so that only the
// binding of the header into the associated data can tell them apart.
func TestKeyOpenHeaderBound(t *testing.T) {
	raw := MustRandomKey(t)
	k1, k2 := MustNewKey(t, 1, raw), MustNewKey(t, 2, raw)
	env := MustSeal(t, k1, []byte("v"), nil)

	if _, err := k2.Open(env, nil); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("Open by a key with another id: err = %v, want ErrOpen", err)
	}
	relabelled := bytes.Clone(env)
	binary.BigEndian.PutUint32(relabelled[1:5], 2)
	if id, err := seal.EnvelopeKeyID(relabelled); err != nil || id != 2 {
		t.Fatalf("EnvelopeKeyID(relabelled) = %d, %v; want 2", id, err)
	}
	if _, err := k2.Open(relabelled, nil); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("Open of an envelope with its key id rewritten: err = %v, want ErrOpen", err)
	}
	if _, err := k1.Open(env, nil); err != nil {
		t.Errorf("Open of the original: %v", err)
	}
}

func TestEnvelopeKeyID(t *testing.T) {
	env := MustSeal(t, MustNewKey(t, 0xdeadbeef, MustRandomKey(t)), nil, nil)
	badVersion := bytes.Clone(env)
	badVersion[0] = 2
	tests := []struct {
		name     string
		envelope []byte
		want     uint32
		wantErr  error
	}{
		{"valid", env, 0xdeadbeef, nil},
		{"nil", nil, 0, seal.ErrOpen},
		{"header only", env[:29], 0, seal.ErrOpen},
		{"one short", env[:len(env)-1], 0, seal.ErrOpen},
		{"unknown version", badVersion, 0, seal.ErrOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := seal.EnvelopeKeyID(tt.envelope)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("EnvelopeKeyID = %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAD(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name  string
		parts []string
		want  []byte
	}{
		{"none", nil, []byte{}},
		{"one empty", []string{""}, []byte{0}},
		{"two", []string{"a", "bc"}, []byte{1, 'a', 2, 'b', 'c'}},
		{"two-byte length", []string{long}, append([]byte{0xc8, 0x01}, long...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seal.AD(tt.parts...); !bytes.Equal(got, tt.want) {
				t.Errorf("AD(%q) = %x, want %x", tt.parts, got, tt.want)
			}
		})
	}
}

func TestADUnambiguous(t *testing.T) {
	lists := [][]string{
		{}, {""}, {"", ""}, {"a"}, {"a", ""}, {"", "a"}, {"ab", "c"}, {"a", "bc"}, {"abc"},
		{"\x01a"}, {"\x01", "a"}, {"tenant", "c1", "secrets", "s1"}, {"tenant", "c1secrets", "s1"},
	}
	seen := make(map[string][]string)
	for _, parts := range lists {
		enc := string(seal.AD(parts...))
		if prev, dup := seen[enc]; dup {
			t.Errorf("AD(%q) == AD(%q)", parts, prev)
		}
		seen[enc] = parts
	}
}

func TestRandomKey(t *testing.T) {
	a, b := MustRandomKey(t), MustRandomKey(t)
	if len(a) != 32 || len(b) != 32 {
		t.Fatalf("len = %d, %d; want 32", len(a), len(b))
	}
	if bytes.Equal(a, b) {
		t.Fatal("two random keys are equal")
	}
}
