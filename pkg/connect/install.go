package connect

import (
	"cmp"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// maxCachedKeys bounds the install key cache. Atlassian rotates its
	// signing key rarely, so a handful of entries is plenty; the bound only
	// matters against a flood of tokens naming real but old kids.
	maxCachedKeys = 64

	// maxKeyBody bounds the key server's answer; a PEM RSA public key is
	// well under 2 KiB.
	maxKeyBody = 16 << 10

	// keyFetchTimeout bounds every key fetch, whatever Client says, so that
	// a hung key server turns into ErrKeyUnavailable (503, the host retries)
	// instead of a pile of blocked callbacks.
	keyFetchTimeout = 5 * time.Second

	// minRSABits is the smallest install key we accept.
	minRSABits = 2048

	// Defaults of the InstallKeys fetch limits; see its fields.
	defaultMaxConcurrentFetches = 4
	defaultFetchBurst           = 10
	defaultFetchInterval        = 6 * time.Second
	defaultNegativeTTL          = 10 * time.Minute

	// maxUnknownKids bounds the negative cache.
	maxUnknownKids = 1024
)

// InstallKeys fetches and caches the RSA public keys Atlassian signs
// installed/uninstalled callbacks with, from <BaseURL>/<kid>.
//
// Keys never change under a kid, so a key once fetched is cached for good
// (in a bounded cache that evicts the oldest entry). A kid the key server
// does not know (404) is remembered as unknown for NegativeTTL; other
// failures are never cached, so an outage ends as soon as the key server is
// back. Concurrent requests for the same kid share one fetch.
//
// A signed-install token is unauthenticated until its key is fetched, so
// anyone can name a fresh kid in every request. Fetches of kids not cached
// are therefore bounded: at most MaxConcurrentFetches at once, and at most
// FetchBurst in a row, then one per FetchInterval; past that Key answers
// ErrKeyUnavailable (503, Atlassian retries) without fetching. Cached kids
// are never limited, so once the real key is known a flood of forged kids
// does not stop real installs.
//
// The zero value is usable once BaseURL is set; NewInstallKeys is a
// shorthand. An InstallKeys must not be copied after first use.
type InstallKeys struct {
	// BaseURL is where keys are fetched from, e.g.
	// https://connect-install-keys.atlassian.com; a trailing slash is
	// ignored.
	BaseURL string

	// Client does the fetches; nil means a client with a 5 s timeout.
	Client *http.Client

	// MaxConcurrentFetches caps the fetches running at once; 0 means 4.
	MaxConcurrentFetches int
	// FetchBurst and FetchInterval bound the rate of fetches: FetchBurst in
	// a row (0 means 10), then one per FetchInterval (0 means 6 s).
	FetchBurst    int
	FetchInterval time.Duration
	// NegativeTTL is how long a kid the key server answered 404 for is
	// refused without asking again; 0 means 10 minutes.
	NegativeTTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	unknown  map[string]time.Time      // kid → until when it is known to be unknown
	unkOrder []string                  // unknown kids in insertion order, for eviction
	tokens   float64                   // fetch budget
	tokensAt time.Time                 // when tokens was last refilled
	started  bool                      // tokens has been initialised
	slots    chan struct{}             // one per running fetch
	keys     map[string]*rsa.PublicKey // by lower-case kid
	order    []string                  // kids in insertion order, for eviction
	inflight map[string]*keyFetch      // by lower-case kid
	client   *http.Client              // default client, made once
	fetches  int64                     // fetches started, for tests and metrics
	queued   int64                     // fetches waiting for a slot
	running  int64                     // fetches holding a slot
}

// keyFetch is one fetch shared by every caller asking for the same kid while
// it runs. done is closed once key and err are set.
type keyFetch struct {
	done chan struct{}
	key  *rsa.PublicKey
	err  error
}

// NewInstallKeys returns an InstallKeys fetching from baseURL with client
// (nil for a default client with a 5 s timeout).
func NewInstallKeys(baseURL string, client *http.Client) *InstallKeys {
	return &InstallKeys{BaseURL: baseURL, Client: client}
}

