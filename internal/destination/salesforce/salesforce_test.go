package salesforce

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	sffake "github.com/switchyardhq/switchyard/internal/providerfake/salesforce"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestIntegrationDeclaration(t *testing.T) {
	t.Parallel()
	in := Integration()
	reg := destination.NewRegistry(in) // panics on a malformed declaration
	got, ok := reg.Get(Type)
	if !ok || got.AuthType != destination.AuthOAuth || got.OAuthVersion != 2 || !got.Mapped {
		t.Fatalf("declaration %+v", got)
	}
	if in.OAuth.AuthURL != AuthURL || in.OAuth.TokenURL != TokenURL || !in.OAuth.PKCE ||
		in.OAuth.AuthStyle != oauth2.AuthStyleInParams || len(in.OAuth.PasteFields) != 0 {
		t.Fatalf("oauth spec %+v", in.OAuth)
	}
	if len(in.SecretFields()) != 0 {
		t.Fatalf("secret fields %v: Salesforce has no pasted credential", in.SecretFields())
	}
	if in.APIBase != "" {
		t.Fatalf("APIBase %q: every org has its own instance", in.APIBase)
	}
	fields := map[string]string{}
	for _, a := range in.Actions {
		fields[a.Key] = strings.Join(a.Fields, ",")
		if a.Display == nil {
			t.Fatalf("action %s has no display", a.Key)
		}
	}
	if fields[ActionAddToCampaign] != "id" || fields[ActionRemoveFromCampaign] != "id" || fields[ActionUpdateProperty] != "id,value" {
		t.Fatalf("action fields %v", fields)
	}
	app := destination.Options{}.App(in)
	if app.TokenURL != TokenURL || strings.Join(app.Scopes, " ") != "api refresh_token" {
		t.Fatalf("default app %+v", app)
	}
}

func TestAddToCampaignCreatesContact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)

	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	if res.HTTPStatus != http.StatusCreated || !strings.Contains(res.Message, "added to campaign "+campaign) {
		t.Fatalf("result %+v", res)
	}
	contacts := contactsWithEmail(e.fake, "ada@example.com")
	if len(contacts) != 1 {
		t.Fatalf("contacts %v", contacts)
	}
	c := contacts[0]
	if c["FirstName"] != "Ada" || c["LastName"] != "Lovelace" || c["Phone"] != "+44 20 7946 0000" {
		t.Fatalf("contact %v", c)
	}
	m := members(e.fake, campaign)
	if len(m) != 1 || m[0]["ContactId"] != c["Id"] {
		t.Fatalf("members %v", m)
	}
	// Every call went to the token's instance, with the bearer token and our user agent.
	r, ok := e.fake.LastRequest("/services/data/" + APIVersion + "/sobjects/CampaignMember")
	if !ok || r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") ||
		r.Header.Get("User-Agent") != DefaultUserAgent {
		t.Fatalf("request %+v", r)
	}
}

func TestAddToCampaignExistingContactAndMemberStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMeta(map[string]any{KeyMemberStatus: "Responded"}))
	campaign := e.fake.AddCampaign("Spring webinar", true)
	existing := e.fake.AddContact(map[string]any{"LastName": "Hopper", "Email": "Grace@Example.com"})

	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("grace@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	if n := len(e.fake.Records("Contact")); n != 1 {
		t.Fatalf("%d contacts: the existing one should have been found", n)
	}
	m := members(e.fake, campaign)
	if len(m) != 1 || m[0]["ContactId"] != existing || m[0]["Status"] != "Responded" {
		t.Fatalf("members %v", m)
	}
	// Mapped fields are written on create only.
	if c, _ := e.fake.Record("Contact", existing); c["FirstName"] != nil {
		t.Fatalf("existing contact changed: %v", c)
	}
}

func TestAddToCampaignAlreadyMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	contact := e.fake.AddContact(map[string]any{"LastName": "Hopper", "Email": "grace@example.com"})
	e.fake.AddCampaignMember(campaign, contact)

	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("grace@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	if !strings.Contains(res.Message, "already a member") || !strings.Contains(res.Response, "DUPLICATE_VALUE") {
		t.Fatalf("result %+v", res)
	}
	if m := members(e.fake, campaign); len(m) != 1 {
		t.Fatalf("members %v", m)
	}
}

func TestAddToCampaignLastNameFromEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"email": "linus@example.com", "lastname": "  "})
	want(t, res, switchyard.OutcomeDelivered)
	c := contactsWithEmail(e.fake, "linus@example.com")
	if len(c) != 1 || c[0]["LastName"] != "linus" {
		t.Fatalf("contacts %v", c)
	}
}

func TestFullNameIsNotWritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"email": "grace@example.com", "name": "Grace Brewster Hopper"})
	want(t, res, switchyard.OutcomeDelivered)
	c := contactsWithEmail(e.fake, "grace@example.com")
	if len(c) != 1 || c[0]["LastName"] != "Hopper" || c[0]["FirstName"] != "Grace Brewster" {
		t.Fatalf("contacts %v", c)
	}
	// A mapped last name wins, and a mapped first name is kept.
	res = e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"email": "ada@example.com", "name": "A L", "firstname": "Ada", "lastname": "Lovelace"})
	want(t, res, switchyard.OutcomeDelivered)
	if c := contactsWithEmail(e.fake, "ada@example.com"); c[0]["LastName"] != "Lovelace" || c[0]["FirstName"] != "Ada" {
		t.Fatalf("contacts %v", c)
	}
}

func TestEmailFromPayloadWhenNotMapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	req := &destination.Request{DeliveryID: uuid.New(), Attempt: 1, Action: ActionAddToCampaign,
		Params: map[string]any{"id": campaign}, Fields: map[string]any{"firstname": "Ken"},
		Event: &switchyard.Event{Name: "user.signup", Payload: []byte(`{"email":"ken@example.com","first_name":"Ken"}`)}}
	want(t, e.sender.Deliver(context.Background(), req), switchyard.OutcomeDelivered)
	if c := contactsWithEmail(e.fake, "ken@example.com"); len(c) != 1 || c[0]["FirstName"] != "Ken" {
		t.Fatalf("contacts %v", c)
	}
}

func TestSOQLEscaping(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	tricky := `o'brien\"x@example.com`
	existing := e.fake.AddContact(map[string]any{"LastName": "O'Brien", "Email": tricky})
	// A quote that ends the literal early would match every contact: the other one must not be
	// picked.
	e.fake.AddContact(map[string]any{"LastName": "Other", "Email": "other@example.com"})

	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"email": tricky})
	want(t, res, switchyard.OutcomeDelivered)
	if m := members(e.fake, campaign); len(m) != 1 || m[0]["ContactId"] != existing {
		t.Fatalf("members %v", m)
	}
	res = e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"email": `x' OR Email != 'y@example.com`})
	// The query finds no one (an injected OR would have matched every contact), so the contact is
	// to be created, and Salesforce refuses the address.
	want(t, res, switchyard.OutcomeValidationFailed)
	if m := members(e.fake, campaign); len(m) != 1 {
		t.Fatalf("members %v", m)
	}
	if got := soqlQuote("a'b\\c\n"); got != `'a\'b\\c\n'` {
		t.Fatalf("soqlQuote = %s", got)
	}
}

func TestAddToCampaignUnknownCampaign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	missing := "701000000000000AAA" // well formed, not in the org
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": missing}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeDestinationNotFound)
	if !strings.Contains(res.Message, "INVALID_CROSS_REFERENCE_KEY") || !strings.Contains(res.Message, missing) {
		t.Fatalf("message %q", res.Message)
	}
}

