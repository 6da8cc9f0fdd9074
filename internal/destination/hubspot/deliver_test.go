package hubspot_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/hubspot"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestAddToListCreatesContactWithMappedFields(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("Customers", fake.ListManual)
	s, tok := pasted(t, srv)

	req := request(hubspot.ActionAddToList, map[string]any{hubspot.ParamID: list},
		map[string]any{"email": "Ada@Example.com", "firstname": "Ada", "lastname": nil, "lifecyclestage": "lead"})
	res := s.Deliver(t.Context(), req)
	expect(t, res, switchyard.OutcomeDelivered, tok)
	ct, ok := srv.Contact("ada@example.com")
	if !ok {
		t.Fatal("no contact was created")
	}
	if ct.Properties["firstname"] != "Ada" || ct.Properties["lifecyclestage"] != "lead" {
		t.Errorf("contact properties %v", ct.Properties)
	}
	if _, set := ct.Properties["lastname"]; set {
		t.Error("a null mapped field was written")
	}
	if got := srv.ListMembers(list); !slices.Equal(got, []string{ct.ID}) {
		t.Errorf("list members %v, want [%s]", got, ct.ID)
	}
	if !strings.Contains(res.Message, "created") || !strings.Contains(res.Message, "added to list "+list) {
		t.Errorf("message %q", res.Message)
	}
	// The contact was looked up by email, never through search.
	if n := count(srv, http.MethodPost, "/crm/v3/objects/contacts/search"); n != 0 {
		t.Errorf("%d searches", n)
	}
}

func TestAddToListExistingContactIsIdempotent(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("Customers", fake.ListSnapshot)
	id := srv.AddContact(map[string]string{"email": "grace@example.com", "firstname": "Grace"})
	s, tok := pasted(t, srv)

	req := listRequest(hubspot.ActionAddToList, list, "grace@example.com")
	res := s.Deliver(t.Context(), req)
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if !strings.Contains(res.Message, "found") || !strings.Contains(res.Message, "added") {
		t.Errorf("message %q", res.Message)
	}
	// The next attempt (a retry, or the same event again) finds it in the list already.
	res = s.Deliver(t.Context(), req)
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if !strings.Contains(res.Message, "already in list") {
		t.Errorf("message %q", res.Message)
	}
	if got := srv.ListMembers(list); !slices.Equal(got, []string{id}) {
		t.Errorf("list members %v", got)
	}
	if n := len(srv.Contacts()); n != 1 {
		t.Errorf("%d contacts", n)
	}
	// A found contact's properties are left alone, and the list was read once.
	if n := count(srv, http.MethodPatch, "/crm/v3/objects/contacts/"+id); n != 0 {
		t.Errorf("%d PATCHes", n)
	}
	if n := count(srv, http.MethodGet, "/crm/v3/lists/"+list); n != 1 {
		t.Errorf("the list was read %d times, want once", n)
	}
}

func TestRemoveFromList(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("Trial", fake.ListManual)
	member := srv.AddContact(map[string]string{"email": "member@example.com"})
	other := srv.AddContact(map[string]string{"email": "other@example.com"})
	srv.AddListMembers(list, member, other)
	outsider := srv.AddContact(map[string]string{"email": "outsider@example.com"})
	s, tok := pasted(t, srv)

	res := s.Deliver(t.Context(), listRequest(hubspot.ActionRemoveFromList, list, "member@example.com"))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if !strings.Contains(res.Message, "removed from list") {
		t.Errorf("message %q", res.Message)
	}
	if got := srv.ListMembers(list); !slices.Equal(got, []string{other}) {
		t.Errorf("members %v, want [%s]", got, other)
	}

	// Not a member: already where the rule wants it.
	res = s.Deliver(t.Context(), listRequest(hubspot.ActionRemoveFromList, list, "outsider@example.com"))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if !strings.Contains(res.Message, "not in list") {
		t.Errorf("message %q", res.Message)
	}
	_ = outsider

	// Unknown person: created, and no removal call.
	before := count(srv, http.MethodPut, "/crm/v3/lists/"+list+"/memberships/remove")
	res = s.Deliver(t.Context(), listRequest(hubspot.ActionRemoveFromList, list, "new@example.com"))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if _, ok := srv.Contact("new@example.com"); !ok {
		t.Error("the contact was not created")
	}
	if n := count(srv, http.MethodPut, "/crm/v3/lists/"+list+"/memberships/remove"); n != before {
		t.Errorf("a removal call for a new contact")
	}
	if got := srv.ListMembers(list); !slices.Equal(got, []string{other}) {
		t.Errorf("members %v", got)
	}
}

