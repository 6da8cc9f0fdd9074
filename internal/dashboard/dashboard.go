// Package dashboard serves the operator dashboard at /dashboard: the workspace pages of every
// workspace of an organization, for whoever runs Switchyard. There are no passwords: `switchyard
// dashboard` (IssueLogin) prints a single-use login URL valid for minutes; spending it starts a
// session held in a cookie. Only SHA-256 hashes of the login token and of the session id are
// stored. Every state-changing request is a POST carrying the session's CSRF token (a
// synchronizer token derived from the session id, compared in constant time) from a
// same-origin page (Origin and Sec-Fetch-Site are checked); GET never changes state, except
// the login link, which is spent by design.
//
// Pages are server-rendered Go templates with a small script of our own; templates and assets
// are embedded. The workspace fragments (connections, rules, events, event detail) are the
// embeddable UI's own (embed.Handler.Operator), not copies.
package dashboard

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/delivery"
	sembed "github.com/switchyardhq/switchyard/internal/embed"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

//go:embed assets templates
var files embed.FS

// Defaults.
const (
	// LoginTTL is how long a login URL stays valid by default.
	LoginTTL = 5 * time.Minute
	// SessionTTL is how long a dashboard session lasts: a fixed lifetime from login, not
	// extended by use (sign in again with a new login URL).
	SessionTTL = 12 * time.Hour
)

// Keys is what the dashboard's writes need of the API (api.Server implements it): the same
// validation, store operations and cache invalidation as the REST routes.
type Keys interface {
	CreateMachineKey(ctx context.Context, orgID uuid.UUID, name *string, workspaces, permissions []string) (*api.MachineKeyJSON, error)
	RevokeMachineKey(ctx context.Context, orgID, id uuid.UUID) (*switchyard.MachineKey, error)
	RotatePublishableKey(ctx context.Context, orgID, id uuid.UUID) (*switchyard.Workspace, error)
}

// Config is what the dashboard needs.
type Config struct {
	Store store.Store
	Keys  Keys
	// PublicURL is the URL browsers reach the server at; when it is https, the session cookie
	// is Secure (and named with the __Secure- prefix).
	PublicURL string
	Logger    *slog.Logger
	Now       func() time.Time
	// Health, when set, reports the open circuits and paused connections
	// (delivery.Engine.Health: the cluster's with shared limits, else this node's).
	Health func(ctx context.Context, now time.Time) ([]delivery.ConnectionHealth, error)
	// SessionTTL is a session's fixed lifetime (default SessionTTL).
	SessionTTL time.Duration
}

// Handler serves /dashboard/.
type Handler struct {
	cfg    Config
	mux    *http.ServeMux
	pages  *template.Template
	embed  *sembed.Handler
	secure bool
	cookie string
}

// CookieName is the session cookie's name over plain http (development on loopback);
// SecureCookieName over https. The __Host- prefix would demand Path=/, and the cookie is
// confined to Path=/dashboard, so the https name uses the __Secure- prefix.
const (
	CookieName       = "switchyard_dashboard"
	SecureCookieName = "__Secure-switchyard_dashboard"
)

