package intercom_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/intercom"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/intercom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestActionData(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	vip, trial := srv.AddTag("VIP"), srv.AddTag("Trial")
	s, _ := pasted(t, srv)
	data, err := s.ActionData(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(data)
	want := `{"add_tag":{"tags":[{"id":"` + vip + `","name":"VIP"},{"id":"` + trial + `","name":"Trial"}]},` +
		`"remove_tag":{"tags":[{"id":"` + vip + `","name":"VIP"},{"id":"` + trial + `","name":"Trial"}]}}`
	if string(b) != want {
		t.Errorf("action data\n got %s\nwant %s", b, want)
	}

	srv.FailNext(1, http.StatusTooManyRequests, `{"type":"error.list","errors":[{"code":"rate_limit_exceeded","message":"Exceeded rate limit"}]}`, nil)
	_, err = s.ActionData(context.Background())
	var se *switchyard.Error
	if !errors.As(err, &se) || se.Code != switchyard.ERATELIMITED {
		t.Errorf("rate limited ActionData: %v", err)
	}
}

func TestFieldCatalog(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	srv.AddDataAttribute(fake.DataAttribute{Name: "plan", Label: "Plan", DataType: "string", Options: []string{"free", "pro"}})
	srv.AddDataAttribute(fake.DataAttribute{Name: "seats", DataType: "integer"})
	srv.AddDataAttribute(fake.DataAttribute{Name: "mrr", DataType: "float"})
	srv.AddDataAttribute(fake.DataAttribute{Name: "beta", DataType: "boolean"})
	srv.AddDataAttribute(fake.DataAttribute{Name: "renews_at", DataType: "date"})
	srv.AddDataAttribute(fake.DataAttribute{Name: "old", DataType: "string", Archived: true})
	s, _ := pasted(t, srv)
	fields, err := s.FieldCatalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]destination.CatalogField{}
	var keys []string
	for _, f := range fields {
		byKey[f.Key] = f
		keys = append(keys, f.Key)
	}
	if want := []string{"email", "external_id", "name", "phone", "plan", "seats", "mrr", "beta", "renews_at"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if c := byKey["email"].Constraints; c == nil || c.Format != "email" || !c.Required {
		t.Errorf("email %+v", byKey["email"])
	}
	if c := byKey["phone"].Constraints; c == nil || c.Format != "phone" {
		t.Errorf("phone %+v", byKey["phone"])
	}
	if f := byKey["plan"]; f.Type != "enum" || f.Label != "Plan" || f.Constraints == nil || !slices.Equal(f.Constraints.AllowedValues, []string{"free", "pro"}) ||
		f.ProviderMeta["full_name"] != "custom_attributes.plan" {
		t.Errorf("plan %+v", f)
	}
	for key, typ := range map[string]string{"seats": "number", "mrr": "number", "beta": "boolean", "renews_at": "datetime", "name": "string", "external_id": "string"} {
		if byKey[key].Type != typ {
			t.Errorf("%s has type %q, want %q", key, byKey[key].Type, typ)
		}
	}
}

func TestTestCall(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, _ := pasted(t, srv)
	if err := s.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := srv.RequestsTo(http.MethodGet, "/me"); len(got) != 1 {
		t.Errorf("%d GET /me", len(got))
	}
	// Through the core's helper, as the API does before saving a connection.
	tok := srv.IssueAccessToken()
	err := destination.TestConnection(context.Background(), intercom.Integration(), options(srv),
		destination.Provision{Connection: connection(map[string]any{intercom.KeyAccessToken: tok})})
	if err != nil {
		t.Fatal(err)
	}
	srv.RevokeToken(tok)
	err = destination.TestConnection(context.Background(), intercom.Integration(), options(srv),
		destination.Provision{Connection: connection(map[string]any{intercom.KeyAccessToken: tok})})
	if err == nil {
		t.Fatal("a revoked token passed the test")
	}
}

func TestDeclaration(t *testing.T) {
	t.Parallel()
	in := intercom.Integration()
	reg := destination.NewRegistry(in) // panics if the declaration is malformed
	got, ok := reg.Get(intercom.Type)
	if !ok || got.AuthType != destination.AuthOAuth || got.OAuthVersion != 2 || !got.Mapped || got.APIBase != intercom.APIBase {
		t.Fatalf("declaration %+v", got)
	}
	if got.OAuth.AuthURL != intercom.AuthURL || got.OAuth.TokenURL != intercom.TokenURL ||
		!slices.Equal(got.OAuth.PasteFields, []string{intercom.KeyAccessToken}) {
		t.Errorf("oauth %+v", got.OAuth)
	}
	if !slices.Equal(in.SecretFields(), []string{intercom.KeyAccessToken}) {
		t.Errorf("secret fields %v", in.SecretFields())
	}
	for _, a := range []string{intercom.ActionAddTag, intercom.ActionRemoveTag} {
		if !got.HasAction(a) {
			t.Errorf("no action %s", a)
		}
	}
	for _, a := range got.Actions {
		if !slices.Equal(a.Fields, []string{"id"}) || a.Display == nil {
			t.Errorf("action %+v", a)
		}
	}
	if errs := in.Check(map[string]any{intercom.KeyAccessToken: "two tokens"}, destination.Options{}); len(errs) != 1 {
		t.Errorf("check: %v", errs)
	}
	if errs := in.Check(map[string]any{intercom.KeyAccessToken: "dG9rOjEyMw=="}, destination.Options{}); len(errs) != 0 {
		t.Errorf("check: %v", errs)
	}
}
