package intercom_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination/intercom"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/intercom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestAddTagCreatesContact(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{RequireVersionHeader: true})
	vip := srv.AddTag("VIP")
	srv.AddDataAttribute(fake.DataAttribute{Name: "plan", DataType: "string", Options: []string{"free", "pro"}})
	srv.AddDataAttribute(fake.DataAttribute{Name: "seats", DataType: "integer"})
	s, tok := pasted(t, srv)

	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, vip, map[string]any{
		"email": "ada@example.com", "name": "Ada Lovelace", "phone": "+441234567890", "plan": "pro", "seats": float64(3)}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if !strings.Contains(res.Message, "created") {
		t.Errorf("message %q does not say the contact was created", res.Message)
	}
	c, ok := srv.Contact("ada@example.com")
	if !ok {
		t.Fatal("no contact created")
	}
	if c.Role != "user" || c.Name != "Ada Lovelace" || c.Phone != "+441234567890" || c.ExternalID != "" {
		t.Errorf("contact %+v", c)
	}
	if c.CustomAttributes["plan"] != "pro" || c.CustomAttributes["seats"] != float64(3) {
		t.Errorf("custom attributes %v", c.CustomAttributes)
	}
	if got := tagIDs(srv.ContactTags(c.ID)); !slices.Equal(got, []string{vip}) {
		t.Errorf("tags %v, want [%s]", got, vip)
	}
	creates := srv.RequestsTo(http.MethodPost, "/contacts")
	if len(creates) != 1 {
		t.Fatalf("%d creates", len(creates))
	}
	var body map[string]any
	_ = json.Unmarshal(creates[0].Body, &body)
	if _, has := body["role"]; has {
		t.Errorf("create without external_id sent role %v: Intercom's default applies", body["role"])
	}
	for _, r := range srv.Requests() {
		if r.Header.Get("Intercom-Version") != intercom.APIVersion || r.Header.Get("Accept") != "application/json" ||
			r.Header.Get("Authorization") != "Bearer "+tok {
			t.Errorf("%s %s headers %v", r.Method, r.Path, r.Header)
		}
	}
}

func TestAddTagWithExternalIDCreatesUser(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("Trial")
	s, tok := pasted(t, srv)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{
		"email": "grace@example.com", "external_id": float64(4242)}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	c, ok := srv.ContactByExternalID("4242")
	if !ok || c.Email != "grace@example.com" || c.Role != "user" {
		t.Fatalf("contact %+v %v", c, ok)
	}
	var body map[string]any
	_ = json.Unmarshal(srv.RequestsTo(http.MethodPost, "/contacts")[0].Body, &body)
	if body["role"] != "user" || body["external_id"] != "4242" {
		t.Errorf("create body %v", body)
	}
}

func TestAddTagFindsExistingContact(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	id := srv.AddContact(fake.ContactInput{Email: "ada@example.com", Name: "Ada"})
	s, tok := pasted(t, srv)

	// Same values: found, no update.
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ADA@example.com", "name": "Ada"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if n := len(srv.RequestsTo(http.MethodPut, "/contacts/"+id)); n != 0 {
		t.Errorf("%d updates of an unchanged contact", n)
	}
	if n := len(srv.RequestsTo(http.MethodPost, "/contacts")); n != 0 {
		t.Errorf("%d creates for an existing contact", n)
	}
	if got := tagIDs(srv.ContactTags(id)); !slices.Equal(got, []string{tag}) {
		t.Errorf("tags %v", got)
	}

	// A new name is written.
	res = s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com", "name": "Ada King"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if c, _ := srv.ContactByID(id); c.Name != "Ada King" {
		t.Errorf("name %q", c.Name)
	}
	if len(srv.Contacts()) != 1 {
		t.Errorf("%d contacts", len(srv.Contacts()))
	}
}

func TestFindsContactByExternalID(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	id := srv.AddContact(fake.ContactInput{Email: "old@example.com", ExternalID: "u-1"})
	srv.AddContact(fake.ContactInput{Email: "new@example.com", Role: "lead"})
	s, tok := pasted(t, srv)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "new@example.com", "external_id": "u-1"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	c, _ := srv.ContactByID(id)
	if c.Email != "new@example.com" {
		t.Errorf("email not updated: %+v", c)
	}
	if got := tagIDs(srv.ContactTags(id)); !slices.Equal(got, []string{tag}) {
		t.Errorf("tags %v", got)
	}
}

