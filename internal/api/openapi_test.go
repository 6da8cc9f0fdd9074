package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchyardhq/switchyard/docs"
)

// loadOpenAPI loads and validates the embedded document (docs/openapi.json).
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData([]byte(docs.OpenAPI))
	if err != nil {
		t.Fatalf("loading docs/openapi.json: %v", err)
	}
	return doc
}

// servedRoutes is every pattern routes() registers.
func servedRoutes() []string {
	return (&Server{}).routes().patterns
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()

	t.Run("is OpenAPI 3.1 and valid", func(t *testing.T) {
		t.Parallel()
		doc := loadOpenAPI(t)
		if !doc.IsOpenAPI31OrLater() || !strings.HasPrefix(doc.OpenAPI, "3.1.") {
			t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
		}
		// Formats, patterns, defaults and examples are all checked; the schemas are JSON
		// Schema 2020-12 (kin-openapi's 3.1 mode), so type arrays such as ["string","null"]
		// are validated as such.
		err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation(),
			openapi3.EnableSchemaPatternValidation(), openapi3.EnableSchemaDefaultsValidation(),
			openapi3.EnableExamplesValidation())
		if err != nil {
			t.Fatalf("docs/openapi.json is not a valid OpenAPI document: %v", err)
		}
	})

	t.Run("describes every route the server serves and nothing else", func(t *testing.T) {
		t.Parallel()
		doc := loadOpenAPI(t)
		served := map[string]bool{}
		for _, p := range servedRoutes() {
			method, path, ok := strings.Cut(p, " ")
			if !ok {
				// Unknown paths and methods get ServeMux's 404 and 405, in JSON (withJSONErrors).
				t.Errorf("route %q has no method: every route names its method", p)
				continue
			}
			served[method+" "+path] = true
		}
		documented := map[string]bool{}
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				documented[method+" "+path] = true
			}
		}
		for _, r := range sortedKeys(served) {
			if !documented[r] {
				t.Errorf("%s is served but missing from docs/openapi.json", r)
			}
		}
		for _, r := range sortedKeys(documented) {
			if !served[r] {
				t.Errorf("%s is in docs/openapi.json but the server does not serve it", r)
			}
		}
	})

	t.Run("documents the errors every authenticated operation can answer", func(t *testing.T) {
		t.Parallel()
		doc := loadOpenAPI(t)
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				public := op.Security != nil && len(*op.Security) == 0
				if public {
					continue
				}
				want := []string{"401", "403", "429", "500"}
				if strings.Contains(path, "{") {
					want = append(want, "400", "404") // a malformed id, an unknown one
				}
				if op.RequestBody != nil {
					want = append(want, "400", "413")
				}
				for _, code := range want {
					if op.Responses.Value(code) == nil {
						t.Errorf("%s %s does not document %s", method, path, code)
					}
				}
				if op.OperationID == "" {
					t.Errorf("%s %s has no operationId", method, path)
				}
			}
		}
	})

	t.Run("is served without credentials, byte for byte", func(t *testing.T) {
		t.Parallel()
		s := New(Config{})
		t.Cleanup(s.Close)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		if string(body) != docs.OpenAPI {
			t.Fatal("the served document differs from docs/openapi.json")
		}
	})
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
