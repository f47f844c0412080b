package bolt

import (
	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// policy returns the tenant's policy: its stored settings, or the service's
// default when it has none.
func (s *SecretService) policy(clientKey string) (secrets.Policy, error) {
	p := s.Policy
	err := s.db.view(func(tx *bbolt.Tx) error {
		tb, err := tenantBucket(tx, clientKey)
		if err != nil {
			return secrets.Errorf(secrets.CodeUnauthorized, "This app is not active on your site.")
		}
		if v := tb.Get(keySettings); v != nil {
			return s.db.openJSON(tx, clientKey, v, settingsAD(clientKey), &p)
		}
		return nil
	})
	return p, err
}
