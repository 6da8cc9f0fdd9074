package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

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
}

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
	spec := &apiSpec{doc: doc, mux: http.NewServeMux()}
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
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("%s %s (operation %s) answered %d, which docs/openapi.json does not allow: %v\nbody: %s",
			req.Method, req.URL.RequestURI(), route.Operation.OperationID, status, err, truncate(body, 2000))
	}
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
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return spec.doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

type errStatus int

func (e errStatus) Error() string { return "status " + http.StatusText(int(e)) }

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:n:n], "…"...)
}
