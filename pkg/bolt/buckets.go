package bolt

// Every bucket and fixed key of the database is declared here, once.
//
//	tenants/                     one bucket per installation, named by its client key
//	  <clientKey>/
//	    meta                     sealed installation record
//	    key                      tenant key wrapped by the master keyring
//	    settings                 sealed policy (absent: defaults)
//	    secrets/   <secretID>  → sealed secret record (metadata, KDF params, wrapped DEK)
//	    bodies/    <secretID>  → secret body sealed with the secret's DEK
//	    containers/<mac(container)>/<secretID> → empty (index)
//	    attempts/  <mac(secretID)>/<mac(accountID)> → failure count and lock time
//	    audit/     <8-byte sequence> → sealed event
//
// Purging a tenant is one DeleteBucket of tenants/<clientKey>.
var (
	bucketTenants = []byte("tenants")

	keyMeta     = []byte("meta")
	keyTenant   = []byte("key")
	keySettings = []byte("settings")

	bucketSecrets    = []byte("secrets")
	bucketBodies     = []byte("bodies")
	bucketContainers = []byte("containers")
	bucketAttempts   = []byte("attempts")
	bucketAudit      = []byte("audit")
)

// tenantSubBuckets are created with every tenant bucket, so readers can rely
// on them existing.
var tenantSubBuckets = [][]byte{bucketSecrets, bucketBodies, bucketContainers, bucketAttempts, bucketAudit}
