package forge

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
)

// DefaultJWKSURL is where the Forge platform publishes the public keys of
// its invocation tokens in production.
const DefaultJWKSURL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"

// Errors of KeySet. They never quote the kid, which the token's sender
// chose.
var (
	// ErrUnknownKey: the token names a key the platform does not publish.
	ErrUnknownKey = errors.New("forge: unknown signing key")
	// ErrKeysUnavailable: no key set could be fetched yet; the caller should
	// answer 503 rather than 401, since the token may well be good.
	ErrKeysUnavailable = errors.New("forge: the platform's key set is unavailable")
)

// maxJWKSBody bounds a JWKS response; Atlassian's is a few KiB.
const maxJWKSBody = 1 << 20

// KeySetConfig configures a KeySet. Zero values take the defaults.
type KeySetConfig struct {
	// URL of the JWKS; DefaultJWKSURL when empty.
	URL string
	// Client fetches it; nil means a client that does not follow
	// redirects. Its own Timeout, if any, applies too.
	Client *http.Client
	// MinTTL and MaxTTL clamp the response's Cache-Control max-age; a
	// response without one is kept for MinTTL. Defaults 5 min and 24 h.
	MinTTL, MaxTTL time.Duration
	// Cooldown is the least time between two fetches that a token (an
	// unknown kid, an expired set) may cause. Default 1 min.
	Cooldown time.Duration
	// Timeout bounds one fetch. Default 5 s.
	Timeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnFetch, when set, is told the outcome of every fetch (nil for a good
	// one), for logging. The error holds no key material.
	OnFetch func(err error)
}

// KeySet is the Forge platform's key set, cached. It is safe for concurrent
// use; create it with NewKeySet.
type KeySet struct {
	cfg KeySetConfig

	mu          sync.Mutex
	current     keyfunc.Keyfunc // the last good set; nil before the first
	expires     time.Time       // when current should be refetched
	lastAttempt time.Time       // start of the last fetch, good or not
	fetching    bool            // a fetch is in flight; callers join it

	flight  singleflight.Group
	fetches atomic.Int64
}

// NewKeySet returns a KeySet for cfg. It fetches nothing until the first
// token arrives (or Prefetch is called).
func NewKeySet(cfg KeySetConfig) *KeySet {
	if cfg.URL == "" {
		cfg.URL = DefaultJWKSURL
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.MinTTL <= 0 {
		cfg.MinTTL = 5 * time.Minute
	}
	if cfg.MaxTTL < cfg.MinTTL {
		cfg.MaxTTL = max(24*time.Hour, cfg.MinTTL)
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &KeySet{cfg: cfg}
}

// Fetches returns how many times the JWKS URL has been fetched.
func (k *KeySet) Fetches() int64 { return k.fetches.Load() }

// Prefetch fetches the key set now, as at start-up.
func (k *KeySet) Prefetch(ctx context.Context) error {
	_, err := k.refresh(ctx)
	return err
}

// Keyfunc returns the jwt.Keyfunc that finds a token's RSA key by its kid.
// A token without a kid is refused: Forge always names its key.
func (k *KeySet) Keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" || len(kid) > 256 {
			return nil, ErrUnknownKey
		}
		kf, err := k.setFor(ctx, kid)
		if err != nil {
			return nil, err
		}
		key, err := kf.KeyfuncCtx(ctx)(t)
		if err != nil {
			return nil, ErrUnknownKey
		}
		// Only RSA public keys verify a FIT; the parser pins RS256 too.
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, ErrUnknownKey
		}
		return pub, nil
	}
}

