package destinationtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestProblems(t *testing.T) {
	t.Parallel()

	clean := destination.Result{Outcome: switchyard.OutcomeRejectedClientError, HTTPStatus: 400, Message: "HTTP 400 Bad Request",
		Response: "HTTP/1.1 400 Bad Request\n\n{}"}
	tests := []struct {
		name       string
		change     func(r *destination.Result)
		internalOK bool
		want       string // part of the one problem; "" for none
	}{
		{name: "a clean result", change: func(*destination.Result) {}},
		{name: "a delivered result needs no message", change: func(r *destination.Result) {
			*r = destination.Result{Outcome: switchyard.OutcomeDelivered, HTTPStatus: 200}
		}},
		{name: "an unknown outcome", change: func(r *destination.Result) { r.Outcome = "failed" }, want: "not one of the shared outcome codes"},
		{name: "no outcome", change: func(r *destination.Result) { r.Outcome = "" }, want: "not one of the shared outcome codes"},
		{name: "internal_error", change: func(r *destination.Result) { r.Outcome = switchyard.OutcomeInternalError }, want: "did not classify"},
		{name: "internal_error where the harness allows it", change: func(r *destination.Result) { r.Outcome = switchyard.OutcomeInternalError }, internalOK: true},
		{name: "a failure without a message", change: func(r *destination.Result) { r.Message = " " }, want: "without a message"},
		{name: "a secret in the message", change: func(r *destination.Result) { r.Message += ": token tok_secret_123 refused" }, want: "Message holds secret 0"},
		{name: "a secret in the response", change: func(r *destination.Result) { r.Response += "Bearer sk_other_456" }, want: "Response holds secret 1"},
		{name: "invalid UTF-8", change: func(r *destination.Result) { r.Response += "\xff" }, want: "Response is not valid UTF-8"},
		{name: "a NUL", change: func(r *destination.Result) { r.Message += "\x00" }, want: "Message holds a NUL"},
		{name: "an unbounded response", change: func(r *destination.Result) { r.Response = strings.Repeat("x", MaxResponse+1) }, want: "Response is 8193 bytes"},
		{name: "an unbounded message", change: func(r *destination.Result) { r.Message = strings.Repeat("x", MaxMessage+1) }, want: "Message is 1025 bytes"},
		{name: "an unknown inactive reason", change: func(r *destination.Result) { r.Deactivate = "broken" }, want: `Deactivate "broken"`},
		{name: "a negative wait", change: func(r *destination.Result) { r.RetryAfter = -time.Second }, want: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := clean
			tt.change(&res)
			c := &checker{secrets: []string{"tok_secret_123", "sk_other_456", ""}, internalOK: tt.internalOK}
			got := c.problems(res)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("problems = %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems = %q, want one containing %q", got, tt.want)
			}
		})
	}
}

