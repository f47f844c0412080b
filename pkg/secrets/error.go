package secrets

import (
	"errors"
	"fmt"
	"time"
)

// Code is one of a closed set of machine-readable error kinds. pkg/server maps
// each code to exactly one HTTP status; tests match codes, never messages.
type Code string

// The closed set of error codes. Adding one means adding its HTTP status to
// the table in pkg/server.
const (
	// CodeInvalid: the input is malformed or breaks a rule (length, policy, type).
	CodeInvalid Code = "invalid"
	// CodeTooLarge: the request body exceeds its limit.
	CodeTooLarge Code = "too_large"
	// CodeUnsupportedMediaType: the body is not application/json.
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	// CodeUnauthorized: no credentials, or credentials that do not verify.
	CodeUnauthorized Code = "unauthorized"
	// CodeForbidden: verified, but not allowed (disallowed host, not an admin).
	CodeForbidden Code = "forbidden"
	// CodeMethodNotAllowed: the route exists but not with this method.
	CodeMethodNotAllowed Code = "method_not_allowed"
	// CodeNotFound: no such thing for this caller. Another tenant's or another
	// container's secret is reported the same way as a missing one.
	CodeNotFound Code = "not_found"
	// CodeConflict: an edit was based on a version that is no longer current.
	CodeConflict Code = "conflict"
	// CodeWrongPassword: the password did not open the secret.
	CodeWrongPassword Code = "wrong_password"
	// CodeLocked: too many failed unlocks; Error.RetryAfter says how long to wait.
	CodeLocked Code = "locked"
	// CodeRateLimited: the caller sent too many requests of this kind (or
	// has too many key derivations queued); Error.RetryAfter says when to
	// try again.
	CodeRateLimited Code = "rate_limited"
	// CodeUnlockRequired: the operation needs a valid unlock token of this
	// user for the current version of the secret.
	CodeUnlockRequired Code = "unlock_required"
	// CodeLicenceInactive: licensing is on and the site's licence is not
	// active, so creating and editing are refused (reading never is).
	CodeLicenceInactive Code = "licence_inactive"
	// CodeUnavailable: a dependency (key server, KDF capacity) is temporarily
	// unavailable; the caller may retry.
	CodeUnavailable Code = "unavailable"
	// CodeInternal: a bug or an environmental failure. Its message is generic;
	// the cause is logged, never sent.
	CodeInternal Code = "internal"
)

// Error is the error type that crosses layers. Message is a sentence safe to
// show to the user: it never contains a secret, password, key or token.
// Err, when set, is the internal cause; it is logged but never sent.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration // set with CodeLocked, CodeRateLimited and CodeUnavailable
	// AttemptsLeft, with CodeWrongPassword, is how many more failures the
	// user has before a lockout; nil when lockout is off.
	AttemptsLeft *int
	Err          error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure. The message the user sees is generic.
func Internal(err error) *Error {
	return &Error{Code: CodeInternal, Message: "An internal error occurred.", Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the user-facing message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return e.Message
	}
	return "An internal error occurred."
}
