package bolt

import "github.com/connect-secrets/secrets/pkg/store"

// Every bucket of the file is declared here, once.
//
//	tenants/                      one bucket per tenant, named by its id
//	  <tenant>/
//	    meta, key, settings       store.Tenant's records, at the bucket's root
//	    secrets/   <id>         → sealed secret record
//	    bodies/    <id>         → body sealed with the secret's data key
//	    containers/<mac ‖ id>   → empty (index)
//	    attempts/  <mac>        → sealed failed-attempt counter
//	    audit/     <8-byte seq> → sealed event
//	    revoked/   <cap id>     → 8-byte expiry
//	app/                          store.App
//	expiry/                       store.Expiry
//	bolt/                         this adapter's own records: layout version, leases
//
// Deleting a tenant is one DeleteBucket of tenants/<tenant>. A tenant
// sub-bucket is created on the first write to it, so a file written by an
// older version (which lacked a bucket) needs no migration for it.
var (
	bucketTenants = []byte("tenants")
	bucketAdapter = []byte("bolt")

	keyLayout = []byte("layout")
	// leasePrefix prefixes a lease's key in bucketAdapter.
	leasePrefix = "lease/"
)

// layoutVersion is the version of the layout above. Version 1 (before the
// engine split) kept the container index and the attempt counters in nested
// buckets; Open converts it.
const layoutVersion = 2

// topLevel are the buckets Open creates.
var topLevel = [][]byte{bucketTenants, []byte(store.App), []byte(store.Expiry), bucketAdapter}
