package connect_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-secrets/secrets/pkg/connect"
)

// testNow is the fixed clock of every test that does not say otherwise.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func fixedNow() time.Time { return testNow }

var (
	rsaOnce          sync.Once
	rsaKeyA, rsaKeyB *rsa.PrivateKey
	rsaErr           error
)

// rsaKeys returns two RSA-2048 keys, generated once per test binary because
// generation dominates the run time otherwise.
func rsaKeys(tb testing.TB) (a, b *rsa.PrivateKey) {
	tb.Helper()
	rsaOnce.Do(func() {
		if rsaKeyA, rsaErr = rsa.GenerateKey(rand.Reader, 2048); rsaErr != nil {
			return
		}
		rsaKeyB, rsaErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	if rsaErr != nil {
		tb.Fatalf("generating RSA keys: %v", rsaErr)
	}
	return rsaKeyA, rsaKeyB
}

// publicPEM encodes pub as a PEM "PUBLIC KEY" block, as Atlassian serves it.
func publicPEM(tb testing.TB, pub *rsa.PublicKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// sign returns a token for claims signed with method and key, with extra
// header fields (a nil value deletes the field).
func sign(tb testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.Claims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(t.Header, k)
			continue
		}
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("signing: %v", err)
	}
	return s
}

// mustQSH is connect.QSH for a request target ("/path?query").
func mustQSH(tb testing.TB, method, target, basePath string) string {
	tb.Helper()
	path, query, _ := strings.Cut(target, "?")
	q, err := connect.QSH(method, path, query, basePath)
	if err != nil {
		tb.Fatalf("QSH(%s %s): %v", method, target, err)
	}
	return q
}

// assertNoSecret fails when err's message contains any of the secrets.
func assertNoSecret(tb testing.TB, err error, secrets ...string) {
	tb.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			tb.Errorf("error %q contains a token or secret", err)
		}
	}
}

// x509MarshalPKCS1 encodes pub as a PEM "RSA PUBLIC KEY" block.
func x509MarshalPKCS1(pub *rsa.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
}