// Key returns the public key with this kid.
//
// kid must be a UUID (checked before anything is fetched, so a token cannot
// make us request arbitrary paths). Errors: ErrInvalidToken for a kid that
// is not a UUID or that the key server does not know (404: a bad token, not
// an outage); ErrKeyUnavailable when the key server cannot be reached, times
// out, answers with another status, or serves something that is not an RSA
// public key of at least 2048 bits, or when ctx ends first.
func (k *InstallKeys) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if !isUUID(kid) {
		return nil, invalid("kid is not a UUID")
	}
	if k.BaseURL == "" {
		return nil, errors.New("connect: InstallKeys.BaseURL is not set")
	}
	// UUIDs are case-insensitive; one spelling keeps one cache entry.
	kid = strings.ToLower(kid)

	k.mu.Lock()
	if key, ok := k.keys[kid]; ok {
		k.mu.Unlock()
		return key, nil
	}
	now := k.now()
	if until, ok := k.unknown[kid]; ok {
		if now.Before(until) {
			k.mu.Unlock()
			return nil, invalid("unknown kid")
		}
		delete(k.unknown, kid) // its order entry goes when it reaches the front
		k.unkOrder = slices.DeleteFunc(k.unkOrder, func(s string) bool { return s == kid })
	}
	f, ok := k.inflight[kid]
	if !ok && !k.takeFetchLocked(now) {
		k.mu.Unlock()
		return nil, fmt.Errorf("%w: too many key fetches; retry later", ErrKeyUnavailable)
	}
	if !ok {
		if k.inflight == nil {
			k.inflight = make(map[string]*keyFetch)
		}
		f = &keyFetch{done: make(chan struct{})}
		k.inflight[kid] = f
		// The fetch runs on its own, detached from this caller's
		// cancellation: other callers may be waiting for it, and a
		// cancelled first caller must not fail them all. It is still
		// bounded by keyFetchTimeout.
		go k.fetchShared(context.WithoutCancel(ctx), kid, f)
	}
	k.mu.Unlock()

	select {
	case <-f.done:
		return f.key, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrKeyUnavailable, ctx.Err())
	}
}

// now is Now or time.Now.
func (k *InstallKeys) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// takeFetchLocked spends one fetch of the budget, if there is one. k.mu
// must be held.
func (k *InstallKeys) takeFetchLocked(now time.Time) bool {
	burst := float64(cmp.Or(k.FetchBurst, defaultFetchBurst))
	every := cmp.Or(k.FetchInterval, defaultFetchInterval)
	if !k.started {
		k.started, k.tokens, k.tokensAt = true, burst, now
	}
	if d := now.Sub(k.tokensAt); d > 0 {
		k.tokens = min(burst, k.tokens+float64(d)/float64(every))
		k.tokensAt = now
	}
	if k.tokens < 1 {
		return false
	}
	k.tokens--
	k.fetches++
	return true
}

// FetchStats is a snapshot of an InstallKeys' fetching.
type FetchStats struct {
	Started int64 // fetches admitted by the budget since the start
	Waiting int64 // admitted fetches waiting for one of the concurrent slots
	Running int64 // fetches talking to the key server now
}

// FetchStats returns the current fetch counts, for tests and metrics.
func (k *InstallKeys) FetchStats() FetchStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return FetchStats{Started: k.fetches, Waiting: k.queued, Running: k.running}
}

// count adds to one of the fetch counters under k.mu.
func (k *InstallKeys) count(p *int64, d int64) {
	k.mu.Lock()
	*p += d
	k.mu.Unlock()
}

// rememberUnknownLocked notes that the key server does not know kid. k.mu
// must be held.
func (k *InstallKeys) rememberUnknownLocked(kid string, now time.Time) {
	if k.unknown == nil {
		k.unknown = make(map[string]time.Time)
	}
	for len(k.unkOrder) >= maxUnknownKids {
		// Forgetting a kid early costs at most one more fetch, which the
		// fetch budget bounds.
		delete(k.unknown, k.unkOrder[0])
		k.unkOrder = k.unkOrder[1:]
	}
	k.unknown[kid] = now.Add(cmp.Or(k.NegativeTTL, defaultNegativeTTL))
	k.unkOrder = append(k.unkOrder, kid)
}

