package seal_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

func newTransferKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	raw, err := seal.RandomKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring([]byte(base64.StdEncoding.EncodeToString(raw) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func pub(t *testing.T, k *seal.Keyring) seal.TransferKey {
	t.Helper()
	p, err := k.TransferPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTransfer: a key wrapped at the source arrives wrapped for the
// destination, and only there, only from that source, only for that place.
func TestTransfer(t *testing.T) {
	src, dst, other := newTransferKeyring(t), newTransferKeyring(t), newTransferKeyring(t)
	ad := seal.AD("tenant-key", "client-1")
	raw, _ := seal.RandomKey()
	wrapped, err := src.Seal(raw, ad)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := src.SealForTransfer(wrapped, ad, pub(t, dst))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, raw) {
		t.Fatal("the transfer carries the raw key")
	}
	got, err := dst.OpenTransfer(sealed, ad, pub(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if opened, err := dst.Open(got, ad); err != nil || !bytes.Equal(opened, raw) {
		t.Fatalf("rewrapped key does not open at the destination: %v", err)
	}
	if _, err := src.Open(got, ad); err == nil {
		t.Error("the rewrapped key opens with the source keyring")
	}

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	rotated, _ := dst.Rotate()
	for name, tc := range map[string]struct {
		k      *seal.Keyring
		sealed []byte
		ad     []byte
		from   seal.TransferKey
	}{
		"another destination":         {other, sealed, ad, pub(t, src)},
		"another claimed source":      {dst, sealed, ad, pub(t, other)},
		"another tenant":              {dst, sealed, seal.AD("tenant-key", "client-2"), pub(t, src)},
		"tampered":                    {dst, tampered, ad, pub(t, src)},
		"truncated":                   {dst, sealed[:20], ad, pub(t, src)},
		"destination rotated its key": {rotated, sealed, ad, pub(t, src)},
	} {
		if _, err := tc.k.OpenTransfer(tc.sealed, tc.ad, tc.from); !errors.Is(err, seal.ErrTransfer) {
			t.Errorf("%s: err = %v, want ErrTransfer", name, err)
		}
	}
	if _, err := src.SealForTransfer(wrapped, seal.AD("tenant-key", "client-2"), pub(t, dst)); err == nil {
		t.Error("sealed a key for transfer under another tenant's name")
	}
	back, err := seal.ParseTransferKey(pub(t, dst).String())
	if err != nil || back != pub(t, dst) {
		t.Errorf("ParseTransferKey(String()) = %v, %v", back, err)
	}
	if _, err := seal.ParseTransferKey("c2hvcnQ="); err == nil {
		t.Error("parsed a short transfer key")
	}
}
