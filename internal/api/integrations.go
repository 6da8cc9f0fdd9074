package api

import (
	"encoding/base64"
	"net/http"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// integrationList pages through every registered integration's description (docs/meshes-compat.md
// §8), sorted by type. The cursor is the last type of the previous page.
func (s *Server) integrationList(w http.ResponseWriter, r *http.Request) error {
	lq, err := parseListQuery(r, 0)
	if err != nil {
		return err
	}
	after := ""
	if lq.cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(lq.cursor)
		if err != nil {
			return invalid(switchyard.FieldError{Param: "cursor", Msg: "is not a cursor returned by this API"})
		}
		after = string(b)
	}
	var records []destination.Description
	next := ""
	for _, in := range s.Integrations.List() {
		if in.Type <= after {
			continue
		}
		if len(records) == lq.limit {
			next = base64.RawURLEncoding.EncodeToString([]byte(records[len(records)-1].Type))
			break
		}
		records = append(records, in.Describe())
	}
	writeJSON(w, http.StatusOK, pageWire(records, lq.limit, next))
	return nil
}

// Registry is the server's integrations: the embed pages build their forms from it.
func (s *Server) Registry() *destination.Registry { return s.Integrations }
