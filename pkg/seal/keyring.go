package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/crypto/hkdf"
)

// maxKeyringFile bounds what LoadKeyringFile reads. A real keyring is a few
// hundred bytes; the bound turns a flag pointing at the wrong file (the
// database, say) into an error rather than a large read.
const maxKeyringFile = 1 << 20

// keyringB64 is the only base64 flavour accepted for keys: standard alphabet,
// padded, and (Strict) with zero padding bits, so every key has exactly one
// spelling.
var keyringB64 = base64.StdEncoding.Strict()

// Keyring is the master keyring: versioned keys, each with an id from 1 up,
// one of which is the primary that seals. It wraps tenant keys and is kept in
// a file or the environment, never in the database.
//
// A Keyring is immutable and safe for concurrent use; Rotate and Retire
// return new keyrings. Build one with ParseKeyring or LoadKeyringFile; the
// zero value holds no keys.
type Keyring struct {
	keys    map[uint32]*ringKey
	ids     []uint32 // ascending
	primary uint32
}

// ringKey is one keyring entry. The raw bytes are kept for Marshal and for
// DeriveKey; they sit behind a pointer so that even reflection-based printing
// of a copied struct would show an address, not bytes.
type ringKey struct {
	key *Key
	raw *[keySize]byte
}

func newRingKey(id uint32, raw []byte) (*ringKey, error) {
	key, err := NewKey(id, raw)
	if err != nil {
		return nil, err
	}
	rk := &ringKey{key: key, raw: new([keySize]byte)}
	copy(rk.raw[:], raw)
	return rk, nil
}

// ParseKeyring parses a keyring in one of two formats.
//
// (a) Legacy single key: standard base64 of exactly 32 bytes on one line,
// which is what `openssl rand -base64 32` prints; surrounding whitespace and
// a trailing newline are fine. It becomes key id 1, the primary.
//
// (b) Versioned: lines "<id> <base64>", with ids decimal from 1 to 2^32-1 and
// unique, and optionally one line "primary <id>"; without it the highest id
// is the primary. Blank lines and lines starting with '#' are ignored.
//
// Keys that are all zeros or repeat another id's key are refused as the
// placeholders and copy-paste slips they almost certainly are. Errors name
// line numbers, never the text of a line, so they never contain key material.
func ParseKeyring(data []byte) (*Keyring, error) {
	k, err := parseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("seal: parse keyring: %w", err)
	}
	return k, nil
}

func parseKeyring(data []byte) (*Keyring, error) {
	// Editors on some systems prepend a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))

	if f := bytes.Fields(data); len(f) == 1 && f[0][0] != '#' {
		raw, err := decodeKey(f[0])
		if err != nil {
			return nil, err
		}
		defer clear(raw[:])
		rk, err := newRingKey(1, raw[:])
		if err != nil {
			return nil, err
		}
		return &Keyring{keys: map[uint32]*ringKey{1: rk}, ids: []uint32{1}, primary: 1}, nil
	}

	raws := make(map[uint32]*[keySize]byte)
	defer func() {
		for _, raw := range raws {
			clear(raw[:])
		}
	}()
	var primary uint32
	havePrimary := false
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		line = bytes.TrimSpace(line) // also drops the \r of CRLF files
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := bytes.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf(`line %d: want "<id> <base64 key>" or "primary <id>"`, n)
		}
		if string(f[0]) == "primary" {
			if havePrimary {
				return nil, fmt.Errorf("line %d: second primary line", n)
			}
			id, err := parseKeyID(f[1])
			if err != nil {
				return nil, fmt.Errorf("line %d: primary: %w", n, err)
			}
			primary, havePrimary = id, true
			continue
		}
		id, err := parseKeyID(f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if _, dup := raws[id]; dup {
			return nil, fmt.Errorf("line %d: duplicate key id %d", n, id)
		}
		raw, err := decodeKey(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: key id %d: %w", n, id, err)
		}
		for other, r := range raws {
			if *r == *raw {
				clear(raw[:])
				return nil, fmt.Errorf("line %d: key id %d has the same key as id %d", n, id, other)
			}
		}
		raws[id] = raw
	}
	if len(raws) == 0 {
		return nil, errors.New("no keys")
	}

	k := &Keyring{keys: make(map[uint32]*ringKey, len(raws))}
	for id, raw := range raws {
		rk, err := newRingKey(id, raw[:])
		if err != nil {
			return nil, err
		}
		k.keys[id] = rk
		k.ids = append(k.ids, id)
	}
	slices.Sort(k.ids)
	k.primary = k.ids[len(k.ids)-1]
	if havePrimary {
		if _, ok := k.keys[primary]; !ok {
			return nil, fmt.Errorf("primary key id %d is not in the keyring", primary)
		}
		k.primary = primary
	}
	return k, nil
}

