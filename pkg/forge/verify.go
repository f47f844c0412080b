package forge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Products, as Invocation.Product names them. They equal the values of
// secrets.Product, which this package does not import.
const (
	ProductJira       = "jira"
	ProductConfluence = "confluence"
)

// DefaultAPIBase is the origin of apiBaseUrl in production.
const DefaultAPIBase = "https://api.atlassian.com"

// ErrInvalidToken: the FIT is missing or does not verify. Its wrapped reason
// is fixed text, safe to log; the caller answers 401.
var ErrInvalidToken = errors.New("forge: invalid invocation token")

// App is one of our Forge apps as this deployment knows it.
type App struct {
	// Product is ProductJira or ProductConfluence.
	Product string
	// ID is the app's ARI, ari:cloud:ecosystem::app/<uuid>, from `forge
	// register`. It is the only aud accepted for this app.
	ID string
	// UIModules are the keys of the modules whose calls may use the secrets
	// API: the issue panel, the macro.
	UIModules []string
	// AdminModules are the keys of the admin modules (jira:adminPage,
	// confluence:globalSettings).
	AdminModules []string
	// MacroKey is the Confluence macro's module key; a page's extension
	// node must name it. Empty for Jira.
	MacroKey string
}

// UUID returns the uuid part of the app's ARI.
func (a App) UUID() string { return ariTail(a.ID, "ari:cloud:ecosystem::app/") }

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Apps are our apps, one per product.
	Apps []App
	// Environments are the environment ids this deployment serves. Dev,
	// staging and production FITs share aud, so this list is what keeps a
	// development install from reaching production data. Required.
	Environments []string
	// APIBase is the origin every apiBaseUrl must start with; DefaultAPIBase
	// when empty. Tests and the sandbox point it at loopback.
	APIBase string
	// Leeway is the clock skew allowed on exp, nbf and iat; default 5 s.
	Leeway time.Duration
	// MaxLifetime bounds exp − iat; default 5 min (FITs live 25 s).
	MaxLifetime time.Duration
	// Keys is the platform's key set.
	Keys *KeySet
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verifier verifies Forge Invocation Tokens. Create it with NewVerifier; it
// is safe for concurrent use.
type Verifier struct {
	cfg    VerifierConfig
	base   string // APIBase without a trailing slash
	parser *jwt.Parser
}

// NewVerifier checks cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("forge: a key set is required")
	}
	if len(cfg.Apps) == 0 {
		return nil, errors.New("forge: at least one app is required")
	}
	seen := map[string]bool{}
	for _, a := range cfg.Apps {
		if a.Product != ProductJira && a.Product != ProductConfluence {
			return nil, fmt.Errorf("forge: unknown product %q", a.Product)
		}
		if !safeID.MatchString(a.UUID()) {
			return nil, fmt.Errorf("forge: the %s app id %q is not an app ARI (ari:cloud:ecosystem::app/<uuid>)", a.Product, a.ID)
		}
		if seen[a.Product] || seen[a.ID] {
			return nil, errors.New("forge: one app per product, each with its own id")
		}
		seen[a.Product], seen[a.ID] = true, true
		if len(a.UIModules) == 0 || len(a.AdminModules) == 0 {
			return nil, fmt.Errorf("forge: the %s app needs its UI and admin module keys", a.Product)
		}
		if a.Product == ProductConfluence && a.MacroKey == "" {
			return nil, errors.New("forge: the Confluence app needs its macro key")
		}
	}
	if len(cfg.Environments) == 0 {
		return nil, errors.New("forge: at least one allowed environment id is required")
	}
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	u, err := url.Parse(cfg.APIBase)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("forge: the API base %q must be an absolute URL", cfg.APIBase)
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 5 * time.Second
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{cfg: cfg, base: strings.TrimSuffix(cfg.APIBase, "/")}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// App returns our app of product p.
func (v *Verifier) App(p string) (App, bool) {
	for _, a := range v.cfg.Apps {
		if a.Product == p {
			return a, true
		}
	}
	return App{}, false
}

