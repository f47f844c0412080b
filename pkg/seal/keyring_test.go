package seal_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// opensslKey is a line exactly as `openssl rand -base64 32` printed it.
const opensslKey = "m8vIkZ8il4a741ENwVKOq5YLAe4XWJwYz4v2428ed+E=\n"

// MustParseKeyring parses data or fails the test.
func MustParseKeyring(tb testing.TB, data string) *seal.Keyring {
	tb.Helper()
	k, err := seal.ParseKeyring([]byte(data))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func b64(raw []byte) string { return base64.StdEncoding.EncodeToString(raw) }

// assertOpensWith checks that kr holds raw under id, by opening with kr what
// a Key made from raw and id sealed.
func assertOpensWith(t *testing.T, kr *seal.Keyring, id uint32, raw []byte) {
	t.Helper()
	env := MustSeal(t, MustNewKey(t, id, raw), []byte("probe"), nil)
	if _, err := kr.Open(env, nil); err != nil {
		t.Errorf("keyring does not hold the expected key under id %d: %v", id, err)
	}
}

func TestParseKeyringLegacy(t *testing.T) {
	raw := MustRandomKey(t)
	k := b64(raw)
	opensslRaw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(opensslKey))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
		raw  []byte
	}{
		{"openssl rand -base64 32", opensslKey, opensslRaw},
		{"no newline", k, raw},
		{"surrounding whitespace and CRLF", "  " + k + " \r\n\n", raw},
		{"byte order mark", "\uFEFF" + k + "\n", raw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr := MustParseKeyring(t, tt.data)
			if got, want := kr.IDs(), []uint32{1}; !slices.Equal(got, want) {
				t.Errorf("IDs = %v, want %v", got, want)
			}
			if got := kr.PrimaryID(); got != 1 {
				t.Errorf("PrimaryID = %d, want 1", got)
			}
			assertOpensWith(t, kr, 1, tt.raw)
		})
	}
}

func TestParseKeyringVersioned(t *testing.T) {
	raws := map[uint32][]byte{1: MustRandomKey(t), 2: MustRandomKey(t), 5: MustRandomKey(t), 4294967295: MustRandomKey(t)}
	line := func(id string, raw uint32) string { return id + " " + b64(raws[raw]) }
	tests := []struct {
		name        string
		data        string
		wantIDs     []uint32
		wantPrimary uint32
	}{
		{
			name:        "primary line",
			data:        "# master keyring\n\n" + line("1", 1) + "\n  " + line("2", 2) + " \r\nprimary 1\n",
			wantIDs:     []uint32{1, 2},
			wantPrimary: 1,
		},
		{
			name:        "highest id is primary by default",
			data:        line("5", 5) + "\n" + line("2", 2) + "\n",
			wantIDs:     []uint32{2, 5},
			wantPrimary: 5,
		},
		{
			name:        "primary line first, tabs",
			data:        "primary\t2\n" + line("2", 2) + "\n" + line("5", 5),
			wantIDs:     []uint32{2, 5},
			wantPrimary: 2,
		},
		{
			name:        "largest id",
			data:        line("4294967295", 4294967295),
			wantIDs:     []uint32{4294967295},
			wantPrimary: 4294967295,
		},
		{
			name:        "single versioned key",
			data:        line("1", 1) + "\n",
			wantIDs:     []uint32{1},
			wantPrimary: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr := MustParseKeyring(t, tt.data)
			if got := kr.IDs(); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("IDs = %v, want %v", got, tt.wantIDs)
			}
			if got := kr.PrimaryID(); got != tt.wantPrimary {
				t.Errorf("PrimaryID = %d, want %d", got, tt.wantPrimary)
			}
			for _, id := range tt.wantIDs {
				assertOpensWith(t, kr, id, raws[id])
			}
			env := MustSeal(t, kr, []byte("x"), nil)
			if id, _ := seal.EnvelopeKeyID(env); id != tt.wantPrimary {
				t.Errorf("Seal used key id %d, want the primary %d", id, tt.wantPrimary)
			}
		})
	}
}

