package domain

import (
	"errors"
	"fmt"
)

// Error codes shared by the binaries. The portal maps them to HTTP statuses
// in one place; the collector records them as dead-letter reasons.
const (
	EINVALID      = "invalid"       // input that breaks a rule
	ESCHEMA       = "schema"        // a payload of an unsupported schema version
	ETOOLARGE     = "too_large"     // a payload over its size limit
	ENOTFOUND     = "not_found"     // no such thing
	ECONFLICT     = "conflict"      // a clash with what is stored
	EUNAUTHORIZED = "unauthorized"  // not allowed
	EFORBIDDEN    = "forbidden"     // known, but not allowed this
	EINTERNAL     = "internal"      // a fault of ours
	EUNAVAILABLE  = "unavailable"   // a dependency is down; try again
	ESCHEMABEHIND = "schema_behind" // the database schema is older than the binary
)

// Error is an error with a code and a message fit to show a user.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the user-facing message of err: the message of its
// *Error, or a generic one that leaks nothing of an internal error.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
