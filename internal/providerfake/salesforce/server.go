package salesforce

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
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

type failure struct {
	status  int
	body    string
	headers map[string]string
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

type authCode struct {
	clientID      string
	redirectURI   string
	scope         string
	challenge     string
	challengeMeth string
	expires       time.Time
	used          bool
}

type record struct {
	seq    int
	fields map[string]any // canonical field name -> value
}

// Server is a running fake Salesforce org. It is safe for concurrent use.
type Server struct {
	srv    *httptest.Server
	opts   Options
	closed chan struct{}
	once   sync.Once

	mu            sync.Mutex
	schemas       map[string]*objectSchema
	records       map[string]map[string]*record // lower-case type -> id -> record
	deleted       map[string]string             // id -> type of deleted records
	seq           int
	codes         map[string]*authCode
	access        map[string]*accessToken
	refresh       map[string]*refreshToken
	grants        []*grant
	deny          bool
	failAPI       []failure
	failToken     []failure
	forceLimit    bool
	apiUsed       int
	apiLimit      int
	tokenRequests int
	refreshCount  int
	apiRequests   int
	log           []RecordedRequest
	hang          chan struct{}
	delay         time.Duration
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
		opts:     opts,
		closed:   make(chan struct{}),
		schemas:  defaultSchemas(),
		records:  map[string]map[string]*record{"contact": {}, "campaign": {}, "campaignmember": {}},
		deleted:  map[string]string{},
		codes:    map[string]*authCode{},
		access:   map[string]*accessToken{},
		refresh:  map[string]*refreshToken{},
		apiLimit: opts.APILimit,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("salesforce fake: listen on loopback: " + err.Error())
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s}}
	s.srv.Start()
	return s
}

// Close stops the server; requests held by Hang are released first.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
	s.srv.Close()
}

// URL is the org's instance URL (the token response's instance_url); the
// My Domain login host is the same server.
func (s *Server) URL() string { return s.srv.URL }

// APIVersion is the version segment served, such as "v60.0".
func (s *Server) APIVersion() string { return s.opts.APIVersion }

// APIBaseURL is URL() + "/services/data/" + APIVersion().
func (s *Server) APIBaseURL() string { return s.srv.URL + "/services/data/" + s.opts.APIVersion }

// AuthorizeURL is the OAuth authorization endpoint.
func (s *Server) AuthorizeURL() string { return s.srv.URL + "/services/oauth2/authorize" }

// TokenURL is the OAuth token endpoint.
func (s *Server) TokenURL() string { return s.srv.URL + "/services/oauth2/token" }

// ClientID is the connected app's consumer key.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the connected app's consumer secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// RedirectURIs are the registered callback URLs.
func (s *Server) RedirectURIs() []string { return append([]string(nil), s.opts.RedirectURIs...) }

// Client returns an HTTP client for the fake that does not follow redirects,
// so the authorize endpoint's 302 can be inspected.
func (s *Server) Client() *http.Client {
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

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
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failAPI = append(s.failAPI, failure{status, body, headers})
	}
}

// FailNextToken is FailNext for the token endpoint.
func (s *Server) FailNextToken(n int, status int, body string, headers map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failToken = append(s.failToken, failure{status, body, headers})
	}
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
func (s *Server) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang == nil {
		s.hang = make(chan struct{})
	}
}

// Release lets hung requests proceed and ends Hang.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
}

// SetDelay makes every request wait d before it is handled.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// TokenRequests counts requests to the token endpoint.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// RefreshCount counts successful refresh_token grants.
func (s *Server) RefreshCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshCount
}

// APIRequests counts requests to REST API paths (under /services/data).
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

// Requests returns a copy of every request received, oldest first.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordedRequest, len(s.log))
	for i, r := range s.log {
		r.Header = r.Header.Clone()
		r.Body = append([]byte(nil), r.Body...)
		out[i] = r
	}
	return out
}

// LastRequest returns the most recent request whose path starts with prefix.
func (s *Server) LastRequest(prefix string) (RecordedRequest, bool) {
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if strings.HasPrefix(reqs[i].Path, prefix) {
			return reqs[i], true
		}
	}
	return RecordedRequest{}, false
}

// ResetRequests clears the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

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
	return Token{AccessToken: at, RefreshToken: rt, InstanceURL: s.srv.URL, ID: s.identityURL(), Scope: scope}
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

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.log = append(s.log, RecordedRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, Time: s.opts.Now()})
	hang, delay := s.hang, s.delay
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closed:
			t.Stop()
			return
		}
	}
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		}
	}

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

func takeFailure(list *[]failure) (failure, bool) {
	if len(*list) == 0 {
		return failure{}, false
	}
	f := (*list)[0]
	*list = (*list)[1:]
	return f, true
}

func writeFailure(w http.ResponseWriter, f failure) {
	ct := false
	for k, v := range f.headers {
		w.Header().Set(k, v)
		if strings.EqualFold(k, "Content-Type") {
			ct = true
		}
	}
	if !ct && f.body != "" {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	}
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
}

func writeJSON(w http.ResponseWriter, status int, headers http.Header, v any) {
	for k, vs := range headers {
		for _, x := range vs {
			w.Header().Add(k, x)
		}
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
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
	return s.srv.URL + "/id/" + s.opts.OrgID + "/" + s.opts.UserID
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
