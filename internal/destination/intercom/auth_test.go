package intercom_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/intercom"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/intercom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestStaleTokenRefreshedOnce(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	stale := srv.IssueToken()
	srv.RevokeToken(stale)
	var fresh string
	tt := &testTokens{tok: stale, refresh: func() (string, error) { fresh = srv.IssueToken(); return fresh, nil }}
	s := managed(t, srv, tt)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeDelivered, stale, fresh)
	if n := tt.count(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	c, _ := srv.Contact("ada@example.com")
	if len(srv.ContactTags(c.ID)) != 1 {
		t.Errorf("not tagged")
	}
}

func TestRevokedGrantDeactivates(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	tok := srv.IssueToken()
	srv.RevokeGrant() // the customer uninstalled the app
	// The managed Tokens cannot refresh an Intercom token: it reports the grant revoked.
	tt := &testTokens{tok: tok}
	res := managed(t, srv, tt).Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeAuthFailed, tok)
	if res.Deactivate != switchyard.InactiveOAuthAuthorizationRevoked || tt.count() != 1 {
		t.Errorf("deactivate %q after %d refreshes", res.Deactivate, tt.count())
	}
}

func TestUnauthorizedAfterRefreshNeedsReauthorization(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	tok := srv.IssueToken()
	srv.RevokeToken(tok)
	var second string
	tt := &testTokens{tok: tok, refresh: func() (string, error) {
		second = srv.IssueToken()
		srv.RevokeToken(second)
		return second, nil
	}}
	res := managed(t, srv, tt).Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeAuthFailed, tok, second)
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded || res.HTTPStatus != http.StatusUnauthorized || tt.count() != 1 {
		t.Errorf("result %+v after %d refreshes", res, tt.count())
	}
}

func TestFailingRefreshIsInternal(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	tok := srv.IssueToken()
	srv.RevokeToken(tok)
	tt := &testTokens{tok: tok, refresh: func() (string, error) { return "", errors.New("store unavailable") }}
	res := managed(t, srv, tt).Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeInternalError, tok)
	if res.Deactivate != "" {
		t.Errorf("deactivated on a passing failure: %+v", res)
	}
}

func TestRevokedPastedTokenDeactivates(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	s, tok := pasted(t, srv)
	srv.RevokeToken(tok)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeAuthFailed, tok)
	if res.Deactivate != switchyard.InactiveAuthenticationInvalid {
		t.Errorf("deactivate %q", res.Deactivate)
	}
	err := s.Test(context.Background())
	var se *switchyard.Error
	if !errors.As(err, &se) || len(se.Fields) != 1 || se.Fields[0].Param != "metadata."+intercom.KeyAccessToken || strings.Contains(se.Error(), tok) {
		t.Errorf("Test: %v", err)
	}
}

func TestNoCredentials(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, err := newProvisioner(t, srv).Provision(context.Background(), destination.Provision{Connection: connection(nil)})
	if err != nil {
		t.Fatal(err)
	}
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, "1", map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeAuthFailed)
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded || len(srv.Requests()) != 0 {
		t.Errorf("result %+v, %d requests", res, len(srv.Requests()))
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	// The fake's documented limit, lowered so that the third call of the window is refused.
	srv := fake.New(t, fake.Options{RateLimit: 2})
	tag := srv.AddTag("VIP")
	s := managed(t, srv, &testTokens{tok: srv.IssueToken()})
	ctx := context.Background()
	// search + create fit; the attach is refused.
	res := s.Deliver(ctx, tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeRateLimited)
	if res.HTTPStatus != http.StatusTooManyRequests || res.RetryAfter < time.Second || res.RetryAfter > 11*time.Second {
		t.Errorf("status %d retry after %v", res.HTTPStatus, res.RetryAfter)
	}
	if res.RateLimitScope != "intercom:app:"+srv.AppIDCode() || !strings.Contains(res.Message, "rate_limit_exceeded") {
		t.Errorf("scope %q message %q", res.RateLimitScope, res.Message)
	}
	scope, rate, burst := s.RateLimit()
	if scope != res.RateLimitScope || rate <= 0 || burst < 1 {
		t.Errorf("RateLimit() = %q %v %d", scope, rate, burst)
	}
}

