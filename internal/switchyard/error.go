package switchyard

import (
	"errors"
	"fmt"
)

// Error codes. The API maps each to an HTTP status in one place.
const (
	EINVALID       = "invalid"       // 400: the request is malformed or fails validation
	EUNAUTHORIZED  = "unauthorized"  // 401: missing or invalid credentials
	EFORBIDDEN     = "forbidden"     // 403: valid credentials outside their limits
	ENOTFOUND      = "not_found"     // 404
	ECONFLICT      = "conflict"      // 409
	ETOOLARGE      = "too_large"     // 413
	EUNPROCESSABLE = "unprocessable" // 422
	ETOOEARLY      = "too_early"     // 425
	ERATELIMITED   = "rate_limited"  // 429
	EINTERNAL      = "internal"      // 500: never shown in detail to the caller
)

// FieldError names one request field that failed validation and why.
type FieldError struct {
	Param string `json:"param"`
	Msg   string `json:"msg"`
}

// Error is an application error whose Code and Message are safe to show the caller.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Param, e.Fields[0].Msg)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the *Error's message, or a generic text.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
