package secrets

import "time"

// EventType is the kind of an audit event.
type EventType string

// Audit event types. Events record who did what to which secret and when,
// never content or passwords.
const (
	EventCreated         EventType = "created"
	EventUnlocked        EventType = "unlocked"
	EventUnlockFailed    EventType = "unlock_failed"
	EventLockedOut       EventType = "locked_out"
	EventEdited          EventType = "edited"
	EventPasswordChanged EventType = "password_changed"
	EventDeleted         EventType = "deleted"
	EventLocked          EventType = "locked"
	EventExpired         EventType = "expired"
)

// AuditEvent is one entry of a tenant's audit log.
type AuditEvent struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Type      EventType `json:"type"`
	AccountID string    `json:"accountId,omitempty"` // who; empty for the system
	SecretID  string    `json:"secretId,omitempty"`
	Container Container `json:"container,omitempty"`
	Location  string    `json:"location,omitempty"` // human label of the container
	// Title is the secret's title when the event happened, so the log still
	// names a secret after it was renamed or deleted. Sealed like the rest.
	Title string `json:"title,omitempty"`
	// Subject is the account an admin action concerned (a per-user lockout
	// reset); empty otherwise.
	Subject string `json:"subject,omitempty"`
}