func TestAddTagAlreadyTaggedIsDelivered(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	s, tok := pasted(t, srv)
	req := tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"})
	expect(t, s.Deliver(context.Background(), req), switchyard.OutcomeDelivered, tok)
	c, _ := srv.Contact("ada@example.com")
	before := len(srv.RequestsTo(http.MethodPost, "/contacts/"+c.ID+"/tags"))

	// The same delivery again (a retry after a lost answer): nothing changes.
	res := s.Deliver(context.Background(), req)
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if !strings.Contains(res.Message, "already has tag") {
		t.Errorf("message %q", res.Message)
	}
	if after := len(srv.RequestsTo(http.MethodPost, "/contacts/"+c.ID+"/tags")); after != before {
		t.Errorf("tagged again: %d attach calls, was %d", after, before)
	}
	if len(srv.Contacts()) != 1 || len(srv.ContactTags(c.ID)) != 1 {
		t.Errorf("contacts %v tags %v", srv.Contacts(), srv.ContactTags(c.ID))
	}
}

func TestRemoveTag(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	keep, drop := srv.AddTag("Keep"), srv.AddTag("Drop")
	s, tok := pasted(t, srv)
	ctx := context.Background()
	for _, tag := range []string{keep, drop} {
		expect(t, s.Deliver(ctx, tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"})), switchyard.OutcomeDelivered, tok)
	}
	c, _ := srv.Contact("ada@example.com")

	res := s.Deliver(ctx, tagRequest(intercom.ActionRemoveTag, drop, map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if got := tagIDs(srv.ContactTags(c.ID)); !slices.Equal(got, []string{keep}) {
		t.Errorf("tags after remove %v, want only %s", got, keep)
	}

	// Removing a tag the contact does not have is delivered, without a DELETE.
	res = s.Deliver(ctx, tagRequest(intercom.ActionRemoveTag, drop, map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if n := len(srv.RequestsTo(http.MethodDelete, "/contacts/"+c.ID+"/tags/"+drop)); n != 1 {
		t.Errorf("%d DELETEs, want the first only", n)
	}

	// A person Intercom does not know yet is created, and has no tag to remove.
	res = s.Deliver(ctx, tagRequest(intercom.ActionRemoveTag, drop, map[string]any{"email": "grace@example.com", "name": "Grace"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if g, ok := srv.Contact("grace@example.com"); !ok || g.Name != "Grace" || len(srv.ContactTags(g.ID)) != 0 {
		t.Errorf("contact %+v %v", g, ok)
	}
}

func TestRemoveTagBeyondTheEmbeddedTen(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, tok := pasted(t, srv)
	ctx := context.Background()
	var tags []string
	for i := range 12 {
		tags = append(tags, srv.AddTag("T"+string(rune('a'+i))))
		expect(t, s.Deliver(ctx, tagRequest(intercom.ActionAddTag, tags[i], map[string]any{"email": "ada@example.com"})), switchyard.OutcomeDelivered, tok)
	}
	c, _ := srv.Contact("ada@example.com")
	last := tags[11]
	expect(t, s.Deliver(ctx, tagRequest(intercom.ActionRemoveTag, last, map[string]any{"email": "ada@example.com"})), switchyard.OutcomeDelivered, tok)
	if got := tagIDs(srv.ContactTags(c.ID)); len(got) != 11 || slices.Contains(got, last) {
		t.Errorf("tags %v", got)
	}
	if n := len(srv.RequestsTo(http.MethodGet, "/contacts/"+c.ID+"/tags")); n != 1 {
		t.Errorf("%d tag listings, want 1 (the contact embeds only 10)", n)
	}
}

func TestCreateConflictFindsExistingContact(t *testing.T) {
	t.Parallel()
	// The contact was created moments ago (by an earlier attempt) and is not searchable yet.
	srv := newFake(t, fake.Options{SearchDelay: 1 << 62})
	tag := srv.AddTag("VIP")
	id := srv.AddContact(fake.ContactInput{Email: "ada@example.com"})
	s, tok := pasted(t, srv)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com", "name": "Ada"}))
	expect(t, res, switchyard.OutcomeDelivered, tok)
	if len(srv.Contacts()) != 1 {
		t.Fatalf("%d contacts, want the existing one only", len(srv.Contacts()))
	}
	if got := tagIDs(srv.ContactTags(id)); !slices.Equal(got, []string{tag}) {
		t.Errorf("tags %v", got)
	}
	if c, _ := srv.ContactByID(id); c.Name != "Ada" {
		t.Errorf("name %q not written to the existing contact", c.Name)
	}
}

func TestUnknownTagIsDestinationNotFound(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, tok := pasted(t, srv)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, "999999", map[string]any{"email": "ada@example.com"}))
	expect(t, res, switchyard.OutcomeDestinationNotFound, tok)
	if res.HTTPStatus != http.StatusNotFound || !strings.Contains(res.Message, "adding tag 999999") || !strings.Contains(res.Message, "Resource Not Found") {
		t.Errorf("result %+v", res)
	}
}

func TestValidationFailures(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	srv.AddDataAttribute(fake.DataAttribute{Name: "plan", DataType: "string", Options: []string{"free", "pro"}})
	s, tok := pasted(t, srv)
	for name, fields := range map[string]map[string]any{
		"unknown attribute": {"email": "a@example.com", "shoe_size": "44"},
		"not an option":     {"email": "b@example.com", "plan": "enterprise"},
		"invalid email":     {"email": "not-an-email"},
	} {
		res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, fields))
		expect(t, res, switchyard.OutcomeValidationFailed, tok)
		if res.HTTPStatus != http.StatusBadRequest || !strings.Contains(res.Message, "parameter_invalid") {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	s, tok := pasted(t, srv)
	ctx := context.Background()

	res := s.Deliver(ctx, tagRequest(intercom.ActionAddTag, "", map[string]any{"email": "a@example.com"}))
	expect(t, res, switchyard.OutcomeInvalidRequest, tok)
	if !strings.Contains(res.Message, "no id") {
		t.Errorf("missing id: %q", res.Message)
	}
	req := tagRequest(intercom.ActionAddTag, tag, map[string]any{"name": "Nobody"})
	req.Event.Payload = []byte(`{"name":"Nobody"}`)
	res = s.Deliver(ctx, req)
	expect(t, res, switchyard.OutcomeInvalidRequest, tok)
	if !strings.Contains(res.Message, "no email") {
		t.Errorf("no email: %q", res.Message)
	}
	expect(t, s.Deliver(ctx, tagRequest("add_to_list", tag, map[string]any{"email": "a@example.com"})), switchyard.OutcomeInvalidRequest, tok)
	if len(srv.Requests()) != 0 {
		t.Errorf("invalid requests called Intercom: %v", srv.Requests())
	}

	// Without mapped fields, the payload's top-level email is used.
	req = tagRequest(intercom.ActionAddTag, tag, nil)
	req.Event.Payload = []byte(`{"email":"payload@example.com"}`)
	expect(t, s.Deliver(ctx, req), switchyard.OutcomeDelivered, tok)
	if _, ok := srv.Contact("payload@example.com"); !ok {
		t.Error("the payload's email was not used")
	}
}

func TestProviderAnswersClassified(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		status int
		body   string
		want   switchyard.Outcome
	}{
		"forbidden":       {403, `{"type":"error.list","errors":[{"code":"api_plan_restricted","message":"Active subscription needed."}]}`, switchyard.OutcomeAuthFailed},
		"bad version":     {400, `{"type":"error.list","errors":[{"code":"intercom_version_invalid","message":"The requested version could not be found"}]}`, switchyard.OutcomeInvalidRequest},
		"other 400":       {400, `{"type":"error.list","errors":[{"code":"client_error","message":"nope"}]}`, switchyard.OutcomeRejectedClientError},
		"unprocessable":   {422, `{"type":"error.list","errors":[{"code":"unprocessable_entity","message":"bad"}]}`, switchyard.OutcomeValidationFailed},
		"request timeout": {500, `{"type":"error.list","errors":[{"code":"request_timeout","message":"slow"}]}`, switchyard.OutcomeRejectedServerError},
		"timeout code":    {408, `{"type":"error.list","errors":[{"code":"request_timeout","message":"slow"}]}`, switchyard.OutcomeDestinationTimeout},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t, fake.Options{})
			tag := srv.AddTag("VIP")
			s, tok := pasted(t, srv)
			srv.InjectFailure(1, fake.Failure{PathPrefix: "/contacts/", Status: tc.status, Body: tc.body})
			res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"}))
			expect(t, res, tc.want, tok)
			if res.Deactivate != "" || res.HTTPStatus != tc.status {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestUpdateConflict(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	srv.AddContact(fake.ContactInput{Email: "taken@example.com"})
	id := srv.AddContact(fake.ContactInput{Email: "old@example.com", ExternalID: "u-1"})
	s, tok := pasted(t, srv)
	res := s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "taken@example.com", "external_id": "u-1"}))
	expect(t, res, switchyard.OutcomeDestinationConflict, tok)
	if !strings.Contains(res.Message, "updating contact "+id) {
		t.Errorf("message %q", res.Message)
	}
}

func TestPrefersUserOverLead(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	tag := srv.AddTag("VIP")
	lead := srv.AddContact(fake.ContactInput{Email: "ada@example.com", Role: "lead"})
	user := srv.AddContact(fake.ContactInput{Email: "ada@example.com", Role: "user"})
	s, tok := pasted(t, srv)
	expect(t, s.Deliver(context.Background(), tagRequest(intercom.ActionAddTag, tag, map[string]any{"email": "ada@example.com"})), switchyard.OutcomeDelivered, tok)
	if len(srv.ContactTags(user)) != 1 || len(srv.ContactTags(lead)) != 0 {
		t.Errorf("user tags %v, lead tags %v", srv.ContactTags(user), srv.ContactTags(lead))
	}
}
