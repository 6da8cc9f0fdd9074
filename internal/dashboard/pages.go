package dashboard

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// statuses are the event statuses in the order the overview shows them.
var statuses = []switchyard.Status{switchyard.StatusCompleted, switchyard.StatusFailed, switchyard.StatusRetrying,
	switchyard.StatusPending, switchyard.StatusProcessing, switchyard.StatusCanceled}

// allWorkspaces reads every workspace of the organization, newest first.
func (h *Handler) allWorkspaces(r *http.Request, org uuid.UUID) ([]*switchyard.Workspace, error) {
	var out []*switchyard.Workspace
	for cursor := ""; ; {
		p, err := h.cfg.Store.WorkspaceList(r.Context(), store.ListParams{OrganizationID: org, Limit: 200, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		out = append(out, p.Records...)
		if cursor = p.NextCursor; cursor == "" {
			return out, nil
		}
	}
}

// allConnections reads every connection of the organization.
func (h *Handler) allConnections(r *http.Request, org uuid.UUID) ([]*switchyard.Connection, error) {
	var out []*switchyard.Connection
	for cursor := ""; ; {
		p, err := h.cfg.Store.ConnectionList(r.Context(), store.ConnectionListParams{ListParams: store.ListParams{
			OrganizationID: org, Limit: 200, Cursor: cursor}})
		if err != nil {
			return nil, err
		}
		out = append(out, p.Records...)
		if cursor = p.NextCursor; cursor == "" {
			return out, nil
		}
	}
}

// overview is system health: queue depth by connection, deactivated connections and why, and
// each workspace's events by status.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	now := h.cfg.Now().UTC()
	wss, err := h.allWorkspaces(r, s.OrganizationID)
	if err != nil {
		h.fail(w, r, "dashboard workspaces", err)
		return
	}
	conns, err := h.allConnections(r, s.OrganizationID)
	if err != nil {
		h.fail(w, r, "dashboard connections", err)
		return
	}
	queues, err := h.cfg.Store.DeliveryQueueByConnection(ctx, store.DeliveryQueueByConnectionParams{OrganizationID: s.OrganizationID, Now: now})
	if err != nil {
		h.fail(w, r, "dashboard queue", err)
		return
	}
	counts, err := h.cfg.Store.EventStatusCounts(ctx, store.EventStatusCountsParams{OrganizationID: s.OrganizationID})
	if err != nil {
		h.fail(w, r, "dashboard counts", err)
		return
	}
	wsName := map[uuid.UUID]string{}
	for _, ws := range wss {
		wsName[ws.ID] = ws.Name
	}
	connByID := map[uuid.UUID]*switchyard.Connection{}
	var inactive []map[string]any
	for _, c := range conns {
		connByID[c.ID] = c
		if !c.Active {
			inactive = append(inactive, map[string]any{"Connection": c, "Workspace": wsName[c.WorkspaceID]})
		}
	}
	type healthRow struct {
		delivery.ConnectionHealth
		Name, Type, Workspace string
	}
	var health []healthRow
	if h.cfg.Health != nil {
		hs, err := h.cfg.Health(ctx, now)
		if err != nil {
			h.fail(w, r, "dashboard health", err)
			return
		}
		for _, ch := range hs {
			c := connByID[ch.ConnectionID]
			if c == nil {
				continue // the controller knows every tenant's connections: show only this one's
			}
			health = append(health, healthRow{ConnectionHealth: ch, Name: c.Name, Type: c.Type, Workspace: wsName[c.WorkspaceID]})
		}
	}
	type queueRow struct {
		store.ConnectionQueue
		Name, Type, Workspace string
	}
	var qrows []queueRow
	due := 0
	for _, q := range queues {
		row := queueRow{ConnectionQueue: q, Name: "(deleted connection)", Workspace: wsName[q.WorkspaceID]}
		if c := connByID[q.ConnectionID]; c != nil {
			row.Name, row.Type = c.Name, c.Type
		}
		due += q.Due
		qrows = append(qrows, row)
	}
	byWS := map[uuid.UUID]map[switchyard.Status]int{}
	for _, c := range counts {
		if byWS[c.WorkspaceID] == nil {
			byWS[c.WorkspaceID] = map[switchyard.Status]int{}
		}
		byWS[c.WorkspaceID][c.Status] += c.N
	}
	type countRow struct {
		Workspace *switchyard.Workspace
		Counts    []int
	}
	var crows []countRow
	for _, ws := range wss {
		row := countRow{Workspace: ws}
		for _, st := range statuses {
			row.Counts = append(row.Counts, byWS[ws.ID][st])
		}
		crows = append(crows, row)
	}
	h.render(w, http.StatusOK, "overview", s, map[string]any{"Title": "Overview", "Queues": qrows, "Due": due,
		"Inactive": inactive, "Statuses": statuses, "Counts": crows, "Health": health})
}

func (h *Handler) workspaces(w http.ResponseWriter, r *http.Request, s *session) {
	wss, err := h.allWorkspaces(r, s.OrganizationID)
	if err != nil {
		h.fail(w, r, "dashboard workspaces", err)
		return
	}
	h.render(w, http.StatusOK, "workspaces", s, map[string]any{"Title": "Workspaces", "Workspaces": wss})
}

// workspaceOf reads the path's workspace of the session's organization; nil (and a 404 page
// written) when there is none.
func (h *Handler) workspaceOf(w http.ResponseWriter, r *http.Request, s *session) *switchyard.Workspace {
	id, err := uuid.Parse(r.PathValue("id"))
	if err == nil {
		ws, gerr := h.cfg.Store.WorkspaceGet(r.Context(), store.WorkspaceGetParams{OrganizationID: s.OrganizationID, ID: id})
		if gerr == nil {
			return ws
		}
		if !errors.Is(gerr, store.ErrNotFound) {
			h.fail(w, r, "dashboard workspace", gerr)
			return nil
		}
	}
	h.message(w, http.StatusNotFound, "Not found", "This organization has no such workspace.")
	return nil
}

// fragment renders one of the embed UI's workspace fragments into HTML for a page.
func (h *Handler) fragment(r *http.Request, org, ws uuid.UUID, page string, q url.Values) (template.HTML, bool, error) {
	var b bytes.Buffer
	found, err := h.embed.Operator(r.Context(), &b, org, ws, page, q)
	return template.HTML(b.String()), found, err //nolint:gosec // rendered by html/template
}

// workspace shows one workspace: its publishable key, connections, rules and recent events.
func (h *Handler) workspace(w http.ResponseWriter, r *http.Request, s *session) {
	ws := h.workspaceOf(w, r, s)
	if ws == nil {
		return
	}
	data := map[string]any{"Title": ws.Name, "Workspace": ws, "Rotated": r.URL.Query().Get("rotated") == "1"}
	for _, part := range []string{"connections", "rules", "events"} {
		// The events fragment's filter form is a plain GET form: without the embed UI's script
		// it submits to this page, whose query then filters the events.
		var q url.Values
		if part == "events" {
			q = r.URL.Query()
		}
		html, _, err := h.fragment(r, s.OrganizationID, ws.ID, part, q)
		if err != nil {
			h.fail(w, r, "dashboard workspace "+part, err)
			return
		}
		data[strings.ToUpper(part[:1])+part[1:]] = html
	}
	h.render(w, http.StatusOK, "workspace", s, data)
}

// event shows one event of a workspace with its deliveries and their attempts.
func (h *Handler) event(w http.ResponseWriter, r *http.Request, s *session) {
	ws := h.workspaceOf(w, r, s)
	if ws == nil {
		return
	}
	html, found, err := h.fragment(r, s.OrganizationID, ws.ID, "event", url.Values{"id": {r.PathValue("event")}})
	if err != nil {
		h.fail(w, r, "dashboard event", err)
		return
	}
	if !found {
		h.message(w, http.StatusNotFound, "Not found", "This workspace has no such event.")
		return
	}
	h.render(w, http.StatusOK, "event", s, map[string]any{"Title": "Event", "Workspace": ws, "Event": html})
}

// rotate gives a workspace a new publishable key.
func (h *Handler) rotate(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		h.message(w, http.StatusNotFound, "Not found", "This organization has no such workspace.")
		return
	}
	if _, err := h.cfg.Keys.RotatePublishableKey(r.Context(), s.OrganizationID, id); err != nil {
		h.writeErr(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/workspaces/"+id.String()+"?rotated=1", http.StatusSeeOther)
}

// keys lists the organization's machine keys with the create form.
func (h *Handler) keys(w http.ResponseWriter, r *http.Request, s *session) {
	h.keysPage(w, r, s, http.StatusOK, nil, "")
}

func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request, s *session, status int, fieldErrs []switchyard.FieldError, name string) {
	var keys []*switchyard.MachineKey
	for cursor := ""; ; {
		p, err := h.cfg.Store.MachineKeyList(r.Context(), store.MachineKeyListParams{ListParams: store.ListParams{
			OrganizationID: s.OrganizationID, Limit: 200, Cursor: cursor}})
		if err != nil {
			h.fail(w, r, "dashboard keys", err)
			return
		}
		keys = append(keys, p.Records...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	wss, err := h.allWorkspaces(r, s.OrganizationID)
	if err != nil {
		h.fail(w, r, "dashboard workspaces", err)
		return
	}
	wsName := map[uuid.UUID]string{}
	for _, ws := range wss {
		wsName[ws.ID] = ws.Name
	}
	type keyRow struct {
		Key                     *switchyard.MachineKey
		Workspaces, Permissions string
	}
	var rows []keyRow
	for _, k := range keys {
		row := keyRow{Key: k, Workspaces: "all", Permissions: "all"}
		if len(k.Workspaces) > 0 {
			var names []string
			for _, id := range k.Workspaces {
				names = append(names, wsName[id])
			}
			row.Workspaces = strings.Join(names, ", ")
		}
		if len(k.Permissions) > 0 {
			var ps []string
			for _, p := range k.Permissions {
				ps = append(ps, string(p))
			}
			row.Permissions = strings.Join(ps, ", ")
		}
		rows = append(rows, row)
	}
	errs := map[string]string{}
	var other []string
	for _, f := range fieldErrs {
		switch {
		case f.Param == "name":
			errs["name"] = f.Msg
		case strings.HasPrefix(f.Param, "workspaces"):
			errs["workspaces"] = f.Msg
		case strings.HasPrefix(f.Param, "permissions"):
			errs["permissions"] = f.Msg
		default:
			other = append(other, f.Param+" "+f.Msg)
		}
	}
	h.render(w, status, "keys", s, map[string]any{"Title": "Machine keys", "Keys": rows, "Workspaces": wss,
		"Permissions": []switchyard.Permission{switchyard.PermissionRead, switchyard.PermissionWrite, switchyard.PermissionEmit},
		"Errors":      errs, "Other": strings.Join(other, "; "), "Name": name})
}

// createKey creates a machine key through the API's own validation and shows its secret on
// the answer to this POST, once: the page replaces its history entry with /dashboard/keys, so
// a reload shows the list, which never has secrets.
func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	key, err := h.cfg.Keys.CreateMachineKey(r.Context(), s.OrganizationID, &name, r.PostForm["workspace"], r.PostForm["permission"])
	var appErr *switchyard.Error
	if errors.As(err, &appErr) && len(appErr.Fields) > 0 {
		h.keysPage(w, r, s, http.StatusOK, appErr.Fields, name) // 200: browsers log a 4xx page as a console error
		return
	} else if err != nil {
		h.writeErr(w, r, err)
		return
	}
	h.render(w, http.StatusCreated, "key-created", s, map[string]any{"Title": "Machine key created", "Key": key,
		"OrganizationID": s.OrganizationID})
}

// revokeKey revokes a machine key.
func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		h.message(w, http.StatusNotFound, "Not found", "This organization has no such machine key.")
		return
	}
	if _, err := h.cfg.Keys.RevokeMachineKey(r.Context(), s.OrganizationID, id); err != nil {
		h.writeErr(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/keys", http.StatusSeeOther)
}

// writeErr shows an API error's safe message (not found, invalid), or a generic failure.
func (h *Handler) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var appErr *switchyard.Error
	if errors.As(err, &appErr) {
		status := http.StatusUnprocessableEntity
		if appErr.Code == switchyard.ENOTFOUND {
			status = http.StatusNotFound
		}
		h.message(w, status, "Not done", appErr.Message)
		return
	}
	h.fail(w, r, "dashboard write", err)
}
