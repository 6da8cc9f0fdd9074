package hubspot

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
	DefaultClientID         = "6f1c2a0e-1b7d-4c55-9a34-hubspotfake"
	DefaultClientSecret     = "fake-hubspot-client-secret"
	DefaultHubID            = 62515
	DefaultAppID            = 456789
	DefaultUserID           = 123123
	DefaultUser             = "installer@example.com"
	DefaultHubDomain        = "fake-portal.hubspot.com"
	DefaultAccessTokenTTL   = 30 * time.Minute
	DefaultCodeTTL          = 5 * time.Minute
	DefaultRateLimitMax     = 100
	DefaultRateLimitWindow  = 10 * time.Second
	DefaultDailyLimit       = 250000
	DefaultSearchPerSecond  = 5
	defaultMaxBodyBytes     = 10 << 20
	rateLimitIntervalHeader = "X-HubSpot-RateLimit-Interval-Milliseconds"
)

// DefaultScopes are the scopes the fake app is registered with when
// Options.Scopes is empty: everything the integration layer needs.
var DefaultScopes = []string{
	"oauth",
	"crm.objects.contacts.read",
	"crm.objects.contacts.write",
	"crm.lists.read",
	"crm.lists.write",
	"crm.schemas.contacts.read",
}

// Options configures a Server. Every field is optional.
type Options struct {
	// ClientID and ClientSecret are the registered OAuth app credentials.
	ClientID     string
	ClientSecret string
	// RedirectURIs are the redirect URLs registered for the app. When empty,
	// any http(s) URL on a loopback host (127.0.0.1, ::1, localhost) is accepted.
	RedirectURIs []string
	// Scopes the app is configured with; the authorize endpoint refuses any
	// requested scope outside this set. Defaults to DefaultScopes.
	Scopes []string
	// HubID (portal id), HubDomain, AppID, UserID and User describe the
	// account that installs the app; they appear in token and account info.
	HubID     int
	HubDomain string
	AppID     int
	UserID    int
	User      string
	// AccessTokenTTL is the lifetime of OAuth access tokens (expires_in).
	AccessTokenTTL time.Duration
	// CodeTTL is how long an authorization code can be exchanged.
	CodeTTL time.Duration
	// RateLimitMax is the number of requests an app may make per
	// RateLimitWindow (X-HubSpot-RateLimit-Max). -1 disables the limit.
	RateLimitMax    int
	RateLimitWindow time.Duration
	// DailyLimit is the account-wide daily limit that applies to private-app
	// tokens (X-HubSpot-RateLimit-Daily). -1 disables it.
	DailyLimit int
	// SearchPerSecond is the per-token limit of the CRM search endpoints.
	// -1 disables it.
	SearchPerSecond int
	// SearchDelay hides contacts created less than this long ago from the
	// search endpoint (HubSpot's search index lags behind writes), which
	// exercises the search-miss-then-409 path of create-or-update code.
	SearchDelay time.Duration
	// Now replaces the wall clock (token expiry, rate-limit windows).
	Now func() time.Time
}

// Failure is an injected response, see InjectFailure. Method and
// PathPrefix, when set, restrict which requests it applies to; other
// requests pass through untouched.
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

// Server is a fake HubSpot: API, OAuth authorize page and token endpoint on
// one loopback httptest server. It is safe for concurrent use.
type Server struct {
	kit      *fakekit.Server
	clock    *fakekit.Clock
	failures fakekit.Faults
	opts     Options
	// table is the route table, built once (routes).
	table []route

	tokenRequests, refreshCount, codeExchanges, apiRequests atomic.Int64

	mu sync.Mutex

	// OAuth state.
	codes          fakekit.Codes
	access         map[string]*accessToken
	refresh        map[string]*refreshToken
	denyConsent    bool
	nextPrivateApp int

	// Test controls.
	forcedLimits  int
	forcedPolicy  string
	windows       fakekit.Windows
	searchWindows fakekit.Windows
	dayStart      time.Time
	dayCount      int

	// CRM state.
	nextContactID int64
	contacts      map[string]*contact
	// contactsByEmail indexes contacts by their (lower-case) email: every create and update
	// checks it, so a lookup must not walk every contact.
	contactsByEmail map[string]string
	contactOrder    []string
	properties      map[string]*Property
	propertyOrder   []string
	lists           map[string]*list
	listOrder       []string
	nextListID      int64
}

