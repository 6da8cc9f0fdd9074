package intercom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

// Default values used when the matching Options field is left zero.
const (
	DefaultClientID     = "fake-intercom-client-id"
	DefaultClientSecret = "fake-intercom-client-secret"
	DefaultAppIDCode    = "fakeapp1"
	DefaultAppName      = "Fake Workspace"
	DefaultAdminID      = "991267459"
	DefaultAdminEmail   = "admin@example.com"
	DefaultAdminName    = "Fake Admin"
	DefaultCodeTTL      = 5 * time.Minute
	// DefaultRateLimit is 10,000 calls a minute spread over 10-second windows.
	DefaultRateLimit       = 1667
	DefaultRateLimitWindow = 10 * time.Second
	defaultMaxBodyBytes    = 10 << 20
)

// Versions are the Intercom-Version header values the fake accepts.
var Versions = []string{"1.0", "1.1", "1.2", "1.3", "1.4", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7",
	"2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "Unstable", "Preview"}

// Options configures a Server. Every field is optional.
type Options struct {
	ClientID     string
	ClientSecret string
	// RedirectURIs are the app's registered redirect URLs; the first is the
	// default when the authorize request has no redirect_uri. When empty, any
	// http(s) URL on a loopback host is accepted (and redirect_uri is then
	// required).
	RedirectURIs []string
	// Workspace (app) and admin returned by GET /me.
	AppIDCode  string
	AppName    string
	Region     string
	Timezone   string
	AdminID    string
	AdminEmail string
	AdminName  string
	// CodeTTL is how long an authorization code can be exchanged (the docs
	// say "about 5 minutes").
	CodeTTL time.Duration
	// RateLimit is X-RateLimit-Limit: requests per app per RateLimitWindow.
	// -1 disables the limit.
	RateLimit       int
	RateLimitWindow time.Duration
	// RequireVersionHeader refuses requests without an Intercom-Version
	// header (the API itself falls back to the app's default version).
	RequireVersionHeader bool
	// SearchDelay hides contacts created less than this long ago from
	// POST /contacts/search, as the docs warn ("Contact Creation Delay").
	SearchDelay time.Duration
	// Now replaces the wall clock.
	Now func() time.Time
}

// Failure is an injected response, see InjectFailure. Method and
// PathPrefix, when set, restrict which requests it applies to.
type Failure = fakekit.Failure

// Request is one request received by the fake, as recorded in the log.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	At     time.Time
}

// JSON decodes the recorded body into v.
func (r Request) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// Form parses the recorded body as application/x-www-form-urlencoded.
func (r Request) Form() url.Values {
	v, _ := url.ParseQuery(string(r.Body))
	return v
}

func fromKit(r fakekit.Request) Request {
	return Request{Method: r.Method, Path: r.Path, Query: r.Query(), Header: r.Header, Body: r.Body, At: r.At}
}

// Server is a fake Intercom: REST API, OAuth page and token endpoint on one
// loopback httptest server. It is safe for concurrent use.
type Server struct {
	kit      *fakekit.Server
	clock    *fakekit.Clock
	failures fakekit.Faults
	opts     Options

	tokenRequests, codeExchanges, apiRequests atomic.Int64

	mu sync.Mutex

	codes          fakekit.Codes
	tokens         map[string]*accessToken
	denyConsent    bool
	nextPrivateApp int

	forcedLimits int
	windows      fakekit.Windows

	contacts     map[string]*contact
	contactOrder []string
	tags         map[string]*tag
	tagOrder     []string
	nextTagID    int
	attrs        []*DataAttribute
	nextAttrID   int
}

