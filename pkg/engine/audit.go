package engine

import (
	"encoding/binary"
	"time"

	"github.com/connect-secrets/secrets/pkg/seal"
	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/connect-secrets/secrets/pkg/store"
)

// audit appends a sealed event to the tenant's log, in the transaction of
// the action it records. Keys are the bucket's sequence, big-endian, so the
// log iterates in order.
func audit(tx store.Tx, k *seal.TenantKey, tenant string, ev secrets.AuditEvent) error {
	seq, err := tx.NextSequence(tenant, store.Audit)
	if err != nil {
		return err
	}
	ev.Seq = seq
	// Name the secret as it is now, so the log still says which one after a
	// rename or delete. A secret already gone (deleted in this transaction)
	// keeps whatever title the caller set.
	if ev.Title == "" && ev.SecretID != "" {
		if rec, err := readSecret(tx, k, tenant, ev.SecretID); err == nil {
			ev.Title = rec.Title
		}
	}
	v, err := sealJSON(k, ev, auditAD(tenant, seq))
	if err != nil {
		return err
	}
	return tx.Put(tenant, store.Audit, seqKey(seq), v)
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// actorEvent is an event by the actor on a secret.
func actorEvent(now time.Time, typ secrets.EventType, a secrets.Actor, id string) secrets.AuditEvent {
	return secrets.AuditEvent{Time: now, Type: typ, AccountID: a.AccountID, SecretID: id, Container: a.Container, Location: a.Location}
}

// recordEvent is an event on a stored secret by account (empty: the system).
func recordEvent(now time.Time, typ secrets.EventType, account string, rec *secretRecord) secrets.AuditEvent {
	return secrets.AuditEvent{Time: now, Type: typ, AccountID: account, SecretID: rec.ID, Container: secrets.Container(rec.Container), Location: rec.Location, Title: rec.Title}
}