// parseKeyID parses a keyring id. The text is not echoed: if the fields of a
// line are swapped, it is key material.
func parseKeyID(b []byte) (uint32, error) {
	id, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("key id must be a decimal number from 1 to %d", uint32(math.MaxUint32))
	}
	return uint32(id), nil
}

// decodeKey decodes one base64 key. The decoding error is not wrapped: it is
// harmless today, but the message must stay free of key material whatever
// the base64 package reports in the future.
func decodeKey(b64 []byte) (*[keySize]byte, error) {
	buf := make([]byte, keyringB64.DecodedLen(len(b64)))
	defer clear(buf)
	n, err := keyringB64.Decode(buf, b64)
	if err != nil {
		return nil, errors.New("key is not valid standard base64")
	}
	if n != keySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", n, keySize)
	}
	raw := new([keySize]byte)
	copy(raw[:], buf)
	if *raw == [keySize]byte{} {
		return nil, errors.New("key is all zeros")
	}
	return raw, nil
}

// LoadKeyringFile reads and parses a keyring file (see ParseKeyring).
func LoadKeyringFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("seal: load keyring: %w", err)
	}
	if fi.Size() > maxKeyringFile {
		return nil, fmt.Errorf("seal: load keyring %s: larger than %d bytes, not a keyring", path, maxKeyringFile)
	}
	// ReadFile sizes its buffer from the file, so no stray partial copies of
	// the keys are left behind in regrown buffers.
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seal: load keyring: %w", err)
	}
	defer clear(data)
	k, err := parseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("seal: load keyring %s: %w", path, err)
	}
	return k, nil
}

// GenerateKeyFile creates path holding one fresh key in the legacy format (a)
// of ParseKeyring. The file is created with mode 0600 and never overwrites an
// existing file (the error then matches fs.ErrExist); missing parent
// directories are created with mode 0700.
func GenerateKeyFile(path string) error {
	raw, err := RandomKey()
	if err != nil {
		return err
	}
	defer clear(raw)
	line := keyringB64.AppendEncode(make([]byte, 0, keyringB64.EncodedLen(keySize)+1), raw)
	line = append(line, '\n')
	defer clear(line)

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("seal: generate key file: %w", err)
	}
	if err := createExclusive(path, line); err != nil {
		return fmt.Errorf("seal: generate key file: %w", err)
	}
	syncDir(dir)
	return nil
}

// createExclusive writes data to a new file at path, mode 0600, and syncs it.
// O_EXCL: an existing key file (or a symlink planted in its place) is never
// replaced, since losing the master key loses every tenant's data.
func createExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		// The database will soon hold data only this key opens; the key
		// has to be on disk first.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// The file is ours (O_EXCL); a half-written key must not be
		// mistaken for a usable one on the next start.
		_ = os.Remove(path)
	}
	return err
}

// syncDir makes a new directory entry durable. It is best effort: not every
// platform can sync a directory, and the file itself is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// Marshal returns the keyring in the versioned format (b) of ParseKeyring,
// with a "primary <id>" line, so that ParseKeyring(k.Marshal()) gives the same
// keyring. The result is key material: write it to a 0600 file and clear it.
func (k *Keyring) Marshal() []byte {
	const head = "# Secrets master keyring. Keep it secret (mode 0600); never put it in the database.\n"
	// Sized up front so that appending never reallocates and leaves partial
	// copies of keys in abandoned buffers.
	lineMax := len("4294967295 ") + keyringB64.EncodedLen(keySize) + 1
	b := make([]byte, 0, len(head)+len("primary 4294967295\n")+len(k.ids)*lineMax)
	b = append(b, head...)
	b = append(b, "primary "...)
	b = strconv.AppendUint(b, uint64(k.primary), 10)
	b = append(b, '\n')
	for _, id := range k.ids {
		b = strconv.AppendUint(b, uint64(id), 10)
		b = append(b, ' ')
		b = keyringB64.AppendEncode(b, k.keys[id].raw[:])
		b = append(b, '\n')
	}
	return b
}

// PrimaryID returns the id of the key that Seal uses.
func (k *Keyring) PrimaryID() uint32 { return k.primary }

