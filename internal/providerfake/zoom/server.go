package zoom

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

// Options configures a fake Zoom account and its OAuth app. Every field has a
// usable default.
type Options struct {
	// ClientID and ClientSecret are the app's credentials, sent with HTTP
	// Basic to the token endpoint. Defaults are generated.
	ClientID     string
	ClientSecret string
	// RedirectURIs is the app's redirect URL allow list; the authorize and
	// token endpoints require an exact match. Default:
	// "http://127.0.0.1/oauth/callback".
	RedirectURIs []string
	// Scopes are the scopes the app was configured with; the token's scope
	// lists them, and a scope parameter on the authorize request must be a
	// subset. Default: "meeting:read meeting:write user:read webinar:read
	// webinar:write".
	Scopes []string
	// AccountID is the Zoom account: GET /users/me reports it, and the
	// account_credentials (Server-to-Server OAuth) grant requires it.
	AccountID string
	// User is the authorizing user (GET /users/me). Defaults are generated.
	User User
	// KeepPreviousRefreshToken leaves a refresh token usable after it has
	// been exchanged. By default each refresh returns a new refresh token and
	// the one presented stops working.
	KeepPreviousRefreshToken bool
	// EnforceQPS makes the per-second limits of the rate-limit categories
	// (Pro plan: Light 30, Medium 20) answer 429 when exceeded. Off by
	// default so that tests which fire many requests are not throttled.
	EnforceQPS bool
	// Now replaces the clock (code expiry, "upcoming", created_at).
	Now func() time.Time
}

// User is the Zoom user behind user-level tokens.
type User struct {
	ID        string
	Email     string
	FirstName string
	LastName  string
	Timezone  string
}

// RecordedRequest is one request the fake received, as sent.
type RecordedRequest struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	Time     time.Time
}

// Token is what IssueToken returns.
type Token struct {
	AccessToken  string
	RefreshToken string // empty for account-level (Server-to-Server) tokens
	Scope        string
	ExpiresIn    int
}

// RateLimit selects the kind of forced rate limiting.
type RateLimit int

const (
	// RateLimitQPS answers as when a per-second limit is exceeded.
	RateLimitQPS RateLimit = iota + 1
	// RateLimitDaily answers as when a daily limit is used up.
	RateLimitDaily
)

// Meeting is a meeting or webinar seeded into the account.
type Meeting struct {
	ID        int64 // assigned when zero
	UUID      string
	Topic     string
	Type      int // meetings: 1 instant, 2 scheduled, 3 recurring no fixed time, 8 recurring fixed time; webinars: 5, 6, 9
	StartTime time.Time
	Duration  int // minutes
	Timezone  string
	Agenda    string
	// ApprovalType is settings.approval_type: 0 registration with automatic
	// approval, 1 registration with manual approval, 2 no registration.
	ApprovalType int
	// Live marks a meeting in progress (type=live listings).
	Live bool
	// Questions and CustomQuestions are the registration questions.
	Questions       []Question
	CustomQuestions []CustomQuestion
}

// Question is a standard registration question (field_name is one of the
// registrant fields such as last_name, address, city, phone, org, job_title).
type Question struct {
	FieldName string `json:"field_name"`
	Required  bool   `json:"required"`
}

// CustomQuestion is a host-defined registration question.
type CustomQuestion struct {
	Title    string   `json:"title"`
	Type     string   `json:"type"` // short, single, multiple (webinars: single_radio, single_dropdown, multiple)
	Required bool     `json:"required"`
	Answers  []string `json:"answers,omitempty"`
}

// Registrant is a stored meeting or webinar registrant.
type Registrant struct {
	ID              string
	Email           string
	FirstName       string
	LastName        string
	Status          string // approved, pending, denied
	JoinURL         string
	CreateTime      time.Time
	Fields          map[string]any // other registrant fields as sent (address, org, ...)
	CustomQuestions []map[string]string
}

