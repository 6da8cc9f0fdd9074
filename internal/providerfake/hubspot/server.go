package hubspot

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

// Failure is an injected response, see InjectFailure.
type Failure struct {
	Status  int
	Body    string
	Headers map[string]string
	// Method and PathPrefix, when set, restrict which requests the failure
	// applies to; other requests pass through untouched.
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

// Server is a fake HubSpot: API, OAuth authorize page and token endpoint on
// one loopback httptest server. It is safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu         sync.Mutex
	clockShift time.Duration

	// OAuth state.
	codes          map[string]*authCode
	access         map[string]*accessToken
	refresh        map[string]*refreshToken
	denyConsent    bool
	tokenRequests  int
	refreshCount   int
	codeExchanges  int
	nextPrivateApp int

	// Test controls.
	failures        []*pendingFailure
	forcedLimits    int
	forcedPolicy    string
	hangCh          chan struct{}
	latency         time.Duration
	closed          bool
	windows         map[string]*rateWindow
	searchWindows   map[string]*rateWindow
	dayStart        time.Time
	dayCount        int
	apiRequestCount int

	// CRM state.
	nextContactID int64
	contacts      map[string]*contact
	contactOrder  []string
	properties    map[string]*Property
	propertyOrder []string
	lists         map[string]*list
	listOrder     []string
	nextListID    int64

	log []Request
}

type rateWindow struct {
	start time.Time
	count int
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
		opts:          opts,
		codes:         map[string]*authCode{},
		access:        map[string]*accessToken{},
		refresh:       map[string]*refreshToken{},
		windows:       map[string]*rateWindow{},
		searchWindows: map[string]*rateWindow{},
		contacts:      map[string]*contact{},
		properties:    map[string]*Property{},
		lists:         map[string]*list{},
		nextContactID: 101,
		nextListID:    1,
	}
	s.seedDefaultProperties()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if t != nil {
			t.Fatalf("hubspot fake: listen: %v", err)
		}
		panic(fmt.Sprintf("hubspot fake: listen: %v", err))
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

// URL is the API base URL (stands in for https://api.hubapi.com).
func (s *Server) URL() string { return s.srv.URL }

// AuthorizeURL stands in for https://app.hubspot.com/oauth/authorize.
func (s *Server) AuthorizeURL() string { return s.srv.URL + "/oauth/authorize" }

// TokenURL is the token endpoint (POST /oauth/v1/token).
func (s *Server) TokenURL() string { return s.srv.URL + "/oauth/v1/token" }

// ClientID is the registered OAuth client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the registered OAuth client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// HubID is the portal id of the fake account.
func (s *Server) HubID() int { return s.opts.HubID }

// HTTPClient returns a client that talks to the fake and does not follow
// redirects (so tests can read the authorize redirect).
func (s *Server) HTTPClient() *http.Client {
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Advance moves the fake's clock forward (token expiry, rate-limit windows).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.clockShift += d
	s.mu.Unlock()
}

func (s *Server) now() time.Time {
	var t time.Time
	if s.opts.Now != nil {
		t = s.opts.Now()
	} else {
		t = time.Now()
	}
	return t.Add(s.clockShift)
}

// FailNext makes the next n requests (any path) answer status with body and
// headers instead of being handled. Injected responses carry only the given
// headers.
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

