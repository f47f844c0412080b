package sandbox

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/connect-secrets/secrets/pkg/connect"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// maxRESTBody bounds the bodies of calls to the REST stand-ins; a
// permissions check is a few hundred bytes.
const maxRESTBody = 64 << 10

// jiraGlobalPermissions are the Jira global permissions u holds. Like
// confluenceOperations, it follows User.Admin, the one place that says who
// administers the dev sites.
func jiraGlobalPermissions(u User) []string {
	if u.Admin {
		return []string{"ADMINISTER", "SYSTEM_ADMIN"}
	}
	return nil
}

// operation is a Confluence user operation (expand=operations).
type operation struct {
	Operation  string `json:"operation"`
	TargetType string `json:"targetType"`
}

// confluenceOperations are the Confluence operations u may perform: everyone
// uses the application, only an admin administers it.
func confluenceOperations(u User) []operation {
	use := operation{Operation: "use", TargetType: "application"}
	if u.Admin {
		return []operation{{Operation: "administer", TargetType: "application"}, use}
	}
	return []operation{use}
}

// hostUser is a user resource of either product. Browser lookups get the
// account id and display name only.
type hostUser struct {
	Type        string      `json:"type,omitempty"` // Confluence: "known"
	AccountID   string      `json:"accountId"`
	AccountType string      `json:"accountType,omitempty"` // "atlassian"
	DisplayName string      `json:"displayName"`
	PublicName  string      `json:"publicName,omitempty"` // Confluence
	Active      *bool       `json:"active,omitempty"`     // Jira
	Operations  []operation `json:"operations,omitempty"` // Confluence, with expand=operations
}

// jiraPermissionsCheck stands in for Jira's POST /rest/api/3/permissions/check,
// the app's admin check on Jira: it answers which of the requested global
// permissions the account holds. Project permissions are not modelled.
func (s *Sandbox) jiraPermissionsCheck(c echo.Context) error {
	t := s.jira
	if err := s.verifyApp(c, t); err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEApplicationJSON {
		return refuse(http.StatusUnsupportedMediaType, "The request body must be JSON.")
	}
	var req struct {
		AccountID         string   `json:"accountId"`
		GlobalPermissions []string `json:"globalPermissions"`
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxRESTBody)
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return refuse(http.StatusRequestEntityTooLarge, "The request body is too large.")
		}
		return refuse(http.StatusBadRequest, "The request body is not valid JSON.")
	}
	// An unknown account (or none, which Jira reads as the app's own user)
	// holds nothing here, so a careless check fails closed.
	var held []string
	if u, ok := userByAccountID(req.AccountID); ok {
		held = jiraGlobalPermissions(u)
	}
	granted := []string{}
	for _, p := range req.GlobalPermissions {
		if slices.Contains(held, p) && !slices.Contains(granted, p) {
			granted = append(granted, p)
		}
	}
	s.countCall(CallJiraPermissionsCheck)
	return c.JSON(http.StatusOK, permissionsCheck{GlobalPermissions: granted, ProjectPermissions: []struct{}{}})
}

// permissionsCheck is the answer of Jira's permissions check; project
// permissions are always empty here.
type permissionsCheck struct {
	GlobalPermissions  []string   `json:"globalPermissions"`
	ProjectPermissions []struct{} `json:"projectPermissions"`
}

// jiraUser stands in for Jira's GET /rest/api/3/user?accountId=…, from the
// app (signed) or from its pages through AP.request (unsigned, as the
// browser's site session would be).
func (s *Sandbox) jiraUser(c echo.Context) error {
	t := s.jira
	signed, err := s.verifyIfSigned(c, t)
	if err != nil {
		return err
	}
	u, err := lookUpUser(c)
	if err != nil {
		return err
	}
	if !signed {
		s.countCall(CallJiraUserBrowser)
		return c.JSON(http.StatusOK, hostUser{AccountID: u.AccountID, DisplayName: u.Name})
	}
	active := true
	s.countCall(CallJiraUser)
	return c.JSON(http.StatusOK, hostUser{
		AccountID: u.AccountID, AccountType: "atlassian", DisplayName: u.Name, Active: &active,
	})
}

// confluenceUser stands in for Confluence's GET /wiki/rest/api/user. Signed
// by the app with expand=operations it is the admin check on Confluence:
// only the admin has the administer/application operation. Operations are
// listed only when asked for, as Confluence does, so an app that forgets
// the expand sees no admin.
func (s *Sandbox) confluenceUser(c echo.Context) error {
	t := s.confluence
	signed, err := s.verifyIfSigned(c, t)
	if err != nil {
		return err
	}
	u, err := lookUpUser(c)
	if err != nil {
		return err
	}
	if !signed {
		s.countCall(CallConfluenceUserBrowser)
		return c.JSON(http.StatusOK, hostUser{AccountID: u.AccountID, DisplayName: u.Name})
	}
	res := hostUser{
		Type: "known", AccountID: u.AccountID, AccountType: "atlassian",
		DisplayName: u.Name, PublicName: u.Name,
	}
	for e := range strings.SplitSeq(c.QueryParam("expand"), ",") {
		if strings.TrimSpace(e) == "operations" {
			res.Operations = confluenceOperations(u)
		}
	}
	s.countCall(CallConfluenceUser)
	return c.JSON(http.StatusOK, res)
}

