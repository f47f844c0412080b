package server

// Data residency (issue 13.3): one deployment and master keyring per realm.
// A Connect descriptor lists the realms' base URLs (regionBaseUrls) and the
// dare-migration lifecycle hook; Atlassian's migration service then calls
// <hook>/schedule, /start, /status, /commit and /rollback at the tenant's
// current deployment, signed like every host call with the tenant's shared
// secret. The source exports the tenant for the destination realm's
// deployment and posts it to that deployment's /migration/import, which
// answers with a receipt; commit deletes the source's copy with it, and
// rollback has the destination discard its copy. The engine does all of it
// (pkg/engine/migration.go, transfer.go), as for secretsctl tenant.
//
// Verified in Atlassian's material: regionBaseUrls decides where an app is
// pinned at install; the lifecycle "dare-migration" names a hook path to
// which the service appends /schedule, /start, /status, /commit and
// /rollback; the service signs its calls with the shared secret; the
// status answer "ready-to-commit" precedes a commit; "dataResidency":
// {"maxMigrationDurationHours"} bounds a migration. Assumed, and lenient
// here until a real migration settles it: the map shape of regionBaseUrls
// ({"EU": url, …}); the payload field names (migrationId, and the target
// region as location, targetLocation, region or destination); the status
// answer's shape ({"status": …}, with "in-progress" and "failed" for the
// other states).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/descriptor"
	"github.com/connect-secrets/secrets/pkg/engine"
	"github.com/connect-secrets/secrets/pkg/forge"
	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// MigrationHookPath is the path of the dare-migration hook under each
// product's prefix (/jira/dare-migration, /confluence/dare-migration).
const MigrationHookPath = "/dare-migration"

// Routes between deployments.
const (
	migrationImportRoute  = "/migration/import"
	migrationDiscardRoute = "/migration/discard"
)

// Region is another realm's deployment.
type Region struct {
	BaseURL     string           // its public base URL, as in regionBaseUrls
	TransferKey seal.TransferKey // its transfer key (secretsctl tenant transfer-key)
}

// Moves is the engine's side of a tenant's move (*engine.Engine).
type Moves interface {
	ScheduleMove(ctx context.Context, tenant, migrationID, region string) error
	StartMove(ctx context.Context, tenant, migrationID string, dst engine.Destination) error
	MoveState(ctx context.Context, tenant, migrationID string) (*engine.Move, error)
	CommitScheduledMove(ctx context.Context, tenant, migrationID string) error
	RollbackMove(ctx context.Context, tenant, migrationID string, dst engine.Destination) error
	ImportTenant(ctx context.Context, x *engine.TenantExport, from seal.TransferKey) (*engine.VerifyReport, *engine.ImportReceipt, error)
	DiscardImport(ctx context.Context, x *engine.TenantExport) error
}

// Migration is what data residency needs. With it nil, nothing of it is
// served and the descriptors name no region.
type Migration struct {
	Moves Moves
	// Regions are the other realms' deployments, by region (EU, US, …).
	Regions map[string]Region
	// Client calls the other deployments; nil means a 10-minute timeout.
	Client *http.Client
	// MaxDuration is the descriptor's maxMigrationDurationHours; 0: 2 h.
	MaxDuration time.Duration
}

