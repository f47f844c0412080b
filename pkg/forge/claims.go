package forge

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the iss of every Forge Invocation Token.
const Issuer = "forge/invocation-token"

// ModuleTypeEndpoint is app.module.type of the calls the platform makes on
// its own (triggers, pre-uninstall): no user, no UI.
const ModuleTypeEndpoint = "core:endpoint"

// Claims are the claims of a Forge Invocation Token as the platform signs
// them. Unknown claims are ignored.
type Claims struct {
	jwt.RegisteredClaims
	App       AppClaims `json:"app"`
	Context   *Context  `json:"context,omitempty"`
	Principal string    `json:"principal,omitempty"`
	// ICLabel is set only on Isolated Cloud; its mere presence refuses the
	// token, whatever its value.
	ICLabel json.RawMessage `json:"icLabel,omitempty"`
}

// AppClaims is the FIT's app claim.
type AppClaims struct {
	ID             string            `json:"id"`
	Version        string            `json:"appVersion,omitempty"`
	InstallationID string            `json:"installationId"`
	APIBaseURL     string            `json:"apiBaseUrl"`
	Environment    Environment       `json:"environment"`
	Module         Module            `json:"module"`
	License        *License          `json:"license,omitempty"`
	Installation   *InstallationInfo `json:"installation,omitempty"`
}

// Environment is the app environment that was invoked.
type Environment struct {
	Type string `json:"type"` // DEVELOPMENT, STAGING or PRODUCTION
	ID   string `json:"id"`
}

// Module is the module that invoked the remote.
type Module struct {
	Type string `json:"type"`
	Key  string `json:"key"`
}

// License is present for paid apps in production only.
type License struct {
	IsActive bool `json:"isActive"`
}

// InstallationInfo is app.installation: the installation's id again, and the
// sites (contexts) it covers.
type InstallationInfo struct {
	ID       string                `json:"id"`
	Contexts []InstallationContext `json:"contexts,omitempty"`
}

// InstallationContext is one site of an installation.
type InstallationContext struct {
	Name       string `json:"name,omitempty"`
	APIBaseURL string `json:"apiBaseUrl,omitempty"`
	CloudID    string `json:"cloudId,omitempty"`
}

// Context is the module context of a UI call. The platform relays most of
// it from the browser: the ids in Extension are claims to be checked with
// the product (Products), never facts.
type Context struct {
	CloudID   string    `json:"cloudId,omitempty"`
	SiteURL   string    `json:"siteUrl,omitempty"`
	LocalID   string    `json:"localId,omitempty"`
	ModuleKey string    `json:"moduleKey,omitempty"`
	Extension Extension `json:"extension"`
}

// Extension is context.extension: the issue of an issue panel, the content
// of a macro.
type Extension struct {
	Type    string `json:"type,omitempty"`
	Issue   *Ref   `json:"issue,omitempty"`
	Project *Ref   `json:"project,omitempty"`
	Content *Ref   `json:"content,omitempty"`
	Space   *Ref   `json:"space,omitempty"`
}

// Ref names an issue, project, page or space.
type Ref struct {
	ID   ID     `json:"id"`
	Key  string `json:"key,omitempty"`
	Type string `json:"type,omitempty"`
}

// ID is a product id, which arrives as a JSON string or a number; it is kept
// as the text the platform sent.
type ID string

// UnmarshalJSON accepts a string or a number.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return errors.New("forge: an id must be a string or a number")
	}
	*id = ID(n.String())
	return nil
}