func TestExpected(t *testing.T) {
	t.Parallel()

	h := &Harness{}
	spec := func(name string) caseSpec {
		for _, c := range h.cases() {
			if c.spec.name == name {
				return c.spec
			}
		}
		t.Fatalf("no case %s", name)
		return caseSpec{}
	}
	tests := []struct {
		name string
		c    Case
		want switchyard.Outcome
		err  string
	}{
		{Validation, Case{Answer: Answer{Status: 400}}, switchyard.OutcomeRejectedClientError, ""},
		{Validation, Case{Answer: Answer{Status: 422}}, switchyard.OutcomeValidationFailed, ""},
		{Validation, Case{Answer: Answer{Status: 400}, Outcome: switchyard.OutcomeValidationFailed}, switchyard.OutcomeValidationFailed, ""},
		{Validation, Case{Answer: Answer{Status: 400}, Outcome: switchyard.OutcomeDelivered}, "", "may mean"},
		{Validation, Case{Answer: Answer{Status: 409}}, "", "status 409"},
		{Validation, Case{}, "", "declare the provider's documented validation answer"},
		{Forbidden, Case{Answer: Answer{Status: 403}}, switchyard.OutcomeAuthFailed, ""},
		{Forbidden, Case{Answer: Answer{Status: 403}, Outcome: switchyard.OutcomeRateLimited}, switchyard.OutcomeRateLimited, ""},
		{Conflict, Case{Answer: Answer{Status: 409}, Outcome: switchyard.OutcomeDelivered}, switchyard.OutcomeDelivered, ""},
		{Conflict, Case{Answer: Answer{Status: 409}}, switchyard.OutcomeDestinationConflict, ""},
		{ServerError, Case{Answer: Answer{Status: 502}}, switchyard.OutcomeRejectedServerError, ""},
		{ServerError, Case{Answer: Answer{Status: 499}}, "", "status 499"},
		{Unauthorized, Case{Answer: Answer{Status: 401}, Outcome: switchyard.OutcomeInvalidRequest}, "", "may mean"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d %s", tt.name, tt.c.Answer.Status, tt.c.Outcome), func(t *testing.T) {
			t.Parallel()
			got, err := expected(spec(tt.name), tt.c)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("expected() = %s, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expected() = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// refapi is a minimal OAuth API integration written the way the built-in ones are
// (destination.DoAuthorized, Classify with ProviderRules, ReadBody, Excerpt, Redact), with an
// in-process provider: it shows what a SaaS harness looks like and runs the suite's refresh
// subtests, which the webhook skips.
const (
	refType         = "refapi"
	refRefreshToken = "rt-refapi-5d1c"
	refClientSecret = "cs-refapi-90ab"
	refScope        = "refapi:account:42"
)

// refProvider is the fake: POST /oauth/token (refresh_token grant) issues at-refapi-N, and
// POST /v1/contacts needs the current one, answering 201, 401 or what it is told.
type refProvider struct {
	mu        sync.Mutex
	current   string
	issued    int
	refreshes atomic.Int32
}

func (p *refProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/oauth/token":
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != refRefreshToken ||
			r.PostForm.Get("client_secret") != refClientSecret {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		p.mu.Lock()
		p.issued++
		p.current = "at-refapi-" + strconv.Itoa(p.issued)
		tok := p.current
		p.mu.Unlock()
		p.refreshes.Add(1)
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":1800}`, tok)
	case "/v1/contacts":
		p.mu.Lock()
		ok := p.current != "" && r.Header.Get("Authorization") == "Bearer "+p.current
		p.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_token","message":"The access token expired."}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"c_1"}`)
	default:
		http.NotFound(w, r)
	}
}

// issue starts the connection with a first access token.
func (p *refProvider) issue() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issued++
	p.current = "at-refapi-" + strconv.Itoa(p.issued)
	return p.current
}

func (p *refProvider) expire() {
	p.mu.Lock()
	p.current = ""
	p.mu.Unlock()
}

// refTokens refreshes against the provider's token endpoint.
type refTokens struct {
	mu       sync.Mutex
	tok      *oauth2.Token
	tokenURL string
	client   *http.Client
}

func (r *refTokens) Token(context.Context) (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tok, nil
}

func (r *refTokens) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tok.AccessToken != stale.AccessToken {
		return r.tok, nil
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refRefreshToken}, "client_secret": {refClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil || body.AccessToken == "" {
		return nil, destination.ErrGrantRevoked
	}
	r.tok = &oauth2.Token{AccessToken: body.AccessToken, TokenType: "Bearer"}
	return r.tok, nil
}

func (r *refTokens) secrets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return []string{r.tok.AccessToken, refRefreshToken, refClientSecret}
}

var refRules = &destination.ProviderRules{
	Name: "RefAPI",
	ErrorMessage: func(_ int, body []byte) string {
		var e struct{ Message string }
		_ = json.Unmarshal(body, &e)
		return e.Message
	},
	Outcome: func(status int, _ http.Header, body []byte) (switchyard.Outcome, bool) {
		switch {
		case status == http.StatusBadRequest && bytes.Contains(body, []byte(`"validation"`)):
			return switchyard.OutcomeValidationFailed, true
		case status == http.StatusConflict && bytes.Contains(body, []byte(`"already_exists"`)):
			return switchyard.OutcomeDelivered, true
		case status == http.StatusForbidden && bytes.Contains(body, []byte(`"rate_limit"`)):
			return switchyard.OutcomeRateLimited, true
		}
		return "", false
	},
	RetryAfter: func(h http.Header, _ time.Time) (time.Duration, bool) {
		ms, err := strconv.Atoi(h.Get("X-RateLimit-Reset-Ms"))
		return time.Duration(ms) * time.Millisecond, err == nil && ms > 0
	},
}

type refSender struct {
	client *http.Client
	tokens *refTokens
	api    *url.URL
}

func (s *refSender) Deliver(ctx context.Context, req *destination.Request) destination.Result {
	resp, err := destination.DoAuthorized(ctx, s.client, s.tokens, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, s.api.String(), bytes.NewReader(req.Event.Payload))
	})
	if err != nil {
		res := destination.ResultOf(ctx, err, 10*time.Second, s.api)
		res.Message = destination.Redact(res.Message, s.tokens.secrets())
		res.Response = destination.Redact(res.Response, s.tokens.secrets())
		return res
	}
	body, _ := destination.ReadBody(resp, 4<<10)
	res := destination.Classify(resp.StatusCode, resp.Header, body, refRules, time.Now())
	if res.Outcome == switchyard.OutcomeRateLimited {
		res.RateLimitScope = refScope
	}
	res.Message = destination.Redact(res.Message, s.tokens.secrets())
	res.Response = destination.Redact(destination.Excerpt(resp, body), s.tokens.secrets())
	return res
}

