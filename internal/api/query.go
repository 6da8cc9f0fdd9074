package api

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// cursorPattern is what the cursors this API hands out look like (base64url), and what the
// Meshes clients validate.
var cursorPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,512}$`)

// listQuery is a list request's query: paging plus the filters the endpoint accepts.
type listQuery struct {
	limit      int
	cursor     string
	event      string
	resource   string
	resourceID string
	status     switchyard.Status
}

// The filters a list endpoint may accept.
const (
	filterEvent = 1 << iota
	filterResource
	filterStatus
)

// parseListQuery reads limit (1–200, default 50), cursor and the accepted filters, reporting
// every malformed one. Filters match exactly; an empty filter is no filter.
func parseListQuery(r *http.Request, accept int) (*listQuery, error) {
	q := r.URL.Query()
	var f fields
	lq := &listQuery{limit: 50, cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			f.add("limit", "must be an integer from 1 to 200")
		}
		lq.limit = n
	}
	if lq.cursor != "" && !cursorPattern.MatchString(lq.cursor) {
		f.add("cursor", "is not a cursor returned by this API")
	}
	if accept&filterEvent != 0 {
		if v := q.Get("event"); v != "" {
			f.checkEventName("event", &v)
			lq.event = v
		}
	}
	if accept&filterResource != 0 {
		if v := q.Get("resource"); v != "" {
			f.checkString("resource", &v, false, 1, 64, resourcePattern, "may contain only letters, digits and . _ : -")
			lq.resource = v
		}
		if v := q.Get("resource_id"); v != "" {
			f.checkString("resource_id", &v, false, 1, 64, resourceIDPattern, "may contain only letters, digits and . _ : -")
			lq.resourceID = v
		}
	}
	if accept&filterStatus != 0 {
		if v := switchyard.Status(q.Get("status")); v != "" {
			if !v.Valid() {
				f.add("status", "must be one of pending, processing, retrying, completed, failed, canceled")
			}
			lq.status = v
		}
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	// A resource session's lists are always filtered to its resource (authz.go).
	if p := principalFrom(r.Context()); p != nil && p.resourceBound() && accept&filterResource != 0 {
		lq.resource, lq.resourceID = p.Session.Resource, p.Session.ResourceID
	}
	return lq, nil
}

// list returns the store paging parameters of the query for a principal: its organization's
// records, confined to its workspaces when its key is limited to some.
func (lq *listQuery) list(p *principal) store.ListParams {
	return store.ListParams{OrganizationID: p.OrganizationID, Limit: lq.limit, Cursor: lq.cursor, Workspaces: p.workspaces()}
}
