package bolt

import (
	"encoding/binary"

	"github.com/connect-secrets/secrets/pkg/secrets"
	bbolt "go.etcd.io/bbolt"
)

// audit appends a sealed event to the tenant's audit log. Keys are the
// bucket's sequence, big-endian, so the log iterates in order.
func (db *DB) audit(tx *bbolt.Tx, tb *bbolt.Bucket, clientKey string, ev secrets.AuditEvent) error {
	b := tb.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	ev.Seq = seq
	v, err := db.sealJSON(tx, clientKey, ev, auditAD(clientKey, seq))
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return b.Put(k[:], v)
}
