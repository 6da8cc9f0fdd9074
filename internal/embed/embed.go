// Package embed serves the embeddable workspace UI: the pages SaaS products put in an iframe so
// that their customers see their own workspace — dashboard, connections, rules, events — without
// leaving the product. It speaks the postMessage contract of Meshes' embed (docs/embed.md).
//
// Pages are server-rendered Go templates; a small script of our own (assets/app.js) does the
// handshake and swaps page fragments. There is no build step and no CDN: templates and assets
// are embedded in the binary. Every rule — which pages a session type may open, resource
// confinement, who may see payloads — is enforced here on the server, not only hidden in the page.
package embed

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

//go:embed assets templates
var files embed.FS

// Sessions is what the pages need of the sessions API (api.Server implements it).
type Sessions interface {
	// TakeSessionLaunch spends a launch token, once, and returns its session.
	TakeSessionLaunch(ctx context.Context, launchToken string) (*api.Session, error)
	// VerifySessionToken checks an access token and returns its session.
	VerifySessionToken(ctx context.Context, token string) (*api.Session, error)
}

// Config is what the embed UI needs.
type Config struct {
	Sessions Sessions
	Store    store.Store
	// Integrations are what the connection and rule forms are built from; nil: those of
	// Sessions when it has them (api.Server's Registry).
	Integrations *destination.Registry
	Logger       *slog.Logger
	Now          func() time.Time
}

// Handler serves /embed/.
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	shell *template.Template
	fail  *template.Template
	pages *template.Template
}

// New builds the handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if r, ok := cfg.Sessions.(interface{ Registry() *destination.Registry }); ok && cfg.Integrations == nil {
		cfg.Integrations = r.Registry()
	}
	funcs := template.FuncMap{
		"rfc3339":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"statusClass": statusClass,
		"took": func(d time.Duration) string {
			if d < time.Second {
				return fmt.Sprintf("%d ms", d.Milliseconds())
			}
			return fmt.Sprintf("%.1f s", d.Seconds())
		},
		"mapped": func(typ string) bool {
			if cfg.Integrations == nil {
				return false
			}
			in, ok := cfg.Integrations.Get(typ)
			return ok && in.Mapped
		},
		"retryable": func(s switchyard.Status) bool {
			return s == switchyard.StatusFailed || s == switchyard.StatusCanceled || s == switchyard.StatusRetrying || s == switchyard.StatusPending
		},
		"cancelable": func(s switchyard.Status) bool {
			return s == switchyard.StatusPending || s == switchyard.StatusRetrying || s == switchyard.StatusProcessing
		},
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(),
		shell: template.Must(template.ParseFS(files, "templates/shell.html")),
		fail:  template.Must(template.ParseFS(files, "templates/error.html")),
		pages: template.Must(template.New("pages").Funcs(funcs).ParseFS(files, "templates/pages.html")),
	}
	h.mux.HandleFunc("GET /embed/launch", h.launch)
	h.mux.Handle("GET /embed/assets/", http.StripPrefix("/embed/", http.FileServerFS(files)))
	h.mux.HandleFunc("GET /embed/pages/{page}", h.page)
	h.mux.HandleFunc("GET /embed/connected", h.connected)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// The pages and the session types that may open them (Meshes: workspace sessions see
// everything; resource sessions the dashboard, rules and events of their resource, no
// connections or mappings; dashboard sessions the dashboard only).
var pages = []struct {
	Key, Label string
	Types      []string
}{
	{"dashboard", "Dashboard", []string{api.SessionTypeWorkspace, api.SessionTypeResource, api.SessionTypeDashboard}},
	{"connections", "Connections", []string{api.SessionTypeWorkspace}},
	{"rules", "Rules", []string{api.SessionTypeWorkspace, api.SessionTypeResource}},
	{"events", "Events", []string{api.SessionTypeWorkspace, api.SessionTypeResource}},
}

// allowed reports whether a session of type typ may open page (event detail goes with events).
func allowed(typ, page string) bool {
	switch page {
	case "event":
		page = "events"
	case "mapping":
		page = "connections"
	}
	for _, p := range pages {
		if p.Key == page {
			return slices.Contains(p.Types, typ)
		}
	}
	return false
}