// New builds the handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = SessionTTL
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(),
		embed: sembed.New(sembed.Config{Store: cfg.Store, Logger: cfg.Logger, Now: cfg.Now})}
	h.secure = strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://")
	h.cookie = CookieName
	if h.secure {
		h.cookie = SecureCookieName
	}
	h.pages = template.Must(template.New("pages").Funcs(funcs).ParseFS(files, "templates/*.html"))
	h.mux.Handle("GET /dashboard/assets/", http.StripPrefix("/dashboard/", http.FileServerFS(files)))
	h.mux.HandleFunc("GET /dashboard/login", h.login)
	h.mux.HandleFunc("GET /dashboard/signed-out", h.signedOut)
	h.mux.HandleFunc("POST /dashboard/logout", h.authed(h.logout))
	h.mux.HandleFunc("GET /dashboard/{$}", h.authed(h.overview))
	h.mux.HandleFunc("GET /dashboard/workspaces", h.authed(h.workspaces))
	h.mux.HandleFunc("GET /dashboard/workspaces/{id}", h.authed(h.workspace))
	h.mux.HandleFunc("GET /dashboard/workspaces/{id}/events/{event}", h.authed(h.event))
	h.mux.HandleFunc("POST /dashboard/workspaces/{id}/publishable-key", h.authed(h.rotate))
	h.mux.HandleFunc("GET /dashboard/keys", h.authed(h.keys))
	h.mux.HandleFunc("POST /dashboard/keys", h.authed(h.createKey))
	h.mux.HandleFunc("POST /dashboard/keys/{id}/revoke", h.authed(h.revokeKey))
	h.mux.HandleFunc("/dashboard/", func(w http.ResponseWriter, r *http.Request) {
		h.message(w, http.StatusNotFound, "Not found", "There is no such dashboard page.")
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on the
	// dashboard's own form posts. The login URL, which holds the token, gets no-referrer.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	if !strings.HasPrefix(r.URL.Path, "/dashboard/assets/") {
		hd.Set("Cache-Control", "no-store")
	}
	h.mux.ServeHTTP(w, r)
}

// --- secrets ---

