package intercom

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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

// Failure is an injected response, see InjectFailure.
type Failure struct {
	Status  int
	Body    string
	Headers map[string]string
	// Method and PathPrefix, when set, restrict which requests it applies to.
	Method     string
	PathPrefix string
}

type pendingFailure struct {
	Failure
	remaining int
}

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

// Server is a fake Intercom: REST API, OAuth page and token endpoint on one
// loopback httptest server. It is safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu         sync.Mutex
	clockShift time.Duration

	codes          map[string]*authCode
	tokens         map[string]*accessToken
	denyConsent    bool
	tokenRequests  int
	codeExchanges  int
	nextPrivateApp int

	failures     []*pendingFailure
	forcedLimits int
	hangCh       chan struct{}
	latency      time.Duration
	closed       bool
	windows      map[string]*rateWindow
	apiRequests  int

	contacts     map[string]*contact
	contactOrder []string
	tags         map[string]*tag
	tagOrder     []string
	nextTagID    int
	attrs        []*DataAttribute
	nextAttrID   int

	log []Request
}

type rateWindow struct {
	start time.Time
	count int
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
		codes:      map[string]*authCode{},
		tokens:     map[string]*accessToken{},
		windows:    map[string]*rateWindow{},
		contacts:   map[string]*contact{},
		tags:       map[string]*tag{},
		nextTagID:  100,
		nextAttrID: 1000,
	}
	s.seedStandardAttributes()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if t != nil {
			t.Fatalf("intercom fake: listen: %v", err)
		}
		panic(fmt.Sprintf("intercom fake: listen: %v", err))
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s}}
	s.srv.Start()
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Close releases hung requests and shuts the server down.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.hangCh != nil {
		close(s.hangCh)
		s.hangCh = nil
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// URL is the API base URL (stands in for https://api.intercom.io).
func (s *Server) URL() string { return s.srv.URL }

// AuthorizeURL stands in for https://app.intercom.com/oauth.
func (s *Server) AuthorizeURL() string { return s.srv.URL + "/oauth" }

// TokenURL is the token endpoint (POST /auth/eagle/token).
func (s *Server) TokenURL() string { return s.srv.URL + "/auth/eagle/token" }

// ClientID is the registered OAuth client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the registered OAuth client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// AppIDCode is the workspace id (app.id_code in GET /me).
func (s *Server) AppIDCode() string { return s.opts.AppIDCode }

// HTTPClient returns a client for the fake that does not follow redirects.
func (s *Server) HTTPClient() *http.Client {
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Advance moves the fake's clock forward.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.clockShift += d
	s.mu.Unlock()
}

func (s *Server) now() time.Time {
	t := time.Now()
	if s.opts.Now != nil {
		t = s.opts.Now()
	}
	return t.Add(s.clockShift)
}

// FailNext makes the next n requests (any path) answer status with body and
// exactly the given headers.
func (s *Server) FailNext(n int, status int, body string, headers map[string]string) {
	s.InjectFailure(n, Failure{Status: status, Body: body, Headers: headers})
}

// InjectFailure queues f for the next n matching requests.
func (s *Server) InjectFailure(n int, f Failure) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.failures = append(s.failures, &pendingFailure{Failure: f, remaining: n})
	s.mu.Unlock()
}

// ForceRateLimit makes the next n authenticated API requests answer the
// documented 429 (rate_limit_exceeded, X-RateLimit-Remaining: 0).
func (s *Server) ForceRateLimit(n int) {
	s.mu.Lock()
	s.forcedLimits = n
	s.mu.Unlock()
}

// Hang makes every request received from now on block until Release, Close
// or the client giving up.
func (s *Server) Hang() {
	s.mu.Lock()
	if s.hangCh == nil && !s.closed {
		s.hangCh = make(chan struct{})
	}
	s.mu.Unlock()
}

// Release lets hung requests proceed and stops hanging new ones.
func (s *Server) Release() {
	s.mu.Lock()
	if s.hangCh != nil {
		close(s.hangCh)
		s.hangCh = nil
	}
	s.mu.Unlock()
}

// SetLatency delays every response by d (0 turns it off).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	copy(out, s.log)
	return out
}

// RequestsTo returns the logged requests with this method and path.
func (s *Server) RequestsTo(method, path string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// LastRequest returns the most recent logged request.
func (s *Server) LastRequest() (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) == 0 {
		return Request{}, false
	}
	return s.log[len(s.log)-1], true
}

// APIRequests counts authenticated API requests.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, defaultMaxBodyBytes))
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, At: s.now()})
	hang, latency := s.hangCh, s.latency
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if latency > 0 && !sleepCtx(r.Context(), latency) {
		return
	}
	if f, ok := s.takeFailure(r); ok {
		for k, v := range f.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	s.route(w, r, body)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) takeFailure(r *http.Request) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.failures {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		f.remaining--
		if f.remaining <= 0 {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
		}
		return f.Failure, true
	}
	return Failure{}, false
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
	pattern []string
	h       handlerFunc
	auth    bool
}

func (s *Server) routes() []route {
	return []route{
		{method: "GET", pattern: split("/oauth"), h: s.handleAuthorize},
		{method: "POST", pattern: split("/auth/eagle/token"), h: s.handleToken},

		{method: "GET", pattern: split("/me"), h: s.handleMe, auth: true},
		{method: "POST", pattern: split("/contacts/search"), h: s.handleContactSearch, auth: true},
		{method: "POST", pattern: split("/contacts"), h: s.handleContactCreate, auth: true},
		{method: "GET", pattern: split("/contacts/{contact_id}"), h: s.handleContactGet, auth: true},
		{method: "PUT", pattern: split("/contacts/{contact_id}"), h: s.handleContactUpdate, auth: true},
		{method: "GET", pattern: split("/contacts/{contact_id}/tags"), h: s.handleContactTags, auth: true},
		{method: "POST", pattern: split("/contacts/{contact_id}/tags"), h: s.handleTagAttach, auth: true},
		{method: "DELETE", pattern: split("/contacts/{contact_id}/tags/{tag_id}"), h: s.handleTagDetach, auth: true},
		{method: "GET", pattern: split("/tags"), h: s.handleTagsList, auth: true},
		{method: "GET", pattern: split("/data_attributes"), h: s.handleDataAttributes, auth: true},
	}
}

func split(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

func match(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	segs := split(r.URL.EscapedPath())
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = u
		}
	}
	var best *route
	var bestParams map[string]string
	methodMismatch := false
	for _, rt := range s.routes() {
		params, ok := match(rt.pattern, segs)
		if !ok {
			continue
		}
		if rt.method != r.Method {
			methodMismatch = true
			continue
		}
		if best == nil || len(params) < len(bestParams) {
			rt := rt
			best, bestParams = &rt, params
		}
	}
	if best == nil {
		if methodMismatch {
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "Resource Not Found")
		return
	}
	c := &call{params: bestParams, body: body}
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
		s.apiRequests++
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
	win := s.windows[tok.appKey]
	if win == nil || !now.Before(win.start.Add(s.opts.RateLimitWindow)) {
		// A window opens with the first request after the previous one ended.
		win = &rateWindow{start: now}
		s.windows[tok.appKey] = win
	}
	win.count++
	limited := false
	if s.forcedLimits > 0 {
		s.forcedLimits--
		limited = true
	} else if win.count > s.opts.RateLimit {
		limited = true
	}
	remaining := s.opts.RateLimit - win.count
	if remaining < 0 || limited {
		remaining = 0
	}
	reset := win.start.Add(s.opts.RateLimitWindow).Unix()
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
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
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

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