// IDs returns the ids of all keys, ascending.
func (k *Keyring) IDs() []uint32 { return slices.Clone(k.ids) }

// Seal seals plaintext with the primary key. It is used to wrap tenant keys;
// ad names the tenant (see AD).
func (k *Keyring) Seal(plaintext, ad []byte) ([]byte, error) {
	rk, ok := k.keys[k.primary]
	if !ok {
		return nil, errors.New("seal: keyring has no keys")
	}
	return rk.key.Seal(plaintext, ad)
}

// Open opens an envelope sealed by any key still in the keyring, chosen by
// the key id in the envelope's header (keys are not tried in turn). Any
// failure, including a retired or unknown key id, is ErrOpen.
func (k *Keyring) Open(envelope, ad []byte) ([]byte, error) {
	id, err := EnvelopeKeyID(envelope)
	if err != nil {
		return nil, ErrOpen
	}
	rk, ok := k.keys[id]
	if !ok {
		return nil, ErrOpen
	}
	return rk.key.Open(envelope, ad)
}

// Rotate returns a new keyring holding every key of k plus a fresh random key
// with id max+1, which becomes the primary. k itself is unchanged. Envelopes
// sealed by the old keys still open; re-wrap them with Seal, then Retire the
// old ids.
func (k *Keyring) Rotate() (*Keyring, error) {
	if len(k.ids) == 0 {
		return nil, errors.New("seal: rotate: keyring has no keys")
	}
	last := k.ids[len(k.ids)-1]
	if last == math.MaxUint32 {
		return nil, errors.New("seal: rotate: key ids exhausted")
	}
	raw, err := RandomKey()
	if err != nil {
		return nil, fmt.Errorf("seal: rotate: %w", err)
	}
	defer clear(raw)
	rk, err := newRingKey(last+1, raw)
	if err != nil {
		return nil, fmt.Errorf("seal: rotate: %w", err)
	}
	nk := k.clone()
	nk.keys[last+1] = rk
	nk.ids = append(nk.ids, last+1)
	nk.primary = last + 1
	return nk, nil
}

// Retire returns a new keyring without the key id, once nothing sealed under
// it is left. It refuses the primary key and ids not in the keyring. k itself
// is unchanged.
func (k *Keyring) Retire(id uint32) (*Keyring, error) {
	if id == k.primary {
		return nil, fmt.Errorf("seal: retire: key id %d is the primary key", id)
	}
	if _, ok := k.keys[id]; !ok {
		return nil, fmt.Errorf("seal: retire: key id %d is not in the keyring", id)
	}
	nk := k.clone()
	delete(nk.keys, id)
	nk.ids = slices.DeleteFunc(nk.ids, func(x uint32) bool { return x == id })
	return nk, nil
}

// clone copies the keyring's index; the entries themselves are immutable and
// shared.
func (k *Keyring) clone() *Keyring {
	nk := &Keyring{keys: make(map[uint32]*ringKey, len(k.keys)+1), ids: slices.Clone(k.ids), primary: k.primary}
	for id, rk := range k.keys {
		nk.keys[id] = rk
	}
	return nk
}

// DeriveKey returns 32 bytes derived with HKDF-SHA256 from the primary key,
// with info "secrets/"+purpose; for example the session-token signing key,
// purpose "session-v1". Different purposes give independent keys. The result
// changes when the primary changes (Rotate), so it suits short-lived uses:
// tokens signed before a rotation stop verifying.
func (k *Keyring) DeriveKey(purpose string) []byte {
	rk, ok := k.keys[k.primary]
	if !ok {
		panic("seal: DeriveKey on a keyring with no keys")
	}
	return hkdfKey(rk.raw[:], "secrets/"+purpose)
}

// hkdfKey derives a 32-byte key with HKDF-SHA256. No salt: the input is
// always a uniformly random key, for which RFC 5869 §3.1 makes the salt
// optional; separation between uses comes from info.
func hkdfKey(secret []byte, info string) []byte {
	out := make([]byte, keySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(info)), out); err != nil {
		// HKDF-SHA256 can produce up to 8160 bytes; 32 cannot fail.
		panic("seal: hkdf: " + err.Error())
	}
	return out
}

// String returns "[redacted]". Like Key's, the method has a value receiver so
// a Keyring printed by value is redacted too.
func (Keyring) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Keyring) GoString() string { return redacted }

// Format prints "[redacted]" for every verb.
func (Keyring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }
