package engine

import (
	"crypto/rand"
	"strconv"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// The first page of a container's list is kept whole, in the decoded cache,
// against the container's list version: a random value that putSecret and
// deleteSecret replace in the same transaction as every change to a secret
// of the container. A list request then reads the installation, the tenant
// key and one version value, and serves the page it built before when the
// version is unchanged, instead of reading and checking every record of
// the container. Measured on the list route (pkg/server BenchmarkListSecrets,
// 20 secrets): the record-by-record check was more than half of the
// request's CPU on bbolt and twenty queries a request on PostgreSQL.
//
// Why this is right on every replica: the version is stored, not held in
// memory, and changes in the very transaction that changes a record, so a
// reader sees either the old records and the old version or the new ones
// and the new version. What the version cannot see:
//   - time: a secret expiring leaves the list without a write, so a page is
//     kept only until the earliest expiry among the container's secrets;
//   - a writer that does not know about versions (an older secretsd during
//     a rolling upgrade on PostgreSQL): a page is kept at most
//     listPageMaxAge, which bounds how stale such a writer's change may
//     look on a newer replica.
//
// Only first pages are kept (the panel's request; later pages are rare and
// their cursors would let one client fill the cache with positions), and
// only while the tenant key is the one they were built under.

// listPageMaxAge bounds how long a kept page is served (see above).
const listPageMaxAge = 2 * time.Second

// listVersionPrefix starts a container's list-version key in the tenant
// bucket; the container's index MAC follows.
const listVersionPrefix = "list-version/"

// listVersionKey is the tenant-bucket key of the list version of the
// container whose index prefix (containerPrefix) is prefix.
func listVersionKey(prefix []byte) []byte {
	return append([]byte(listVersionPrefix), prefix...)
}

// bumpListVersion gives a container a new list version: every kept page of
// it stops being served once this transaction commits.
func bumpListVersion(tx store.Tx, k *seal.TenantKey, tenant, container string) error {
	return tx.Put(tenant, store.Tenant, listVersionKey(containerPrefix(k, container)), []byte(rand.Text()))
}

// keptPage is a first page as the decoded cache keeps it.
type keptPage struct {
	list       *secrets.SecretList
	validUntil time.Time
}

// keptPageKey names the kept first page of limit secrets of a container.
func keptPageKey(tenant string, prefix []byte, limit int) decodedKey {
	return decodedKey{kind: kindListPage, tenant: tenant, id: strconv.Itoa(limit) + "/" + string(prefix)}
}

// keptPageSize estimates a kept page's memory for the cache's bound: the
// metadata's strings, and as much again for the page's encoding.
func keptPageSize(p *keptPage) int {
	n := 64 * len(p.list.Secrets)
	for _, m := range p.list.Secrets {
		n += 2 * (len(m.ID) + len(m.Title) + len(m.CreatedBy) + len(m.UpdatedBy) + 150)
	}
	return n + len(p.list.Next)
}