// New starts a fake Intercom on 127.0.0.1. When t is not nil the server is
// closed by t.Cleanup.
func New(t testing.TB, opts Options) *Server {
	if t != nil {
		t.Helper()
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.AppIDCode == "" {
		opts.AppIDCode = DefaultAppIDCode
	}
	if opts.AppName == "" {
		opts.AppName = DefaultAppName
	}
	if opts.Region == "" {
		opts.Region = "US"
	}
	if opts.Timezone == "" {
		opts.Timezone = "Etc/UTC"
	}
	if opts.AdminID == "" {
		opts.AdminID = DefaultAdminID
	}
	if opts.AdminEmail == "" {
		opts.AdminEmail = DefaultAdminEmail
	}
	if opts.AdminName == "" {
		opts.AdminName = DefaultAdminName
	}
	if opts.CodeTTL == 0 {
		opts.CodeTTL = DefaultCodeTTL
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.RateLimitWindow == 0 {
		opts.RateLimitWindow = DefaultRateLimitWindow
	}
	s := &Server{
		opts:       opts,
		clock:      fakekit.NewClock(opts.Now),
		tokens:     map[string]*accessToken{},
		contacts:   map[string]*contact{},
		tags:       map[string]*tag{},
		nextTagID:  100,
		nextAttrID: 1000,
	}
	s.seedStandardAttributes()
	s.kit = fakekit.Start(t, fakekit.Config{Name: "intercom fake", Clock: s.clock, DropConnectionsOnClose: true}, s.serve)
	return s
}

// Close releases hung requests and shuts the server down.
func (s *Server) Close() { s.kit.Close() }

// URL is the API base URL (stands in for https://api.intercom.io).
func (s *Server) URL() string { return s.kit.URL() }

// AuthorizeURL stands in for https://app.intercom.com/oauth.
func (s *Server) AuthorizeURL() string { return s.kit.URL() + "/oauth" }

// TokenURL is the token endpoint (POST /auth/eagle/token).
func (s *Server) TokenURL() string { return s.kit.URL() + "/auth/eagle/token" }

// ClientID is the registered OAuth client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the registered OAuth client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// AppIDCode is the workspace id (app.id_code in GET /me).
func (s *Server) AppIDCode() string { return s.opts.AppIDCode }

// HTTPClient returns a client for the fake that does not follow redirects.
func (s *Server) HTTPClient() *http.Client { return s.kit.Client() }

// Advance moves the fake's clock forward.
func (s *Server) Advance(d time.Duration) { s.clock.Advance(d) }

func (s *Server) now() time.Time { return s.clock.Now() }

// FailNext makes the next n requests (any path) answer status with body and
// exactly the given headers.
func (s *Server) FailNext(n int, status int, body string, headers map[string]string) {
	s.InjectFailure(n, Failure{Status: status, Body: body, Headers: headers})
}

// InjectFailure queues f for the next n matching requests.
func (s *Server) InjectFailure(n int, f Failure) { s.failures.Add(n, f) }

// ForceRateLimit makes the next n authenticated API requests answer the
// documented 429 (rate_limit_exceeded, X-RateLimit-Remaining: 0).
func (s *Server) ForceRateLimit(n int) {
	s.mu.Lock()
	s.forcedLimits = n
	s.mu.Unlock()
}

// Hang makes every request received from now on block until Release, Close
// or the client giving up.
func (s *Server) Hang() { s.kit.Hang() }

// Release lets hung requests proceed and stops hanging new ones.
func (s *Server) Release() { s.kit.Release() }

// SetLatency delays every response by d (0 turns it off).
func (s *Server) SetLatency(d time.Duration) { s.kit.SetLatency(d) }

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request { return convert(s.kit.Log.All()) }

// RequestsTo returns the logged requests with this method and path.
func (s *Server) RequestsTo(method, path string) []Request {
	return convert(s.kit.Log.To(method, path))
}

// LastRequest returns the most recent logged request.
func (s *Server) LastRequest() (Request, bool) {
	r, ok := s.kit.Log.Last("")
	if !ok {
		return Request{}, false
	}
	return fromKit(r), true
}

func convert(rs []fakekit.Request) []Request {
	out := make([]Request, len(rs))
	for i, r := range rs {
		out[i] = fromKit(r)
	}
	return out
}

// APIRequests counts authenticated API requests.
func (s *Server) APIRequests() int { return int(s.apiRequests.Load()) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.kit.ServeHTTP(w, r) }

// serve answers injected failures first, then routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if s.failures.Serve(w, r) {
		return
	}
	s.route(w, r, body)
}

// ---- routing ----

