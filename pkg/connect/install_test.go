package connect_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-secrets/secrets/pkg/connect"
)

const (
	installKid      = "7d3e7a4c-1f7b-4c2e-9a63-2b8f3c1d0e5a"
	unknownKid      = "00000000-0000-4000-8000-000000000000"
	installAudience = "https://secrets.example.com/app"
	installTarget   = "/app/jira/installed"
	installClient   = "a1b2c3d4-0000-1111-2222-333344445555"
)

// keyServer is a fake connect-install-keys server. It serves pem for the
// kids in keys (or for any UUID when serveAll), 404 otherwise, and counts
// requests per path.
type keyServer struct {
	*httptest.Server
	mu       sync.Mutex
	keys     map[string][]byte
	serveAll []byte
	status   int           // when non-zero, answered instead
	block    chan struct{} // when non-nil, requests wait for it
	hits     map[string]int
	total    atomic.Int64
	arrived  chan struct{} // when non-nil, signalled on each request
}

func newKeyServer(tb testing.TB) *keyServer {
	tb.Helper()
	ks := &keyServer{keys: map[string][]byte{}, hits: map[string]int{}}
	ks.Server = httptest.NewServer(http.HandlerFunc(ks.serve))
	tb.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.total.Add(1)
	ks.mu.Lock()
	ks.hits[r.URL.Path]++
	block, arrived, status := ks.block, ks.arrived, ks.status
	body, ok := ks.keys[strings.TrimPrefix(r.URL.Path, "/")]
	if !ok && ks.serveAll != nil {
		body, ok = ks.serveAll, true
	}
	ks.mu.Unlock()

	if arrived != nil {
		arrived <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case status != 0:
		w.WriteHeader(status)
	case !ok:
		http.NotFound(w, r)
	default:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}
}

func (ks *keyServer) set(f func(ks *keyServer)) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	f(ks)
}

// installFixture is a key server holding key A under installKid and an
// InstallVerifier using it.
func installFixture(t *testing.T) (*keyServer, *connect.InstallVerifier) {
	t.Helper()
	a, _ := rsaKeys(t)
	ks := newKeyServer(t)
	ks.keys[installKid] = publicPEM(t, &a.PublicKey)
	return ks, &connect.InstallVerifier{
		Keys:     connect.NewInstallKeys(ks.URL, ks.Client()),
		Audience: installAudience,
		BasePath: "/app",
		Now:      fixedNow,
	}
}

func installClaims(tb testing.TB) *connect.HostClaims {
	tb.Helper()
	return &connect.HostClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    installClient,
			Audience:  jwt.ClaimStrings{installAudience},
			IssuedAt:  jwt.NewNumericDate(testNow.Add(-5 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(testNow.Add(175 * time.Second)),
		},
		QSH: mustQSH(tb, "POST", installTarget, "/app"),
	}
}

func installRequest(tok string) *http.Request {
	r := httptest.NewRequest("POST", installTarget, strings.NewReader(`{}`))
	if tok != "" {
		r.Header.Set("Authorization", "JWT "+tok)
	}
	return r
}

func rs256(tb testing.TB, key *rsa.PrivateKey, kid string, c jwt.Claims) string {
	tb.Helper()
	h := map[string]any{"kid": kid}
	if kid == "" {
		h["kid"] = nil
	}
	return sign(tb, jwt.SigningMethodRS256, key, h, c)
}