type grant struct {
	revoked bool
}

type accessToken struct {
	grant   *grant
	expired bool
	scope   string
}

type refreshToken struct {
	grant *grant
	used  bool
	scope string
}

type event struct {
	Meeting
	webinar     bool
	created     time.Time
	regURLToken string
	registrants []*Registrant
}

type qpsWindow struct {
	second int64
	count  int
}

// Server is a running fake Zoom (OAuth host and API host on one listener).
// It is safe for concurrent use.
type Server struct {
	kit       *fakekit.Server
	opts      Options
	failAPI   fakekit.Faults
	failToken fakekit.Faults

	tokenRequests, refreshCount, apiRequests atomic.Int64

	mu         sync.Mutex
	codes      fakekit.Codes
	access     map[string]*accessToken
	refresh    map[string]*refreshToken
	grants     []*grant
	deny       bool
	events     map[int64]*event
	nextID     int64
	pageTokens map[string]pageCursor
	forced     RateLimit
	qps        map[string]*qpsWindow
}

type pageCursor struct {
	key    string
	offset int
}

// New starts a fake Zoom listening on 127.0.0.1.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = randToken(22)
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = randToken(32)
	}
	if len(opts.RedirectURIs) == 0 {
		opts.RedirectURIs = []string{"http://127.0.0.1/oauth/callback"}
	}
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{"meeting:read", "meeting:write", "user:read", "webinar:read", "webinar:write"}
	}
	if opts.AccountID == "" {
		opts.AccountID = randToken(22)
	}
	if opts.User.ID == "" {
		opts.User.ID = randToken(22)
	}
	if opts.User.Email == "" {
		opts.User.Email = "host@example.com"
	}
	if opts.User.FirstName == "" {
		opts.User.FirstName = "Hana"
	}
	if opts.User.LastName == "" {
		opts.User.LastName = "Host"
	}
	if opts.User.Timezone == "" {
		opts.User.Timezone = "UTC"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:       opts,
		codes:      fakekit.Codes{ValidAtExpiry: true},
		failAPI:    fakekit.Faults{ContentType: jsonContentType},
		failToken:  fakekit.Faults{ContentType: jsonContentType},
		access:     map[string]*accessToken{},
		refresh:    map[string]*refreshToken{},
		events:     map[int64]*event{},
		nextID:     85746065123,
		pageTokens: map[string]pageCursor{},
		qps:        map[string]*qpsWindow{},
	}
	s.kit = fakekit.Start(nil, fakekit.Config{Name: "zoom fake", MaxBodyBytes: 4 << 20, Clock: fakekit.NewClock(opts.Now)}, s.serve)
	return s
}

const jsonContentType = "application/json;charset=UTF-8"

// Close stops the server; requests held by Hang are released first.
func (s *Server) Close() { s.kit.Close() }

// URL is the API base, standing in for https://api.zoom.us/v2.
func (s *Server) URL() string { return s.kit.URL() + "/v2" }

// OAuthURL is the OAuth host, standing in for https://zoom.us.
func (s *Server) OAuthURL() string { return s.kit.URL() }

// AuthorizeURL is the authorization endpoint (https://zoom.us/oauth/authorize).
func (s *Server) AuthorizeURL() string { return s.kit.URL() + "/oauth/authorize" }

// TokenURL is the token endpoint (https://zoom.us/oauth/token).
func (s *Server) TokenURL() string { return s.kit.URL() + "/oauth/token" }

// ClientID is the app's client ID.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the app's client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// AccountID is the account ID (for account_credentials and /users/me).
func (s *Server) AccountID() string { return s.opts.AccountID }

// RedirectURIs is the redirect URL allow list.
func (s *Server) RedirectURIs() []string { return append([]string(nil), s.opts.RedirectURIs...) }

// Client returns an HTTP client for the fake that does not follow redirects.
func (s *Server) Client() *http.Client { return s.kit.Client() }