func TestParseKeyringErrors(t *testing.T) {
	raw1, raw2 := MustRandomKey(t), MustRandomKey(t)
	k1, k2 := b64(raw1), b64(raw2)
	// Flipping the last padding bit gives another spelling of the same bytes
	// that lenient decoders accept.
	nonCanonical := []byte(k1)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	nonCanonical[42] = alphabet[strings.IndexByte(alphabet, nonCanonical[42])^1]
	allOnes := bytes.Repeat([]byte{0xff}, 32)
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"blank", " \n\r\n\t"},
		{"comments only", "# nothing here\n"},
		{"31 bytes", b64(raw1[:31])},
		{"33 bytes", b64(append(bytes.Clone(raw1), 1))},
		{"31 bytes versioned", "1 " + b64(raw1[:31])},
		{"33 bytes versioned", "1 " + b64(append(bytes.Clone(raw1), 1))},
		{"bad base64", k1[:10] + "!" + k1[11:]},
		{"bad base64 versioned", "1 " + k1[:10] + "!" + k1[11:]},
		{"url-safe alphabet", base64.URLEncoding.EncodeToString(allOnes)},
		{"unpadded", base64.RawStdEncoding.EncodeToString(raw1)},
		{"non-canonical padding bits", string(nonCanonical)},
		{"all-zero key", b64(make([]byte, 32))},
		{"all-zero key versioned", "1 " + b64(make([]byte, 32))},
		{"duplicate id", "1 " + k1 + "\n1 " + k2},
		{"duplicate id spelled differently", "1 " + k1 + "\n01 " + k2},
		{"same key under two ids", "1 " + k1 + "\n2 " + k1},
		{"id 0", "0 " + k1},
		{"id too large", "4294967296 " + k1},
		{"negative id", "-1 " + k1},
		{"hex id", "0x1 " + k1},
		{"swapped fields", k1 + " 1"},
		{"unknown primary", "primary 3\n1 " + k1 + "\n2 " + k2},
		{"primary 0", "primary 0\n1 " + k1},
		{"two primary lines", "primary 1\nprimary 1\n1 " + k1},
		{"primary without keys", "primary 1\n"},
		{"three fields", "1 " + k1 + " " + k2},
		{"bare key among versioned", "1 " + k1 + "\n" + k2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := seal.ParseKeyring([]byte(tt.data))
			if err == nil {
				t.Fatalf("ParseKeyring = %v, want an error", kr)
			}
			for _, secret := range []string{k1[:12], k2[:12], b64(allOnes)[:12]} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains key material", err)
				}
			}
		})
	}
}

func TestKeyringMarshal(t *testing.T) {
	raws := [][]byte{MustRandomKey(t), MustRandomKey(t), MustRandomKey(t)}
	kr := MustParseKeyring(t, "3 "+b64(raws[2])+"\n1 "+b64(raws[0])+"\n2 "+b64(raws[1])+"\nprimary 2\n")
	data := kr.Marshal()
	if !bytes.Contains(data, []byte("\nprimary 2\n")) {
		t.Errorf("Marshal has no primary line:\n%s", data)
	}
	if again := kr.Marshal(); !bytes.Equal(again, data) {
		t.Error("Marshal is not deterministic")
	}

	back, err := seal.ParseKeyring(data)
	if err != nil {
		t.Fatalf("ParseKeyring(Marshal()): %v", err)
	}
	if got, want := back.IDs(), []uint32{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("IDs = %v, want %v", got, want)
	}
	if got := back.PrimaryID(); got != 2 {
		t.Errorf("PrimaryID = %d, want 2", got)
	}
	for i, raw := range raws {
		assertOpensWith(t, back, uint32(i+1), raw)
	}
	if !bytes.Equal(back.DeriveKey("session-v1"), kr.DeriveKey("session-v1")) {
		t.Error("DeriveKey differs after a Marshal round trip")
	}

	// A legacy keyring marshals to the versioned format.
	legacy := MustParseKeyring(t, opensslKey)
	if got, want := string(legacy.Marshal()), "primary 1\n1 "+opensslKey; !strings.HasSuffix(got, want) {
		t.Errorf("Marshal of a legacy keyring = %q, want suffix %q", got, want)
	}
}

func TestKeyringRotateRetire(t *testing.T) {
	ad := seal.AD("tenant", "c1", "key")
	k1 := MustParseKeyring(t, opensslKey)
	old := MustSeal(t, k1, []byte("tenant key 1"), ad)

	k2, err := k1.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if got, want := k2.IDs(), []uint32{1, 2}; !slices.Equal(got, want) {
		t.Errorf("IDs after Rotate = %v, want %v", got, want)
	}
	if got := k2.PrimaryID(); got != 2 {
		t.Errorf("PrimaryID after Rotate = %d, want 2", got)
	}
	if got, err := k2.Open(old, ad); err != nil || string(got) != "tenant key 1" {
		t.Errorf("Open of an old envelope after Rotate = %q, %v", got, err)
	}
	fresh := MustSeal(t, k2, []byte("tenant key 2"), ad)
	if id, _ := seal.EnvelopeKeyID(fresh); id != 2 {
		t.Errorf("Seal after Rotate used key id %d, want 2", id)
	}
	if bytes.Equal(k1.DeriveKey("session-v1"), k2.DeriveKey("session-v1")) {
		t.Error("DeriveKey did not follow the new primary")
	}
	// The original keyring is unchanged.
	if got := k1.PrimaryID(); got != 1 || len(k1.IDs()) != 1 {
		t.Errorf("Rotate changed its receiver: primary %d, ids %v", got, k1.IDs())
	}
	if _, err := k1.Open(fresh, ad); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("old keyring opened an envelope of the new key: err = %v", err)
	}

	if _, err := k2.Retire(2); err == nil {
		t.Error("Retire of the primary succeeded")
	}
	if _, err := k2.Retire(7); err == nil {
		t.Error("Retire of an unknown id succeeded")
	}
	k3, err := k2.Retire(1)
	if err != nil {
		t.Fatalf("Retire(1): %v", err)
	}
	if got, want := k3.IDs(), []uint32{2}; !slices.Equal(got, want) {
		t.Errorf("IDs after Retire = %v, want %v", got, want)
	}
	if _, err := k3.Open(old, ad); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("Open of a retired key's envelope: err = %v, want ErrOpen", err)
	}
	if _, err := k3.Open(fresh, ad); err != nil {
		t.Errorf("Open after Retire of another id: %v", err)
	}
	if _, err := k2.Open(old, ad); err != nil {
		t.Errorf("Retire changed its receiver: %v", err)
	}

	k4, err := k3.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if got, want := k4.IDs(), []uint32{2, 3}; !slices.Equal(got, want) {
		t.Errorf("IDs after Retire and Rotate = %v, want %v (ids are never reused while present)", got, want)
	}
}

