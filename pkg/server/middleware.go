package server

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// edge is the one middleware of every request, matched or not: it gives the
// request an id and a logger, sets the security headers, turns a panic into a
// logged internal error, renders a handler's error (so the status is final),
// and then counts, times and logs the request. It is one layer rather than
// four because echo applies e.Use middleware anew on every request: each
// layer cost a closure and a call per request on the hottest path.
//
// The log line has the route and path but never the query string, which
// carries host tokens. routes reports whether a template is one the server
// registered; anything else is "unmatched" in the metrics (echo reports the
// raw path for requests no route matched, which a client chooses).
func (s *Server) edge(routes func(string) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			id := newRequestID()
			// Shared, never-modified value slices: Header.Set would allocate
			// one per header per request. net/http only reads them, and an
			// Add by anyone later appends to a full slice, which copies.
			h := c.Response().Header()
			h[echo.HeaderXRequestID] = []string{id}
			h[echo.HeaderXContentTypeOptions] = nosniff
			// Module URLs carry host tokens in their query; never leak them.
			h[referrerPolicy] = noReferrer
			log := s.log.With().Str("request_id", id).Logger()
			req := c.Request()
			c.SetRequest(req.WithContext(log.WithContext(req.Context())))
			if err := s.recovering(next, c); err != nil {
				c.Error(err)
			}
			res := c.Response()
			elapsed := time.Since(start)
			if s.metrics != nil {
				s.metrics.record(c.Path(), req.Method, res.Status, elapsed, routes)
			}
			lvl := zerolog.InfoLevel
			if res.Status >= 500 {
				lvl = zerolog.ErrorLevel
			}
			log.WithLevel(lvl).
				Str("method", req.Method).
				Str("route", c.Path()).
				Str("path", req.URL.EscapedPath()).
				Int("status", res.Status).
				Int64("bytes", res.Size).
				Dur("duration", elapsed).
				Msg("request")
			return nil
		}
	}
}

// Header names and values edge and noStore set on every response.
const referrerPolicy = "Referrer-Policy"

var (
	nosniff    = []string{"nosniff"}
	noReferrer = []string{"no-referrer"}
	noStoreVal = []string{"no-store"}
)

// newRequestID returns 24 hex digits from the runtime's per-thread ChaCha8
// generator. A request id correlates log lines and is no credential, so it
// needs uniqueness, not a getrandom call on every request.
func newRequestID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], mrand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], mrand.Uint32())
	return hex.EncodeToString(b[:])
}

// recovering runs next, turning a panic into a logged internal error. The
// panic value is logged as a type and a stack only: it might hold request
// data. http.ErrAbortHandler is net/http's own way to abort and goes on.
func (s *Server) recovering(next echo.HandlerFunc, c echo.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			zerolog.Ctx(c.Request().Context()).Error().
				Str("panic_type", fmt.Sprintf("%T", r)).
				Bytes("stack", debug.Stack()).
				Msg("handler panicked")
			err = secrets.Internal(fmt.Errorf("panic of type %T", r))
		}
	}()
	return next(c)
}

// noStore marks responses that may carry secret content or tokens.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header()[echo.HeaderCacheControl] = noStoreVal
		return next(c)
	}
}

const actorKey = "actor"

// requireSession admits API requests that carry a valid session token of
// ours ("Authorization: JWT <token>") and puts the Actor it names in the
// context. Host tokens, context tokens and expired sessions are refused.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "JWT ")
		if !ok || token == "" {
			return secrets.Errorf(secrets.CodeUnauthorized, "A session token is required.")
		}
		claims, err := s.sessions.Verify(token)
		if err != nil {
			if errors.Is(err, connect.ErrSessionExpired) {
				return secrets.Errorf(secrets.CodeUnauthorized, "Your session expired. Reload the page.")
			}
			return secrets.Errorf(secrets.CodeUnauthorized, "The session token is not valid.")
		}
		ctr := secrets.Container(claims.Container)
		if ctr != secrets.AdminContainer && string(ctr.Product()) != claims.Product {
			return secrets.Errorf(secrets.CodeUnauthorized, "The session token is not valid.")
		}
		lic := secrets.Licence(claims.Licence)
		if !lic.Valid() {
			return secrets.Errorf(secrets.CodeUnauthorized, "The session token is not valid.")
		}
		a := secrets.Actor{
			ClientKey: claims.Tenant, AccountID: claims.Subject, Container: ctr, Location: claims.Label,
			Since: time.Unix(claims.Origin, 0), Licence: lic,
		}
		c.Set(actorKey, a)
		if s.actorContext != nil {
			c.SetRequest(c.Request().WithContext(s.actorContext(c.Request().Context(), a)))
		}
		c.Set(sessionClaimsKey, claims)
		c.Set(sessionTokenKey, token)
		return next(c)
	}
}

// Context keys of the verified session's claims and its raw token.
const (
	sessionClaimsKey = "session"
	sessionTokenKey  = "session-token"
)

// limitWrites admits a create or password change of the verified actor, or
// refuses it with rate_limited: each one is an argon2 derivation, so a user
// (or a tenant) sending them in a loop would otherwise take the key
// derivation memory every other tenant's unlock waits for.
func (s *Server) limitWrites(c echo.Context) error {
	a := actor(c)
	// Length-prefixed, so no pair of (tenant, account) can spell another's key.
	user := strconv.Itoa(len(a.ClientKey)) + ":" + a.ClientKey + a.AccountID
	if ok, wait := s.writesByUser.allow(user); !ok {
		return rateLimited(wait)
	}
	if ok, wait := s.writesByTenant.allow(a.ClientKey); !ok {
		s.writesByUser.refund(user) // a refused write costs the user nothing
		return rateLimited(wait)
	}
	return nil
}

// limitLifecycle bounds lifecycle callbacks per peer address and in total
// before anything is parsed or verified: until its signature is checked a
// callback is anyone's, and checking a signed install may cost a fetch from
// Atlassian's key server. Refusals are 429 with Retry-After, which Atlassian
// retries.
func (s *Server) limitLifecycle(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// The peer address (IPExtractor is ExtractIPDirect), never a
		// forwarded header the caller could vary at will.
		if ok, wait := s.lifecycleByIP.allow(c.RealIP()); !ok {
			return rateLimited(wait)
		}
		if ok, wait := s.lifecycleAll.allow(""); !ok {
			s.lifecycleByIP.refund(c.RealIP())
			return rateLimited(wait)
		}
		return next(c)
	}
}

func rateLimited(wait time.Duration) error {
	return &secrets.Error{Code: secrets.CodeRateLimited, Message: "Too many requests. Try again shortly.", RetryAfter: wait}
}

func actor(c echo.Context) secrets.Actor {
	a, _ := c.Get(actorKey).(secrets.Actor)
	return a
}