// --- test controls ---

// SetDenyConsent makes the authorize endpoint simulate the user declining:
// it redirects with error=access_denied.
func (s *Server) SetDenyConsent(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = deny
}

// ExpireAccessTokens makes every access token issued so far answer 401
// "Access token is expired."; refresh tokens stay valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.access {
		t.expired = true
	}
}

// RevokeGrant models the user removing the app: refresh tokens answer
// "Invalid Token!" and access tokens 401.
func (s *Server) RevokeGrant() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		g.revoked = true
	}
}

// FailNext makes the next n API requests (paths under /v2) answer with
// status, body and headers instead of being handled. The body is sent as
// application/json unless headers set Content-Type.
func (s *Server) FailNext(n int, status int, body string, headers map[string]string) {
	s.failAPI.Add(n, fakekit.Failure{Status: status, Body: body, Headers: headers})
}

// FailNextToken is FailNext for the token endpoint.
func (s *Server) FailNextToken(n int, status int, body string, headers map[string]string) {
	s.failToken.Add(n, fakekit.Failure{Status: status, Body: body, Headers: headers})
}

// ForceRateLimit makes every API request answer 429 as the given kind of
// limit until ClearRateLimit.
func (s *Server) ForceRateLimit(kind RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forced = kind
}

// ClearRateLimit ends ForceRateLimit.
func (s *Server) ClearRateLimit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forced = 0
}

// Hang makes every request that arrives from now on wait, without answering,
// until Release, the client giving up, or Close.
func (s *Server) Hang() { s.kit.Hang() }

// Release lets hung requests proceed and ends Hang.
func (s *Server) Release() { s.kit.Release() }

// SetDelay makes every request wait d before it is handled.
func (s *Server) SetDelay(d time.Duration) { s.kit.SetLatency(d) }

// TokenRequests counts requests to the token endpoint.
func (s *Server) TokenRequests() int { return int(s.tokenRequests.Load()) }

// RefreshCount counts successful refresh_token grants.
func (s *Server) RefreshCount() int { return int(s.refreshCount.Load()) }

// APIRequests counts requests to API paths (under /v2).
func (s *Server) APIRequests() int { return int(s.apiRequests.Load()) }

// Requests returns a copy of every request received, oldest first.
func (s *Server) Requests() []RecordedRequest {
	rs := s.kit.Log.All()
	out := make([]RecordedRequest, len(rs))
	for i, r := range rs {
		out[i] = recorded(r)
	}
	return out
}

// LastRequest returns the most recent request whose path starts with prefix.
func (s *Server) LastRequest(prefix string) (RecordedRequest, bool) {
	r, ok := s.kit.Log.Last(prefix)
	if !ok {
		return RecordedRequest{}, false
	}
	return recorded(r), true
}

func recorded(r fakekit.Request) RecordedRequest {
	return RecordedRequest{Method: r.Method, Path: r.Path, RawQuery: r.RawQuery, Header: r.Header, Body: r.Body, Time: r.At}
}

// ResetRequests clears the request log.
func (s *Server) ResetRequests() { s.kit.Log.Reset() }

// IssueToken creates a user-level grant (as after the authorization code
// flow) and returns its tokens.
func (s *Server) IssueToken() Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &grant{}
	s.grants = append(s.grants, g)
	scope := strings.Join(s.opts.Scopes, " ")
	return Token{AccessToken: s.newAccessLocked(g, scope), RefreshToken: s.newRefreshLocked(g, scope), Scope: scope, ExpiresIn: 3599}
}

// IssueAccountToken returns an account-level token, as the
// account_credentials grant issues (no refresh token).
func (s *Server) IssueAccountToken() Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &grant{}
	s.grants = append(s.grants, g)
	scope := strings.Join(s.opts.Scopes, " ")
	return Token{AccessToken: s.newAccessLocked(g, scope), Scope: scope, ExpiresIn: 3599}
}

