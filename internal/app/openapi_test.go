package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchyardhq/switchyard/docs"
)

// Every response the end-to-end tests get through (*server).call, and every request of the
// compatibility suite, is held against docs/openapi.json here: the status must be one the
// request's operation documents and the body must match its schema. So the document cannot
// drift from what the server really answers without a test failing.

// apiSpec is the loaded document, with a ServeMux holding its operations so that a request
// finds its operation by the same matching rules the server's own ServeMux applies.
type apiSpec struct {
	doc *openapi3.T
	mux *http.ServeMux
	// compiler holds the document as one JSON Schema 2020-12 resource; bodies compiles each
	// response body's schema once (by its location in the document) — kin-openapi compiles a
	// schema again for every body it validates, which was a third of this package's test CPU.
	compiler *jsonschema.Compiler
	mu       sync.Mutex // guards bodies and the compiler, which is not safe for concurrent use
	bodies   map[string]compiledSchema
}

// compiledSchema is what compiling one location of the document gave.
type compiledSchema struct {
	schema *jsonschema.Schema
	err    error
}

// specURL is where the compiler keeps docs/openapi.json.
const specURL = "https://switchyard.invalid/openapi.json"

var loadAPISpec = sync.OnceValues(func() (*apiSpec, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData([]byte(docs.OpenAPI))
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	raw, err := jsonschema.UnmarshalJSON(strings.NewReader(docs.OpenAPI))
	if err != nil {
		return nil, err
	}
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020)
	compiler.AssertFormat()
	if err := compiler.AddResource(specURL, raw); err != nil {
		return nil, err
	}
	spec := &apiSpec{doc: doc, mux: http.NewServeMux(), compiler: compiler, bodies: map[string]compiledSchema{}}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			spec.mux.HandleFunc(method+" "+path, func(http.ResponseWriter, *http.Request) {})
		}
	}
	return spec, nil
})

// route returns the documented operation req is for, or nil when the document has none.
func (s *apiSpec) route(req *http.Request) *routers.Route {
	_, pattern := s.mux.Handler(req)
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return nil
	}
	item := s.doc.Paths.Value(path)
	return &routers.Route{Spec: s.doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)}
}

// checkResponse reports a response that docs/openapi.json does not allow for req: a status its
// operation does not document, a content type it does not list, or a body that does not match
// the schema. A request under /api/ that matches no documented operation must get the
// catch-all answer: 404 in the Meshes error shape. It uses t.Errorf, so it may be called from
// any goroutine.
func checkResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	spec, err := loadAPISpec()
	if err != nil {
		t.Errorf("docs/openapi.json: %v", err)
		return
	}
	route := spec.route(req)
	if route == nil {
		if !strings.HasPrefix(req.URL.Path, "/api/") {
			return // not the API's (Go's own 404 and 405 answers)
		}
		if err := checkUndocumented(spec, status, body); err != nil {
			t.Errorf("%s %s is not in docs/openapi.json, so it must be a 404 in the Meshes error shape; got %d %s: %v",
				req.Method, req.URL.Path, status, body, err)
		}
		return
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: true},
	})
	if err == nil {
		err = spec.checkBody(route, status, header.Get("Content-Type"), body)
	}
	if err != nil {
		t.Errorf("%s %s (operation %s) answered %d, which docs/openapi.json does not allow: %v\nbody: %s",
			req.Method, req.URL.RequestURI(), route.Operation.OperationID, status, err, truncate(body, 2000))
	}
}

// checkBody holds a response body to the schema its operation documents for the status and
// content type (the status and headers are kin-openapi's to check).
func (s *apiSpec) checkBody(route *routers.Route, status int, contentType string, body []byte) error {
	if route.Method == http.MethodHead {
		return nil
	}
	code := strconv.Itoa(status)
	ref := route.Operation.Responses.Status(status)
	if ref == nil {
		code, ref = "default", route.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil || len(ref.Value.Content) == 0 {
		return nil
	}
	media := ref.Value.Content.Get(contentType)
	if media == nil {
		return fmt.Errorf("response content type %q is not documented", contentType)
	}
	if media.Schema == nil {
		return nil
	}
	// Where the schema is in the document: under the operation, or under the shared response
	// the operation refers to.
	at := "/paths/" + pointerToken(route.Path) + "/" + strings.ToLower(route.Method) + "/responses/" + code
	if ref.Ref != "" {
		at = strings.TrimPrefix(ref.Ref, "#")
	}
	for key, m := range ref.Value.Content {
		if m == media {
			at += "/content/" + pointerToken(key) + "/schema"
			break
		}
	}
	schema, err := s.bodySchema(at)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("response body is not JSON: %w", err)
	}
	return schema.Validate(v)
}