// launch bootstraps an embedded session: it spends the launch token, checks that the page is
// being embedded by an allowed origin, and serves the shell, which then waits for the host's
// meshes:auth. A reload finds the launch token spent: the documented "Invalid or expired embed
// launch token" state.
func (h *Handler) launch(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the launch token is in this page's URL
	ss, err := h.cfg.Sessions.TakeSessionLaunch(r.Context(), r.URL.Query().Get("launch"))
	if err != nil {
		if !errors.Is(err, api.ErrInvalidSessionToken) {
			h.cfg.Logger.ErrorContext(r.Context(), "embed launch", slog.Any("error", err))
		}
		h.failPage(w, http.StatusUnauthorized, "Invalid or expired embed launch token",
			"This embedded page was opened with a launch link that is invalid, expired or already used. Reload the page that embeds it to start a new session.")
		return
	}
	host := hostOrigin(r)
	if host == "" || (len(ss.AllowedOrigins) > 0 && !slices.Contains(ss.AllowedOrigins, host)) {
		h.cfg.Logger.WarnContext(r.Context(), "embed refused: origin not allowed", slog.String("session", ss.ID),
			slog.String("origin", host))
		h.failPage(w, http.StatusForbidden, "This page cannot be embedded here",
			"The session does not allow this site to embed it.")
		return
	}
	ws, err := h.cfg.Store.WorkspaceGet(r.Context(), store.WorkspaceGetParams{OrganizationID: ss.OrganizationID, ID: ss.WorkspaceID})
	if err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "embed launch: workspace", slog.Any("error", err))
		h.failPage(w, http.StatusInternalServerError, "Something went wrong", "Try again in a moment.")
		return
	}
	var nav []struct{ Key, Label string }
	for _, p := range pages {
		if slices.Contains(p.Types, ss.Type) {
			nav = append(nav, struct{ Key, Label string }{p.Key, p.Label})
		}
	}
	page := ss.LaunchPage
	if !allowed(ss.Type, page) {
		page = "dashboard"
	}
	// Only the host may frame the page (CSP, enforced by the browser at every load), and
	// nothing but our own assets may run in it.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors "+host)
	h.render(w, h.shell, "shell.html", http.StatusOK, map[string]any{"HostOrigin": host, "Page": page, "Workspace": ws.Name, "Nav": nav})
}

// hostOrigin is the origin of the page embedding the frame, from the frame request's Referer
// (browsers send the embedding page's origin cross-origin); "" when there is none.
func hostOrigin(r *http.Request) string {
	u, err := url.Parse(r.Header.Get("Referer"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "https" && strings.HasSuffix(host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return u.Scheme + "://" + host
}

// page serves one page's fragment to a bearer of a session access token.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ss, err := h.cfg.Sessions.VerifySessionToken(r.Context(), token)
	if !ok || err != nil {
		http.Error(w, "session token required", http.StatusUnauthorized)
		return
	}
	name := r.PathValue("page")
	if !allowed(ss.Type, name) {
		h.fragment(w, http.StatusNotFound, "notfound", nil)
		return
	}
	data, status, err := h.load(r.Context(), ss, name, r.URL.Query())
	if err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "embed page", slog.String("page", name), slog.Any("error", err))
		http.Error(w, "Something went wrong", http.StatusInternalServerError)
		return
	}
	if status == http.StatusNotFound {
		h.fragment(w, status, "notfound", nil)
		return
	}
	if m, ok := data.(map[string]any); ok {
		m["Can"], m["Workspace"] = capabilities(ss), ss.WorkspaceID
		if ss.Type == api.SessionTypeResource {
			m["Resource"], m["ResourceID"] = ss.Resource, ss.ResourceID
		}
	}
	h.fragment(w, http.StatusOK, name, data)
}

// connected is where an OAuth flow started from the connections page ends (its redirect_url):
// the connection exists; the tab it opened in can be closed.
func (h *Handler) connected(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'")
	h.render(w, h.fail, "error.html", http.StatusOK, map[string]string{"Title": "Connected",
		"Text": "The connection is ready. You can close this tab and go back to the page you came from."})
}

// dashboardHours is the period the dashboard shows.
const dashboardHours = 24

