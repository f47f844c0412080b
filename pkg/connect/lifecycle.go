package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lifecycle event types, the values of LifecyclePayload.EventType.
const (
	EventInstalled   = "installed"
	EventUninstalled = "uninstalled"
	EventEnabled     = "enabled"
	EventDisabled    = "disabled"
)

const (
	// maxLifecycleBody bounds a lifecycle payload; real ones are under 2 KiB.
	maxLifecycleBody = 64 << 10

	maxClientKeyLen    = 256
	minSharedSecretLen = 16
	// maxSharedSecretLen keeps a hostile payload from making us store and
	// seal an arbitrarily large "secret"; Atlassian's are under 100 bytes.
	maxSharedSecretLen = 1024
	maxURLLen          = 2048
)

// LifecyclePayload is the JSON body of the installed, uninstalled, enabled
// and disabled callbacks. Only installed carries SharedSecret.
//
// The body itself is not signed: for installed/uninstalled, the token's iss
// must equal ClientKey (InstallVerifier.VerifyInstall), and for
// enabled/disabled the host token's iss must (the caller checks).
type LifecyclePayload struct {
	Key            string `json:"key"`
	ClientKey      string `json:"clientKey"`
	SharedSecret   string `json:"sharedSecret"`
	BaseURL        string `json:"baseUrl"`
	DisplayURL     string `json:"displayUrl"`
	ProductType    string `json:"productType"`
	Description    string `json:"description"`
	EventType      string `json:"eventType"`
	ServerVersion  string `json:"serverVersion"`
	PluginsVersion string `json:"pluginsVersion"`
	OAuthClientID  string `json:"oauthClientId"`
	// CloudID is the site's stable id; recent hosts send it, older ones
	// do not.
	CloudID string `json:"cloudId,omitempty"`
}

// ParseLifecycle decodes and validates a lifecycle payload from at most
// 64 KiB of body. Unknown fields are allowed, since hosts add fields.
//
// It requires: a clientKey that is non-empty, at most 256 bytes, valid UTF-8
// and free of control characters; a baseUrl that is an absolute https URL
// (http too when allowHTTP, for the local sandbox) with a host and without
// user info, query or fragment; the same of displayUrl when set; an eventType
// among installed, uninstalled, enabled, disabled; and for installed a
// sharedSecret of 16 to 1024 bytes. Whether baseUrl's host is allowed is
// the caller's to check, with HostAllowed.
//
// Errors wrap ErrBadPayload with a fixed reason that never quotes the
// payload.
func ParseLifecycle(body io.Reader, allowHTTP bool) (*LifecyclePayload, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxLifecycleBody+1))
	if err != nil {
		return nil, badPayload("unreadable body")
	}
	if len(data) > maxLifecycleBody {
		return nil, badPayload("body too large")
	}
	var p LifecyclePayload
	dec := json.NewDecoder(bytes.NewReader(data))
	// json errors can quote the input, which may include the shared
	// secret, so only a fixed reason is reported.
	if err := dec.Decode(&p); err != nil {
		return nil, badPayload("malformed JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badPayload("data after the JSON object")
	}

	switch {
	case p.ClientKey == "":
		return nil, badPayload("clientKey missing")
	case len(p.ClientKey) > maxClientKeyLen:
		return nil, badPayload("clientKey too long")
	case !printable(p.ClientKey):
		return nil, badPayload("clientKey has control or invalid characters")
	}
	if p.BaseURL == "" {
		return nil, badPayload("baseUrl missing")
	}
	if err := checkHostURL(p.BaseURL, allowHTTP); err != nil {
		return nil, badPayload("baseUrl " + err.Error())
	}
	if p.DisplayURL != "" {
		if err := checkHostURL(p.DisplayURL, allowHTTP); err != nil {
			return nil, badPayload("displayUrl " + err.Error())
		}
	}
	switch p.EventType {
	case EventInstalled:
		switch {
		case len(p.SharedSecret) < minSharedSecretLen:
			return nil, badPayload("sharedSecret missing or too short")
		case len(p.SharedSecret) > maxSharedSecretLen:
			return nil, badPayload("sharedSecret too long")
		}
	case EventUninstalled, EventEnabled, EventDisabled:
	default:
		return nil, badPayload("unknown eventType")
	}
	return &p, nil
}

func badPayload(why string) error {
	return fmt.Errorf("%w: %s", ErrBadPayload, why)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// checkHostURL checks that raw is an absolute http(s) URL fit to be a host's
// baseUrl or displayUrl. The returned error is a fixed phrase.
func checkHostURL(raw string, allowHTTP bool) error {
	if len(raw) > maxURLLen {
		return errors.New("too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	default:
		return errors.New("is not https")
	}
	switch {
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return errors.New("has no host")
	// user info invites "https://acme.atlassian.net@evil.example" confusion
	case u.User != nil:
		return errors.New("has user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("has a query or fragment")
	}
	return nil
}

// HostAllowed reports whether host (a hostname, without port) matches one of
// patterns, ignoring case. A pattern is either an exact hostname or
// "*.suffix", which matches any hostname with one or more labels in front of
// suffix, but not suffix itself. Other uses of '*' match nothing, and so
// does a host that is not a plain DNS name (empty labels, a trailing dot,
// characters outside letters, digits and '-'), so that no odd spelling can
// slip past a suffix check.
func HostAllowed(host string, patterns []string) bool {
	host = strings.ToLower(host)
	if !isDNSName(host) {
		return false
	}
	for _, pat := range patterns {
		pat = strings.ToLower(pat)
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			if !isDNSName(suffix) {
				continue
			}
			// The '.' before suffix makes this a label boundary: it keeps
			// "evilatlassian.net" out of "*.atlassian.net". isDNSName(host)
			// already guarantees the labels in front are not empty.
			if len(host) > len(suffix)+1 && strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if isDNSName(pat) && host == pat {
			return true
		}
	}
	return false
}

// isDNSName reports whether s is lower-case letters, digits and '-' in
// non-empty dot-separated labels of at most 63 bytes, 253 in all.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