// New starts a fake HubSpot on 127.0.0.1. When t is not nil the server is
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
	if len(opts.Scopes) == 0 {
		opts.Scopes = append([]string(nil), DefaultScopes...)
	}
	if opts.HubID == 0 {
		opts.HubID = DefaultHubID
	}
	if opts.HubDomain == "" {
		opts.HubDomain = DefaultHubDomain
	}
	if opts.AppID == 0 {
		opts.AppID = DefaultAppID
	}
	if opts.UserID == 0 {
		opts.UserID = DefaultUserID
	}
	if opts.User == "" {
		opts.User = DefaultUser
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if opts.CodeTTL == 0 {
		opts.CodeTTL = DefaultCodeTTL
	}
	if opts.RateLimitMax == 0 {
		opts.RateLimitMax = DefaultRateLimitMax
	}
	if opts.RateLimitWindow == 0 {
		opts.RateLimitWindow = DefaultRateLimitWindow
	}
	if opts.DailyLimit == 0 {
		opts.DailyLimit = DefaultDailyLimit
	}
	if opts.SearchPerSecond == 0 {
		opts.SearchPerSecond = DefaultSearchPerSecond
	}
	s := &Server{
		opts:            opts,
		clock:           fakekit.NewClock(opts.Now),
		access:          map[string]*accessToken{},
		refresh:         map[string]*refreshToken{},
		contacts:        map[string]*contact{},
		contactsByEmail: map[string]string{},
		properties:      map[string]*Property{},
		lists:           map[string]*list{},
		nextContactID:   101,
		nextListID:      1,
	}
	s.seedDefaultProperties()
	s.table = s.routes()
	s.kit = fakekit.Start(t, fakekit.Config{Name: "hubspot fake", Clock: s.clock, DropConnectionsOnClose: true}, s.serve)
	return s
}

// Close releases hung requests and shuts the server down.
func (s *Server) Close() { s.kit.Close() }

// URL is the API base URL (stands in for https://api.hubapi.com).
func (s *Server) URL() string { return s.kit.URL() }

// AuthorizeURL stands in for https://app.hubspot.com/oauth/authorize.
func (s *Server) AuthorizeURL() string { return s.kit.URL() + "/oauth/authorize" }

// TokenURL is the token endpoint (POST /oauth/v1/token).
func (s *Server) TokenURL() string { return s.kit.URL() + "/oauth/v1/token" }

// ClientID is the registered OAuth client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the registered OAuth client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// HubID is the portal id of the fake account.
func (s *Server) HubID() int { return s.opts.HubID }

// HTTPClient returns a client that talks to the fake and does not follow
// redirects (so tests can read the authorize redirect).
func (s *Server) HTTPClient() *http.Client { return s.kit.Client() }

// Advance moves the fake's clock forward (token expiry, rate-limit windows).
func (s *Server) Advance(d time.Duration) { s.clock.Advance(d) }

func (s *Server) now() time.Time { return s.clock.Now() }

// FailNext makes the next n requests (any path) answer status with body and
// headers instead of being handled. Injected responses carry only the given
// headers.
func (s *Server) FailNext(n int, status int, body string, headers map[string]string) {
	s.InjectFailure(n, Failure{Status: status, Body: body, Headers: headers})
}

// InjectFailure queues f for the next n matching requests.
func (s *Server) InjectFailure(n int, f Failure) { s.failures.Add(n, f) }

// ForceRateLimit makes the next n authenticated API requests answer 429 with
// the documented body for policy ("TEN_SECONDLY_ROLLING" when empty, or
// "DAILY") and X-HubSpot-RateLimit-Remaining: 0.
func (s *Server) ForceRateLimit(n int, policy string) {
	if policy == "" {
		policy = "TEN_SECONDLY_ROLLING"
	}
	s.mu.Lock()
	s.forcedLimits = n
	s.forcedPolicy = policy
	s.mu.Unlock()
}

