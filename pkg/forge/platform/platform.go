// Package platform is a local stand-in for the Forge platform's signing
// side: an RSA key, the JWKS that publishes it, and the minting of Forge
// Invocation Tokens. The dev sandbox and the tests use it; nothing in
// production does. It signs with golang-jwt and publishes with jwkset.
package platform

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/golang-jwt/jwt/v5"
)

// Signer holds a platform key. It is safe for concurrent use.
type Signer struct {
	key  *rsa.PrivateKey
	kid  string
	jwks []byte
}

// NewSigner generates a fresh RSA-2048 key with a kid in the platform's
// style (forge/invocation-token/wf-<uuid>).
func NewSigner() (*Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("platform: generating the key: %w", err)
	}
	return NewSignerFromKey(key, "forge/invocation-token/wf-"+NewUUID())
}

// NewSignerFromKey wraps an existing key; tests share one key per run.
func NewSignerFromKey(key *rsa.PrivateKey, kid string) (*Signer, error) {
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, fmt.Errorf("platform: %w", err)
	}
	set, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, kid: kid, jwks: set}, nil
}

// KID is the key's id.
func (s *Signer) KID() string { return s.kid }

// Key is the private key, for tests that forge variants.
func (s *Signer) Key() *rsa.PrivateKey { return s.key }

// JWKS is the public JWKS document.
func (s *Signer) JWKS() []byte { return s.jwks }

// ServeHTTP serves the JWKS with a Cache-Control the KeySet clamps.
func (s *Signer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=600")
	_, _ = w.Write(s.jwks)
}

// Install is one installation of one app, as the platform knows it.
type Install struct {
	AppID          string // the app ARI (aud, app.id)
	EnvironmentID  string
	EnvType        string // DEVELOPMENT when empty
	InstallationID string
	CloudID        string
	APIBase        string // e.g. http://127.0.0.1:1234/dev/forge/api; apiBaseUrl is APIBase/ex/<product>/<cloudId>
	Product        string // forge.ProductJira or forge.ProductConfluence
	// License, when set, is signed as app.license.isActive, as the
	// platform does for paid apps in production; nil signs none.
	License *bool
}

// APIBaseURL is the installation's apiBaseUrl.
func (in Install) APIBaseURL() string { return in.APIBase + "/ex/" + in.Product + "/" + in.CloudID }

// Invocation is what one FIT says beyond the installation.
type Invocation struct {
	ModuleType, ModuleKey string
	Principal             string         // "" for platform calls
	Context               *forge.Context // UI calls
	Lifetime              time.Duration  // 25 s when zero
	Now                   time.Time      // time.Now when zero
}

// Claims builds the claims of a FIT for inv of in, as the platform would.
// Tests modify the result to forge variants.
func (in Install) Claims(inv Invocation) jwt.MapClaims {
	now := inv.Now
	if now.IsZero() {
		now = time.Now()
	}
	life := inv.Lifetime
	if life == 0 {
		life = 25 * time.Second
	}
	envType := in.EnvType
	if envType == "" {
		envType = "DEVELOPMENT"
	}
	app := map[string]any{
		"id":             in.AppID,
		"appVersion":     "1.0.0",
		"installationId": in.InstallationID,
		"apiBaseUrl":     in.APIBaseURL(),
		"environment":    map[string]any{"type": envType, "id": in.EnvironmentID},
		"module":         map[string]any{"type": inv.ModuleType, "key": inv.ModuleKey},
		"installation": map[string]any{"id": in.InstallationID, "contexts": []any{
			map[string]any{"name": in.Product, "apiBaseUrl": in.APIBaseURL(), "cloudId": in.CloudID},
		}},
	}
	if in.License != nil {
		app["license"] = map[string]any{"isActive": *in.License}
	}
	c := jwt.MapClaims{
		"iss": forge.Issuer, "aud": in.AppID, "app": app,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(life).Unix(),
		"jti": NewUUID(),
	}
	if inv.Principal != "" {
		c["principal"] = inv.Principal
	}
	if inv.Context != nil {
		c["context"] = inv.Context
	}
	return c
}

// Sign signs claims as the platform does: RS256 with the key's kid.
func (s *Signer) Sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, maps.Clone(claims))
	t.Header["kid"] = s.kid
	return t.SignedString(s.key)
}

// Mint signs a FIT for inv of in.
func (s *Signer) Mint(in Install, inv Invocation) (string, error) { return s.Sign(in.Claims(inv)) }

// NewUUID returns a random version 4 UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
