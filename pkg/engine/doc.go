// Package engine is the Secrets app's business rules, written once over the
// storage contract of pkg/store: installations and their lifecycle ordering,
// secrets with per-secret passwords, unlock capabilities, lockout, audit,
// site policy, the admin view, retention and the janitor. pkg/bolt and
// pkg/postgres only store what this package has sealed.
//
// # What is sealed where
//
// Every stored value that says anything about a tenant's users or content is
// sealed with that tenant's key (pkg/seal) with its location bound as
// associated data; the tenant key is stored wrapped by the master keyring,
// which never reaches the store. A secret's body is sealed with its own data
// key (DEK); the DEK is sealed with a key derived from the secret's password
// (argon2id). Index keys are keyed MACs.
//
// # Unlocks that work on any replica
//
// An unlock returns a capability: the DEK and what it is good for (tenant,
// account, container, secret, version, password generation, expiry) sealed
// with a key derived from the tenant key. The server that issued it need not
// be the one that honours it, and the DEK never reaches the store at all, not
// even sealed; a stolen database holds no live DEK. The alternative, a table
// of unlocks in the store, would put every open secret's DEK (sealed under the
// tenant key) in the database and cost a write per unlock and a read per use.
// What a capability cannot do by itself is end early, so the store keeps
// revocation state, each piece checked inside the transaction that uses the
// capability:
//   - an edit bumps the secret's version and a password change its key epoch,
//     so every capability for the old ones fails by construction;
//   - delete (by the user, an admin or expiry) removes the record;
//   - lock writes the capability's id to the Revoked bucket until it expires;
//   - uninstall and a purge move the installation's TokensValidFrom forward
//     (and a purge destroys the tenant key), which ends capabilities and
//     session tokens issued before.
//
// # Licensing
//
// One rule for both modes (licence.go): with the actor's licence inactive,
// creating, editing and changing passwords are refused; reading, unlocking,
// locking and deleting never are. The front door says what the licence is.
//
// # Moving a tenant to another deployment
//
// transfer.go moves one tenant, as its sealed bytes, to a deployment with
// another master keyring (data residency); only the tenant key is
// re-wrapped, through seal's transfer box. migration.go keeps the state of
// a move that Atlassian's migration hooks drive, on the same code.
//
// # Personal data
//
// privacy.go reports the account ids a tenant's records hold to Atlassian
// (one replica at a time, under a lease; batches, cycle period and
// Retry-After; progress sealed, so a restart resumes) and erases the
// accounts it answers closed. The transport is a PersonalDataReporter:
// connect signs the call for the site, forge uses the app system token
// that systemtoken.go keeps sealed from verified invocations.
//
// # Transactions
//
// Each rule that reads and then writes (counted attempts, version-checked
// edits, lifecycle ordering) runs inside one store Update, which the backend
// makes serializable and may retry; so functions passed to Update have no
// effect outside the transaction. Key derivation (tens of milliseconds) runs
// between transactions, never inside one.
package engine
