package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

// listJSON is the list page as encoding/json would write it.
type listJSON struct {
	Secrets []secretJSON `json:"secrets"`
	Next    string       `json:"next,omitempty"`
}

// referenceListJSON is what encoding/json writes for the list.
func referenceListJSON(t testing.TB, l *secrets.SecretList) []byte {
	out := listJSON{Secrets: make([]secretJSON, len(l.Secrets)), Next: l.Next}
	for i, m := range l.Secrets {
		out.Secrets[i] = toJSON(m)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(out); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzListJSON: the hand-written list response is byte for byte what
// encoding/json writes, for any title, account id, cursor and time.
func FuzzListJSON(f *testing.F) {
	for _, s := range []string{"", "Prod DB", `a"b\c`, "<script>&", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "ünïcødé 🔑", "\t\n\r\b\f", "a\xc3"} {
		f.Add(s, "557058:"+s, 3, int64(1764672000123456789), s)
	}
	f.Fuzz(func(t *testing.T, title, account string, version int, nanos int64, next string) {
		at := time.Unix(0, nanos).UTC()
		if at.Year() < 0 || at.Year() > 9999 {
			return // time.Time's MarshalJSON refuses these; the store holds none
		}
		a := secrets.Secret{ID: "AAAAAAAAAAAAAAAAAAAAAA", Title: title, Version: version,
			CreatedAt: at, CreatedBy: account, UpdatedAt: at.Add(time.Second), UpdatedBy: account}
		b := a
		b.ID, b.ExpiresAt = title, at.Add(time.Hour).In(time.FixedZone("x", 3600))
		for _, l := range []*secrets.SecretList{{}, {Secrets: []secrets.Secret{a}}, {Secrets: []secrets.Secret{a, b}, Next: next}} {
			want := referenceListJSON(t, l)
			if got := encodeList(l); !bytes.Equal(got, want) {
				t.Fatalf("encodeList:\n got %q\nwant %q", got, want)
			}
		}
	})
}
