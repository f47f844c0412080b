package seal_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// These known answers pin the stored format: the envelope layout, the AD
// encoding, the HKDF info strings and the argon2id call. Every value below
// was sealed once and is in databases from then on, so a change that breaks
// one of these tests breaks every installation's data. Add vectors for new
// formats; never edit the existing ones.
//
// The key is bytes 0x00..0x1f; the derived values (DeriveKey, MAC) were
// cross-checked against an independent HKDF/HMAC implementation.

func fixedKey() []byte {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i)
	}
	return raw
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestCompatVectors(t *testing.T) {
	raw := fixedKey()
	tenant := MustTenantKey(t, raw)
	keyring := MustParseKeyring(t, "1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
	kdf := MustNewKDF(t, 1)
	params := seal.MinKDFParams
	params.Salt = raw[:16]
	kek, err := kdf.DeriveKey(t.Context(), []byte("correct horse battery staple"), params)
	if err != nil {
		t.Fatal(err)
	}

	opens := []struct {
		name     string
		opener   sealer
		envelope string
		ad       []byte
		want     []byte
	}{
		{
			name:     "Key id 7",
			opener:   MustNewKey(t, 7, raw),
			envelope: "010000000717ec22dd8cd999a1cba781df2538e2e08d8cbc4ee9bd9fb7f8fe15d23f7a215296b3261870f5446470439bd7bd307717f424a2a8c1c745",
			ad:       seal.AD("tenant", "client-1", "secrets", "s1"),
			want:     []byte("hello, envelope"),
		},
		{
			name:     "TenantKey",
			opener:   tenant,
			envelope: "0100000000f30da0c80b71e33240fb20cf01b227ef79d99e8b688af2b6c6b1f817062f3bc336ea0a7c44e7cbecbe7d2ee74f7a56e28d4691c906",
			ad:       seal.AD("tenant", "client-1", "meta"),
			want:     []byte("hello, tenant"),
		},
		{
			name:     "argon2id KEK",
			opener:   kek,
			envelope: "0100000000c5da925e6a80a8d67c1dc30300ae207b2d754cc65d209390e3a39de69bc62646be6195573c337f37f48459927a633e623fc6a8e7f320784dfe9e16f2f16a9039180129cb76f974b5",
			ad:       seal.AD("dek"),
			want:     raw,
		},
	}
	for _, tt := range opens {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.opener.Open(mustHex(t, tt.envelope), tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Open = %q, want %q", got, tt.want)
			}
		})
	}

	derived := []struct {
		name string
		got  []byte
		want string
	}{
		{"Keyring.DeriveKey session-v1", keyring.DeriveKey("session-v1"), "37d57c5cb96980138ab9618b19e52caf16e553382892a82399cc11a5b964a0b2"},
		{"TenantKey.MAC", tenant.MAC("containers", "jira:issue:10001"), "0641c8d71bc14831c74bf73855790bb86179dbe08341c052601c48c3fd1a7cf3"},
	}
	for _, tt := range derived {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(tt.got); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