func TestUpdateProperty(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	srv.AddProperty(fake.Property{Name: "plan", Label: "Plan", Type: "enumeration", FieldType: "select",
		Options: []fake.Option{{Label: "Free", Value: "free"}, {Label: "Pro", Value: "pro"}}})
	srv.AddProperty(fake.Property{Name: "seats", Type: "number", FieldType: "number"})
	id := srv.AddContact(map[string]string{"email": "lin@example.com", "plan": "free"})
	s, tok := pasted(t, srv)

	res := s.Deliver(t.Context(), request(hubspot.ActionUpdateProperty, map[string]any{"id": "plan", "value": "pro"},
		map[string]any{"email": "lin@example.com", "firstname": "Lin"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	ct, _ := srv.ContactByID(id)
	if ct.Properties["plan"] != "pro" {
		t.Errorf("plan %q", ct.Properties["plan"])
	}
	if ct.Properties["firstname"] != "" {
		t.Error("mapped fields were written to a found contact")
	}

	// A number value is sent as its text.
	res = s.Deliver(t.Context(), request(hubspot.ActionUpdateProperty, map[string]any{"id": "seats", "value": float64(12)},
		map[string]any{"email": "lin@example.com"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if ct, _ := srv.ContactByID(id); ct.Properties["seats"] != "12" {
		t.Errorf("seats %q", ct.Properties["seats"])
	}

	// A new contact is created with the property and the mapped fields in one call.
	res = s.Deliver(t.Context(), request(hubspot.ActionUpdateProperty, map[string]any{"id": "plan", "value": "pro"},
		map[string]any{"email": "new@example.com", "firstname": "New"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	nc, ok := srv.Contact("new@example.com")
	if !ok || nc.Properties["plan"] != "pro" || nc.Properties["firstname"] != "New" {
		t.Errorf("new contact %v", nc)
	}
	if n := count(srv, http.MethodPatch, "/crm/v3/objects/contacts/"+nc.ID); n != 0 {
		t.Errorf("%d PATCHes of a contact created with the property", n)
	}
}

func TestUpdatePropertyValidation(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	srv.AddProperty(fake.Property{Name: "plan", Type: "enumeration", FieldType: "select",
		Options: []fake.Option{{Label: "Free", Value: "free"}}})
	srv.AddContact(map[string]string{"email": "lin@example.com"})
	s, tok := pasted(t, srv)

	for _, c := range []struct {
		name, prop string
		value      any
		want       string
	}{
		{"option", "plan", "gold", "INVALID_OPTION"},
		{"read only", "hs_object_id", "5", "READ_ONLY_VALUE"},
		{"unknown", "no_such_property", "x", "PROPERTY_DOESNT_EXIST"},
	} {
		res := s.Deliver(t.Context(), request(hubspot.ActionUpdateProperty, map[string]any{"id": c.prop, "value": c.value},
			map[string]any{"email": "lin@example.com"}))
		expect(t, res, switchyard.OutcomeValidationFailed, tok)
		if !strings.Contains(res.Message, c.want) || !strings.Contains(res.Message, c.prop) {
			t.Errorf("%s: message %q", c.name, res.Message)
		}
		if res.HTTPStatus != http.StatusBadRequest {
			t.Errorf("%s: status %d", c.name, res.HTTPStatus)
		}
	}

	// A mapped field HubSpot refuses fails the creation the same way.
	res := s.Deliver(t.Context(), request(hubspot.ActionUpdateProperty, map[string]any{"id": "plan", "value": "free"},
		map[string]any{"email": "new@example.com", "createdate": "yesterday"}))
	expect(t, res, switchyard.OutcomeValidationFailed, tok)
	if !strings.HasPrefix(res.Message, "creating the contact: ") {
		t.Errorf("message %q", res.Message)
	}
	if _, ok := srv.Contact("new@example.com"); ok {
		t.Error("the contact was created")
	}
}

func TestCreateConflictUsesExistingContact(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("Customers", fake.ListManual)
	id := srv.AddContact(map[string]string{"email": "race@example.com"})
	// The read misses the contact (created a moment ago by someone else): the create's 409
	// names it.
	srv.InjectFailure(1, fake.Failure{Status: http.StatusNotFound, Method: http.MethodGet, PathPrefix: "/crm/v3/objects/contacts/",
		Body: `{"status":"error","message":"resource not found","correlationId":"c1","category":"OBJECT_NOT_FOUND"}`})
	s, tok := pasted(t, srv)

	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "race@example.com"))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if got := srv.ListMembers(list); !slices.Equal(got, []string{id}) {
		t.Errorf("members %v, want [%s]", got, id)
	}
	if n := len(srv.Contacts()); n != 1 {
		t.Errorf("%d contacts", n)
	}
	if n := count(srv, http.MethodPost, "/crm/v3/objects/contacts"); n != 1 {
		t.Errorf("%d creates", n)
	}

	// update_property after a 409 updates the existing contact.
	srv.InjectFailure(1, fake.Failure{Status: http.StatusNotFound, Method: http.MethodGet, PathPrefix: "/crm/v3/objects/contacts/",
		Body: `{"status":"error","message":"resource not found","category":"OBJECT_NOT_FOUND"}`})
	res = s.Deliver(t.Context(), request(hubspot.ActionUpdateProperty, map[string]any{"id": "jobtitle", "value": "CTO"},
		map[string]any{"email": "race@example.com"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if ct, _ := srv.ContactByID(id); ct.Properties["jobtitle"] != "CTO" {
		t.Errorf("jobtitle %q", ct.Properties["jobtitle"])
	}
}

func TestListChecks(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	dynamic := srv.AddList("Active users", fake.ListDynamic)
	s, tok := pasted(t, srv)

	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, dynamic, "a@example.com"))
	expect(t, res, switchyard.OutcomeInvalidRequest, tok)
	if !strings.Contains(res.Message, "DYNAMIC") {
		t.Errorf("message %q", res.Message)
	}
	res = s.Deliver(t.Context(), listRequest(hubspot.ActionRemoveFromList, "9999", "a@example.com"))
	expect(t, res, switchyard.OutcomeDestinationNotFound, tok)
	if !strings.Contains(res.Message, "9999") {
		t.Errorf("message %q", res.Message)
	}
	// Neither touched a contact.
	if n := len(srv.Contacts()); n != 0 {
		t.Errorf("%d contacts created for lists that cannot take them", n)
	}
	// The dynamic list's refusal is remembered; the unknown list is asked again.
	s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, dynamic, "a@example.com"))
	if n := count(srv, http.MethodGet, "/crm/v3/lists/"+dynamic); n != 1 {
		t.Errorf("the dynamic list was read %d times", n)
	}
}

func TestDynamicListRefusalFromHubSpot(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("Was manual", fake.ListManual)
	s, tok := pasted(t, srv)
	srv.AddContact(map[string]string{"email": "a@example.com"})
	srv.InjectFailure(1, fake.Failure{Status: http.StatusBadRequest, Method: http.MethodPut,
		Body: `{"status":"error","message":"List 1 has processingType DYNAMIC","correlationId":"c2","category":"VALIDATION_ERROR"}`})
	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeValidationFailed, tok)
	if !strings.Contains(res.Message, "adding the contact to list") || !strings.Contains(res.Message, "[correlation c2]") {
		t.Errorf("message %q", res.Message)
	}
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	s, tok := pasted(t, srv)

	for _, c := range []struct {
		name string
		req  func() *destination.Request
		want string
	}{
		{"no list id", func() *destination.Request {
			return listRequest(hubspot.ActionAddToList, "", "a@example.com")
		}, "no id"},
		{"bad list id", func() *destination.Request {
			return listRequest(hubspot.ActionAddToList, "customers", "a@example.com")
		}, "not a HubSpot list id"},
		{"no property", func() *destination.Request {
			return request(hubspot.ActionUpdateProperty, map[string]any{"value": "x"}, map[string]any{"email": "a@example.com"})
		}, "no id"},
		{"no value", func() *destination.Request {
			return request(hubspot.ActionUpdateProperty, map[string]any{"id": "plan"}, map[string]any{"email": "a@example.com"})
		}, "no value"},
		{"object value", func() *destination.Request {
			return request(hubspot.ActionUpdateProperty, map[string]any{"id": "plan", "value": map[string]any{"a": 1.0}},
				map[string]any{"email": "a@example.com"})
		}, "must be text"},
		{"no email", func() *destination.Request {
			r := listRequest(hubspot.ActionAddToList, list, "")
			r.Fields = map[string]any{"firstname": "A"}
			r.Event.Payload = []byte(`{"name":"A"}`)
			return r
		}, "no email"},
		{"unknown action", func() *destination.Request {
			return listRequest("add_tag", list, "a@example.com")
		}, "unknown HubSpot action"},
	} {
		res := s.Deliver(t.Context(), c.req())
		expect(t, res, switchyard.OutcomeInvalidRequest, tok)
		if !strings.Contains(res.Message, c.want) {
			t.Errorf("%s: message %q", c.name, res.Message)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d calls for invalid requests", n)
	}
}

func TestEmailFromPayload(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	s, tok := pasted(t, srv)
	req := listRequest(hubspot.ActionAddToList, list, "")
	req.Fields = map[string]any{"firstname": "Top"}
	req.Event.Payload = []byte(`{"email":"top@example.com","first_name":"Top"}`)
	expect(t, s.Deliver(t.Context(), req), switchyard.OutcomeDelivered, tok)
	if ct, ok := srv.Contact("top@example.com"); !ok || ct.Properties["firstname"] != "Top" {
		t.Errorf("contact %v %v", ct, ok)
	}
}

func TestServerErrorsAndTimeouts(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("L", fake.ListManual)
	s, tok := pasted(t, srv)

	srv.FailNext(1, http.StatusBadGateway, "<html>bad gateway</html>", map[string]string{"Content-Type": "text/html"})
	res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeRejectedServerError, tok)
	if res.HTTPStatus != http.StatusBadGateway || !strings.Contains(res.Response, "bad gateway") {
		t.Errorf("status %d response %q", res.HTTPStatus, res.Response)
	}

	srv.FailNext(1, http.StatusInternalServerError,
		`{"status":"error","message":"internal error","correlationId":"c9","category":"INTERNAL_ERROR"}`, nil)
	res = s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeRejectedServerError, tok)
	if !strings.Contains(res.Message, "INTERNAL_ERROR: internal error [correlation c9]") {
		t.Errorf("message %q", res.Message)
	}

	// 403 MISSING_SCOPES names the scopes.
	srv.FailNext(1, http.StatusForbidden, `{"status":"error","message":"This app hasn't been granted all required scopes to make this call.",`+
		`"category":"MISSING_SCOPES","errors":[{"message":"One or more of the following scopes are required.",`+
		`"context":{"requiredGranularScopes":["crm.lists.write"]}}]}`, nil)
	res = s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
	expect(t, res, switchyard.OutcomeAuthFailed, tok)
	if !strings.Contains(res.Message, "crm.lists.write") || res.Deactivate != "" {
		t.Errorf("message %q deactivate %q", res.Message, res.Deactivate)
	}

	// A 2xx that is not JSON.
	srv.FailNext(1, http.StatusOK, "not json", nil)
	res = s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "b@example.com"))
	expect(t, res, switchyard.OutcomeRejectedServerError, tok)

	// No answer within the attempt's deadline.
	srv.Hang()
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	res = s.Deliver(ctx, listRequest(hubspot.ActionAddToList, list, "c@example.com"))
	srv.Release()
	expect(t, res, switchyard.OutcomeTimeout, tok)
	if time.Since(start) > 5*time.Second {
		t.Errorf("the attempt took %s", time.Since(start))
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	t.Run("forced", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, fake.Options{RateLimitMax: 100})
		list := srv.AddList("L", fake.ListManual)
		tokens := newOAuthTokens(srv)
		s := managed(t, srv, tokens)
		srv.ForceRateLimit(1, "")
		res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
		expect(t, res, switchyard.OutcomeRateLimited, tokens.secrets()...)
		if res.RetryAfter != 10*time.Second || res.RateLimitScope != portal(srv) || res.HTTPStatus != http.StatusTooManyRequests {
			t.Errorf("retry after %s scope %q status %d", res.RetryAfter, res.RateLimitScope, res.HTTPStatus)
		}
		if !strings.Contains(res.Message, "RATE_LIMITS") {
			t.Errorf("message %q", res.Message)
		}
		scope, rate, burst := s.RateLimit()
		if scope != portal(srv) || rate <= 0 || burst < 1 {
			t.Errorf("RateLimit() = %q, %v, %d", scope, rate, burst)
		}
	})
	t.Run("window", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, fake.Options{RateLimitMax: 2, RateLimitWindow: time.Minute})
		list := srv.AddList("L", fake.ListManual)
		s, tok := pasted(t, srv)
		// GET list, GET contact (404), then the create is the third call of the window.
		res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
		expect(t, res, switchyard.OutcomeRateLimited, tok)
		if res.RetryAfter != time.Minute {
			t.Errorf("retry after %s, want the window", res.RetryAfter)
		}
		scope, _, _ := s.RateLimit()
		if res.RateLimitScope != scope || !strings.HasPrefix(scope, "hubspot:token:") || strings.Contains(scope, tok) {
			t.Errorf("scope %q (sender's %q)", res.RateLimitScope, scope)
		}
	})
	t.Run("daily", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, fake.Options{DailyLimit: 1})
		list := srv.AddList("L", fake.ListManual)
		s, tok := pasted(t, srv)
		res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
		expect(t, res, switchyard.OutcomeRateLimited, tok)
		if res.RetryAfter != time.Hour {
			t.Errorf("retry after %s", res.RetryAfter)
		}
	})
	t.Run("retry-after", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t, fake.Options{})
		list := srv.AddList("L", fake.ListManual)
		s, tok := pasted(t, srv)
		srv.FailNext(1, http.StatusTooManyRequests, `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","category":"RATE_LIMITS","policyName":"SECONDLY"}`, nil)
		res := s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
		expect(t, res, switchyard.OutcomeRateLimited, tok)
		if res.RetryAfter != time.Second {
			t.Errorf("retry after %s", res.RetryAfter)
		}
		srv.FailNext(1, http.StatusTooManyRequests, `{}`, map[string]string{"Retry-After": "7"})
		res = s.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, "a@example.com"))
		expect(t, res, switchyard.OutcomeRateLimited, tok)
		if res.RetryAfter != 7*time.Second {
			t.Errorf("retry after %s", res.RetryAfter)
		}
	})
}