// Invocation is a verified FIT, reduced to what the app uses.
type Invocation struct {
	App            App    // which of our apps was invoked (by aud)
	Product        string // App.Product
	EnvironmentID  string // as in the token
	EnvironmentKey string // the environment id reduced to a storage-safe token
	EnvType        string
	InstallationID string // as in the token: the platform's tenant id
	InstallKey     string // the installation id reduced to a storage-safe token
	CloudID        string // the site, from apiBaseUrl
	APIBaseURL     string
	Module         Module
	Principal      string   // the user's account id; "" for platform calls
	Context        *Context // UI calls only; its ids are claims
	JTI            string
	Expires        time.Time
	// License is app.license as signed: present for paid apps in
	// production only, nil otherwise.
	License *License
}

// TenantKey is the storage key of the invocation's tenant:
// "forge:<app uuid>:<environment>:<installation>", each part restricted to
// [A-Za-z0-9._~-], so it cannot collide with a Connect clientKey (which never
// starts with "forge:" and a colon) nor be ambiguous.
func (inv *Invocation) TenantKey() string {
	return "forge:" + inv.App.UUID() + ":" + inv.EnvironmentKey + ":" + inv.InstallKey
}

// safeID is what each part of a tenant key, a cloud id and an account id
// must match.
var safeID = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// ariShape is what an environment id may look like to be named in an
// error: a bare id or an ARI.
var ariShape = regexp.MustCompile(`^[A-Za-z0-9:/._~-]{1,200}$`)

// accountID is the shape of an Atlassian account id (557058:uuid, or 24 hex
// digits, or qm:… for some customers).
var accountID = regexp.MustCompile(`^[A-Za-z0-9:._~-]{1,128}$`)

// Verify checks the bearer FIT of one request. Every refusal wraps
// ErrInvalidToken with a fixed reason, except ErrKeysUnavailable when no key
// set could be had at all.
func (v *Verifier) Verify(ctx context.Context, token string) (*Invocation, error) {
	if token == "" || len(token) > 16<<10 {
		return nil, invalid("missing or oversized token")
	}
	var c Claims
	_, err := v.parser.ParseWithClaims(token, &c, v.cfg.Keys.Keyfunc(ctx))
	if err != nil {
		if errors.Is(err, ErrKeysUnavailable) {
			return nil, ErrKeysUnavailable
		}
		return nil, invalid(reason(err))
	}
	return v.check(&c)
}

// reason turns a jwt error into fixed text.
func reason(err error) string {
	switch {
	case errors.Is(err, ErrUnknownKey):
		return "unknown signing key"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unverifiable token (algorithm or key)"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "invalid"
}

func invalid(why string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, why) }

// check applies the rules the jwt parser does not know. The signature, alg,
// iss and exp are already checked.
func (v *Verifier) check(c *Claims) (*Invocation, error) {
	now := v.cfg.Now()
	if c.ICLabel != nil {
		return nil, invalid("Isolated Cloud is not supported")
	}
	if c.IssuedAt == nil || c.NotBefore == nil {
		return nil, invalid("iat and nbf are required")
	}
	if c.NotBefore.After(now.Add(v.cfg.Leeway)) {
		return nil, invalid("not valid yet")
	}
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > v.cfg.MaxLifetime {
		return nil, invalid("lifetime too long")
	}
	// aud is pinned by configuration: exactly one value, one of our apps.
	if len(c.Audience) != 1 {
		return nil, invalid("wrong audience")
	}
	app, ok := v.appByID(c.Audience[0])
	if !ok {
		return nil, invalid("wrong audience")
	}
	if c.App.ID != app.ID {
		return nil, invalid("app.id differs from aud")
	}
	env := c.App.Environment.ID
	if !slices.Contains(v.cfg.Environments, env) {
		// The token is Atlassian-signed by now and an environment id is no
		// secret: naming it helps the operator set the allow-list.
		if ariShape.MatchString(env) {
			return nil, invalid("environment not allowed: " + env)
		}
		return nil, invalid("environment not allowed")
	}
	envKey := environmentKey(env, app.UUID())
	if envKey == "" {
		return nil, invalid("malformed environment id")
	}
	inst := c.App.InstallationID
	if c.App.Installation == nil || c.App.Installation.ID != inst {
		return nil, invalid("installationId differs from installation.id")
	}
	instKey := installationKey(inst)
	if instKey == "" {
		return nil, invalid("malformed installation id")
	}
	cloudID, ok := v.cloudID(c.App.APIBaseURL, app.Product)
	if !ok {
		return nil, invalid("apiBaseUrl is not ours or malformed")
	}
	for _, ic := range c.App.Installation.Contexts {
		if (ic.CloudID != "" && ic.CloudID != cloudID) || (ic.APIBaseURL != "" && ic.APIBaseURL != c.App.APIBaseURL) {
			return nil, invalid("installation context of another site")
		}
	}
	if c.Context != nil && c.Context.CloudID != "" && c.Context.CloudID != cloudID {
		return nil, invalid("context of another site")
	}
	if c.Principal != "" && !accountID.MatchString(c.Principal) {
		return nil, invalid("malformed principal")
	}
	if c.App.Module.Key == "" || c.App.Module.Type == "" {
		return nil, invalid("module missing")
	}
	return &Invocation{
		App: app, Product: app.Product,
		EnvironmentID: env, EnvironmentKey: envKey, EnvType: c.App.Environment.Type,
		InstallationID: inst, InstallKey: instKey,
		CloudID: cloudID, APIBaseURL: c.App.APIBaseURL,
		Module: c.App.Module, Principal: c.Principal, Context: c.Context,
		JTI: c.ID, Expires: c.ExpiresAt.Time, License: c.App.License,
	}, nil
}