// --- seeding and inspection ---

// AddMeeting stores a meeting hosted by the user and returns its ID.
// Defaults: type 2, start in one day, 60 minutes, approval type as given
// (0 = registration on with automatic approval).
func (s *Server) AddMeeting(m Meeting) int64 { return s.addEvent(m, false) }

// AddWebinar stores a webinar hosted by the user and returns its ID.
// Default type 5.
func (s *Server) AddWebinar(m Meeting) int64 { return s.addEvent(m, true) }

func (s *Server) addEvent(m Meeting, webinar bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.ID == 0 {
		s.nextID += 7919
		m.ID = s.nextID
	}
	if m.UUID == "" {
		m.UUID = randToken(22) + "=="
	}
	if m.Type == 0 {
		m.Type = 2
		if webinar {
			m.Type = 5
		}
	}
	if m.StartTime.IsZero() {
		m.StartTime = s.opts.Now().Add(24 * time.Hour)
	}
	m.StartTime = m.StartTime.UTC().Truncate(time.Second)
	if m.Duration == 0 {
		m.Duration = 60
	}
	if m.Timezone == "" {
		m.Timezone = s.opts.User.Timezone
	}
	if m.Topic == "" {
		m.Topic = "Meeting"
	}
	s.events[m.ID] = &event{Meeting: m, webinar: webinar, created: s.opts.Now().UTC().Truncate(time.Second), regURLToken: randToken(22)}
	return m.ID
}

// SetApprovalType changes a meeting's or webinar's settings.approval_type.
func (s *Server) SetApprovalType(id int64, approvalType int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.events[id]; e != nil {
		e.ApprovalType = approvalType
	}
}

// Registrants returns copies of a meeting's or webinar's registrants, in
// registration order.
func (s *Server) Registrants(id int64) []Registrant {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[id]
	if e == nil {
		return nil
	}
	out := make([]Registrant, 0, len(e.registrants))
	for _, r := range e.registrants {
		c := *r
		c.Fields = map[string]any{}
		for k, v := range r.Fields {
			c.Fields[k] = v
		}
		out = append(out, c)
	}
	return out
}

// --- HTTP plumbing ---

// ServeHTTP implements http.Handler: it logs the request, applies SetDelay
// and Hang, then serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.kit.ServeHTTP(w, r) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("X-Zm-Trackingid", "v=2.0;clid=us05;rid=WEB_"+randToken(32))
	switch p := r.URL.Path; {
	case p == "/oauth/authorize":
		s.handleAuthorize(w, r)
	case p == "/oauth/token":
		s.handleToken(w, r, body)
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		s.handleAPI(w, r, body)
	default:
		writeJSON(w, http.StatusNotFound, nil, apiError{Code: 404, Message: "Not Found"})
	}
}

func writeJSON(w http.ResponseWriter, status int, headers http.Header, v any) {
	for k, vs := range headers {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is Zoom's error body ("Error Codes" in the API reference).
type apiError struct {
	Code    int          `json:"code"`
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

var randToken = fakekit.RandToken

func (s *Server) newAccessLocked(g *grant, scope string) string {
	tok := "eyJzdiI6IjAwMDAwMSIsImFsZyI6IkhTNTEyIn0." + randToken(64)
	s.access[tok] = &accessToken{grant: g, scope: scope}
	return tok
}

func (s *Server) newRefreshLocked(g *grant, scope string) string {
	tok := "eyJzdiI6IjAwMDAwMSIsImFsZyI6IkhTNTEyIn0.r" + randToken(64)
	s.refresh[tok] = &refreshToken{grant: g, scope: scope}
	return tok
}

func (s *Server) sortedEventsLocked(webinar bool) []*event {
	var out []*event
	for _, e := range s.events {
		if e.webinar == webinar {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartTime.Equal(out[j].StartTime) {
			return out[i].StartTime.Before(out[j].StartTime)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