type call struct {
	params map[string]string
	body   []byte
	tok    *accessToken
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

type route struct {
	method  string
	pattern string
	h       handlerFunc
	auth    bool
}

func (s *Server) routes() []route {
	return []route{
		{method: "GET", pattern: "/oauth", h: s.handleAuthorize},
		{method: "POST", pattern: "/auth/eagle/token", h: s.handleToken},

		{method: "GET", pattern: "/me", h: s.handleMe, auth: true},
		{method: "POST", pattern: "/contacts/search", h: s.handleContactSearch, auth: true},
		{method: "POST", pattern: "/contacts", h: s.handleContactCreate, auth: true},
		{method: "GET", pattern: "/contacts/{contact_id}", h: s.handleContactGet, auth: true},
		{method: "PUT", pattern: "/contacts/{contact_id}", h: s.handleContactUpdate, auth: true},
		{method: "GET", pattern: "/contacts/{contact_id}/tags", h: s.handleContactTags, auth: true},
		{method: "POST", pattern: "/contacts/{contact_id}/tags", h: s.handleTagAttach, auth: true},
		{method: "DELETE", pattern: "/contacts/{contact_id}/tags/{tag_id}", h: s.handleTagDetach, auth: true},
		{method: "GET", pattern: "/tags", h: s.handleTagsList, auth: true},
		{method: "GET", pattern: "/data_attributes", h: s.handleDataAttributes, auth: true},
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	best, params, status := fakekit.Lookup(s.routes(), func(rt route) (string, string) { return rt.method, rt.pattern }, r.Method, r.URL.EscapedPath())
	switch status {
	case http.StatusMethodNotAllowed:
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
		return
	case http.StatusNotFound:
		writeError(w, http.StatusNotFound, "not_found", "Resource Not Found")
		return
	}
	c := &call{params: params, body: body}
	if best.auth {
		tok, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		c.tok = tok
		if !s.applyRateLimit(w, tok) {
			return
		}
		if !s.checkVersion(w, r) {
			return
		}
	}
	best.h(w, r, c)
}

// ---- auth, version, rate limit ----

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*accessToken, bool) {
	scheme, value, found := strings.Cut(r.Header.Get("Authorization"), " ")
	value = strings.TrimSpace(value)
	if !found || !strings.EqualFold(scheme, "Bearer") || value == "" {
		writeError(w, http.StatusUnauthorized, "unauthorized", "Access Token Invalid")
		return nil, false
	}
	s.mu.Lock()
	tok, ok := s.tokens[value]
	valid := ok && !tok.revoked
	if valid {
		s.apiRequests.Add(1)
	}
	s.mu.Unlock()
	if !valid {
		writeError(w, http.StatusUnauthorized, "unauthorized", "Access Token Invalid")
		return nil, false
	}
	return tok, true
}

func (s *Server) checkVersion(w http.ResponseWriter, r *http.Request) bool {
	v := r.Header.Get("Intercom-Version")
	if v == "" {
		if s.opts.RequireVersionHeader {
			writeError(w, http.StatusBadRequest, "intercom_version_invalid", "Intercom-Version header is required")
			return false
		}
		return true
	}
	for _, ok := range Versions {
		if v == ok {
			return true
		}
	}
	writeError(w, http.StatusBadRequest, "intercom_version_invalid", fmt.Sprintf("The requested version %q could not be found", v))
	return false
}

// applyRateLimit counts the request against the app's 10-second window and
// sets X-RateLimit-Limit/-Remaining/-Reset; over the limit it answers 429.
func (s *Server) applyRateLimit(w http.ResponseWriter, tok *accessToken) bool {
	if s.opts.RateLimit < 0 {
		s.mu.Lock()
		forced := s.forcedLimits > 0
		if forced {
			s.forcedLimits--
		}
		s.mu.Unlock()
		if forced {
			writeError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "Exceeded rate limit")
			return false
		}
		return true
	}
	s.mu.Lock()
	now := s.now()
	// A window opens with the first request after the previous one ended.
	win := s.windows.Hit(tok.appKey, now, s.opts.RateLimitWindow)
	limited := false
	if s.forcedLimits > 0 {
		s.forcedLimits--
		limited = true
	} else if win.Count > s.opts.RateLimit {
		limited = true
	}
	remaining := s.opts.RateLimit - win.Count
	if remaining < 0 || limited {
		remaining = 0
	}
	reset := win.Start.Add(s.opts.RateLimitWindow).Unix()
	s.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	if limited {
		writeError(w, http.StatusTooManyRequests, "rate_limit_exceeded",
			fmt.Sprintf("Exceeded rate limit of %d in %d_seconds", s.opts.RateLimit, int(s.opts.RateLimitWindow/time.Second)))
		return false
	}
	return true
}

// ---- errors and JSON ----

type errorItem struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

// errorList is Intercom's error body.
type errorList struct {
	Type      string      `json:"type"`
	RequestID string      `json:"request_id"`
	Errors    []errorItem `json:"errors"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeErrorField(w, status, code, msg, "")
}

func writeErrorField(w http.ResponseWriter, status int, code, msg, field string) {
	writeJSON(w, status, errorList{Type: "error.list", RequestID: newUUID(), Errors: []errorItem{{Code: code, Message: msg, Field: field}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	fakekit.WriteJSON(w, status, "application/json; charset=utf-8", v)
}

func decodeJSON(w http.ResponseWriter, body []byte, v any) bool {
	if len(bytes.TrimSpace(body)) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "Request body is empty")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "There was a problem parsing the JSON body: "+err.Error())
		return false
	}
	return true
}

var (
	randHex = fakekit.RandHex
	newUUID = fakekit.UUID
)
