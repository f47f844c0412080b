package seal_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// spellings returns the ways raw could show up in text: base64 and hex in
// every common flavour, and the decimal list %v prints for a []byte. A
// prefix is enough to catch a leak and also catches partial ones.
func spellings(raw []byte) []string {
	var out []string
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		fmt.Sprint(raw[:8]),
		fmt.Sprintf("%#v", raw[:8]),
		fmt.Sprintf("%q", raw[:8]),
	} {
		out = append(out, s[:min(len(s), 16)])
	}
	// fmt.Sprint(raw[:8]) and friends end with a bracket or quote; drop it so a
	// longer printed slice still matches.
	for i, s := range out {
		out[i] = strings.TrimRight(s, `]}"`)
	}
	return out
}

func TestRedacted(t *testing.T) {
	raw := MustRandomKey(t)
	key := MustNewKey(t, 1, raw)
	tenant := MustTenantKey(t, raw)
	keyring := MustParseKeyring(t, b64(raw))
	rotated, err := keyring.Rotate()
	if err != nil {
		t.Fatal(err)
	}

	values := []struct {
		name string
		v    any
	}{
		{"*Key", key},
		{"Key", *key},
		{"*TenantKey", tenant},
		{"TenantKey", *tenant},
		{"*Keyring", keyring},
		{"Keyring", *keyring},
		{"rotated *Keyring", rotated},
		{"in a struct", struct{ K *seal.Key }{key}},
		{"in a slice", []*seal.TenantKey{tenant}},
		{"in a map", map[string]*seal.Keyring{"k": keyring}},
	}
	const verbs = "%v|%+v|%#v|%s|%x|%X|%q|%d|%T"
	for _, tt := range values {
		t.Run(tt.name, func(t *testing.T) {
			args := make([]any, strings.Count(verbs, "%"))
			for i := range args {
				args[i] = tt.v
			}
			out := fmt.Sprintf(verbs, args...) + fmt.Sprint(tt.v) + fmt.Sprintln(tt.v)
			if !strings.Contains(out, "[redacted]") {
				t.Errorf("output %q does not say [redacted]", out)
			}
			for _, s := range spellings(raw) {
				if strings.Contains(out, s) {
					t.Fatalf("output %q contains key material %q", out, s)
				}
			}
		})
	}
}

func TestRedactedNil(t *testing.T) {
	var k *seal.Key
	if got := fmt.Sprintf("%v", k); got != "<nil>" {
		t.Errorf("nil *Key prints %q, want <nil>", got)
	}
}