// fetchShared runs one fetch for kid, once one of the MaxConcurrentFetches
// slots is free, and publishes its result to f and, on success, to the cache.
func (k *InstallKeys) fetchShared(ctx context.Context, kid string, f *keyFetch) {
	k.mu.Lock()
	if k.slots == nil {
		k.slots = make(chan struct{}, cmp.Or(k.MaxConcurrentFetches, defaultMaxConcurrentFetches))
	}
	slots := k.slots
	k.mu.Unlock()

	var key *rsa.PublicKey
	wait := time.NewTimer(keyFetchTimeout)
	k.count(&k.queued, 1)
	select {
	case slots <- struct{}{}:
		wait.Stop()
		k.count(&k.queued, -1)
		k.count(&k.running, 1)
		key, f.err = k.fetch(ctx, kid)
		k.count(&k.running, -1)
		<-slots
	case <-wait.C:
		k.count(&k.queued, -1)
		f.err = fmt.Errorf("%w: too many key fetches at once", ErrKeyUnavailable)
	}
	err := f.err

	k.mu.Lock()
	if err == nil {
		k.store(kid, key)
	} else if errors.Is(err, ErrInvalidToken) {
		k.rememberUnknownLocked(kid, k.now())
	}
	delete(k.inflight, kid)
	k.mu.Unlock()

	f.key, f.err = key, err
	close(f.done)
}

// store caches key under kid, evicting the oldest entries beyond
// maxCachedKeys. k.mu must be held.
func (k *InstallKeys) store(kid string, key *rsa.PublicKey) {
	if k.keys == nil {
		k.keys = make(map[string]*rsa.PublicKey)
	}
	if _, ok := k.keys[kid]; ok {
		return
	}
	for len(k.order) >= maxCachedKeys {
		delete(k.keys, k.order[0])
		k.order = k.order[1:]
	}
	k.keys[kid] = key
	k.order = append(k.order, kid)
}

// httpClient returns Client, or a default client with a timeout.
func (k *InstallKeys) httpClient() *http.Client {
	if k.Client != nil {
		return k.Client
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client == nil {
		k.client = &http.Client{Timeout: keyFetchTimeout}
	}
	return k.client
}

// fetch gets and parses the key for kid (already validated and lower-cased).
func (k *InstallKeys) fetch(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, keyFetchTimeout)
	defer cancel()

	u := strings.TrimRight(k.BaseURL, "/") + "/" + kid
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: bad key server URL", ErrKeyUnavailable)
	}
	resp, err := k.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyUnavailable, err)
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		drain(resp.Body)
		return nil, invalid("unknown kid")
	default:
		drain(resp.Body)
		return nil, fmt.Errorf("%w: key server answered %d", ErrKeyUnavailable, resp.StatusCode)
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading key: %w", ErrKeyUnavailable, err)
	}
	if len(body) > maxKeyBody {
		return nil, fmt.Errorf("%w: key server answer too large", ErrKeyUnavailable)
	}
	key, err := parseRSAPublicKey(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyUnavailable, err)
	}
	return key, nil
}

// drain reads a little of an unwanted body so the connection can be reused.
func drain(body io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 4<<10))
}

// parseRSAPublicKey parses a PEM "PUBLIC KEY" (PKIX, what Atlassian serves)
// or "RSA PUBLIC KEY" (PKCS #1) block holding an RSA key of at least
// minRSABits.
func parseRSAPublicKey(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("unparsable public key")
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("not an RSA key")
		}
		key = rk
	case "RSA PUBLIC KEY":
		rk, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("unparsable public key")
		}
		key = rk
	default:
		return nil, errors.New("unexpected PEM block type")
	}
	if key.N.BitLen() < minRSABits {
		return nil, errors.New("RSA key too short")
	}
	return key, nil
}

