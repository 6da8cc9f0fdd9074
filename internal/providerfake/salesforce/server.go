package salesforce

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

// Options configures a fake Salesforce org and its connected app. Every
// field has a usable default.
type Options struct {
	// ClientID and ClientSecret are the connected app's consumer key and
	// secret. Defaults are generated.
	ClientID     string
	ClientSecret string
	// RedirectURIs are the connected app's registered callback URLs; the
	// authorize and token endpoints require an exact match. Default:
	// "http://127.0.0.1/oauth/callback".
	RedirectURIs []string
	// Scopes are the OAuth scopes the connected app may be granted. Default:
	// api, refresh_token, offline_access, id, profile, email, openid, web, full.
	Scopes []string
	// APIVersion is the only REST API version the fake serves, as it appears
	// in paths. Default "v60.0".
	APIVersion string
	// APILimit is the org's daily API request limit reported in
	// Sforce-Limit-Info. Default 100000.
	APILimit int
	// RotateRefreshTokens models the connected app setting that issues a new
	// refresh token on every refresh and invalidates the previous one. Off
	// by default, as in a new connected app: the refresh response then has
	// no refresh_token and the original stays valid.
	RotateRefreshTokens bool
	// PublicClient drops the client_secret requirement at the token
	// endpoint (the connected app's "Require Secret for Web Server Flow"
	// unchecked). The secret is required by default.
	PublicClient bool
	// OrgID and UserID appear in access tokens and the identity URL.
	OrgID  string
	UserID string
	// Now replaces the clock, for issued_at and authorization-code expiry.
	Now func() time.Time
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

// Token is what IssueToken returns: a valid grant, as if the OAuth dance
// had just completed.
type Token struct {
	AccessToken  string
	RefreshToken string
	InstanceURL  string
	ID           string
	Scope        string
}

type grant struct {
	id      string
	scope   string
	revoked bool
}

type accessToken struct {
	grant   *grant
	expired bool
}

type refreshToken struct {
	grant   *grant
	revoked bool
}

type record struct {
	seq    int
	fields map[string]any // canonical field name -> value
}

// Server is a running fake Salesforce org. It is safe for concurrent use.
type Server struct {
	kit       *fakekit.Server
	opts      Options
	failAPI   fakekit.Faults
	failToken fakekit.Faults

	tokenRequests, refreshCount, apiRequests atomic.Int64

	mu         sync.Mutex
	schemas    map[string]*objectSchema
	records    map[string]map[string]*record // lower-case type -> id -> record
	deleted    map[string]string             // id -> type of deleted records
	seq        int
	codes      fakekit.Codes
	access     map[string]*accessToken
	refresh    map[string]*refreshToken
	grants     []*grant
	deny       bool
	forceLimit bool
	apiUsed    int
	apiLimit   int
}

// New starts a fake Salesforce org listening on 127.0.0.1.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = "3MVG9fakeConsumerKey" + randToken(12)
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = randToken(24)
	}
	if len(opts.RedirectURIs) == 0 {
		opts.RedirectURIs = []string{"http://127.0.0.1/oauth/callback"}
	}
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{"api", "refresh_token", "offline_access", "id", "profile", "email", "openid", "web", "full"}
	}
	if opts.APIVersion == "" {
		opts.APIVersion = "v60.0"
	}
	if opts.APILimit == 0 {
		opts.APILimit = 100000
	}
	if opts.OrgID == "" {
		opts.OrgID = newID("00D", 4242)
	}
	if opts.UserID == "" {
		opts.UserID = newID("005", 4242)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:      opts,
		schemas:   defaultSchemas(),
		records:   map[string]map[string]*record{"contact": {}, "campaign": {}, "campaignmember": {}},
		deleted:   map[string]string{},
		codes:     fakekit.Codes{ValidAtExpiry: true},
		access:    map[string]*accessToken{},
		refresh:   map[string]*refreshToken{},
		apiLimit:  opts.APILimit,
		failAPI:   fakekit.Faults{ContentType: jsonContentType},
		failToken: fakekit.Faults{ContentType: jsonContentType},
	}
	s.kit = fakekit.Start(nil, fakekit.Config{Name: "salesforce fake", MaxBodyBytes: 4 << 20, Clock: fakekit.NewClock(opts.Now)}, s.serve)
	return s
}

const jsonContentType = "application/json;charset=UTF-8"

// Close stops the server; requests held by Hang are released first.
func (s *Server) Close() { s.kit.Close() }

// URL is the org's instance URL (the token response's instance_url); the
// My Domain login host is the same server.
func (s *Server) URL() string { return s.kit.URL() }

