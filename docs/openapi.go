// Package docs holds the one piece of documentation the binary needs at run time: the OpenAPI
// document of the REST API. It is embedded from this directory so that the server serves
// exactly the file checked in at docs/openapi.json; tests in internal/api and internal/app keep
// that file true to the routes and the responses.
package docs

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the REST API, the bytes of docs/openapi.json. It is
// served at GET /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI string
