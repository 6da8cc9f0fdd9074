package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// Health is the answer of the server's health endpoints.
type Health struct {
	// Status is "ok", or "unavailable" when the store cannot be reached.
	Status string `json:"status"`
}

// Health reports whether the server process answers (GET /healthz, outside /api/v1; no
// credentials needed).
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	if _, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil, &out, &request{root: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Ready reports whether the server can reach its store (GET /readyz, outside /api/v1). A
// server that cannot answers 503, which is returned as *Error after the client's retries.
func (c *Client) Ready(ctx context.Context) (*Health, error) {
	var out Health
	if _, err := c.do(ctx, http.MethodGet, "/readyz", nil, nil, &out, &request{root: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// OpenAPI returns the OpenAPI 3.1 document the server serves (GET /openapi.json), which
// describes every route of the API.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.Do(ctx, http.MethodGet, "/openapi.json", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
