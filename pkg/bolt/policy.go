package bolt

import (
	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// policy returns the tenant's policy in a read transaction of its own, for
// callers that must check input against it before any expensive work.
func (s *SecretService) policy(clientKey string) (secrets.Policy, error) {
	var p secrets.Policy
	err := s.db.view(func(tx *bbolt.Tx) error {
		tb, err := tenantBucket(tx, clientKey)
		if err != nil {
			return secrets.Errorf(secrets.CodeUnauthorized, "This app is not active on your site.")
		}
		p, err = s.policyIn(tx, tb, clientKey)
		return err
	})
	return p, err
}

// policyIn returns the tenant's policy inside a transaction the caller
// already holds: its stored settings, or the service's default when it has
// none.
func (s *SecretService) policyIn(tx *bbolt.Tx, tb *bbolt.Bucket, clientKey string) (secrets.Policy, error) {
	p := s.Policy
	if v := tb.Get(keySettings); v != nil {
		if err := s.db.openJSON(tx, clientKey, v, settingsAD(clientKey), &p); err != nil {
			return p, err
		}
	}
	return p, nil
}