type refProvisioner struct{ client *http.Client }

func (p *refProvisioner) Provision(_ context.Context, pv destination.Provision) (destination.Sender, error) {
	api, err := url.Parse(pv.Connection.Metadata["api_base"].(string) + "/v1/contacts")
	if err != nil {
		return nil, err
	}
	return &refSender{client: p.client, tokens: pv.Tokens.(*refTokens), api: api}, nil
}

func (p *refProvisioner) Cleanup() { p.client.CloseIdleConnections() }

func refIntegration() *destination.Integration {
	return &destination.Integration{
		Type: refType, Name: "RefAPI", AuthType: destination.AuthOAuth, OAuthVersion: 2,
		OAuth:   &destination.OAuthSpec{AuthURL: "https://refapi.example/oauth/authorize", TokenURL: "https://refapi.example/oauth/token"},
		APIBase: "https://api.refapi.example",
		Fields:  []destination.Field{{Key: "api_base", Label: "API base", Type: destination.FieldText, Required: true, Validate: destination.ValidateURL}},
		Actions: []destination.Action{{Key: "create_contact", Label: "Create contact", Noun: "Contact"}},
		New: func(destination.Options) destination.Provisioner {
			return &refProvisioner{client: &http.Client{Transport: &http.Transport{}}}
		},
	}
}

func refHarness() Harness {
	json := http.Header{"Content-Type": {"application/json"}}
	return Harness{
		Integration: refIntegration(),
		Start: func(t *testing.T) *Target {
			provider := &refProvider{}
			// The fake runs its own server; the faults stand in front of it (Proxy) and leave
			// the token endpoint alone (Match).
			own := httptest.NewServer(provider)
			t.Cleanup(own.Close)
			faults, srv := Serve(t, Proxy(t, own.URL))
			faults.Match = func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1/") }
			tokens := &refTokens{tok: &oauth2.Token{AccessToken: provider.issue(), TokenType: "Bearer"}, tokenURL: srv.URL + "/oauth/token",
				client: &http.Client{Transport: &http.Transport{}}}
			t.Cleanup(tokens.client.CloseIdleConnections)
			conn := &switchyard.Connection{Type: refType, Name: "ref", Active: true, Metadata: map[string]any{"api_base": srv.URL}}
			sender := Provision(t, refIntegration(), destination.Options{AllowPrivate: true}, destination.Provision{Connection: conn, Tokens: tokens})
			return &Target{
				Sender: sender,
				Request: func() *destination.Request {
					return &destination.Request{Attempt: 1, Connection: conn, Action: "create_contact", SentAt: time.Now(),
						Event: &switchyard.Event{Name: "user.signup", Payload: []byte(`{"email":"ada@example.com"}`)}}
				},
				Fake:           faults,
				ExpireToken:    provider.expire,
				Refreshes:      func() int { return int(provider.refreshes.Load()) },
				Secrets:        tokens.secrets(),
				RateLimitScope: refScope,
			}
		},
		Validation:   Case{Answer: Answer{Status: 400, Header: json, Body: `{"error":"validation","message":"email is invalid"}`}, Outcome: switchyard.OutcomeValidationFailed},
		Unauthorized: Case{Answer: Answer{Status: 401, Header: json, Body: `{"error":"invalid_token"}`}, Deactivate: switchyard.InactiveOAuthReauthorizationNeeded},
		Forbidden:    Case{Answer: Answer{Status: 403, Header: json, Body: `{"error":"rate_limit","message":"Too many requests"}`}, Outcome: switchyard.OutcomeRateLimited},
		NotFound:     Case{Answer: Answer{Status: 404, Header: json, Body: `{"error":"not_found"}`}},
		Conflict:     Case{Answer: Answer{Status: 409, Header: json, Body: `{"error":"already_exists"}`}, Outcome: switchyard.OutcomeDelivered},
		Gone:         Case{Answer: Answer{Status: 410, Header: json, Body: `{"error":"gone"}`}},
		RateLimited:  Case{Answer: Answer{Status: 429, Header: http.Header{"X-RateLimit-Reset-Ms": {"1500"}}, Body: `{"error":"rate_limit"}`}},
		ServerError:  Case{Answer: Answer{Status: 500, Header: json, Body: `{"error":"internal"}`}},
	}
}

