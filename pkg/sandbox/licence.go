package sandbox

// The dev sites' licence of the app, which a developer toggles to try the
// app's licensing (secretsd --licensing / --forge-licensing): the Connect
// host reports it in the lic parameter of every module URL and at its
// licence endpoint (GET <site>/rest/atlassian-connect/1/addons/<appKey>),
// and the Forge platform signs it as app.license.isActive. It starts
// active, and is one switch for both sites and both modes.

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"
)

// CallLicence counts the app's calls to the dev sites' licence endpoints.
const CallLicence = "GET /rest/atlassian-connect/1/addons/<appKey>"

// LicenceActive reports whether the dev sites' licence is active.
func (s *Sandbox) LicenceActive() bool { return !s.licenceLapsed.Load() }

// SetLicence makes the dev sites' licence active or not.
func (s *Sandbox) SetLicence(active bool) { s.licenceLapsed.Store(!active) }

// licParam is the lic parameter the host adds to module URLs.
func (s *Sandbox) licParam() string {
	if s.LicenceActive() {
		return "active"
	}
	return "none"
}

// licenceState is the body of GET and POST /dev/licence.
type licenceState struct {
	Active *bool `json:"active"`
}

// getLicence answers the licence switch's state.
func (s *Sandbox) getLicence(c echo.Context) error {
	active := s.LicenceActive()
	return c.JSON(http.StatusOK, licenceState{Active: &active})
}

// setLicence flips the switch: POST {"active": bool}. Only a JSON body is
// accepted, which a page of another site cannot send without the CORS
// preflight the sandbox never answers.
func (s *Sandbox) setLicence(c echo.Context) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEApplicationJSON {
		return c.JSON(http.StatusUnsupportedMediaType, map[string]string{"error": "the body must be JSON"})
	}
	var in licenceState
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, 1<<10)).Decode(&in); err != nil || in.Active == nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": `want {"active": true|false}`})
	}
	s.SetLicence(*in.Active)
	s.log.Info().Bool("active", *in.Active).Msg("sandbox: the dev sites' licence changed")
	return s.getLicence(c)
}

// addon stands in for the licence endpoint of t, which answers only the
// app itself (a JWT it signed for t) and only about its own key.
func (s *Sandbox) addon(t *tenant) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.verifyApp(c, t); err != nil {
			return err
		}
		if c.Param("key") != t.appKey {
			return refuse(http.StatusNotFound, "No such app.")
		}
		s.countCall(CallLicence)
		return c.JSON(http.StatusOK, map[string]any{
			"key": t.appKey, "version": "1", "state": "ENABLED",
			"license": map[string]any{"active": s.LicenceActive(), "type": "DEVELOPER", "evaluation": false},
		})
	}
}