// APIRequests counts requests that reached an authenticated API route.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequestCount
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, defaultMaxBodyBytes))
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	s.mu.Lock()
	s.log = append(s.log, Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		Body:   body,
		At:     s.now(),
	})
	hang := s.hangCh
	latency := s.latency
	s.mu.Unlock()

	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if latency > 0 {
		if !sleepCtx(r.Context(), latency) {
			return
		}
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

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

// call carries what a handler needs about the current request.
type call struct {
	params map[string]string
	body   []byte
	tok    *accessToken
}

type route struct {
	method  string
	pattern []string
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
		{method: "GET", pattern: split("/oauth/authorize"), h: s.handleAuthorize},
		{method: "GET", pattern: split("/oauth/{hubId}/authorize"), h: s.handleAuthorize},
		{method: "POST", pattern: split("/oauth/v1/token"), h: s.handleToken},
		{method: "GET", pattern: split("/oauth/v1/access-tokens/{token}"), h: s.handleAccessTokenInfo},
		{method: "GET", pattern: split("/oauth/v1/refresh-tokens/{token}"), h: s.handleRefreshTokenInfo},
		{method: "DELETE", pattern: split("/oauth/v1/refresh-tokens/{token}"), h: s.handleRefreshTokenDelete},

		{method: "GET", pattern: split("/account-info/v3/details"), h: s.handleAccountDetails, auth: true, scopes: [][]string{{"oauth"}}},

		{method: "POST", pattern: split("/crm/v3/objects/contacts/search"), h: s.handleContactSearch, auth: true, scopes: contactsRead, search: true},
		{method: "POST", pattern: split("/crm/v3/objects/contacts"), h: s.handleContactCreate, auth: true, scopes: contactsWrite},
		{method: "GET", pattern: split("/crm/v3/objects/contacts/{contactId}"), h: s.handleContactGet, auth: true, scopes: contactsRead},
		{method: "PATCH", pattern: split("/crm/v3/objects/contacts/{contactId}"), h: s.handleContactUpdate, auth: true, scopes: contactsWrite},

		{method: "GET", pattern: split("/crm/v3/properties/{objectType}"), h: s.handlePropertiesList, auth: true, scopes: propsRead},
		{method: "GET", pattern: split("/crm/v3/properties/{objectType}/{propertyName}"), h: s.handlePropertyGet, auth: true, scopes: propsRead},

		{method: "POST", pattern: split("/crm/v3/lists/search"), h: s.handleListSearch, auth: true, scopes: listsRead},
		{method: "GET", pattern: split("/crm/v3/lists"), h: s.handleListsByID, auth: true, scopes: listsRead},
		{method: "GET", pattern: split("/crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}"), h: s.handleListByName, auth: true, scopes: listsRead},
		{method: "GET", pattern: split("/crm/v3/lists/{listId}"), h: s.handleListGet, auth: true, scopes: listsRead},
		{method: "GET", pattern: split("/crm/v3/lists/{listId}/memberships"), h: s.handleListMemberships, auth: true, scopes: listsRead},
		{method: "PUT", pattern: split("/crm/v3/lists/{listId}/memberships/add"), h: s.handleMembershipsAdd, auth: true, scopes: listsWrite},
		{method: "PUT", pattern: split("/crm/v3/lists/{listId}/memberships/remove"), h: s.handleMembershipsRemove, auth: true, scopes: listsWrite},
		{method: "PUT", pattern: split("/crm/v3/lists/{listId}/memberships/add-and-remove"), h: s.handleMembershipsAddAndRemove, auth: true, scopes: listsWrite},
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
	var methodMismatch bool
	var best *route
	var bestParams map[string]string
	for _, rt := range s.routes() {
		params, ok := match(rt.pattern, segs)
		if !ok {
			continue
		}
		if rt.method != r.Method {
			methodMismatch = true
			continue
		}
		// Prefer literal matches over parameter matches (e.g. /lists/search).
		if best == nil || len(params) < len(bestParams) {
			rt := rt
			best, bestParams = &rt, params
		}
	}
	if best == nil {
		if methodMismatch {
			writeError(w, http.StatusMethodNotAllowed, apiError{Status: "error", Message: "HTTP 405 Method Not Allowed"})
			return
		}
		writeError(w, http.StatusNotFound, apiError{Status: "error", Message: "HTTP 404 Not Found"})
		return
	}
	c := &call{params: bestParams, body: body}
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
		s.apiRequestCount++
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
	key := tok.appKey
	win := s.windows[key]
	if win == nil || !now.Before(win.start.Add(s.opts.RateLimitWindow)) {
		win = &rateWindow{start: now}
		s.windows[key] = win
	}
	y1, d1 := s.dayStart.Year(), s.dayStart.YearDay()
	if s.dayStart.IsZero() || now.Year() != y1 || now.YearDay() != d1 {
		s.dayStart, s.dayCount = now, 0
	}
	win.count++
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
	case s.opts.RateLimitMax > 0 && win.count > s.opts.RateLimitMax:
		policy = "TEN_SECONDLY_ROLLING"
	}
	if policy == "" && search && s.opts.SearchPerSecond > 0 {
		sw := s.searchWindows[tok.token]
		if sw == nil || !now.Before(sw.start.Add(time.Second)) {
			sw = &rateWindow{start: now}
			s.searchWindows[tok.token] = sw
		}
		sw.count++
		if sw.count > s.opts.SearchPerSecond {
			policy = "SECONDLY"
		}
	}
	max := s.opts.RateLimitMax
	remaining := max - win.count
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
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
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