func TestVerifyInstallValid(t *testing.T) {
	a, _ := rsaKeys(t)
	tests := []struct {
		name     string
		audience string
		aud      jwt.ClaimStrings
		kid      string
	}{
		{"exact audience", installAudience, jwt.ClaimStrings{installAudience}, installKid},
		{"aud with trailing slash", installAudience, jwt.ClaimStrings{installAudience + "/"}, installKid},
		{"Audience with trailing slash", installAudience + "/", jwt.ClaimStrings{installAudience}, installKid},
		{"one of several audiences", installAudience, jwt.ClaimStrings{"https://other.example", installAudience}, installKid},
		{"upper-case kid", installAudience, jwt.ClaimStrings{installAudience}, strings.ToUpper(installKid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, v := installFixture(t)
			v.Audience = tt.audience
			c := installClaims(t)
			c.Audience = tt.aud
			got, err := v.VerifyInstall(context.Background(), installRequest(rs256(t, a, tt.kid, c)), installClient)
			if err != nil {
				t.Fatalf("VerifyInstall: %v", err)
			}
			if got.Issuer != installClient {
				t.Errorf("iss = %q", got.Issuer)
			}
			if n := ks.hits["/"+installKid]; n != 1 {
				t.Errorf("key fetched %d times from /%s, want 1", n, installKid)
			}
		})
	}
}

func TestVerifyInstallRefuses(t *testing.T) {
	a, b := rsaKeys(t)
	good := installClaims(t)
	with := func(f func(c *connect.HostClaims)) *connect.HostClaims {
		c := *good
		f(&c)
		return &c
	}
	pemA := publicPEM(t, &a.PublicKey)

	tests := []struct {
		name string
		r    *http.Request
		want error
		// fetches is how many requests the key server may see.
		fetches int64
	}{
		{"HS256 keyed with the public key PEM", installRequest(sign(t, jwt.SigningMethodHS256, pemA, map[string]any{"kid": installKid}, good)), connect.ErrInvalidToken, 0},
		{"alg none", installRequest(sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": installKid}, good)), connect.ErrInvalidToken, 0},
		{"RS384", installRequest(sign(t, jwt.SigningMethodRS384, a, map[string]any{"kid": installKid}, good)), connect.ErrInvalidToken, 0},
		{"PS256", installRequest(sign(t, jwt.SigningMethodPS256, a, map[string]any{"kid": installKid}, good)), connect.ErrInvalidToken, 0},
		{"signed by another key", installRequest(rs256(t, b, installKid, good)), connect.ErrInvalidToken, 1},
		{"tampered payload", installRequest(func() string {
			parts := strings.Split(rs256(t, a, installKid, good), ".")
			parts[1] = strings.Split(rs256(t, b, installKid, with(func(c *connect.HostClaims) { c.Issuer = "evil" })), ".")[1]
			return strings.Join(parts, ".")
		}()), connect.ErrInvalidToken, 1},
		{"no kid", installRequest(rs256(t, a, "", good)), connect.ErrInvalidToken, 0},
		{"kid is a path", installRequest(rs256(t, a, "../../admin?x=7d3e7a4c-1f7b-4c2e-9a63", good)), connect.ErrInvalidToken, 0},
		{"kid almost a UUID", installRequest(rs256(t, a, "7d3e7a4c-1f7b-4c2e-9a63-2b8f3c1d0e5g", good)), connect.ErrInvalidToken, 0},
		{"kid UUID without dashes", installRequest(rs256(t, a, "7d3e7a4c1f7b4c2e9a632b8f3c1d0e5a", good)), connect.ErrInvalidToken, 0},
		{"kid not a string", installRequest(sign(t, jwt.SigningMethodRS256, a, map[string]any{"kid": 42}, good)), connect.ErrInvalidToken, 0},
		{"unknown kid", installRequest(rs256(t, a, unknownKid, good)), connect.ErrInvalidToken, 1},
		{"wrong aud", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) {
			c.Audience = jwt.ClaimStrings{"https://secrets.example.com/app2"}
		}))), jwt.ErrTokenInvalidAudience, 1},
		{"aud a prefix of ours", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) {
			c.Audience = jwt.ClaimStrings{"https://secrets.example.com"}
		}))), jwt.ErrTokenInvalidAudience, 1},
		{"no aud", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) { c.Audience = nil }))), jwt.ErrTokenInvalidAudience, 1},
		{"iss is not the clientKey", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) { c.Issuer = "another-client" }))), jwt.ErrTokenInvalidIssuer, 1},
		{"expired", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) {
			c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-2 * time.Minute))
		}))), jwt.ErrTokenExpired, 1},
		{"no exp", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) { c.ExpiresAt = nil }))), jwt.ErrTokenRequiredClaimMissing, 1},
		{"qsh of another callback", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) {
			c.QSH = mustQSH(t, "POST", "/app/jira/uninstalled", "/app")
		}))), connect.ErrInvalidToken, 1},
		{"qsh of a GET", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) {
			c.QSH = mustQSH(t, "GET", installTarget, "/app")
		}))), connect.ErrInvalidToken, 1},
		{"context-qsh", installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) { c.QSH = connect.ContextQSH }))), connect.ErrInvalidToken, 1},
		{"token only in ?jwt=", httptest.NewRequest("POST", installTarget+"?jwt="+rs256(t, a, installKid, good), nil), connect.ErrNoToken, 0},
		{"token in header and ?jwt=", func() *http.Request {
			tok := rs256(t, a, installKid, good)
			r := httptest.NewRequest("POST", installTarget+"?jwt="+tok, nil)
			r.Header.Set("Authorization", "JWT "+tok)
			return r
		}(), connect.ErrInvalidToken, 0},
		{"no token", installRequest(""), connect.ErrNoToken, 0},
		{"garbage", installRequest("a.b.c"), connect.ErrInvalidToken, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, v := installFixture(t)
			c, err := v.VerifyInstall(context.Background(), tt.r, installClient)
			if err == nil {
				t.Fatalf("VerifyInstall accepted: %+v", c)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			t.Log(err)
			if errors.Is(err, connect.ErrKeyUnavailable) {
				t.Errorf("a bad token reported as an outage: %v", err)
			}
			if n := ks.total.Load(); n != tt.fetches {
				t.Errorf("key server saw %d requests, want %d", n, tt.fetches)
			}
			assertNoSecret(t, err, strings.TrimPrefix(tt.r.Header.Get("Authorization"), "JWT "))
		})
	}

	t.Run("empty clientKey", func(t *testing.T) {
		_, v := installFixture(t)
		_, err := v.VerifyInstall(context.Background(), installRequest(rs256(t, a, installKid, with(func(c *connect.HostClaims) { c.Issuer = "" }))), "")
		if !errors.Is(err, connect.ErrInvalidToken) {
			t.Fatalf("error = %v, want ErrInvalidToken", err)
		}
	})
}