// APIVersion is the version segment served, such as "v60.0".
func (s *Server) APIVersion() string { return s.opts.APIVersion }

// APIBaseURL is URL() + "/services/data/" + APIVersion().
func (s *Server) APIBaseURL() string { return s.kit.URL() + "/services/data/" + s.opts.APIVersion }

// AuthorizeURL is the OAuth authorization endpoint.
func (s *Server) AuthorizeURL() string { return s.kit.URL() + "/services/oauth2/authorize" }

// TokenURL is the OAuth token endpoint.
func (s *Server) TokenURL() string { return s.kit.URL() + "/services/oauth2/token" }

// ClientID is the connected app's consumer key.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the connected app's consumer secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// RedirectURIs are the registered callback URLs.
func (s *Server) RedirectURIs() []string { return append([]string(nil), s.opts.RedirectURIs...) }

// Client returns an HTTP client for the fake that does not follow redirects,
// so the authorize endpoint's 302 can be inspected.
func (s *Server) Client() *http.Client { return s.kit.Client() }

// --- test controls ---

// SetDenyConsent makes the authorize endpoint simulate the user clicking
// Deny: it redirects with error=access_denied.
func (s *Server) SetDenyConsent(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = deny
}

// ExpireAccessTokens makes every access token issued so far invalid, as when
// the session times out; refresh tokens stay valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.access {
		t.expired = true
	}
}

// RevokeGrant revokes every grant (the user or admin revoked the app): all
// refresh tokens answer invalid_grant and all access tokens 401.
func (s *Server) RevokeGrant() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		g.revoked = true
	}
}

// FailNext makes the next n REST API requests (paths under /services/data)
// answer with status, body and headers instead of being handled. The body is
// sent as application/json unless headers set Content-Type.
func (s *Server) FailNext(n int, status int, body string, headers map[string]string) {
	s.failAPI.Add(n, fakekit.Failure{Status: status, Body: body, Headers: headers})
}

// FailNextToken is FailNext for the token endpoint.
func (s *Server) FailNextToken(n int, status int, body string, headers map[string]string) {
	s.failToken.Add(n, fakekit.Failure{Status: status, Body: body, Headers: headers})
}

// ForceRequestLimit makes every REST API request answer 403
// REQUEST_LIMIT_EXCEEDED until called with false.
func (s *Server) ForceRequestLimit(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forceLimit = on
}

// SetAPIUsage sets the daily usage counter and limit reported in
// Sforce-Limit-Info. Once used reaches limit, requests answer
// REQUEST_LIMIT_EXCEEDED.
func (s *Server) SetAPIUsage(used, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiUsed, s.apiLimit = used, limit
}