func (s *Server) migrationRoutes(e *echo.Echo) {
	for _, p := range []secrets.Product{secrets.ProductJira, secrets.ProductConfluence} {
		g := e.Group("/" + string(p) + MigrationHookPath)
		g.POST("/schedule", s.migrationHook(p, s.scheduleMove), noStore)
		g.POST("/start", s.migrationHook(p, s.startMove), noStore)
		g.GET("/status", s.migrationHook(p, s.moveStatus), noStore)
		g.POST("/status", s.migrationHook(p, s.moveStatus), noStore)
		g.POST("/commit", s.migrationHook(p, s.commitMove), noStore)
		g.POST("/rollback", s.migrationHook(p, s.rollbackMove), noStore)
	}
	// Anyone can post here until the seal is checked: the lifecycle
	// limits bound how often.
	e.POST(migrationImportRoute, s.importMoved, s.limitLifecycle, noStore)
	e.POST(migrationDiscardRoute, s.discardMoved, s.limitLifecycle, noStore)
	if s.forge == nil {
		return
	}
	// Forge: the same hooks under the migration:dataResidency module's
	// path, called by the platform with a FIT of that module.
	g := e.Group(descriptor.ForgeMigrationRoute)
	auth := s.forgeAuth(forgeMigration, descriptor.ForgeMigrationKey)
	g.POST("/schedule", s.forgeMigrationHook(s.scheduleMove), auth, noStore)
	g.POST("/start", s.forgeMigrationHook(s.startMove), auth, noStore)
	g.GET("/status", s.forgeMigrationHook(s.moveStatus), auth, noStore)
	g.POST("/status", s.forgeMigrationHook(s.moveStatus), auth, noStore)
	g.POST("/commit", s.forgeMigrationHook(s.commitMove), auth, noStore)
	g.POST("/rollback", s.forgeMigrationHook(s.rollbackMove), auth, noStore)
}

// migrationRequest is what the hooks read of a call: the migration's id
// and target region, from the body or the query.
type migrationRequest struct {
	tenant      string
	migrationID string
	region      string
}

type migrationHandler func(c echo.Context, r migrationRequest) error

// regionName is the shape of Atlassian's region names (EU, US, AU, …).
var regionName = regexp.MustCompile(`^[A-Z]{2}$`)

// migrationHook verifies a hook call as a host call of product p's tenant
// and reads its migration id and region.
func (s *Server) migrationHook(p secrets.Product, h migrationHandler) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims, err := s.verifyHost(c)
		if err != nil {
			return err
		}
		inst, err := s.installs.FindInstallation(c.Request().Context(), claims.Issuer)
		if err != nil || inst.Product != p {
			return secrets.Errorf(secrets.CodeUnauthorized, "This app is not installed on your site.")
		}
		return s.runMigrationHook(c, inst.ClientKey, h)
	}
}

// forgeMigrationHook is migrationHook for the Forge platform's calls of
// the migration:dataResidency module, which forgeAuth verified.
func (s *Server) forgeMigrationHook(h migrationHandler) echo.HandlerFunc {
	return func(c echo.Context) error {
		inv, _ := c.Get(forgeInvocationKey).(*forge.Invocation)
		if inv == nil {
			return secrets.Errorf(secrets.CodeForbidden, "This module may not call this route.")
		}
		inst, err := s.installs.FindInstallation(c.Request().Context(), inv.TenantKey())
		if err != nil {
			return secrets.Errorf(secrets.CodeNotFound, "This app holds no data of this installation.")
		}
		return s.runMigrationHook(c, inst.ClientKey, h)
	}
}

// runMigrationHook reads the migration id and region of a verified hook
// call of tenant, from the body or the query, and runs h.
func (s *Server) runMigrationHook(c echo.Context, tenant string, h migrationHandler) error {
	var body map[string]any
	if c.Request().Method == http.MethodPost {
		data, err := io.ReadAll(io.LimitReader(c.Request().Body, limitSmallBody))
		if err != nil {
			return secrets.Errorf(secrets.CodeInvalid, "The request body could not be read.")
		}
		if len(bytes.TrimSpace(data)) > 0 && json.Unmarshal(data, &body) != nil {
			return secrets.Errorf(secrets.CodeInvalid, "The request body must be a JSON object.")
		}
	}
	pick := func(names ...string) string {
		for _, n := range names {
			if v, ok := body[n].(string); ok && v != "" {
				return v
			}
			if v := c.QueryParam(n); v != "" {
				return v
			}
		}
		return ""
	}
	r := migrationRequest{tenant: tenant, migrationID: pick("migrationId", "transferId", "id"),
		region: strings.ToUpper(pick("location", "targetLocation", "region", "destination"))}
	if !regionName.MatchString(r.region) {
		r.region = "" // not a region; never logged or echoed as sent
	}
	if r.migrationID == "" || len(r.migrationID) > 200 || strings.ContainsFunc(r.migrationID, func(r rune) bool { return r < ' ' }) {
		return secrets.Errorf(secrets.CodeInvalid, "migrationId is required.")
	}
	zerolog.Ctx(c.Request().Context()).Info().Str("client_key", r.tenant).Str("migration_id", r.migrationID).
		Str("region", r.region).Str("hook", c.Path()).Msg("data residency hook")
	return h(c, r)
}