// Hang makes every request received from now on block until Release, Close,
// or the client giving up (request context done). Use it to provoke client
// timeouts.
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

// APIRequests counts requests that reached an authenticated API route.
func (s *Server) APIRequests() int { return int(s.apiRequests.Load()) }

// serve answers injected failures first, then routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if s.failures.Serve(w, r) {
		return
	}
	s.route(w, r, body)
}

// ---- routing ----

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

// call carries what a handler needs about the current request.
type call struct {
	params map[string]string
	body   []byte
	tok    *accessToken
}

type route struct {
	method  string
	pattern string
	h       handlerFunc
	// auth: the route needs a bearer token; scopes lists alternatives, each
	// alternative a set of scopes that must all be granted.
	auth   bool
	scopes [][]string
	search bool
}

func (s *Server) routes() []route {
	contactsRead := [][]string{{"crm.objects.contacts.read"}}
	contactsWrite := [][]string{{"crm.objects.contacts.write"}}
	listsRead := [][]string{{"crm.lists.read"}}
	listsWrite := [][]string{{"crm.lists.read", "crm.lists.write"}}
	propsRead := [][]string{{"crm.schemas.contacts.read"}, {"crm.objects.contacts.read"}}
	return []route{
		{method: "GET", pattern: "/oauth/authorize", h: s.handleAuthorize},
		{method: "GET", pattern: "/oauth/{hubId}/authorize", h: s.handleAuthorize},
		{method: "POST", pattern: "/oauth/v1/token", h: s.handleToken},
		{method: "GET", pattern: "/oauth/v1/access-tokens/{token}", h: s.handleAccessTokenInfo},
		{method: "GET", pattern: "/oauth/v1/refresh-tokens/{token}", h: s.handleRefreshTokenInfo},
		{method: "DELETE", pattern: "/oauth/v1/refresh-tokens/{token}", h: s.handleRefreshTokenDelete},

		{method: "GET", pattern: "/account-info/v3/details", h: s.handleAccountDetails, auth: true, scopes: [][]string{{"oauth"}}},

		{method: "POST", pattern: "/crm/v3/objects/contacts/search", h: s.handleContactSearch, auth: true, scopes: contactsRead, search: true},
		{method: "POST", pattern: "/crm/v3/objects/contacts", h: s.handleContactCreate, auth: true, scopes: contactsWrite},
		{method: "POST", pattern: "/crm/v3/objects/contacts/batch/create", h: s.handleContactBatchCreate, auth: true, scopes: contactsWrite},
		{method: "GET", pattern: "/crm/v3/objects/contacts/{contactId}", h: s.handleContactGet, auth: true, scopes: contactsRead},
		{method: "PATCH", pattern: "/crm/v3/objects/contacts/{contactId}", h: s.handleContactUpdate, auth: true, scopes: contactsWrite},

		{method: "GET", pattern: "/crm/v3/properties/{objectType}", h: s.handlePropertiesList, auth: true, scopes: propsRead},
		{method: "GET", pattern: "/crm/v3/properties/{objectType}/{propertyName}", h: s.handlePropertyGet, auth: true, scopes: propsRead},

		{method: "POST", pattern: "/crm/v3/lists/search", h: s.handleListSearch, auth: true, scopes: listsRead},
		{method: "GET", pattern: "/crm/v3/lists", h: s.handleListsByID, auth: true, scopes: listsRead},
		{method: "GET", pattern: "/crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}", h: s.handleListByName, auth: true, scopes: listsRead},
		{method: "GET", pattern: "/crm/v3/lists/{listId}", h: s.handleListGet, auth: true, scopes: listsRead},
		{method: "GET", pattern: "/crm/v3/lists/{listId}/memberships", h: s.handleListMemberships, auth: true, scopes: listsRead},
		{method: "PUT", pattern: "/crm/v3/lists/{listId}/memberships/add", h: s.handleMembershipsAdd, auth: true, scopes: listsWrite},
		{method: "PUT", pattern: "/crm/v3/lists/{listId}/memberships/remove", h: s.handleMembershipsRemove, auth: true, scopes: listsWrite},
		{method: "PUT", pattern: "/crm/v3/lists/{listId}/memberships/add-and-remove", h: s.handleMembershipsAddAndRemove, auth: true, scopes: listsWrite},
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	best, params, status := fakekit.Lookup(s.table, func(rt route) (string, string) { return rt.method, rt.pattern }, r.Method, r.URL.EscapedPath())
	switch status {
	case http.StatusMethodNotAllowed:
		writeError(w, http.StatusMethodNotAllowed, apiError{Status: "error", Message: "HTTP 405 Method Not Allowed"})
		return
	case http.StatusNotFound:
		writeError(w, http.StatusNotFound, apiError{Status: "error", Message: "HTTP 404 Not Found"})
		return
	}
	c := &call{params: params, body: body}
	if best.auth {
		tok, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		c.tok = tok
		if !s.applyRateLimit(w, tok, best.search) {
			return
		}
		if !hasScopes(tok.scopes, best.scopes) {
			writeMissingScopes(w, best.scopes)
			return
		}
	}
	best.h(w, r, c)
}

// ---- authentication and rate limiting ----

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*accessToken, bool) {
	authz := r.Header.Get("Authorization")
	const credsMissing = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
	scheme, value, found := strings.Cut(authz, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
		writeError(w, http.StatusUnauthorized, apiError{Status: "error", Message: credsMissing, Category: "INVALID_AUTHENTICATION",
			Links: map[string]string{"oauth": "https://developers.hubspot.com/docs/methods/auth/oauth-overview"}})
		return nil, false
	}
	value = strings.TrimSpace(value)
	s.mu.Lock()
	tok, ok := s.access[value]
	now := s.now()
	var expiredFor time.Duration
	if ok && !tok.expiresAt.IsZero() && !now.Before(tok.expiresAt) {
		expiredFor = now.Sub(tok.expiresAt)
	}
	revoked := ok && tok.revoked
	if ok && !revoked && expiredFor == 0 && (tok.expiresAt.IsZero() || now.Before(tok.expiresAt)) {
		s.apiRequests.Add(1)
	}
	s.mu.Unlock()
	switch {
	case !ok || revoked:
		writeError(w, http.StatusUnauthorized, apiError{Status: "error",
			Message:  "Authentication credentials not found. The access token provided is invalid or has been revoked.",
			Category: "INVALID_AUTHENTICATION"})
		return nil, false
	case !tok.expiresAt.IsZero() && !now.Before(tok.expiresAt):
		secs := int(expiredFor / time.Second)
		writeError(w, http.StatusUnauthorized, apiError{Status: "error",
			Message:  fmt.Sprintf("The OAuth token used to make this call expired %d second(s) ago.", secs),
			Category: "EXPIRED_AUTHENTICATION",
			Context:  map[string][]string{"expiredTime": {tok.expiresAt.UTC().Format(time.RFC3339)}}})
		return nil, false
	}
	return tok, true
}

