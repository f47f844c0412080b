package sandbox

import "crypto/rsa"

// NewWithKey is New with a given install key, so that tests generate one
// RSA key for the whole run.
func NewWithKey(cfg Config, key *rsa.PrivateKey) (*Sandbox, error) {
	u, err := cfg.baseURL()
	if err != nil {
		return nil, err
	}
	return newSandbox(cfg, u, key)
}

// SharedSecret returns the shared secret of the dev tenant of product
// ("jira" or "confluence").
func (s *Sandbox) SharedSecret(product string) string {
	if product == "jira" {
		return s.jira.sharedSecret
	}
	return s.confluence.sharedSecret
}

// KID returns the kid of the install key.
func (s *Sandbox) KID() string { return s.kid }
