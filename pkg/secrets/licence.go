package secrets

// Licence is what the front door (Connect session, Forge invocation) knows
// of a site's Marketplace licence for this app when licensing is enabled.
//
// The rule that uses it is one for both modes and lives in pkg/engine: a
// site whose licence is inactive may still list, unlock, copy, lock and
// delete its secrets — it is never locked out of its own data — but may not
// create secrets, edit them or change their passwords (CodeLicenceInactive).
// Admin actions (audit, policy, lockout resets, deleting) stay open too, so
// an admin can clean up whatever the licence.
type Licence string

// Licence states.
const (
	// LicenceUnchecked: licensing is off for this deployment or mode, or
	// the caller is an operator tool; nothing is refused for it.
	LicenceUnchecked Licence = ""
	// LicenceActive: a paid subscription or an evaluation.
	LicenceActive Licence = "active"
	// LicenceInactive: no licence, or a terminated subscription or expired
	// evaluation.
	LicenceInactive Licence = "inactive"
)

// Valid reports whether l is one of the licence states.
func (l Licence) Valid() bool {
	return l == LicenceUnchecked || l == LicenceActive || l == LicenceInactive
}