func TestForcedRateLimitOnSearch(t *testing.T) {
	t.Parallel()
	srv := fake.New(t, fake.Options{})
	s, tok := pasted(t, srv)
	srv.ForceRateLimit(1)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, "1", map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeRateLimited, tok)
	scope, _, _ := s.RateLimit()
	if res.RateLimitScope != scope || !strings.HasPrefix(scope, "intercom:token:") || strings.Contains(scope, tok) || res.RetryAfter <= 0 {
		t.Errorf("scope %q (sender %q), retry after %v", res.RateLimitScope, scope, res.RetryAfter)
	}
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	s, tok := pasted(t, srv)
	ctx := context.Background()
	req := func() *destination.Request {
		return tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"})
	}

	srv.FailNext(1, http.StatusInternalServerError, `{"type":"error.list","request_id":"r1","errors":[{"code":"server_error","message":"Server Error"}]}`, nil)
	res := s.Deliver(ctx, req())
	expect(t, res, switchyard.OutcomeRejectedServerError, tok)
	if res.HTTPStatus != 500 || !strings.Contains(res.Message, "server_error: Server Error [request r1]") || !strings.Contains(res.Response, "server_error") {
		t.Errorf("500: %+v", res)
	}

	srv.FailNext(1, http.StatusServiceUnavailable, `{"type":"error.list","errors":[{"code":"service_unavailable","message":"Sorry"}]}`, map[string]string{"Retry-After": "7"})
	res = s.Deliver(ctx, req())
	expect(t, res, switchyard.OutcomeRejectedServerError, tok)
	if res.RetryAfter != 7*time.Second {
		t.Errorf("503 retry after %v", res.RetryAfter)
	}

	srv.FailNext(1, http.StatusBadGateway, `<html>bad gateway</html>`, map[string]string{"Content-Type": "text/html"})
	expect(t, s.Deliver(ctx, req()), switchyard.OutcomeRejectedServerError, tok)

	// A 2xx that is not JSON.
	srv.FailNext(1, http.StatusOK, `not json`, nil)
	expect(t, s.Deliver(ctx, req()), switchyard.OutcomeRejectedServerError, tok)

	// A redirect is not followed.
	srv.FailNext(1, http.StatusFound, ``, map[string]string{"Location": "https://elsewhere.example/"})
	expect(t, s.Deliver(ctx, req()), switchyard.OutcomeInvalidRequest, tok)

	// Then it works.
	expect(t, s.Deliver(ctx, req()), switchyard.OutcomeDelivered, tok)
}

func TestEchoedSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, tok := pasted(t, srv)
	body := `{"type":"error.list","errors":[{"code":"parameter_invalid","message":"bad token ` + tok + ` and secret ` + fake.DefaultClientSecret + `"}]}`
	srv.FailNext(1, http.StatusBadRequest, body, nil)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, "1", map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeValidationFailed, tok)
	if !strings.Contains(res.Message, destination.MaskedValue) {
		t.Errorf("message %q", res.Message)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, tok := pasted(t, srv)
	srv.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	res := s.Deliver(ctx, tagRequest(intercom.ActionAddTag, "1", map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeTimeout, tok)
	if strings.Contains(res.Message, "127.0.0.1") {
		t.Errorf("message names an address: %q", res.Message)
	}
}

func TestRefusesPrivateAddressesByDefault(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	opts := options(srv)
	opts.AllowPrivate = false
	p := intercom.New(opts)
	defer p.Cleanup()
	tok := srv.IssueAccessToken()
	s, err := p.Provision(context.Background(), destination.Provision{Connection: connection(map[string]any{intercom.KeyAccessToken: tok})})
	if err != nil {
		t.Fatal(err)
	}
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, "1", map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeInvalidRequest, tok)
	if len(srv.Requests()) != 0 {
		t.Error("a request reached the loopback fake")
	}
}

func TestIdentifyAfterOAuthFlow(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	in := intercom.Integration()
	opts := options(srv)
	app := opts.App(in)
	cfg := app.Config(in.OAuth, "http://127.0.0.1:9/api/v1/oauth/callback")
	resp, err := srv.HTTPClient().Get(cfg.AuthCodeURL("st4te"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.HTTPClient())
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	p := newProvisioner(t, srv)
	account, err := p.Identify(context.Background(), tok)
	if err != nil || account != "intercom:app:"+srv.AppIDCode() {
		t.Fatalf("Identify = %q, %v", account, err)
	}

	srv.RevokeGrant()
	if _, err := p.Identify(context.Background(), tok); err == nil || strings.Contains(err.Error(), tok.AccessToken) {
		t.Errorf("Identify with a revoked token: %v", err)
	}
}