func TestRemoveFromCampaign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	other := e.fake.AddCampaign("Autumn", true)
	contact := e.fake.AddContact(map[string]any{"LastName": "Hopper", "Email": "grace@example.com"})
	member := e.fake.AddCampaignMember(campaign, contact)
	keep := e.fake.AddCampaignMember(other, contact)

	res := e.deliver(ActionRemoveFromCampaign, map[string]any{"id": campaign}, person("grace@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	if res.HTTPStatus != http.StatusNoContent || !strings.Contains(res.Message, "removed") {
		t.Fatalf("result %+v", res)
	}
	if _, ok := e.fake.Record("CampaignMember", member); ok {
		t.Fatal("the member is still there")
	}
	if _, ok := e.fake.Record("CampaignMember", keep); !ok {
		t.Fatal("the other campaign's member was removed")
	}

	// Not (any more) a member, or no such contact: nothing to do.
	e.fake.ResetRequests()
	res = e.deliver(ActionRemoveFromCampaign, map[string]any{"id": campaign}, person("grace@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	if !strings.Contains(res.Message, "not a member") {
		t.Fatalf("message %q", res.Message)
	}
	res = e.deliver(ActionRemoveFromCampaign, map[string]any{"id": campaign}, person("nobody@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	if !strings.Contains(res.Message, "nothing to remove") || len(contactsWithEmail(e.fake, "nobody@example.com")) != 0 {
		t.Fatalf("message %q", res.Message)
	}
	for _, r := range e.fake.Requests() {
		if r.Method != http.MethodGet {
			t.Fatalf("unexpected %s %s", r.Method, r.Path)
		}
	}
}

func TestRemoveFromCampaignMemberDeletedMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	contact := e.fake.AddContact(map[string]any{"LastName": "Hopper", "Email": "grace@example.com"})
	member := e.fake.AddCampaignMember(campaign, contact)
	// Another remover was quicker: the member is deleted between the query and the DELETE.
	for _, code := range []string{"ENTITY_IS_DELETED", "NOT_FOUND"} {
		e.fake.FailNext(1, http.StatusNotFound, `[{"errorCode":"`+code+`","message":"gone"}]`, nil)
		a := e.sender.do(context.Background(), call{method: http.MethodDelete, path: "/sobjects/CampaignMember/" + member, rules: goneRules()})
		want(t, a.res, switchyard.OutcomeDelivered)
	}
	// Any other failure is not.
	e.fake.FailNext(1, http.StatusForbidden, `[{"errorCode":"INSUFFICIENT_ACCESS_OR_READONLY","message":"no"}]`, nil)
	a := e.sender.do(context.Background(), call{method: http.MethodDelete, path: "/sobjects/CampaignMember/" + member, rules: goneRules()})
	want(t, a.res, switchyard.OutcomeAuthFailed)
}

func TestUpdateProperty(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	existing := e.fake.AddContact(map[string]any{"LastName": "Hopper", "Email": "grace@example.com"})

	res := e.deliver(ActionUpdateProperty, map[string]any{"id": "LeadSource", "value": "Web"}, person("grace@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	if c, _ := e.fake.Record("Contact", existing); c["LeadSource"] != "Web" || c["FirstName"] != nil {
		t.Fatalf("contact %v", c)
	}
	if r, _ := e.fake.LastRequest("/services/data/" + APIVersion + "/sobjects/Contact/"); r.Method != http.MethodPatch {
		t.Fatalf("last request %s %s", r.Method, r.Path)
	}

	// No contact yet: it is created with the property set.
	res = e.deliver(ActionUpdateProperty, map[string]any{"id": "LeadSource", "value": "Partner Referral"}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	c := contactsWithEmail(e.fake, "ada@example.com")
	if len(c) != 1 || c[0]["LeadSource"] != "Partner Referral" || c[0]["FirstName"] != "Ada" {
		t.Fatalf("contacts %v", c)
	}
}

func TestUpdatePropertyRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.SetPicklist("Contact", "Tier__c", []string{"Gold", "Silver"}, true)
	e.fake.AddContact(map[string]any{"LastName": "Hopper", "Email": "grace@example.com"})

	res := e.deliver(ActionUpdateProperty, map[string]any{"id": "Tier__c", "value": "Platinum"}, person("grace@example.com"))
	want(t, res, switchyard.OutcomeValidationFailed)
	if !strings.Contains(res.Message, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") || !strings.Contains(res.Message, "Tier__c") {
		t.Fatalf("message %q", res.Message)
	}
	res = e.deliver(ActionUpdateProperty, map[string]any{"id": "Shoe_Size__c", "value": "42"}, person("grace@example.com"))
	want(t, res, switchyard.OutcomeDestinationNotFound)
	if !strings.Contains(res.Message, "no field Shoe_Size__c") {
		t.Fatalf("message %q", res.Message)
	}
	// Same on the create path.
	res = e.deliver(ActionUpdateProperty, map[string]any{"id": "Shoe_Size__c", "value": "42"}, person("new@example.com"))
	want(t, res, switchyard.OutcomeDestinationNotFound)
	// Read-only field.
	res = e.deliver(ActionUpdateProperty, map[string]any{"id": "Name", "value": "X"}, person("grace@example.com"))
	want(t, res, switchyard.OutcomeValidationFailed)

	for _, params := range []map[string]any{
		{"value": "Gold"},
		{"id": "Tier__c"},
		{"id": "Tier__c", "value": "  "},
		{"id": "Tier__c; DROP", "value": "Gold"},
		{"id": "Tier__c", "value": map[string]any{"x": 1}},
	} {
		want(t, e.deliver(ActionUpdateProperty, params, person("grace@example.com")), switchyard.OutcomeInvalidRequest)
	}
}

func TestParamsAndEmailValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	for _, tc := range []struct {
		action  string
		params  map[string]any
		fields  map[string]any
		outcome switchyard.Outcome
		msg     string
	}{
		{ActionAddToCampaign, map[string]any{}, person("a@example.com"), switchyard.OutcomeInvalidRequest, "no campaign id"},
		{ActionRemoveFromCampaign, map[string]any{"id": " "}, person("a@example.com"), switchyard.OutcomeInvalidRequest, "no campaign id"},
		{ActionAddToCampaign, map[string]any{"id": "not-an-id"}, person("a@example.com"), switchyard.OutcomeInvalidRequest, "not a Salesforce Campaign id"},
		{ActionAddToCampaign, map[string]any{"id": "003000000000001AAA"}, person("a@example.com"), switchyard.OutcomeInvalidRequest, "not a Salesforce Campaign id"},
		{ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"firstname": "Ada"}, switchyard.OutcomeInvalidRequest, "no email"},
		{ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"email": "not an email"}, switchyard.OutcomeInvalidRequest, "not an email address"},
		{ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"email": "a@b.c\r\nX: y"}, switchyard.OutcomeInvalidRequest, "not an email address"},
		{"send_webhook", map[string]any{}, person("a@example.com"), switchyard.OutcomeInvalidRequest, "unknown Salesforce action"},
	} {
		res := e.deliver(tc.action, tc.params, tc.fields)
		want(t, res, tc.outcome)
		if !strings.Contains(res.Message, tc.msg) {
			t.Fatalf("%s %v: message %q, want %q", tc.action, tc.params, res.Message, tc.msg)
		}
	}
	if n := e.fake.APIRequests(); n != 0 {
		t.Fatalf("%d API requests for invalid deliveries", n)
	}
}