func (s *Server) destination(region string) (*regionPeer, error) {
	reg, ok := s.migration.Regions[region]
	if !ok {
		return nil, secrets.Errorf(secrets.CodeInvalid, "The migration names no region this app has a deployment in.")
	}
	return &regionPeer{Region: reg, client: s.migration.Client}, nil
}

func (s *Server) scheduleMove(c echo.Context, r migrationRequest) error {
	if _, err := s.destination(r.region); err != nil {
		return err
	}
	if err := s.migration.Moves.ScheduleMove(c.Request().Context(), r.tenant, r.migrationID, r.region); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": string(engine.MoveScheduled)})
}

// startMove answers at once and moves the tenant in the background; the
// status hook reads the outcome from the store, on any replica.
func (s *Server) startMove(c echo.Context, r migrationRequest) error {
	ctx := c.Request().Context()
	m, err := s.migration.Moves.MoveState(ctx, r.tenant, r.migrationID)
	if err != nil {
		return err
	}
	dst, err := s.destination(m.Region)
	if err != nil {
		return err
	}
	log := *zerolog.Ctx(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(log.WithContext(context.Background()), s.maxMigration())
		defer cancel()
		if err := s.migration.Moves.StartMove(ctx, r.tenant, r.migrationID, dst); err != nil {
			log.Error().Err(err).Str("client_key", r.tenant).Str("migration_id", r.migrationID).Msg("data residency move failed")
			return
		}
		log.Info().Str("client_key", r.tenant).Str("migration_id", r.migrationID).Msg("data residency move ready to commit")
	}()
	return c.JSON(http.StatusAccepted, map[string]string{"status": string(engine.MoveStarted)})
}

func (s *Server) maxMigration() time.Duration {
	if s.migration.MaxDuration > 0 {
		return s.migration.MaxDuration
	}
	return 2 * time.Hour
}

func (s *Server) moveStatus(c echo.Context, r migrationRequest) error {
	m, err := s.migration.Moves.MoveState(c.Request().Context(), r.tenant, r.migrationID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": string(m.Status)})
}

func (s *Server) commitMove(c echo.Context, r migrationRequest) error {
	if err := s.migration.Moves.CommitScheduledMove(c.Request().Context(), r.tenant, r.migrationID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "committed"})
}

func (s *Server) rollbackMove(c echo.Context, r migrationRequest) error {
	ctx := c.Request().Context()
	m, err := s.migration.Moves.MoveState(ctx, r.tenant, r.migrationID)
	if err != nil {
		return err
	}
	var dst engine.Destination
	if d, err := s.destination(m.Region); err == nil {
		dst = d
	}
	if err := s.migration.Moves.RollbackMove(ctx, r.tenant, r.migrationID, dst); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "rolled-back"})
}

// limitImportBody bounds a moved tenant that arrives over HTTP (an
// unauthenticated body until its seal is checked, so not unbounded);
// larger tenants move with secretsctl tenant.
const limitImportBody = 64 << 20

