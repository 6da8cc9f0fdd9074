package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// readBody reads the whole request body up to limit bytes; past that the caller gets a 413.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &switchyard.Error{Code: switchyard.ETOOLARGE,
			Message: fmt.Sprintf("Request body is larger than the limit of %d bytes.", limit)}
	case err != nil:
		return nil, &switchyard.Error{Code: switchyard.EINVALID, Message: "Could not read the request body."}
	}
	return b, nil
}

// decodeBody reads the request body (up to the size limit) and decodes it into v.
func (s *Server) decodeBody(r *http.Request, v any) error {
	body, err := readBody(r, s.Limits.MaxBodyBytes)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes a JSON body into v, turning syntax and type errors into 400s that name the
// offending field, and refusing text that the stores cannot hold (see checkJSONText).
func decodeJSON(body []byte, v any) error {
	if err := decodeJSONSyntax(body, v); err != nil {
		return err
	}
	return checkJSONText(body)
}

// decodeJSONSyntax is decodeJSON without the text rule: the document's syntax, its types, and
// nothing after it. (Bulk requests are read by decodeBulk, item by item.)
func decodeJSONSyntax(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &switchyard.Error{Code: switchyard.EINVALID, Message: "Request body must be a JSON document."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	// Only white space may follow the document. (Decoder.More would let a stray '}' or ']'
	// through: it reports no more values before a closing bracket.)
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return errTrailingData
	}
	return nil
}

var (
	// errNotJSON refuses a body that is not JSON text.
	errNotJSON = &switchyard.Error{Code: switchyard.EINVALID, Message: "Request body is not valid JSON."}
	// errTrailingData refuses a body with more than white space after its JSON document.
	errTrailingData = &switchyard.Error{Code: switchyard.EINVALID, Message: "Request body has data after the JSON document."}
)

// decodeError is the API's error for what json.Decoder.Decode returned: a value of the wrong
// type names its field, anything else is not JSON.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return invalid(switchyard.FieldError{Param: typeErr.Field, Msg: "must be " + jsonKind(typeErr.Type.Kind().String())})
	}
	if errors.As(err, &typeErr) {
		return &switchyard.Error{Code: switchyard.EINVALID, Message: "Request body has the wrong JSON type."}
	}
	return errNotJSON
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array or a string" // uuid.UUID is an array
	case "int", "int64", "float64":
		return "a number"
	}
	return "of another type"
}

// fields collects validation failures.
type fields []switchyard.FieldError

func (f *fields) add(param, msg string) {
	*f = append(*f, switchyard.FieldError{Param: param, Msg: msg})
}

func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return invalid(f...)
}

var (
	workspaceNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9 _-]+$`)
	connectionNamePattern = regexp.MustCompile(`^[a-zA-Z0-9 _-]+$`)
	resourceIDPattern     = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	resourcePattern       = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
)

// checkString validates a required or optional string's length (in characters) and pattern.
func (f *fields) checkString(param string, v *string, required bool, minLen, maxLen int, pattern *regexp.Regexp, patternMsg string) {
	switch {
	case v == nil || (*v == "" && required):
		if required {
			f.add(param, "is required")
		}
	case !utf8.ValidString(*v):
		f.add(param, "must be valid UTF-8")
	case strings.ContainsRune(*v, 0):
		f.add(param, "must not contain NUL characters")
	case utf8.RuneCountInString(*v) < minLen || utf8.RuneCountInString(*v) > maxLen:
		f.add(param, fmt.Sprintf("must be %d to %d characters", minLen, maxLen))
	case pattern != nil && !pattern.MatchString(*v):
		f.add(param, patternMsg)
	}
}

// checkUUID validates a required UUID given as a string.
func (f *fields) checkUUID(param string, v *string) uuid.UUID {
	if v == nil || *v == "" {
		f.add(param, "is required")
		return uuid.Nil
	}
	id, err := uuid.Parse(*v)
	if err != nil || len(*v) != 36 {
		f.add(param, "must be a UUID")
		return uuid.Nil
	}
	return id
}

// pathID parses a UUID path parameter; a malformed one is a 400.
func pathID(r *http.Request, name string) (uuid.UUID, error) {
	v := r.PathValue(name)
	id, err := uuid.Parse(v)
	if err != nil || len(v) != 36 {
		return uuid.Nil, invalid(switchyard.FieldError{Param: name, Msg: "must be a UUID"})
	}
	return id, nil
}

// pageLimit reads the limit query parameter: 1–200, default 50.
func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		return 0, invalid(switchyard.FieldError{Param: "limit", Msg: "must be an integer from 1 to 200"})
	}
	return n, nil
}
