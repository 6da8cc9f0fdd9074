package hubspot_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/hubspot"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestIntegrationDeclaration(t *testing.T) {
	t.Parallel()
	in := hubspot.Integration()
	if in.Type != "hubspot" || in.AuthType != destination.AuthOAuth || in.OAuthVersion != 2 || !in.Mapped {
		t.Errorf("declaration %+v", in)
	}
	if in.OAuth == nil || !in.OAuth.PKCE || in.OAuth.AuthStyle != oauth2.AuthStyleInParams ||
		len(in.OAuth.PasteFields) != 1 || in.OAuth.PasteFields[0] != hubspot.KeyPrivateAppToken {
		t.Errorf("OAuth %+v", in.OAuth)
	}
	if got := in.SecretFields(); len(got) != 1 || got[0] != hubspot.KeyPrivateAppToken {
		t.Errorf("secret fields %v", got)
	}
	for _, a := range in.Actions {
		if a.Display == nil || len(a.Fields) == 0 {
			t.Errorf("action %+v", a)
		}
	}
	if !in.HasAction(hubspot.ActionAddToList) || !in.HasAction(hubspot.ActionRemoveFromList) || !in.HasAction(hubspot.ActionUpdateProperty) {
		t.Error("missing an action")
	}
	if _, errs := in.ValidateMetadata(map[string]any{hubspot.KeyPrivateAppToken: "pat-na1 two"}, destination.Options{}); len(errs) == 0 {
		t.Error("a token with a space inside was accepted")
	}
	if masked := in.Mask(map[string]any{hubspot.KeyPrivateAppToken: "pat-na1-x"}); masked[hubspot.KeyPrivateAppToken] != destination.MaskedValue {
		t.Errorf("masked %v", masked)
	}
}

func TestExpiredTokenRefreshedOnce(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	tokens := newOAuthTokens(srv)
	s := managed(t, srv, tokens)
	srv.ExpireAccessTokens()

	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeDelivered, tokens.secrets()...)
	if n := tokens.refreshCount(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if n := srv.RefreshCount(); n != 1 {
		t.Errorf("the fake saw %d refreshes", n)
	}
	// The next attempt uses the new token without refreshing.
	res = s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "b@example.com"))
	expect(t, res, switchyard.OutcomeDelivered, tokens.secrets()...)
	if n := tokens.refreshCount(); n != 1 {
		t.Errorf("%d refreshes after the second attempt", n)
	}
	if n := len(srv.ListMembers(list)); n != 2 {
		t.Errorf("%d members", n)
	}
}

func TestRevokedGrantDeactivates(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	tokens := newOAuthTokens(srv)
	s := managed(t, srv, tokens)
	srv.RevokeGrant()

	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeAuthFailed, tokens.secrets()...)
	if res.Deactivate != switchyard.InactiveOAuthAuthorizationRevoked {
		t.Errorf("deactivate %q", res.Deactivate)
	}
	if len(srv.Contacts()) != 0 {
		t.Error("a contact was created")
	}
}

func TestUnauthorizedAfterRefresh(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	tokens := &fixedTokens{tok: "stale-access-token", next: "still-bad-access-token"}
	s := managed(t, srv, tokens)

	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeAuthFailed, "stale-access-token", "still-bad-access-token")
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded || res.HTTPStatus != http.StatusUnauthorized {
		t.Errorf("deactivate %q status %d", res.Deactivate, res.HTTPStatus)
	}
	if tokens.refreshes != 1 {
		t.Errorf("%d refreshes", tokens.refreshes)
	}
}

func TestTokenEndpointFailureIsInternal(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	tokens := &fixedTokens{tok: "stale-access-token", err: errors.New("token endpoint unavailable")}
	s := managed(t, srv, tokens)
	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeInternalError, "stale-access-token")
	if res.Deactivate != "" {
		t.Errorf("deactivate %q", res.Deactivate)
	}
}

func TestPastedTokenRefused(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	s, tok := pasted(t, srv)
	srv.RevokeToken(tok)

	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeAuthFailed, tok)
	if res.Deactivate != switchyard.InactiveAuthenticationInvalid {
		t.Errorf("deactivate %q", res.Deactivate)
	}

	err := s.Test(t.Context())
	var se *switchyard.Error
	if !errors.As(err, &se) || len(se.Fields) != 1 || se.Fields[0].Param != destination.ParamPrefix+hubspot.KeyPrivateAppToken {
		t.Fatalf("Test() = %#v", err)
	}
	if strings.Contains(se.Message, tok) {
		t.Error("the token is in the test error")
	}
}

func TestNoCredentials(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, err := newProvisioner(t, srv).Provision(t.Context(), destination.Provision{Connection: connection(t, srv, nil)})
	if err != nil {
		t.Fatal(err)
	}
	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, "1", "a@example.com"))
	expect(t, res, switchyard.OutcomeAuthFailed)
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded {
		t.Errorf("deactivate %q", res.Deactivate)
	}
	if len(srv.Requests()) != 0 {
		t.Error("a call without credentials")
	}
	if _, err := newProvisioner(t, srv).Provision(t.Context(), destination.Provision{}); err == nil {
		t.Error("Provision without a connection succeeded")
	}
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{HubID: 4242})
	p := newProvisioner(t, srv)

	issued := srv.IssueToken()
	got, err := p.Identify(t.Context(), &oauth2.Token{AccessToken: issued.AccessToken})
	if err != nil || got != "hubspot:portal:4242" {
		t.Fatalf("Identify(OAuth token) = %q, %v", got, err)
	}
	if n := count(srv, http.MethodGet, "/oauth/v1/access-tokens/"+issued.AccessToken); n != 1 {
		t.Errorf("%d token info calls", n)
	}

	pat := srv.IssuePrivateAppToken()
	got, err = p.Identify(t.Context(), &oauth2.Token{AccessToken: pat})
	if err != nil || got != "hubspot:portal:4242" {
		t.Fatalf("Identify(private app token) = %q, %v", got, err)
	}
	if n := count(srv, http.MethodGet, "/account-info/v3/details"); n != 1 {
		t.Errorf("%d account info calls", n)
	}

	// A token HubSpot does not know.
	_, err = p.Identify(t.Context(), &oauth2.Token{AccessToken: "unknown-access-token"})
	if err == nil || strings.Contains(err.Error(), "unknown-access-token") {
		t.Fatalf("Identify(unknown) = %v", err)
	}
	if _, err := p.Identify(t.Context(), nil); err == nil {
		t.Error("Identify(nil) succeeded")
	}
}

func TestSecretsNeverEchoed(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	tokens := newOAuthTokens(srv)
	s := managed(t, srv, tokens)
	secrets := tokens.secrets()
	echo := `{"status":"error","message":"bad token ` + strings.Join(secrets, " ") + `","category":"VALIDATION_ERROR"}`

	for _, status := range []int{http.StatusBadRequest, http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusConflict} {
		srv.FailNext(1, status, echo, map[string]string{"Location": "https://x/?token=" + secrets[1], "Content-Type": "application/json"})
		res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
		if res.Outcome == switchyard.OutcomeDelivered {
			t.Fatalf("%d: delivered", status)
		}
		noSecrets(t, res, secrets...)
	}
	// A success that echoes them.
	srv.FailNext(1, http.StatusOK, `{"id":"1","properties":{"note":"`+secrets[1]+`"}}`, nil)
	srv.AddContact(map[string]string{"email": "b@example.com"})
	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "b@example.com"))
	noSecrets(t, res, secrets...)
}