func TestValidationErrorsFromSalesforce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)

	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, map[string]any{"email": "bad@@example.com"})
	want(t, res, switchyard.OutcomeValidationFailed)
	if !strings.Contains(res.Message, "INVALID_EMAIL_ADDRESS") || res.HTTPStatus != http.StatusBadRequest {
		t.Fatalf("result %+v", res)
	}
	f := person("ada@example.com")
	f["firstname"] = strings.Repeat("A", 41)
	want(t, e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, f), switchyard.OutcomeValidationFailed)

	// A mapped field the Contact does not have is a mapping mistake.
	f = person("ada@example.com")
	f["shoe_size__c"] = "42"
	res = e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, f)
	want(t, res, switchyard.OutcomeMappingError)
	if !strings.Contains(res.Message, "INVALID_FIELD") {
		t.Fatalf("message %q", res.Message)
	}
	if len(e.fake.Records("Contact")) != 0 {
		t.Fatal("a contact was created")
	}
}

func TestRefreshOnExpiredSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	e.fake.ExpireAccessTokens()

	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeDelivered)
	if n := e.fake.RefreshCount(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	// The next attempt uses the fresh token without refreshing again.
	want(t, e.deliver(ActionRemoveFromCampaign, map[string]any{"id": campaign}, person("ada@example.com")), switchyard.OutcomeDelivered)
	if n := e.fake.RefreshCount(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
}

func TestRevokedGrantDeactivates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	e.fake.RevokeGrant()
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeAuthFailed)
	if res.Deactivate != switchyard.InactiveOAuthAuthorizationRevoked {
		t.Fatalf("deactivate %q", res.Deactivate)
	}
}

func TestUnauthorizedAfterRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	body := `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`
	e.fake.FailNext(2, http.StatusUnauthorized, body, nil)
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeAuthFailed)
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded || e.fake.RefreshCount() != 1 {
		t.Fatalf("result %+v, %d refreshes", res, e.fake.RefreshCount())
	}
}

func TestNoCredential(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *envConfig) { c.noTokens = true })
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": "701000000000001AAA"}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeAuthFailed)
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded {
		t.Fatalf("deactivate %q", res.Deactivate)
	}
}

func TestTokenEndpointDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	e.fake.ExpireAccessTokens()
	e.fake.FailNextToken(1, http.StatusServiceUnavailable, `{"error":"unknown_error","error_description":"retry later"}`, nil)
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeInternalError) // Switchyard's side: retried without using up an attempt
	if res.Deactivate != "" {
		t.Fatalf("deactivate %q", res.Deactivate)
	}
}

func TestRequestLimitExceeded(t *testing.T) {
	t.Parallel()
	t.Run("daily allowance used up", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		campaign := e.fake.AddCampaign("Spring webinar", true)
		e.fake.SetAPIUsage(15000, 15000)
		res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
		want(t, res, switchyard.OutcomeRateLimited)
		if res.RetryAfter != RetryAfterLimitExceeded || res.RateLimitScope != AccountPrefix+testOrgID || res.HTTPStatus != http.StatusForbidden {
			t.Fatalf("result %+v", res)
		}
		if !strings.Contains(res.Message, "REQUEST_LIMIT_EXCEEDED") {
			t.Fatalf("message %q", res.Message)
		}
	})
	t.Run("forced", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.fake.ForceRequestLimit(true)
		res := e.deliver(ActionUpdateProperty, map[string]any{"id": "LeadSource", "value": "Web"}, person("ada@example.com"))
		want(t, res, switchyard.OutcomeRateLimited)
		if res.RetryAfter != RetryAfterLimitExceeded || res.RateLimitScope != AccountPrefix+testOrgID {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("concurrent long-running requests", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.fake.FailNext(1, http.StatusForbidden, `[{"message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, nil)
		res := e.deliver(ActionUpdateProperty, map[string]any{"id": "LeadSource", "value": "Web"}, person("ada@example.com"))
		want(t, res, switchyard.OutcomeRateLimited)
		if res.RetryAfter != RetryAfterConcurrentLimit || res.RateLimitScope == "" {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("scope without a known org", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *envConfig) { c.account = "" })
		e.fake.ForceRequestLimit(true)
		res := e.deliver(ActionUpdateProperty, map[string]any{"id": "LeadSource", "value": "Web"}, person("ada@example.com"))
		want(t, res, switchyard.OutcomeRateLimited)
		if res.RateLimitScope != "salesforce:connection:"+e.sender.conn.ID.String() {
			t.Fatalf("scope %q", res.RateLimitScope)
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope, rate, burst := e.sender.RateLimit()
	if scope != AccountPrefix+testOrgID || rate != RequestsPerSecond || burst != Burst {
		t.Fatalf("RateLimit = %q %v %d", scope, rate, burst)
	}
	if got := scopeOf(testOrgID, e.sender.conn); got != AccountPrefix+testOrgID {
		t.Fatalf("scope of a bare org id = %q", got)
	}
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	e.fake.FailNext(1, http.StatusServiceUnavailable, `[{"message":"Server unavailable","errorCode":"SERVER_UNAVAILABLE"}]`, map[string]string{"Retry-After": "7"})
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeRejectedServerError)
	if res.RetryAfter != 7*time.Second || !strings.Contains(res.Message, "SERVER_UNAVAILABLE") {
		t.Fatalf("result %+v", res)
	}
	e.fake.FailNext(1, http.StatusInternalServerError, `<html>oops</html>`, map[string]string{"Content-Type": "text/html"})
	res = e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeRejectedServerError)
	if res.HTTPStatus != 500 || !strings.Contains(res.Response, "oops") {
		t.Fatalf("result %+v", res)
	}
	// UNABLE_TO_LOCK_ROW is transient.
	e.fake.FailNext(1, http.StatusBadRequest, `[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`, nil)
	want(t, e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com")), switchyard.OutcomeRejectedServerError)
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	e.fake.Hang()
	t.Cleanup(e.fake.Release)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	res := e.deliverCtx(ctx, ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeTimeout)
	if strings.Contains(res.Message, "127.0.0.1") {
		t.Fatalf("message names our address: %q", res.Message)
	}
}

func TestNoSecretEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaign := e.fake.AddCampaign("Spring webinar", true)
	tok, _ := e.tokens.Token(context.Background())
	echo := `[{"message":"bad request for token ` + tok.AccessToken + ` and secret ` + e.fake.ClientSecret() + ` refresh ` + tok.RefreshToken + `","errorCode":"INVALID_FIELD"}]`
	e.fake.FailNext(1, http.StatusBadRequest, echo, nil)
	res := e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com")) // deliver checks
	if !strings.Contains(res.Message, destination.MaskedValue) || !strings.Contains(res.Response, destination.MaskedValue) {
		t.Fatalf("result %+v", res)
	}
}

func TestAPIBaseOverrideAndMissingInstanceURL(t *testing.T) {
	t.Parallel()
	// With a server-configured API base, a token without instance_url still works.
	e := newEnv(t, func(c *envConfig) { c.apiBase = true })
	campaign := e.fake.AddCampaign("Spring webinar", true)
	tok, _ := e.tokens.Token(context.Background())
	e.tokens.set(&oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: "Bearer"})
	want(t, e.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com")), switchyard.OutcomeDelivered)

	// Without one, a token that never named its instance cannot be used.
	e2 := newEnv(t)
	tok, _ = e2.tokens.Token(context.Background())
	e2.tokens.set(&oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: "Bearer"})
	res := e2.deliver(ActionAddToCampaign, map[string]any{"id": campaign}, person("ada@example.com"))
	want(t, res, switchyard.OutcomeAuthFailed)
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded {
		t.Fatalf("result %+v", res)
	}

	// A plain-http instance is refused unless private destinations are allowed.
	p := New(destination.Options{})
	if _, err := p.checkBase("http://example.my.salesforce.com"); err == nil {
		t.Fatal("http instance accepted")
	}
	if b, err := p.checkBase("https://example.my.salesforce.com/some/path"); err != nil || b != "https://example.my.salesforce.com" {
		t.Fatalf("checkBase = %q, %v", b, err)
	}
}

func TestSSRFGuard(t *testing.T) {
	t.Parallel()
	fake := sffake.New(sffake.Options{OrgID: testOrgID})
	t.Cleanup(fake.Close)
	p := New(destination.Options{Apps: map[string]destination.OAuthApp{Type: {APIBase: "https://127.0.0.1"}}})
	issued := fake.IssueToken("")
	tok := (&oauth2.Token{AccessToken: issued.AccessToken}).WithExtra(map[string]any{"id": issued.ID})
	if _, err := p.Identify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "not a permitted destination") {
		t.Fatalf("Identify to loopback: %v", err)
	}
}

func TestProvisionRefusesBadMetadata(t *testing.T) {
	t.Parallel()
	p := New(destination.Options{AllowPrivate: true})
	for _, meta := range []map[string]any{{KeyMemberStatus: 3.0}, {KeyMemberStatus: strings.Repeat("x", 41)}} {
		_, err := p.Provision(context.Background(), destination.Provision{Connection: &switchyard.Connection{ID: uuid.New(), Metadata: meta}})
		var se *switchyard.Error
		if !errors.As(err, &se) || se.Fields[0].Param != "metadata."+KeyMemberStatus {
			t.Fatalf("Provision(%v) = %v", meta, err)
		}
	}
}
