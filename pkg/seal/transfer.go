package seal

// Moving a tenant between deployments (data residency: one deployment and
// master keyring per realm). The tenant key must leave the source wrapped
// for the destination only, and the destination must know it came from
// the source. Master keyrings are symmetric, so each deployment also has a
// transfer key pair, derived from its primary master key: X25519, used
// through NaCl's box (golang.org/x/crypto/nacl/box: X25519, XSalsa20 and
// Poly1305), which both encrypts to the destination and authenticates the
// sender. Public halves are exchanged out of band; neither side ever holds
// the other's master key, and the moved tenant key is never written
// unwrapped.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// TransferKey is the public half of a deployment's transfer key pair. It
// is not secret.
type TransferKey [32]byte

// String returns the key in standard base64, as ParseTransferKey reads it.
func (t TransferKey) String() string { return base64.StdEncoding.EncodeToString(t[:]) }

// ParseTransferKey reads a TransferKey printed by String.
func ParseTransferKey(s string) (TransferKey, error) {
	var t TransferKey
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(t) {
		return t, errors.New("seal: a transfer key is 32 bytes in standard base64 (secretsctl tenant transfer-key prints it)")
	}
	copy(t[:], b)
	return t, nil
}

// ErrTransfer means a sealed transfer did not open: it was sealed for
// another deployment, by another one than named, for another tenant, or
// changed on the way. The reasons are not told apart.
var ErrTransfer = errors.New("seal: the transferred key does not open: it was sealed for another destination, by another source, or altered")

const transferVersion = 1

// transferPrivate is the keyring's transfer private key. It follows the
// primary master key, so a rotation at the destination invalidates
// transfers sealed for its old public key (they fail with ErrTransfer).
func (k *Keyring) transferPrivate() *[32]byte {
	var priv [32]byte
	d := k.DeriveKey("tenant-transfer-v1")
	copy(priv[:], d)
	clear(d)
	return &priv
}

// TransferPublicKey returns the public half of k's transfer key pair.
func (k *Keyring) TransferPublicKey() (TransferKey, error) {
	priv := k.transferPrivate()
	defer clear(priv[:])
	pub, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		return TransferKey{}, fmt.Errorf("seal: transfer key: %w", err)
	}
	var t TransferKey
	copy(t[:], pub)
	return t, nil
}

// SealForTransfer opens wrapped (a key k wrapped with associated data ad)
// and seals it for the deployment whose transfer key is to, as from k.
// ad is bound in as well: the destination opens it only for the same ad.
func (k *Keyring) SealForTransfer(wrapped, ad []byte, to TransferKey) ([]byte, error) {
	raw, err := k.Open(wrapped, ad)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	adHash := sha256.Sum256(ad)
	msg := make([]byte, 0, len(adHash)+len(raw))
	msg = append(append(msg, adHash[:]...), raw...)
	defer clear(msg)
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	priv := k.transferPrivate()
	defer clear(priv[:])
	peer := [32]byte(to)
	out := append([]byte{transferVersion}, nonce[:]...)
	return box.Seal(out, msg, &nonce, &peer, priv), nil
}

// OpenTransfer opens a transfer that the deployment with transfer key from
// sealed for k with ad, and returns the key wrapped by k's primary master
// key, ready to store. Anything else is ErrTransfer.
func (k *Keyring) OpenTransfer(sealed, ad []byte, from TransferKey) ([]byte, error) {
	if len(sealed) < 1+24+box.Overhead || sealed[0] != transferVersion {
		return nil, ErrTransfer
	}
	var nonce [24]byte
	copy(nonce[:], sealed[1:25])
	priv := k.transferPrivate()
	defer clear(priv[:])
	peer := [32]byte(from)
	msg, ok := box.Open(nil, sealed[25:], &nonce, &peer, priv)
	if !ok {
		return nil, ErrTransfer
	}
	defer clear(msg)
	adHash := sha256.Sum256(ad)
	if len(msg) != len(adHash)+keySize || subtle.ConstantTimeCompare(msg[:len(adHash)], adHash[:]) != 1 {
		return nil, ErrTransfer
	}
	return k.Seal(msg[len(adHash):], ad)
}