// TestRunOnAnOAuthIntegration runs the suite on refapi, refresh subtests included.
func TestRunOnAnOAuthIntegration(t *testing.T) {
	t.Parallel()
	Run(t, refHarness())
}

// misbehaving wraps refapi's sender into one that breaks the contract in the ways the suite
// must catch: it calls every answer delivered, and puts the secrets it holds in its messages.
type misbehaving struct {
	destination.Sender
	secret string
}

func (m misbehaving) Deliver(ctx context.Context, req *destination.Request) destination.Result {
	res := m.Sender.Deliver(ctx, req)
	if res.Outcome == switchyard.OutcomeDelivered {
		return res
	}
	if res.HTTPStatus != 0 {
		return destination.Result{Outcome: switchyard.OutcomeDelivered, HTTPStatus: res.HTTPStatus, Message: "ok " + m.secret}
	}
	return destination.Result{Outcome: switchyard.OutcomeInternalError, Message: "failed"}
}

// TestRunCatchesMisbehaviour runs the suite on a misbehaving sender in a child process (its
// failures must not fail this test) and checks which subtests fail, and why.
func TestRunCatchesMisbehaviour(t *testing.T) {
	t.Parallel()
	if os.Getenv("DESTINATIONTEST_MISBEHAVING") == "1" {
		h := refHarness()
		start := h.Start
		h.Start = func(t *testing.T) *Target {
			tg := start(t)
			tg.Sender = misbehaving{Sender: tg.Sender, secret: tg.Secrets[0]}
			return tg
		}
		Run(t, h)
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunCatchesMisbehaviour$", "-test.v")
	cmd.Env = append(os.Environ(), "DESTINATIONTEST_MISBEHAVING=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed a misbehaving sender:\n%s", out)
	}
	text := string(out)
	for _, name := range []string{Success, UnauthorizedRefresh} {
		if !strings.Contains(text, "--- PASS: TestRunCatchesMisbehaviour/"+name+" ") {
			t.Errorf("subtest %s did not pass; the sender does nothing wrong there:\n%s", name, out)
		}
	}
	for name, why := range map[string]string{
		Validation:      "want outcome validation_failed",
		Unauthorized:    "Message holds secret 0",
		NotFound:        "want outcome destination_not_found",
		RateLimited:     "want the wait the provider's headers",
		ServerError:     "is not retried",
		Timeout:         "outcome internal_error: the sender did not classify",
		ConnectionReset: "want network_error",
	} {
		if !strings.Contains(text, "--- FAIL: TestRunCatchesMisbehaviour/"+name+" ") {
			t.Errorf("subtest %s did not fail:\n%s", name, out)
		}
		if !strings.Contains(text, why) {
			t.Errorf("no failure says %q:\n%s", why, out)
		}
	}
}