// importMoved is the destination's side of a move: it accepts only an
// export sealed by one of the configured regions' deployments for this
// one (the engine checks the seal and the digest), imports and verifies
// it, and answers with the receipt.
func (s *Server) importMoved(c echo.Context) error {
	data, err := io.ReadAll(io.LimitReader(c.Request().Body, limitImportBody+1))
	if err != nil || len(data) > limitImportBody {
		return secrets.Errorf(secrets.CodeTooLarge, "The export is too large.")
	}
	x, err := engine.ParseExport(data)
	if err != nil {
		return err
	}
	from, ok := s.peerKey(x.From)
	if !ok {
		return secrets.Errorf(secrets.CodeForbidden, "The export comes from no deployment this one knows.")
	}
	if age := s.now().Sub(x.ExportedAt); age > s.maxMigration() || age < -time.Minute {
		return secrets.Errorf(secrets.CodeInvalid, "The export is too old to import.")
	}
	report, receipt, err := s.migration.Moves.ImportTenant(c.Request().Context(), x, from)
	if err != nil {
		return err
	}
	if receipt == nil {
		return &secrets.Error{Code: secrets.CodeInternal, Message: "The imported tenant does not verify.",
			Err: fmt.Errorf("server: import of %q: %d problems", x.Tenant, len(report.Problems))}
	}
	return c.JSON(http.StatusOK, receipt)
}

// peerKey returns the configured region deployment's key that s names.
func (s *Server) peerKey(str string) (seal.TransferKey, bool) {
	for _, r := range s.migration.Regions {
		if r.TransferKey.String() == str {
			return r.TransferKey, true
		}
	}
	return seal.TransferKey{}, false
}

type discardRequest struct {
	Tenant string `json:"tenant"`
	Digest []byte `json:"digest"`
}

// discardMoved deletes an imported tenant on the word of the export's
// sealed digest, which only holders of the tenant key (the source, and
// this deployment) can show.
func (s *Server) discardMoved(c echo.Context) error {
	var req discardRequest
	if err := bindJSON(c, limitSmallBody, &req); err != nil {
		return err
	}
	if err := s.migration.Moves.DiscardImport(c.Request().Context(), &engine.TenantExport{Tenant: req.Tenant, Digest: req.Digest}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// regionPeer is another realm's deployment, as engine.Destination.
type regionPeer struct {
	Region
	client *http.Client
}

func (p *regionPeer) TransferKey() seal.TransferKey { return p.Region.TransferKey }

func (p *regionPeer) Import(ctx context.Context, x *engine.TenantExport) (*engine.ImportReceipt, error) {
	b, err := engine.MarshalExport(x)
	if err != nil {
		return nil, err
	}
	var receipt engine.ImportReceipt
	if err := p.post(ctx, migrationImportRoute, b, &receipt); err != nil {
		return nil, err
	}
	return &receipt, nil
}

func (p *regionPeer) Discard(ctx context.Context, tenant string, digest []byte) error {
	b, err := json.Marshal(discardRequest{Tenant: tenant, Digest: digest})
	if err != nil {
		return err
	}
	return p.post(ctx, migrationDiscardRoute, b, nil)
}

// post calls the peer and turns its JSON error into a *secrets.Error.
func (p *regionPeer) post(ctx context.Context, route string, body []byte, out any) error {
	u, err := url.JoinPath(p.BaseURL, route)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := p.client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	res, err := client.Do(req)
	if err != nil {
		return &secrets.Error{Code: secrets.CodeUnavailable, Message: "The destination deployment could not be reached.", Err: err}
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode >= 300 {
		var e errorBody
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return &secrets.Error{Code: e.Error.Code, Message: e.Error.Message}
		}
		return &secrets.Error{Code: secrets.CodeUnavailable, Message: fmt.Sprintf("The destination deployment answered %d.", res.StatusCode)}
	}
	if out != nil && json.Unmarshal(data, out) != nil {
		return &secrets.Error{Code: secrets.CodeUnavailable, Message: "The destination deployment answered something else than a receipt."}
	}
	return nil
}