// newSecret returns 32 random bytes, base64url without padding.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hash is what the store keeps of a secret: its SHA-256, hex.
func hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// csrfToken is the session's synchronizer token: an HMAC of a fixed label keyed with the
// session id, so it is tied to the session, needs no storage, and reveals nothing of the id.
func csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("switchyard dashboard csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// IssueLogin creates a single-use login token for an owner session of organization orgID,
// valid for ttl from now, and returns the URL that spends it (publicURL + /dashboard/login)
// and its expiry. `switchyard dashboard` prints it; tests call it too.
func IssueLogin(ctx context.Context, st store.Store, orgID uuid.UUID, publicURL string, ttl time.Duration, now time.Time) (string, time.Time, error) {
	if ttl <= 0 {
		return "", time.Time{}, errors.New("the login URL's lifetime must be positive")
	}
	token, err := newSecret()
	if err != nil {
		return "", time.Time{}, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	expires := now.Add(ttl)
	if err := st.DashboardLoginInsert(ctx, store.DashboardLoginInsertParams{TokenHash: hash(token), OrganizationID: orgID,
		CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, fmt.Errorf("storing the login token: %w", err)
	}
	return strings.TrimSuffix(publicURL, "/") + "/dashboard/login?token=" + url.QueryEscape(token), expires, nil
}

// --- login, sessions, CSRF ---

// session is the signed-in operator of one request.
type session struct {
	OrganizationID uuid.UUID
	idHash         string
	CSRF           string
}

// login spends a login token and starts a session, then sends the browser to the overview
// (so the token leaves the address bar and the history).
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer") // the login token is in this URL
	ctx := r.Context()
	now := h.cfg.Now().UTC()
	token := r.URL.Query().Get("token")
	var l *store.DashboardLogin
	var err error
	if token != "" {
		l, err = h.cfg.Store.DashboardLoginTake(ctx, store.DashboardLoginTakeParams{TokenHash: hash(token), Now: now})
	}
	if token == "" || errors.Is(err, store.ErrNotFound) {
		h.message(w, http.StatusUnauthorized, "This login link is invalid, expired or already used",
			"Login links work once and expire after a few minutes. Run `switchyard dashboard` on the server for a new one.")
		return
	} else if err != nil {
		h.fail(w, r, "dashboard login", err)
		return
	}
	id, err := newSecret()
	if err != nil {
		h.fail(w, r, "dashboard session id", err)
		return
	}
	expires := now.Add(h.cfg.SessionTTL)
	if err := h.cfg.Store.DashboardSessionInsert(ctx, store.DashboardSessionInsertParams{IDHash: hash(id),
		OrganizationID: l.OrganizationID, CreatedAt: now, ExpiresAt: expires}); err != nil {
		h.fail(w, r, "dashboard session", err)
		return
	}
	h.cfg.Logger.InfoContext(ctx, "dashboard sign-in", slog.String("organization", l.OrganizationID.String()))
	http.SetCookie(w, &http.Cookie{Name: h.cookie, Value: id, Path: "/dashboard", Expires: expires,
		MaxAge: int(h.cfg.SessionTTL / time.Second), Secure: h.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/dashboard/", http.StatusSeeOther)
}

// authed wraps a page that needs a session; for POST it also checks the request's origin and
// CSRF token.
func (h *Handler) authed(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(h.cookie)
		var ss *store.DashboardSession
		if err == nil && c.Value != "" {
			ss, err = h.cfg.Store.DashboardSessionGet(r.Context(), store.DashboardSessionGetParams{IDHash: hash(c.Value),
				Now: h.cfg.Now().UTC()})
		}
		if ss == nil {
			if err != nil && !errors.Is(err, http.ErrNoCookie) && !errors.Is(err, store.ErrNotFound) {
				h.fail(w, r, "dashboard session", err)
				return
			}
			h.message(w, http.StatusUnauthorized, "Sign in to the operator dashboard",
				"Your session ended or you are not signed in. Run `switchyard dashboard` on the server and open the login URL it prints.")
			return
		}
		s := &session{OrganizationID: ss.OrganizationID, idHash: ss.IDHash, CSRF: csrfToken(c.Value)}
		if r.Method == http.MethodPost {
			if !sameOrigin(r, h.cfg.PublicURL) {
				h.message(w, http.StatusForbidden, "Request refused", "The form was not sent from this dashboard.")
				return
			}
			if err := r.ParseForm(); err != nil ||
				subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
				h.message(w, http.StatusForbidden, "Request refused",
					"The form's security token is missing or out of date. Go back, reload the page and try again.")
				return
			}
		}
		next(w, r, s)
	}
}

// sameOrigin reports whether a POST comes from a page of this server: Sec-Fetch-Site, when the
// browser sends it, must be same-origin, and Origin, when sent, must be this host's (or the
// public URL's) origin.
func sameOrigin(r *http.Request, publicURL string) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if p, err := url.Parse(publicURL); err == nil && p.Host != "" && strings.EqualFold(u.Scheme+"://"+u.Host, p.Scheme+"://"+p.Host) {
		return true
	}
	return false
}

// logout ends the session and forgets the cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.cfg.Store.DashboardSessionRevoke(r.Context(), store.DashboardSessionRevokeParams{IDHash: s.idHash,
		Now: h.cfg.Now().UTC()}); err != nil {
		h.fail(w, r, "dashboard logout", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: h.cookie, Value: "", Path: "/dashboard", MaxAge: -1, Secure: h.secure,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/dashboard/signed-out", http.StatusSeeOther)
}

func (h *Handler) signedOut(w http.ResponseWriter, r *http.Request) {
	h.message(w, http.StatusOK, "Signed out", "Run `switchyard dashboard` on the server to sign in again.")
}

// --- rendering ---

var funcs = template.FuncMap{
	// replace sets the URL the page's script puts in the history entry (data-replace).
	"replace": func(data map[string]any, path string) map[string]any { data["Replace"] = path; return data },
	"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
}

// render executes a page template with the common fields (the session's CSRF token, the
// active nav entry).
func (h *Handler) render(w http.ResponseWriter, status int, name string, s *session, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Page"] = name
	if s != nil {
		data["CSRF"] = s.CSRF
		data["SignedIn"] = true
	}
	var b bytes.Buffer
	if err := h.pages.ExecuteTemplate(&b, name, data); err != nil {
		h.cfg.Logger.Error("dashboard template", slog.String("template", name), slog.Any("error", err))
		http.Error(w, "Something went wrong", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// message renders a page with a title and a sentence (errors, sign-in, signed out).
func (h *Handler) message(w http.ResponseWriter, status int, title, text string) {
	h.render(w, status, "message", nil, map[string]any{"Title": title, "Text": text})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.cfg.Logger.ErrorContext(r.Context(), what, slog.Any("error", err))
	h.message(w, http.StatusInternalServerError, "Something went wrong", "Try again in a moment; the server log has the details.")
}