func TestVerifyInstallKeyUnavailable(t *testing.T) {
	a, _ := rsaKeys(t)
	tok := rs256(t, a, installKid, installClaims(t))
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		setup func(t *testing.T, ks *keyServer, v *connect.InstallVerifier)
	}{
		{"500", func(t *testing.T, ks *keyServer, v *connect.InstallVerifier) {
			ks.set(func(ks *keyServer) { ks.status = http.StatusInternalServerError })
		}},
		{"403", func(t *testing.T, ks *keyServer, v *connect.InstallVerifier) {
			ks.set(func(ks *keyServer) { ks.status = http.StatusForbidden })
		}},
		{"client timeout", func(t *testing.T, ks *keyServer, v *connect.InstallVerifier) {
			ks.set(func(ks *keyServer) { ks.block = make(chan struct{}) })
			c := ks.Client()
			c.Timeout = 50 * time.Millisecond
			v.Keys = connect.NewInstallKeys(ks.URL, c)
		}},
		{"server closed", func(t *testing.T, ks *keyServer, v *connect.InstallVerifier) {
			ks.Close()
		}},
		{"not PEM", func(t *testing.T, ks *keyServer, v *connect.InstallVerifier) {
			ks.set(func(ks *keyServer) { ks.keys[installKid] = []byte("<html>maintenance</html>") })
		}},
		{"PEM of the wrong type", func(t *testing.T, ks *keyServer, v *connect.InstallVerifier) {
			ks.set(func(ks *keyServer) {
				ks.keys[installKid] = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
			})
		}},
		{"RSA key too short", func(t *testing.T, ks *keyServer, v *connect.InstallVerifier) {
			ks.set(func(ks *keyServer) { ks.keys[installKid] = publicPEM(t, &short.PublicKey) })
		}},
		{"answer too large", func(t *testing.T, ks *keyServer, v *connect.InstallVerifier) {
			ks.set(func(ks *keyServer) {
				ks.keys[installKid] = append(publicPEM(t, &a.PublicKey), strings.Repeat("\n", 17<<10)...)
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, v := installFixture(t)
			tt.setup(t, ks, v)
			_, err := v.VerifyInstall(context.Background(), installRequest(tok), installClient)
			if !errors.Is(err, connect.ErrKeyUnavailable) {
				t.Fatalf("error = %v, want ErrKeyUnavailable", err)
			}
			if errors.Is(err, connect.ErrInvalidToken) {
				t.Errorf("an outage reported as a bad token: %v", err)
			}
		})
	}

	t.Run("caller's context ends", func(t *testing.T) {
		ks, v := installFixture(t)
		ks.set(func(ks *keyServer) { ks.block = make(chan struct{}) })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := v.VerifyInstall(ctx, installRequest(tok), installClient)
		if !errors.Is(err, connect.ErrKeyUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want ErrKeyUnavailable wrapping the deadline", err)
		}
		ks.set(func(ks *keyServer) { close(ks.block) })
	})
}

func TestInstallKeys(t *testing.T) {
	a, _ := rsaKeys(t)
	pemA := publicPEM(t, &a.PublicKey)

	t.Run("cached by kid", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.keys[installKid] = pemA
		k := connect.NewInstallKeys(ks.URL+"/", ks.Client())
		for i := range 3 {
			key, err := k.Key(context.Background(), installKid)
			if err != nil {
				t.Fatalf("Key #%d: %v", i, err)
			}
			if !key.Equal(&a.PublicKey) {
				t.Fatalf("Key #%d returned another key", i)
			}
		}
		if _, err := k.Key(context.Background(), strings.ToUpper(installKid)); err != nil {
			t.Fatal(err)
		}
		if n := ks.total.Load(); n != 1 {
			t.Errorf("key server saw %d requests, want 1", n)
		}
		if n := ks.hits["/"+installKid]; n != 1 {
			t.Errorf("trailing slash of BaseURL not handled: hits = %v", ks.hits)
		}
	})

	t.Run("verify twice fetches once", func(t *testing.T) {
		ks, v := installFixture(t)
		tok := rs256(t, a, installKid, installClaims(t))
		for range 2 {
			if _, err := v.VerifyInstall(context.Background(), installRequest(tok), installClient); err != nil {
				t.Fatal(err)
			}
		}
		if n := ks.total.Load(); n != 1 {
			t.Errorf("key server saw %d requests, want 1", n)
		}
	})

	t.Run("failures not cached", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.keys[installKid] = pemA
		ks.status = http.StatusServiceUnavailable
		k := connect.NewInstallKeys(ks.URL, ks.Client())
		if _, err := k.Key(context.Background(), installKid); !errors.Is(err, connect.ErrKeyUnavailable) {
			t.Fatalf("error = %v, want ErrKeyUnavailable", err)
		}
		ks.set(func(ks *keyServer) { ks.status = 0 })
		if _, err := k.Key(context.Background(), installKid); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
		if _, err := k.Key(context.Background(), unknownKid); !errors.Is(err, connect.ErrInvalidToken) {
			t.Fatalf("unknown kid: %v", err)
		}
		// A 404 is remembered for NegativeTTL (forged kids must not each
		// cost a fetch), and asked again after it.
		ks.set(func(ks *keyServer) { ks.keys[unknownKid] = pemA })
		before := ks.total.Load()
		if _, err := k.Key(context.Background(), unknownKid); !errors.Is(err, connect.ErrInvalidToken) {
			t.Fatalf("unknown kid within NegativeTTL: %v", err)
		}
		if got := ks.total.Load(); got != before {
			t.Errorf("unknown kid fetched again within NegativeTTL")
		}
		k.Now = func() time.Time { return time.Now().Add(11 * time.Minute) }
		if _, err := k.Key(context.Background(), unknownKid); err != nil {
			t.Fatalf("404 still cached after NegativeTTL: %v", err)
		}
	})

	t.Run("cache bounded", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.serveAll = pemA
		k := connect.NewInstallKeys(ks.URL, ks.Client())
		k.FetchBurst = 1000 // this test is about the cache, not the fetch budget
		kid := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }
		const n = 65 // one more than the cache holds
		for i := range n {
			if _, err := k.Key(context.Background(), kid(i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := ks.total.Load(); got != n {
			t.Fatalf("key server saw %d requests, want %d", got, n)
		}
		// The newest entries are still cached...
		for i := 1; i < n; i++ {
			if _, err := k.Key(context.Background(), kid(i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := ks.total.Load(); got != n {
			t.Errorf("recent kids refetched: %d requests, want %d", got, n)
		}
		// ...and the oldest was evicted.
		if _, err := k.Key(context.Background(), kid(0)); err != nil {
			t.Fatal(err)
		}
		if got := ks.total.Load(); got != n+1 {
			t.Errorf("oldest kid not evicted: %d requests, want %d", got, n+1)
		}
	})

	t.Run("concurrent callers share one fetch", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.keys[installKid] = pemA
		ks.block = make(chan struct{})
		ks.arrived = make(chan struct{}, 16)
		k := connect.NewInstallKeys(ks.URL, ks.Client())

		const callers = 8
		var started, done sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			started.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				started.Done()
				_, err := k.Key(context.Background(), installKid)
				errs <- err
			}()
		}
		started.Wait()
		<-ks.arrived // the fetch is in flight; everyone else must join it
		close(ks.block)
		done.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Key: %v", err)
			}
		}
		if n := ks.total.Load(); n != 1 {
			t.Errorf("key server saw %d requests, want 1", n)
		}
	})

	t.Run("a cancelled caller does not fail the others", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.keys[installKid] = pemA
		ks.block = make(chan struct{})
		ks.arrived = make(chan struct{}, 1)
		k := connect.NewInstallKeys(ks.URL, ks.Client())

		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan error, 1)
		go func() {
			_, err := k.Key(ctx, installKid)
			first <- err
		}()
		<-ks.arrived
		second := make(chan error, 1)
		go func() {
			_, err := k.Key(context.Background(), installKid)
			second <- err
		}()
		cancel()
		if err := <-first; !errors.Is(err, connect.ErrKeyUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller: %v", err)
		}
		close(ks.block)
		if err := <-second; err != nil {
			t.Errorf("second caller: %v", err)
		}
		if n := ks.total.Load(); n != 1 {
			t.Errorf("key server saw %d requests, want 1", n)
		}
	})

	t.Run("bad kid never fetched", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.serveAll = pemA
		k := connect.NewInstallKeys(ks.URL, ks.Client())
		for _, kid := range []string{"", "x", "../" + installKid[3:], installKid + "/", installKid[:35] + "%", " " + installKid[1:]} {
			if _, err := k.Key(context.Background(), kid); !errors.Is(err, connect.ErrInvalidToken) {
				t.Errorf("Key(%q) error = %v, want ErrInvalidToken", kid, err)
			}
		}
		if n := ks.total.Load(); n != 0 {
			t.Errorf("key server saw %d requests, want 0", n)
		}
	})

	t.Run("PKCS1 PEM accepted", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.keys[installKid] = x509MarshalPKCS1(&a.PublicKey)
		k := connect.NewInstallKeys(ks.URL, ks.Client())
		key, err := k.Key(context.Background(), installKid)
		if err != nil {
			t.Fatal(err)
		}
		if !key.Equal(&a.PublicKey) {
			t.Error("wrong key")
		}
	})
}