// load reads what page shows for session ss, confined to its workspace (and resource).
func (h *Handler) load(ctx context.Context, ss *api.Session, page string, q url.Values) (any, int, error) {
	org, ws := ss.OrganizationID, ss.WorkspaceID
	list := store.ListParams{OrganizationID: org, Limit: 50}
	resource, resourceID := "", ""
	if ss.Type == api.SessionTypeResource {
		resource, resourceID = ss.Resource, ss.ResourceID
	}
	switch page {
	case "dashboard":
		return h.dashboard(ctx, ss, resource, resourceID)
	case "events":
		// Filters: status and event name; a bad value shows as no filter.
		status := switchyard.Status(q.Get("status"))
		if !status.Valid() {
			status = ""
		}
		name := strings.TrimSpace(q.Get("event"))
		if !api.ValidEventName(name) {
			name = "" // and so is a name no event can have, which the stores could not even hold
		}
		p, ds, err := h.cfg.Store.EventListWithDeliveries(ctx, store.EventListParams{ListParams: list, WorkspaceID: ws,
			Resource: resource, ResourceID: resourceID, Status: status, Event: name})
		if err != nil {
			return nil, 0, err
		}
		rules, err := h.ruleStatuses(ctx, ss, ds)
		if err != nil {
			return nil, 0, err
		}
		return map[string]any{"Events": p.Records, "Rules": rules, "Status": string(status), "Event": name,
			"Statuses": []switchyard.Status{switchyard.StatusPending, switchyard.StatusProcessing, switchyard.StatusRetrying,
				switchyard.StatusCompleted, switchyard.StatusFailed, switchyard.StatusCanceled}}, http.StatusOK, nil
	case "event":
		id, err := uuid.Parse(q.Get("id"))
		if err != nil {
			return nil, http.StatusNotFound, nil
		}
		withPayload := (ss.Role == api.SessionRoleAdmin || ss.Role == api.SessionRoleOwner) &&
			slices.Contains(ss.Scopes, api.SessionScopePayloadRead)
		e, ds, err := h.cfg.Store.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: org, ID: id, WithPayload: withPayload})
		if errors.Is(err, store.ErrNotFound) || (err == nil && (e.WorkspaceID != ws ||
			(resource != "" && (e.Resource != resource || e.ResourceID != resourceID)))) {
			return nil, http.StatusNotFound, nil
		} else if err != nil {
			return nil, 0, err
		}
		names, err := h.connectionNames(ctx, ss)
		if err != nil {
			return nil, 0, err
		}
		type delivery struct {
			Delivery   *switchyard.Delivery
			Connection string
			Attempts   []*switchyard.Attempt
		}
		var out []delivery
		for _, d := range ds {
			as, err := h.cfg.Store.AttemptListByDelivery(ctx, store.AttemptListByDeliveryParams{OrganizationID: org, DeliveryID: d.ID})
			if err != nil {
				return nil, 0, err
			}
			out = append(out, delivery{d, names[d.ConnectionID], as})
		}
		payload := ""
		if withPayload && len(e.Payload) > 0 {
			var b bytes.Buffer
			if json.Indent(&b, e.Payload, "", "  ") == nil {
				payload = b.String()
			}
		}
		return map[string]any{"Event": e, "Deliveries": out, "Payload": payload}, http.StatusOK, nil
	case "connections":
		p, err := h.cfg.Store.ConnectionList(ctx, store.ConnectionListParams{ListParams: list, WorkspaceID: ws})
		if err != nil {
			return nil, 0, err
		}
		return map[string]any{"Connections": p.Records, "Forms": connectionForms(h.cfg.Integrations)}, http.StatusOK, nil
	case "mapping":
		return h.mapping(ctx, ss, q)
	case "rules":
		p, err := h.cfg.Store.RuleList(ctx, store.RuleListParams{ListParams: list, WorkspaceID: ws, Resource: resource, ResourceID: resourceID})
		if err != nil {
			return nil, 0, err
		}
		conns, err := h.cfg.Store.ConnectionList(ctx, store.ConnectionListParams{ListParams: store.ListParams{OrganizationID: org, Limit: 200}, WorkspaceID: ws})
		if err != nil {
			return nil, 0, err
		}
		return map[string]any{"Rules": p.Records, "Connections": conns.Records, "Actions": actionForms(h.cfg.Integrations)}, http.StatusOK, nil
	}
	return nil, http.StatusNotFound, nil
}

// ruleStatus is where one event stands with one of its rules, for the events list.
type ruleStatus struct {
	Connection, Type string
	Status           switchyard.Status
}

// ruleStatuses returns, by event id, the status of each rule's delivery of a page's events
// (ds, read with the page), labelled with the connection's name.
func (h *Handler) ruleStatuses(ctx context.Context, ss *api.Session, ds []*switchyard.Delivery) (map[uuid.UUID][]ruleStatus, error) {
	out := map[uuid.UUID][]ruleStatus{}
	if len(ds) == 0 {
		return out, nil
	}
	names, err := h.connectionNames(ctx, ss)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		out[d.EventID] = append(out[d.EventID], ruleStatus{Connection: names[d.ConnectionID], Type: d.IntegrationType, Status: d.Status})
	}
	return out, nil
}

// connectionNames maps the ids of the session's workspace's connections to their names; a
// deleted connection has none (the pages then show its integration type).
func (h *Handler) connectionNames(ctx context.Context, ss *api.Session) (map[uuid.UUID]string, error) {
	names := map[uuid.UUID]string{}
	for cursor := ""; ; {
		p, err := h.cfg.Store.ConnectionList(ctx, store.ConnectionListParams{ListParams: store.ListParams{
			OrganizationID: ss.OrganizationID, Limit: 200, Cursor: cursor}, WorkspaceID: ss.WorkspaceID})
		if err != nil {
			return nil, err
		}
		for _, c := range p.Records {
			names[c.ID] = c.Name
		}
		if cursor = p.NextCursor; cursor == "" {
			return names, nil
		}
	}
}

func statusClass(s switchyard.Status) string {
	switch s {
	case switchyard.StatusCompleted:
		return "good"
	case switchyard.StatusFailed:
		return "bad"
	}
	return ""
}

func (h *Handler) render(w http.ResponseWriter, t *template.Template, name string, status int, data any) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		h.cfg.Logger.Error("embed template", slog.String("template", name), slog.Any("error", err))
		http.Error(w, "Something went wrong", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (h *Handler) fragment(w http.ResponseWriter, status int, name string, data any) {
	h.render(w, h.pages, name, status, data)
}

func (h *Handler) failPage(w http.ResponseWriter, status int, title, text string) {
	h.render(w, h.fail, "error.html", status, map[string]string{"Title": title, "Text": text})
}