// APIUsage returns the usage counter and limit.
func (s *Server) APIUsage() (used, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiUsed, s.apiLimit
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

// APIRequests counts requests to REST API paths (under /services/data).
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

// IssueToken creates a grant with the given scope (default "api
// refresh_token") and returns its tokens, so tests need not run the OAuth
// dance. As with the web server flow, a refresh token comes only with the
// refresh_token, offline_access or full scope.
func (s *Server) IssueToken(scope string) Token {
	if scope == "" {
		scope = "api refresh_token"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.newGrantLocked(scope)
	at := s.newAccessLocked(g)
	rt := ""
	if hasOffline(scope) {
		rt = s.newRefreshLocked(g)
	}
	return Token{AccessToken: at, RefreshToken: rt, InstanceURL: s.kit.URL(), ID: s.identityURL(), Scope: scope}
}

// --- seeding and inspection ---

// AddContact stores a Contact and returns its ID. fields use API names
// (LastName, Email, ...); they are stored as given, without validation.
func (s *Server) AddContact(fields map[string]any) string {
	return s.seed("contact", fields)
}

// AddCampaign stores a Campaign and returns its ID.
func (s *Server) AddCampaign(name string, active bool) string {
	return s.seed("campaign", map[string]any{"Name": name, "IsActive": active})
}

// AddCampaignMember stores a CampaignMember linking a campaign and a
// contact, with Status "Sent", and returns its ID.
func (s *Server) AddCampaignMember(campaignID, contactID string) string {
	return s.seed("campaignmember", map[string]any{"CampaignId": campaignID, "ContactId": contactID, "Status": "Sent"})
}

// Record returns a copy of the fields of a stored record of the given
// sObject type ("Contact", "Campaign", "CampaignMember").
func (s *Server) Record(sobject, id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	full, ok := normalizeID(id)
	if !ok {
		return nil, false
	}
	r, ok := s.records[strings.ToLower(sobject)][full]
	if !ok {
		return nil, false
	}
	return copyFields(r.fields), true
}

// Records returns copies of every stored record of the type, oldest first.
func (s *Server) Records(sobject string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, r := range s.sortedLocked(strings.ToLower(sobject)) {
		out = append(out, copyFields(r.fields))
	}
	return out
}

// SetPicklist replaces the values of a picklist field of an sObject and
// whether it is restricted (values outside the list are refused). It adds
// the field, as a custom picklist, if the object has no such field.
func (s *Server) SetPicklist(sobject, field string, values []string, restricted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.schemas[strings.ToLower(sobject)]
	if o == nil {
		panic("salesforce fake: unknown sObject " + sobject)
	}
	f := o.field(field)
	if f == nil {
		f = &Field{Name: field, Label: strings.TrimSuffix(field, "__c"), Type: "picklist", Length: 255, Nillable: true,
			Createable: true, Updateable: true, Custom: strings.HasSuffix(field, "__c"), Filterable: true, Sortable: true, ReferenceTo: []string{}}
		o.Fields = append(o.Fields, f)
	}
	f.Type = "picklist"
	f.PicklistValues = picklist(values...)
	f.RestrictedPicklist = restricted
}

// AddField adds a field to an sObject's metadata (for custom fields).
func (s *Server) AddField(sobject string, f Field) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.schemas[strings.ToLower(sobject)]
	if o == nil {
		panic("salesforce fake: unknown sObject " + sobject)
	}
	if f.PicklistValues == nil {
		f.PicklistValues = []PicklistValue{}
	}
	if f.ReferenceTo == nil {
		f.ReferenceTo = []string{}
	}
	o.Fields = append(o.Fields, &f)
}

func (s *Server) seed(typ string, fields map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.schemas[typ]
	s.seq++
	id := newID(o.KeyPrefix, s.seq)
	r := &record{seq: s.seq, fields: map[string]any{}}
	for k, v := range fields {
		name := k
		if f := o.field(k); f != nil {
			name = f.Name
		}
		if vs, ok := v.(string); ok {
			if f := o.field(k); f != nil && (f.Type == "reference") {
				if full, ok := normalizeID(vs); ok {
					v = full
				}
			}
		}
		r.fields[name] = v
	}
	r.fields["Id"] = id
	s.applyDefaultsLocked(o, r)
	s.records[typ][id] = r
	return id
}

func copyFields(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// --- HTTP plumbing ---

// ServeHTTP implements http.Handler: it logs the request, applies SetDelay
// and Hang, then serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.kit.ServeHTTP(w, r) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	switch p := r.URL.Path; {
	case p == "/services/oauth2/authorize":
		s.handleAuthorize(w, r)
	case p == "/services/oauth2/token":
		s.handleToken(w, r, body)
	case p == "/services/data" || strings.HasPrefix(p, "/services/data/"):
		s.handleData(w, r, body)
	default:
		writeJSON(w, http.StatusNotFound, nil, []apiError{{Message: "The requested resource does not exist", ErrorCode: "NOT_FOUND"}})
	}
}

func writeJSON(w http.ResponseWriter, status int, headers http.Header, v any) {
	for k, vs := range headers {
		for _, x := range vs {
			w.Header().Add(k, x)
		}
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is one element of the REST API's error array ("Status Codes and
// Error Responses"). Fields is present for errors about record data.
type apiError struct {
	Message   string    `json:"message"`
	ErrorCode string    `json:"errorCode"`
	Fields    *[]string `json:"fields,omitempty"`
}

func dmlError(code, msg string, fields ...string) apiError {
	if fields == nil {
		fields = []string{}
	}
	return apiError{Message: msg, ErrorCode: code, Fields: &fields}
}

func (s *Server) identityURL() string {
	return s.kit.URL() + "/id/" + s.opts.OrgID + "/" + s.opts.UserID
}

func (s *Server) newGrantLocked(scope string) *grant {
	g := &grant{id: strconv.Itoa(len(s.grants) + 1), scope: scope}
	s.grants = append(s.grants, g)
	return g
}

func (s *Server) newAccessLocked(g *grant) string {
	org := s.opts.OrgID
	if len(org) > 15 {
		org = org[:15]
	}
	tok := org + "!" + randToken(40)
	s.access[tok] = &accessToken{grant: g}
	return tok
}

func (s *Server) newRefreshLocked(g *grant) string {
	tok := "5Aep861" + randToken(60)
	s.refresh[tok] = &refreshToken{grant: g}
	return tok
}
