package engine

import "github.com/connect-secrets/secrets/pkg/secrets"

// requireLicence is the licensing rule, once for both modes: with licensing
// on and the site's licence inactive, the writes that add or change content
// — CreateSecret, UpdateSecret and ChangePassword — are refused, before any
// other work is done. Everything that reads, protects or removes what is
// already stored (list, unlock, lock, delete, and the admin actions) never
// asks: a lapsed licence must not lock a site out of its own data, nor keep
// it from deleting it. The front door decides the actor's Licence (Connect:
// the host's lic hint confirmed by the licence endpoint; Forge: the verified
// invocation token) and leaves it LicenceUnchecked when licensing is off.
func requireLicence(a secrets.Actor) error {
	if a.Licence != secrets.LicenceInactive {
		return nil
	}
	return secrets.Errorf(secrets.CodeLicenceInactive,
		"This site's licence for Secrets is not active, so secrets cannot be added or changed. "+
			"Existing secrets can still be unlocked, copied and deleted. Ask a site admin to renew the licence.")
}
