package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// errorStatus maps application error codes to HTTP statuses: the one place where that happens.
var errorStatus = map[string]int{
	switchyard.EINVALID:       http.StatusBadRequest,
	switchyard.EUNAUTHORIZED:  http.StatusUnauthorized,
	switchyard.EFORBIDDEN:     http.StatusForbidden,
	switchyard.ENOTFOUND:      http.StatusNotFound,
	switchyard.ECONFLICT:      http.StatusConflict,
	switchyard.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	switchyard.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	switchyard.ETOOEARLY:      http.StatusTooEarly,
	switchyard.ERATELIMITED:   http.StatusTooManyRequests,
	switchyard.EINTERNAL:      http.StatusInternalServerError,
}

// errorBody is the Meshes error shape: {"message", "error": {"name", "message", "data"}}.
type errorBody struct {
	Message string      `json:"message"`
	Error   errorDetail `json:"error"`
}

type errorDetail struct {
	Name    string                  `json:"name"`
	Message string                  `json:"message"`
	Data    []switchyard.FieldError `json:"data,omitempty"`
}

// writeError writes err in the Meshes error shape. Internal errors are logged with the request
// id and shown to the caller only as a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := errorResponse(err)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "request failed", slog.String("request_id", requestID(r.Context())),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	writeJSON(w, status, body)
}

// errorResponse maps err to its HTTP status and Meshes error body: the one place where that
// happens (bulk ingestion uses it for its per-item error records too). Store sentinels that a
// handler did not translate get their generic status rather than a 500.
func errorResponse(err error) (int, errorBody) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = &switchyard.Error{Code: switchyard.ENOTFOUND, Message: "Not found."}
	case errors.Is(err, store.ErrConflict) && switchyard.ErrorCode(err) == switchyard.EINTERNAL:
		err = &switchyard.Error{Code: switchyard.ECONFLICT, Message: "The request conflicts with the current state."}
	case errors.Is(err, store.ErrTooEarly) && switchyard.ErrorCode(err) == switchyard.EINTERNAL:
		err = &switchyard.Error{Code: switchyard.ETOOEARLY, Message: "Too early: try again shortly."}
	}
	code := switchyard.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := statusErrorBody(status, switchyard.ErrorMessage(err))
	var e *switchyard.Error
	if errors.As(err, &e) {
		body.Error.Data = e.Fields
	}
	return status, body
}

// statusErrorBody is the Meshes error shape for an HTTP status and a specific reason.
func statusErrorBody(status int, msg string) errorBody {
	return errorBody{
		Message: http.StatusText(status),
		Error:   errorDetail{Name: strings.ReplaceAll(http.StatusText(status), " ", ""), Message: msg},
	}
}

// invalid returns a 400 error naming the failing fields.
func invalid(fields ...switchyard.FieldError) error {
	msg := "Validation failed."
	if len(fields) > 0 {
		msg = "Validation failed: " + fields[0].Param + " " + fields[0].Msg + "."
	}
	return &switchyard.Error{Code: switchyard.EINVALID, Message: msg, Fields: fields}
}

func notFound(what string) error {
	return &switchyard.Error{Code: switchyard.ENOTFOUND, Message: what + " not found."}
}