// bodySchema compiles the schema at pointer in the document, once.
func (s *apiSpec) bodySchema(pointer string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.bodies[pointer]
	if !ok {
		c.schema, c.err = s.compiler.Compile(specURL + "#" + pointer)
		s.bodies[pointer] = c
	}
	return c.schema, c.err
}

// pointerToken escapes one JSON Pointer reference token (RFC 6901).
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// checkRequest reports a request that docs/openapi.json does not describe: no operation for it,
// or parameters or a body its operation does not accept. Credentials are not checked here (the
// server does that). The compatibility suite calls it for what the official clients send.
func checkRequest(t testing.TB, req *http.Request, body []byte) {
	t.Helper()
	spec, err := loadAPISpec()
	if err != nil {
		t.Errorf("docs/openapi.json: %v", err)
		return
	}
	route := spec.route(req)
	if route == nil {
		t.Errorf("%s %s: docs/openapi.json has no operation for this request", req.Method, req.URL.Path)
		return
	}
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: pathParams(route.Path, req.URL.Path), Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			SkipSettingDefaults: true},
	})
	if err != nil {
		t.Errorf("%s %s (operation %s): docs/openapi.json does not accept this request: %v\nbody: %s",
			req.Method, req.URL.RequestURI(), route.Operation.OperationID, err, truncate(body, 2000))
	}
}

// pathParams pairs the {name} segments of a documented path with the request path's segments.
func pathParams(template, path string) map[string]string {
	params := map[string]string{}
	names, values := strings.Split(template, "/"), strings.Split(path, "/")
	for i, n := range names {
		if i < len(values) && strings.HasPrefix(n, "{") && strings.HasSuffix(n, "}") {
			params[strings.Trim(n, "{}")] = values[i]
		}
	}
	return params
}

// checkUndocumented checks the catch-all answer to a path the API does not have.
func checkUndocumented(spec *apiSpec, status int, body []byte) error {
	if status != http.StatusNotFound {
		return errStatus(status)
	}
	schema, err := spec.bodySchema("/components/schemas/Error")
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return schema.Validate(v)
}

type errStatus int

func (e errStatus) Error() string { return "status " + http.StatusText(int(e)) }

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:n:n], "…"...)
}

// The response check refuses what the document does not allow, through an operation's own
// response and through a shared one it refers to, and compiles each schema once.
func TestResponseBodiesAreHeldToTheDocument(t *testing.T) {
	spec, err := loadAPISpec()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/workspaces/01a2524d-62a9-76e6-b0af-fa1e02d33e91", nil)
	route := spec.route(req)
	if route == nil {
		t.Fatal("no route for GET /api/v1/workspaces/{workspace_id}")
	}
	const notFound = `{"message":"Not Found","error":{"name":"NotFound","message":"Workspace not found."}}`
	for _, c := range []struct {
		status      int
		contentType string
		body        string
		ok          bool
	}{
		{404, "application/json", notFound, true},
		{404, "application/json", `{"message":"Not Found","error":{"name":"NotFound"}}`, false},
		{404, "application/json", `{"message":"Not Found","error":{"name":"NotFound","message":"x"},"extra":1}`, false},
		{404, "text/plain", notFound, false},
		{200, "application/json", `{"id":"x"}`, false},
		{200, "application/json", `not json`, false},
	} {
		err := spec.checkBody(route, c.status, c.contentType, []byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("%d %s %s: err = %v, want ok %v", c.status, c.contentType, c.body, err, c.ok)
		}
	}
	// A refused body is refused by its schema, not by a schema that failed to compile.
	var invalid *jsonschema.ValidationError
	if err := spec.checkBody(route, 200, "application/json", []byte(`{"id":"x"}`)); !errors.As(err, &invalid) {
		t.Errorf("a workspace without its fields: err = %v, want a validation error", err)
	}
	if _, err := spec.bodySchema("/paths/~1api~1v1~1workspaces~1{workspace_id}/get/responses/200/content/application~1json/schema"); err != nil {
		t.Errorf("an operation's own response schema: %v", err)
	}
	// The catch-all answer to a path the document does not have.
	if err := checkUndocumented(spec, 404, []byte(notFound)); err != nil {
		t.Errorf("catch-all 404: %v", err)
	}
	if checkUndocumented(spec, 404, []byte(`{"message":"Not Found"}`)) == nil || checkUndocumented(spec, 200, []byte(notFound)) == nil {
		t.Error("the catch-all check takes a body without the error object, or a 200")
	}
	a, errA := spec.bodySchema("/components/responses/NotFound/content/application~1json/schema")
	b, errB := spec.bodySchema("/components/responses/NotFound/content/application~1json/schema")
	if errA != nil || errB != nil || a != b {
		t.Fatalf("the schema is compiled again: %p %p (%v, %v)", a, b, errA, errB)
	}
}