// isUUID reports whether s is 8-4-4-4-12 hexadecimal digits (any case).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// InstallVerifier verifies the RS256 "signed install" token on the installed
// and uninstalled callbacks.
//
// An InstallVerifier is safe for concurrent use.
type InstallVerifier struct {
	// Keys provides Atlassian's public keys by kid. Required.
	Keys *InstallKeys

	// Audience is our baseUrl; the token's aud must contain it, a trailing
	// slash ignored on either side. Required.
	Audience string

	// BasePath is the path of our baseUrl, removed before the qsh is
	// computed.
	BasePath string

	// Leeway is the clock skew allowed on exp, nbf and iat. 0 means 60 s;
	// larger values are capped at 60 s.
	Leeway time.Duration

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// VerifyInstall verifies the signed-install token of r and returns its
// claims. clientKey is the clientKey of the request body, which the token's
// iss must equal: that is what binds the (otherwise unsigned) body to the
// signature.
//
// The token must come in "Authorization: JWT <token>"; a jwt query parameter
// is refused, since Atlassian never sends one on these callbacks. The alg
// header must be exactly RS256 and the kid header a UUID, both checked before
// any key is fetched. Then the signature is verified with the key for kid,
// exp is required, iat must not be in the future, aud must contain Audience
// and qsh must match the request (method, path as sent minus BasePath, raw
// query).
//
// Errors: ErrNoToken, ErrInvalidToken (wrapping the reason),
// ErrKeyUnavailable.
func (v *InstallVerifier) VerifyInstall(ctx context.Context, r *http.Request, clientKey string) (*HostClaims, error) {
	if v.Keys == nil || v.Audience == "" {
		return nil, errors.New("connect: InstallVerifier needs Keys and Audience")
	}
	tok, present, err := headerToken(r.Header)
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, ErrNoToken
	}
	if tok == "" {
		return nil, invalid("empty token")
	}
	if len(tok) > maxTokenLen {
		return nil, invalid("token too long")
	}
	inQuery := false
	if err := parseQuery(r.URL.RawQuery, func(name, _ string) { inQuery = inQuery || name == "jwt" }); err != nil {
		return nil, fmt.Errorf("%w (%w)", ErrInvalidToken, err)
	}
	if inQuery {
		return nil, invalid("jwt query parameter on a signed install")
	}
	if clientKey == "" {
		return nil, invalid("no client key to match iss")
	}

	// Decide on the algorithm and the kid before fetching anything: a token
	// must not be able to make us fetch keys it could not use anyway.
	t, _, err := jwt.NewParser().ParseUnverified(tok, &HostClaims{})
	if err != nil {
		return nil, jwtFailure(err)
	}
	if alg, _ := t.Header["alg"].(string); alg != jwt.SigningMethodRS256.Alg() {
		return nil, invalid("algorithm is not RS256")
	}
	if !hostTypOK(t) {
		return nil, invalid("wrong token type")
	}
	kid, _ := t.Header["kid"].(string)
	if !isUUID(kid) {
		return nil, invalid("kid is not a UUID")
	}
	key, err := v.Keys.Key(ctx, kid)
	if err != nil {
		return nil, err
	}

	claims := &HostClaims{}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(clientKey),
		jwt.WithLeeway(clampLeeway(v.Leeway)),
		jwt.WithTimeFunc(clock(v.Now)),
	)
	_, err = p.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		// Same token string as above, so the same kid; checked anyway so
		// the key can never be used for a token naming another.
		if got, _ := t.Header["kid"].(string); got != kid {
			return nil, reason("kid changed")
		}
		return key, nil
	})
	if err != nil {
		return nil, jwtFailure(err)
	}
	if !audienceContains(claims.Audience, v.Audience) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, jwt.ErrTokenInvalidAudience)
	}
	if err := checkQSH(claims.QSH, r, v.BasePath); err != nil {
		return nil, err
	}
	return claims, nil
}

// audienceContains reports whether aud names want, ignoring one trailing
// slash on either side (Atlassian's aud is our baseUrl as the host stored
// it, with or without one). golang-jwt's WithAudience compares exactly,
// hence this check of our own.
func audienceContains(aud jwt.ClaimStrings, want string) bool {
	want = strings.TrimSuffix(want, "/")
	if want == "" {
		return false
	}
	for _, a := range aud {
		if strings.TrimSuffix(a, "/") == want {
			return true
		}
	}
	return false
}