func TestKeyringRotateExhausted(t *testing.T) {
	kr := MustParseKeyring(t, "4294967295 "+b64(MustRandomKey(t)))
	if _, err := kr.Rotate(); err == nil {
		t.Fatal("Rotate past the largest id succeeded")
	}
}

func TestKeyringOpenForeignEnvelope(t *testing.T) {
	kr := MustParseKeyring(t, opensslKey)
	tests := []struct {
		name     string
		envelope []byte
	}{
		{"tenant key (id 0)", MustSeal(t, MustTenantKey(t, MustRandomKey(t)), []byte("x"), nil)},
		{"unknown id", MustSeal(t, MustNewKey(t, 9, MustRandomKey(t)), []byte("x"), nil)},
		{"right id, other key", MustSeal(t, MustNewKey(t, 1, MustRandomKey(t)), []byte("x"), nil)},
		{"garbage", []byte("not an envelope")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kr.Open(tt.envelope, nil); !errors.Is(err, seal.ErrOpen) {
				t.Errorf("Open: err = %v, want ErrOpen", err)
			}
		})
	}
}

func TestKeyringDeriveKey(t *testing.T) {
	kr := MustParseKeyring(t, opensslKey)
	same := MustParseKeyring(t, opensslKey)
	other := MustParseKeyring(t, b64(MustRandomKey(t)))

	session := kr.DeriveKey("session-v1")
	if len(session) != 32 {
		t.Fatalf("len = %d, want 32", len(session))
	}
	tests := []struct {
		name      string
		got       []byte
		wantEqual bool
	}{
		{"same keyring, same purpose", kr.DeriveKey("session-v1"), true},
		{"same keys parsed again", same.DeriveKey("session-v1"), true},
		{"other purpose", kr.DeriveKey("session-v2"), false},
		{"empty purpose", kr.DeriveKey(""), false},
		{"other keyring", other.DeriveKey("session-v1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bytes.Equal(tt.got, session); got != tt.wantEqual {
				t.Errorf("equal = %v, want %v", got, tt.wantEqual)
			}
		})
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(opensslKey))
	if bytes.Equal(session, raw) {
		t.Error("DeriveKey returned the master key itself")
	}
}

func TestGenerateKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys")
	path := filepath.Join(dir, "master.key")
	if err := seal.GenerateKeyFile(path); err != nil {
		t.Fatalf("GenerateKeyFile: %v", err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %v, want 0600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("directory mode = %v, want no group or other access", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 45 || data[44] != '\n' {
		t.Errorf("file is %q, want one 44-character base64 line", data)
	}

	kr, err := seal.LoadKeyringFile(path)
	if err != nil {
		t.Fatalf("LoadKeyringFile: %v", err)
	}
	if got, want := kr.IDs(), []uint32{1}; !slices.Equal(got, want) {
		t.Errorf("IDs = %v, want %v", got, want)
	}

	err = seal.GenerateKeyFile(path)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second GenerateKeyFile: err = %v, want fs.ErrExist", err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
		t.Error("second GenerateKeyFile changed the file")
	}
	if strings.Contains(err.Error(), strings.TrimSpace(string(data))) {
		t.Error("error contains the key")
	}

	link := filepath.Join(dir, "link.key")
	target := filepath.Join(dir, "elsewhere")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	if err := seal.GenerateKeyFile(link); !errors.Is(err, fs.ErrExist) {
		t.Errorf("GenerateKeyFile over a dangling symlink: err = %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Error("GenerateKeyFile wrote through a symlink")
	}
}

func TestLoadKeyringFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	k := b64(MustRandomKey(t))
	tests := []struct {
		name string
		path string
	}{
		{"missing", filepath.Join(dir, "missing.key")},
		{"too large", write("big.key", bytes.Repeat([]byte("# padding\n"), 200<<10))},
		{"invalid", write("bad.key", []byte("1 "+k+"\n1 "+k+"\n"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := seal.LoadKeyringFile(tt.path)
			if err == nil {
				t.Fatal("LoadKeyringFile succeeded")
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the file", err)
			}
			if strings.Contains(err.Error(), k[:12]) {
				t.Errorf("error %q contains key material", err)
			}
		})
	}
}