func hasScopes(granted []string, alternatives [][]string) bool {
	if len(alternatives) == 0 {
		return true
	}
	set := map[string]bool{"oauth": true}
	for _, g := range granted {
		set[g] = true
	}
	for _, alt := range alternatives {
		all := true
		for _, sc := range alt {
			if !set[sc] {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func writeMissingScopes(w http.ResponseWriter, alternatives [][]string) {
	var req []string
	seen := map[string]bool{}
	for _, alt := range alternatives {
		for _, sc := range alt {
			if !seen[sc] {
				seen[sc] = true
				req = append(req, sc)
			}
		}
	}
	writeError(w, http.StatusForbidden, apiError{
		Status:   "error",
		Message:  "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
		Category: "MISSING_SCOPES",
		Errors: []errorDetail{{
			Message: "One or more of the following scopes are required.",
			Context: map[string][]string{"requiredGranularScopes": req},
		}},
		Links: map[string]string{"scopes": "https://developers.hubspot.com/scopes"},
	})
}

// applyRateLimit counts the request against the app's window (and the daily
// limit for private apps), sets the X-HubSpot-RateLimit-* headers and answers
// 429 when a limit is exceeded. It reports whether the request may proceed.
func (s *Server) applyRateLimit(w http.ResponseWriter, tok *accessToken, search bool) bool {
	s.mu.Lock()
	now := s.now()
	win := s.windows.Hit(tok.appKey, now, s.opts.RateLimitWindow)
	y1, d1 := s.dayStart.Year(), s.dayStart.YearDay()
	if s.dayStart.IsZero() || now.Year() != y1 || now.YearDay() != d1 {
		s.dayStart, s.dayCount = now, 0
	}
	if tok.private {
		s.dayCount++
	}
	policy := ""
	switch {
	case s.forcedLimits > 0:
		s.forcedLimits--
		policy = s.forcedPolicy
	case tok.private && s.opts.DailyLimit > 0 && s.dayCount > s.opts.DailyLimit:
		policy = "DAILY"
	case s.opts.RateLimitMax > 0 && win.Count > s.opts.RateLimitMax:
		policy = "TEN_SECONDLY_ROLLING"
	}
	if policy == "" && search && s.opts.SearchPerSecond > 0 {
		if s.searchWindows.Hit(tok.token, now, time.Second).Count > s.opts.SearchPerSecond {
			policy = "SECONDLY"
		}
	}
	max := s.opts.RateLimitMax
	remaining := max - win.Count
	if remaining < 0 || policy != "" {
		remaining = 0
	}
	dailyRemaining := s.opts.DailyLimit - s.dayCount
	if dailyRemaining < 0 || policy == "DAILY" {
		dailyRemaining = 0
	}
	s.mu.Unlock()

	h := w.Header()
	if max > 0 {
		h.Set(rateLimitIntervalHeader, strconv.FormatInt(s.opts.RateLimitWindow.Milliseconds(), 10))
		h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(max))
		h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
	}
	if tok.private && s.opts.DailyLimit > 0 {
		h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(s.opts.DailyLimit))
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(dailyRemaining))
	}
	if policy == "" {
		return true
	}
	msg := "You have reached your " + strings.ToLower(policy) + " limit."
	if policy == "DAILY" {
		msg = "You have reached your daily limit."
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"status":        "error",
		"message":       msg,
		"errorType":     "RATE_LIMIT",
		"category":      "RATE_LIMITS",
		"correlationId": newUUID(),
		"policyName":    policy,
		"requestId":     newUUID(),
	})
	return false
}