// setFor returns a key set that holds kid, fetching when the cached set is
// missing, stale, or lacks kid, within the cooldown.
func (k *KeySet) setFor(ctx context.Context, kid string) (keyfunc.Keyfunc, error) {
	now := k.cfg.Now()
	k.mu.Lock()
	cur, expires, last, fetching := k.current, k.expires, k.lastAttempt, k.fetching
	k.mu.Unlock()

	// Joining a fetch in flight costs no extra fetch.
	cooled := fetching || last.IsZero() || now.Sub(last) >= k.cooldown(cur)
	if (cur == nil || !now.Before(expires)) && cooled {
		if fresh, err := k.refresh(ctx); err == nil {
			cur, cooled = fresh, false
		}
	}
	if cur == nil {
		return nil, ErrKeysUnavailable
	}
	if has(ctx, cur, kid) {
		return cur, nil
	}
	if !cooled {
		return nil, ErrUnknownKey
	}
	// A rotation may have published kid since the last fetch. The cooldown
	// keeps a stream of made-up kids from turning into a stream of fetches.
	fresh, err := k.refresh(ctx)
	if err != nil || !has(ctx, fresh, kid) {
		return nil, ErrUnknownKey
	}
	return fresh, nil
}

// cooldown is the wait between token-caused fetches; before the first good
// set it is short, so a server that starts during an outage recovers soon.
func (k *KeySet) cooldown(cur keyfunc.Keyfunc) time.Duration {
	if cur == nil {
		return min(k.cfg.Cooldown, 5*time.Second)
	}
	return k.cfg.Cooldown
}

func has(ctx context.Context, kf keyfunc.Keyfunc, kid string) bool {
	_, err := kf.Storage().KeyRead(ctx, kid)
	return err == nil
}

// refresh fetches the set once for all concurrent callers. On failure the
// last good set stays in place.
func (k *KeySet) refresh(ctx context.Context) (keyfunc.Keyfunc, error) {
	v, err, _ := k.flight.Do("jwks", func() (any, error) {
		k.mu.Lock()
		k.lastAttempt, k.fetching = k.cfg.Now(), true
		k.mu.Unlock()
		defer func() {
			k.mu.Lock()
			k.fetching = false
			k.mu.Unlock()
		}()
		// One caller's cancellation must not fail the others' fetch.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.Timeout)
		defer cancel()
		kf, ttl, err := k.fetch(fctx)
		if k.cfg.OnFetch != nil {
			k.cfg.OnFetch(err)
		}
		if err != nil {
			return nil, err
		}
		k.mu.Lock()
		k.current, k.expires = kf, k.cfg.Now().Add(ttl)
		k.mu.Unlock()
		return kf, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(keyfunc.Keyfunc), nil
}

// fetch GETs the JWKS and builds a keyfunc over its usable keys.
func (k *KeySet) fetch(ctx context.Context) (keyfunc.Keyfunc, time.Duration, error) {
	k.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.cfg.URL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("forge: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := k.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("forge: fetching the JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("forge: fetching the JWKS: status %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("forge: reading the JWKS: %w", err)
	}
	if len(body) > maxJWKSBody {
		return nil, 0, errors.New("forge: the JWKS is too large")
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, errors.New("forge: the JWKS is not valid JSON")
	}
	store := jwkset.NewMemoryStorage()
	n := 0
	for _, m := range set.Keys {
		// Keys of other types or uses may join the set one day; they are
		// skipped, not fatal.
		if m.KTY != jwkset.KtyRSA || (m.USE != "" && m.USE != jwkset.UseSig) || m.KID == "" {
			continue
		}
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			continue
		}
		if err := store.KeyWrite(ctx, jwk); err != nil {
			return nil, 0, fmt.Errorf("forge: storing a key: %w", err)
		}
		n++
	}
	if n == 0 {
		return nil, 0, errors.New("forge: the JWKS holds no usable RSA signing key")
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: context.Background(), Storage: store})
	if err != nil {
		return nil, 0, fmt.Errorf("forge: %w", err)
	}
	return kf, k.ttl(res.Header.Get("Cache-Control")), nil
}

// ttl is the response's max-age clamped to [MinTTL, MaxTTL].
func (k *KeySet) ttl(cacheControl string) time.Duration {
	ttl := k.cfg.MinTTL
	for _, d := range strings.Split(cacheControl, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		if !strings.EqualFold(name, "max-age") {
			continue
		}
		if secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && secs >= 0 {
			ttl = time.Duration(min(secs, int64(365*24*3600))) * time.Second
		}
	}
	return min(max(ttl, k.cfg.MinTTL), k.cfg.MaxTTL)
}
