package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// keySize is the size in bytes of every raw key this package accepts or
// returns: keyring keys, tenant keys, DEKs and derived keys.
const keySize = chacha20poly1305.KeySize

const (
	// envelopeVersion is the only format this package writes or reads. A new
	// format gets a new number, and Open keeps accepting the old one for as
	// long as stored data may use it.
	envelopeVersion byte = 1

	// headerAD is the part of the header bound into the associated data:
	// the version byte and the key id. The nonce is authenticated by the
	// AEAD itself.
	headerAD = 1 + 4
	// headerLen is everything before the ciphertext.
	headerLen = headerAD + chacha20poly1305.NonceSizeX
	// minEnvelope is the length of an envelope with an empty plaintext.
	minEnvelope = headerLen + chacha20poly1305.Overhead
)

// redacted is what every type holding key material prints as.
const redacted = "[redacted]"

// ErrOpen is returned for every failure to open a sealed value: too short,
// unknown version, unknown key id, wrong key, tampered bytes or wrong
// associated data. The cause is deliberately not told apart, so that an
// attacker who can submit envelopes learns nothing from the error.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Key is one symmetric XChaCha20-Poly1305 key and the id written into the
// envelopes it seals. A Key is safe for concurrent use.
type Key struct {
	id   uint32
	aead cipher.AEAD
}

// NewKey returns a key with the given id. raw must be exactly 32
// bytes; it is copied, so the caller may clear it afterwards.
func NewKey(id uint32, raw []byte) (*Key, error) {
	if len(raw) != keySize {
		// The length is not secret; the bytes are, so they are not shown.
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(raw), keySize)
	}
	aead, err := chacha20poly1305.NewX(raw)
	if err != nil {
		return nil, fmt.Errorf("seal: new key: %w", err)
	}
	return &Key{id: id, aead: aead}, nil
}

// ID returns the key id that Seal writes into envelopes.
func (k *Key) ID() uint32 { return k.id }

// Seal encrypts plaintext and returns an envelope. ad is the value's location
// (see AD); the same ad must be given to Open. Every call draws a fresh random
// nonce, so sealing the same plaintext twice gives different envelopes.
func (k *Key) Seal(plaintext, ad []byte) ([]byte, error) {
	out := make([]byte, headerLen, headerLen+len(plaintext)+chacha20poly1305.Overhead)
	out[0] = envelopeVersion
	binary.BigEndian.PutUint32(out[1:headerAD], k.id)
	nonce := out[headerAD:headerLen]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	// Seal appends after the header; the nonce it reads lies before the
	// region it writes, so sharing out's backing array is safe.
	return k.aead.Seal(out, nonce, plaintext, fullAD(out, ad)), nil
}

// Open decrypts an envelope made by Seal with this key and the same ad. Any
// failure, including an envelope whose key id is not k.ID(), is ErrOpen.
func (k *Key) Open(envelope, ad []byte) ([]byte, error) {
	id, err := EnvelopeKeyID(envelope)
	if err != nil || id != k.id {
		return nil, ErrOpen
	}
	plaintext, err := k.aead.Open(nil, envelope[headerAD:headerLen], envelope[headerLen:], fullAD(envelope, ad))
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}

// String returns "[redacted]".
//
// String, GoString and Format have value receivers so that a Key printed by
// value, not only through a pointer, is redacted too.
func (Key) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Key) GoString() string { return redacted }

// Format prints "[redacted]" for every verb, including %x and %q, which would
// otherwise bypass String.
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// EnvelopeKeyID returns the key id in an envelope's header, to pick the key
// that opens it. It is ErrOpen if the envelope is too short to be one or has
// an unknown version. A valid id says nothing about whether the rest of the
// envelope is authentic.
func EnvelopeKeyID(envelope []byte) (uint32, error) {
	if len(envelope) < minEnvelope || envelope[0] != envelopeVersion {
		return 0, ErrOpen
	}
	return binary.BigEndian.Uint32(envelope[1:headerAD]), nil
}

// fullAD is the associated data the AEAD authenticates: the envelope's
// version byte and key id, then the caller's ad. The header part has a fixed
// length, so the concatenation is unambiguous.
func fullAD(envelope, ad []byte) []byte {
	b := make([]byte, 0, headerAD+len(ad))
	b = append(b, envelope[:headerAD]...)
	return append(b, ad...)
}

// AD encodes a record's location, such as
// AD("tenant", clientKey, "secrets", id, "v3"), as associated data. Each part
// is written as its length (uvarint) followed by its bytes, so different lists
// of parts never encode alike: AD("ab", "c") != AD("a", "bc"), and
// AD("a") != AD("a", ""). The encoding is part of the stored format and must
// not change.
func AD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// RandomKey returns 32 bytes from crypto/rand, for a new tenant key
// or DEK. The caller owns the slice and should clear it once it is wrapped.
func RandomKey() ([]byte, error) {
	raw := make([]byte, keySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("seal: random key: %w", err)
	}
	return raw, nil
}