func (v *Verifier) appByID(id string) (App, bool) {
	for _, a := range v.cfg.Apps {
		if a.ID == id {
			return a, true
		}
	}
	return App{}, false
}

// cloudID checks apiBaseUrl = <APIBase>/ex/<product>/<cloudId> exactly and
// returns the cloud id.
func (v *Verifier) cloudID(apiBaseURL, product string) (string, bool) {
	rest, ok := strings.CutPrefix(apiBaseURL, v.base+"/ex/"+product+"/")
	if !ok || !safeID.MatchString(rest) {
		return "", false
	}
	return rest, true
}

// environmentKey reduces an environment id to a storage-safe token: a bare
// id as is; an ARI ari:cloud:ecosystem::environment/<app uuid>/<env> to
// <env>, when the app uuid is ours.
func environmentKey(env, appUUID string) string {
	if rest, ok := strings.CutPrefix(env, "ari:cloud:ecosystem::environment/"); ok {
		app, id, found := strings.Cut(rest, "/")
		if !found {
			id = app
		} else if app != appUUID {
			return ""
		}
		env = id
	}
	if !safeID.MatchString(env) {
		return ""
	}
	return env
}

// installationKey reduces an installation id (a bare id, or
// ari:cloud:ecosystem::installation/<id>) to a storage-safe token.
func installationKey(inst string) string {
	id := ariTail(inst, "ari:cloud:ecosystem::installation/")
	if !safeID.MatchString(id) {
		return ""
	}
	return id
}

// ariTail returns s without prefix, or s itself when it lacks the prefix
// but is a bare id.
func ariTail(s, prefix string) string {
	if rest, ok := strings.CutPrefix(s, prefix); ok {
		return rest
	}
	if strings.HasPrefix(s, "ari:") {
		return ""
	}
	return s
}

// FromUI reports whether the call came from one of our UI modules (issue
// panel, macro) on behalf of a user: the only calls the secrets API serves.
func (inv *Invocation) FromUI() bool {
	return inv.Principal != "" && inv.Module.Type != ModuleTypeEndpoint && slices.Contains(inv.App.UIModules, inv.Module.Key)
}

// FromAdmin reports whether the call came from one of our admin modules on
// behalf of a user. Whether the user is an admin is for Products to ask.
func (inv *Invocation) FromAdmin() bool {
	return inv.Principal != "" && inv.Module.Type != ModuleTypeEndpoint && slices.Contains(inv.App.AdminModules, inv.Module.Key)
}

// FromEndpoint reports whether the platform itself called the endpoint
// module key (a trigger, pre-uninstall): type core:endpoint, that key, and
// no user.
func (inv *Invocation) FromEndpoint(key string) bool {
	return inv.Principal == "" && inv.Module.Type == ModuleTypeEndpoint && inv.Module.Key == key
}
