package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is an answer from the API that is not 2xx. The API's error body has the Meshes shape
// {"message": …, "error": {"name": …, "message": …, "data": [{"param": …, "msg": …}]}}; its
// fields are copied here, and the raw body is kept in Body.
type Error struct {
	// Method and Path are the request's, Path without the /api/v1 prefix.
	Method, Path string
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is the specific reason (error.message), or the general one (message) when the
	// body has no specific reason, or the HTTP status text when the body is not the API's shape.
	Message string
	// Name is the error's name (error.name), e.g. "NotFound" or "BadRequest".
	Name string
	// Fields lists the invalid request fields of a 400 (error.data).
	Fields []FieldError
	// RequestID is the answer's X-Request-Id: quote it when reporting a problem, since the server
	// logs internal errors under it.
	RequestID string
	// RetryAfter is the answer's Retry-After header as sent (429 and 503), or "".
	RetryAfter string
	// Body is the answer's body as received (JSON for every error the API itself writes).
	Body json.RawMessage
}

// FieldError names one invalid field of a request.
type FieldError struct {
	// Param is the field's path in the request, e.g. "name" or "events[2].payload".
	Param string `json:"param"`
	// Msg says what is wrong with it.
	Msg string `json:"msg"`
}

// Error returns a one-line description: method, path, status, message, the first invalid field,
// and the request id.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "switchyard: %s %s: %d", e.Method, e.Path, e.StatusCode)
	if e.Message != "" {
		b.WriteString(" ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", e.RequestID)
	}
	return b.String()
}

// errorBody is the API's error shape.
type errorBody struct {
	Message string `json:"message"`
	Error   struct {
		Name    string       `json:"name"`
		Message string       `json:"message"`
		Data    []FieldError `json:"data"`
	} `json:"error"`
}

// newError builds the *Error for a non-2xx answer whose body is data.
func newError(method, path string, resp *http.Response, data []byte) *Error {
	e := &Error{
		Method:     method,
		Path:       path,
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("X-Request-Id"),
		RetryAfter: resp.Header.Get("Retry-After"),
	}
	if json.Valid(data) {
		e.Body = json.RawMessage(data)
	} else if len(data) > 0 {
		// Not the API's JSON (a proxy's HTML page, say): keep it as a JSON string, shortened.
		text := string(data)
		if len(text) > 4096 {
			text = text[:4096]
		}
		e.Body, _ = json.Marshal(text)
	}
	var body errorBody
	if json.Unmarshal(data, &body) == nil {
		e.Name, e.Fields = body.Error.Name, body.Error.Data
		e.Message = body.Error.Message
		if e.Message == "" {
			e.Message = body.Message
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// newItemError reads one refused item of a bulk emit, in the API's error shape; its status is
// the one its error name stands for.
func newItemError(data []byte) *Error {
	e := &Error{Method: http.MethodPost, Path: "/events/bulk", Body: json.RawMessage(data)}
	var body errorBody
	if json.Unmarshal(data, &body) == nil {
		e.Name, e.Fields, e.Message = body.Error.Name, body.Error.Data, body.Error.Message
		if e.Message == "" {
			e.Message = body.Message
		}
		e.StatusCode = statusByName[e.Name]
	}
	return e
}

// statusByName maps the error names the API uses to their HTTP status.
var statusByName = func() map[string]int {
	m := map[string]int{}
	for code := 400; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			m[strings.ReplaceAll(text, " ", "")] = code
		}
	}
	return m
}()

// StatusCode returns the HTTP status of err if it is (or wraps) an *Error, or 0.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is an API answer 404 Not Found.
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// IsInvalid reports whether err is an API answer 400 Bad Request (see Error.Fields).
func IsInvalid(err error) bool { return StatusCode(err) == http.StatusBadRequest }

// IsUnauthorized reports whether err is an API answer 401 Unauthorized: credentials missing,
// unknown, revoked or expired.
func IsUnauthorized(err error) bool { return StatusCode(err) == http.StatusUnauthorized }

// IsForbidden reports whether err is an API answer 403 Forbidden: the credentials are valid but
// lack the scope or the workspace.
func IsForbidden(err error) bool { return StatusCode(err) == http.StatusForbidden }

// IsConflict reports whether err is an API answer 409 Conflict (a duplicate, or a stale version).
func IsConflict(err error) bool { return StatusCode(err) == http.StatusConflict }

// IsRateLimited reports whether err is an API answer 429 Too Many Requests (after the client's
// retries, if any, were used up).
func IsRateLimited(err error) bool { return StatusCode(err) == http.StatusTooManyRequests }

// errRepeatedCursor is what an iterator returns when the server answers a cursor with itself.
var errRepeatedCursor = errors.New("client: the server returned the same page cursor twice")