// lookUpUser returns the user named by ?accountId=; a missing or unknown
// one is refused with 400 or 404.
func lookUpUser(c echo.Context) (User, error) {
	id := c.QueryParam("accountId")
	if id == "" {
		return User{}, refuse(http.StatusBadRequest, "The accountId parameter is required.")
	}
	u, ok := userByAccountID(id)
	if !ok {
		return User{}, refuse(http.StatusNotFound, "No user has this account id.")
	}
	return u, nil
}

// restError is a refusal by a REST stand-in; rest renders it in the
// product's error format.
type restError struct {
	status int
	msg    string
}

func (e *restError) Error() string { return e.msg }

func refuse(status int, msg string) error { return &restError{status: status, msg: msg} }

// rest wraps a REST stand-in of t so that its refusals are answered the way
// t's product answers them, rather than in the app's error format.
func (t *tenant) rest(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := h(c)
		re, ok := errors.AsType[*restError](err)
		if !ok {
			return err
		}
		if t.product == "jira" {
			return c.JSON(re.status, jiraError{ErrorMessages: []string{re.msg}, Errors: map[string]string{}})
		}
		return c.JSON(re.status, confluenceError{StatusCode: re.status, Message: re.msg})
	}
}

// The products' error bodies.
type (
	jiraError struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	confluenceError struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	}
)

// verifyApp checks that the request carries a JWT the app signed for t, as
// a host does before serving its REST API, and refuses it with 401
// otherwise.
func (s *Sandbox) verifyApp(c echo.Context, t *tenant) error {
	if _, err := t.verifier.VerifyRequest(c.Request().Context(), c.Request()); err != nil {
		// connect's errors never carry the token or the secret.
		s.log.Warn().Err(err).Str("route", c.Path()).Str("site", t.clientKey).
			Msg("sandbox: refused a host REST call that the app did not sign correctly")
		return refuse(http.StatusUnauthorized, "Authentication failed: the request's JWT is not valid for this site.")
	}
	return nil
}

// browserSession is the header the sandbox's AP.request (assets/all.js)
// sends in place of the site session cookie a browser on a real site
// carries. A server calling the REST stand-ins has no such session: it
// must sign, as it must with a real host.
const browserSession = "X-Sandbox-Session"

// verifyIfSigned verifies the request when it carries a JWT at all and
// reports whether it did. An unsigned request is a browser's, and is
// answered only with the browser's session; an unsigned server-to-server
// call (an app that forgot to sign) is refused with 401.
func (s *Sandbox) verifyIfSigned(c echo.Context, t *tenant) (bool, error) {
	if _, err := connect.TokenFromRequest(c.Request()); errors.Is(err, connect.ErrNoToken) {
		if c.Request().Header.Get(browserSession) != "browser" {
			s.log.Warn().Str("route", c.Path()).Str("site", t.clientKey).
				Msg("sandbox: refused an unsigned host REST call without a browser session")
			return false, refuse(http.StatusUnauthorized, "Authentication required: sign the request as the app.")
		}
		return false, nil
	}
	if err := s.verifyApp(c, t); err != nil {
		return false, err
	}
	return true, nil
}

// contextToken stands in for AP.context.getToken() on t's pages: host.js
// asks here for the current user, and gets an HS256 token with the literal
// qsh "context-qsh" and a context claim naming the issue or page (none on
// admin pages). Like a real host, it will give one to any logged-in user.
func (s *Sandbox) contextToken(t *tenant) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := userFrom(c)
		if err != nil {
			return err
		}
		ctx, err := s.tokenContext(c, t)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		token, err := signHS256(t, connect.HostClaims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer:    t.clientKey,
				Subject:   u.AccountID,
				IssuedAt:  jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(contextTokenTTL)),
			},
			QSH:     connect.ContextQSH,
			Context: raw,
		})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"token": token})
	}
}

// Shapes of the context claim.
type (
	idKey struct {
		ID  string `json:"id"`
		Key string `json:"key,omitempty"`
	}
	jiraContext struct {
		Issue   *idKey `json:"issue,omitempty"`
		Project *idKey `json:"project,omitempty"`
	}
	confluenceContent struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	confluenceSpace struct {
		Key string `json:"key"`
	}
	confluenceContext struct {
		Content *confluenceContent `json:"content,omitempty"`
		Space   *confluenceSpace   `json:"space,omitempty"`
	}
	tokenContext struct {
		Jira       *jiraContext       `json:"jira,omitempty"`
		Confluence *confluenceContext `json:"confluence,omitempty"`
	}
)

// tokenContext builds the context claim from ?issue= (Jira) or ?page=
// (Confluence); an unknown issue or page is 404.
func (s *Sandbox) tokenContext(c echo.Context, t *tenant) (tokenContext, error) {
	if t == s.jira {
		jc := &jiraContext{}
		if key := c.QueryParam("issue"); key != "" {
			is, ok := issueByKey(key)
			if !ok {
				return tokenContext{}, echo.ErrNotFound
			}
			jc.Issue = &idKey{ID: is.ID, Key: is.Key}
			jc.Project = &idKey{ID: projectID, Key: projectKey}
		}
		return tokenContext{Jira: jc}, nil
	}
	cc := &confluenceContext{}
	if id := c.QueryParam("page"); id != "" {
		if id != pageID {
			return tokenContext{}, echo.ErrNotFound
		}
		cc.Content = &confluenceContent{ID: pageID, Type: "page"}
		cc.Space = &confluenceSpace{Key: spaceKey}
	}
	return tokenContext{Confluence: cc}, nil
}