// ---- errors and JSON helpers ----

type errorDetail struct {
	Message     string              `json:"message"`
	Code        string              `json:"code,omitempty"`
	In          string              `json:"in,omitempty"`
	SubCategory string              `json:"subCategory,omitempty"`
	Context     map[string][]string `json:"context,omitempty"`
}

// apiError is HubSpot's error body ("status", "message", "correlationId",
// "category" and the optional detail fields).
type apiError struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category,omitempty"`
	SubCategory   string              `json:"subCategory,omitempty"`
	Errors        []errorDetail       `json:"errors,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	Links         map[string]string   `json:"links,omitempty"`
}

func writeError(w http.ResponseWriter, status int, e apiError) {
	if e.CorrelationID == "" {
		e.CorrelationID = newUUID()
	}
	writeJSON(w, status, e)
}

func validationError(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, apiError{Status: "error", Message: msg, Category: "VALIDATION_ERROR"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	fakekit.WriteJSON(w, status, "application/json;charset=utf-8", v)
}

// decodeJSON decodes body into v, answering HubSpot's invalid-input error
// when it is not valid JSON of the expected shape.
func decodeJSON(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if len(bytes.TrimSpace(body)) == 0 {
		validationError(w, "Invalid input JSON : No content to map due to end-of-input")
		return false
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		writeError(w, http.StatusUnsupportedMediaType, apiError{Status: "error", Message: "HTTP 415 Unsupported Media Type", Category: "VALIDATION_ERROR"})
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		validationError(w, "Invalid input JSON on line 1, column 1: "+err.Error())
		return false
	}
	return true
}

var (
	randHex = fakekit.RandHex
	newUUID = fakekit.UUID
)

// ServeHTTP implements http.Handler, so the fake can also be mounted in
// another server; it logs, applies latency and Hang, injected failures, then
// routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.kit.ServeHTTP(w, r) }
