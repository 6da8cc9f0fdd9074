package hubspot_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/hubspot"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestActionData(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	manual := srv.AddList("Customers", fake.ListManual)
	snapshot := srv.AddList("Webinar 2024", fake.ListSnapshot)
	srv.AddList("Active", fake.ListDynamic)
	srv.AddProperty(fake.Property{Name: "plan", Label: "Plan", Type: "enumeration", FieldType: "select",
		Options: []fake.Option{{Label: "Free", Value: "free"}, {Label: "Old", Value: "old", Hidden: true}, {Label: "Pro", Value: "pro"}}})
	srv.AddProperty(fake.Property{Name: "gone", Type: "string", Archived: true})
	tokens := newOAuthTokens(srv)
	s := managed(t, srv, tokens)

	data, err := s.ActionData(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(data)
	var got struct {
		Add struct {
			Lists []hubspot.List `json:"lists"`
		} `json:"add_to_list"`
		Remove struct {
			Lists []hubspot.List `json:"lists"`
		} `json:"remove_from_list"`
		Update struct {
			Properties []hubspot.Property `json:"properties"`
		} `json:"update_property"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []hubspot.List{{ID: manual, Name: "Customers", ProcessingType: "MANUAL"}, {ID: snapshot, Name: "Webinar 2024", ProcessingType: "SNAPSHOT"}}
	if !slices.Equal(got.Add.Lists, want) || !slices.Equal(got.Remove.Lists, want) {
		t.Errorf("lists %+v / %+v, want %+v", got.Add.Lists, got.Remove.Lists, want)
	}
	props := map[string]hubspot.Property{}
	for _, p := range got.Update.Properties {
		props[p.ID] = p
	}
	for _, name := range []string{"email", "hs_object_id", "createdate", "gone"} {
		if _, ok := props[name]; ok {
			t.Errorf("property %s offered", name)
		}
	}
	plan, ok := props["plan"]
	if !ok || plan.Name != "Plan" || plan.Type != "enumeration" ||
		!slices.Equal(plan.Options, []hubspot.PropertyOption{{Label: "Free", Value: "free"}, {Label: "Pro", Value: "pro"}}) {
		t.Errorf("plan %+v", plan)
	}
	if fn, ok := props["firstname"]; !ok || fn.Name != "First Name" || fn.Options == nil || len(fn.Options) != 0 {
		t.Errorf("firstname %+v", fn)
	}
	// Only MANUAL and SNAPSHOT lists were asked for.
	reqs := srv.RequestsTo(http.MethodPost, "/crm/v3/lists/search")
	if len(reqs) != 1 {
		t.Fatalf("%d list searches", len(reqs))
	}
	var body struct {
		ProcessingTypes []string `json:"processingTypes"`
	}
	if err := reqs[0].JSON(&body); err != nil || !slices.Equal(body.ProcessingTypes, []string{"MANUAL", "SNAPSHOT"}) {
		t.Errorf("search body %s", reqs[0].Body)
	}
}

func TestActionDataPagesLists(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	for range 501 {
		srv.AddList("L", fake.ListManual)
	}
	s, _ := pasted(t, srv)
	data, err := s.ActionData(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(data[hubspot.ActionAddToList].(map[string]any)["lists"].([]hubspot.List)); n != 501 {
		t.Errorf("%d lists", n)
	}
}

func TestActionDataError(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, tok := pasted(t, srv)
	srv.RevokeToken(tok)
	_, err := s.ActionData(t.Context())
	var se *switchyard.Error
	if !errors.As(err, &se) || se.Code != switchyard.EUNPROCESSABLE {
		t.Fatalf("ActionData() error %#v", err)
	}
}

func TestFieldCatalog(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	srv.AddProperty(fake.Property{Name: "plan", Label: "Plan", Type: "enumeration", FieldType: "radio",
		Options: []fake.Option{{Label: "Free", Value: "free"}, {Label: "Pro", Value: "pro"}}})
	srv.AddProperty(fake.Property{Name: "interests", Type: "enumeration", FieldType: "checkbox",
		Options: []fake.Option{{Label: "A", Value: "a"}, {Label: "B", Value: "b"}}})
	srv.AddProperty(fake.Property{Name: "vip", Type: "bool", FieldType: "booleancheckbox"})
	srv.AddProperty(fake.Property{Name: "seats", Type: "number", FieldType: "number"})
	srv.AddProperty(fake.Property{Name: "trial_end", Type: "date", FieldType: "date"})
	srv.AddProperty(fake.Property{Name: "secret_internal", Type: "string", Hidden: true})
	srv.AddProperty(fake.Property{Name: "old", Type: "string", Archived: true})
	s, tok := pasted(t, srv)

	fields, err := s.FieldCatalog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]destination.CatalogField{}
	for _, f := range fields {
		byKey[f.Key] = f
	}
	for key, want := range map[string]string{
		"email": "string", "firstname": "string", "phone": "string", "lifecyclestage": "enum", "plan": "enum",
		"interests": "multi_enum", "vip": "boolean", "seats": "number", "trial_end": "date", "createdate": "datetime",
		"hs_object_id": "number",
	} {
		if got := byKey[key].Type; got != want {
			t.Errorf("%s: type %q, want %q", key, got, want)
		}
	}
	if c := byKey["email"].Constraints; c == nil || c.Format != "email" || !c.Required {
		t.Errorf("email constraints %+v", c)
	}
	if c := byKey["phone"].Constraints; c == nil || c.Format != "phone" {
		t.Errorf("phone constraints %+v", c)
	}
	if c := byKey["plan"].Constraints; c == nil || !slices.Equal(c.AllowedValues, []string{"free", "pro"}) {
		t.Errorf("plan constraints %+v", c)
	}
	if c := byKey["hs_object_id"].Constraints; c == nil || !c.ReadOnly {
		t.Errorf("hs_object_id constraints %+v", c)
	}
	if byKey["firstname"].Label != "First Name" || byKey["plan"].ProviderMeta["field_type"] != "radio" {
		t.Errorf("firstname %+v plan %+v", byKey["firstname"], byKey["plan"])
	}
	for _, key := range []string{"secret_internal", "old"} {
		if _, ok := byKey[key]; ok {
			t.Errorf("%s listed", key)
		}
	}
	_ = tok
}

func TestTest(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	s, _ := pasted(t, srv)
	if err := s.Test(t.Context()); err != nil {
		t.Fatal(err)
	}
	tokens := newOAuthTokens(srv)
	if err := managed(t, srv, tokens).Test(t.Context()); err != nil {
		t.Fatal(err)
	}

	// A token without the scope is refused with the scope named.
	limited := srv.IssuePrivateAppToken("crm.lists.read")
	ls, err := newProvisioner(t, srv).Provision(t.Context(), destination.Provision{
		Connection: connection(t, srv, map[string]any{hubspot.KeyPrivateAppToken: limited})})
	if err != nil {
		t.Fatal(err)
	}
	err = ls.(destination.Tester).Test(t.Context())
	var se *switchyard.Error
	if !errors.As(err, &se) || se.Code != switchyard.EINVALID || !strings.Contains(se.Message, "crm.schemas.contacts.read") ||
		len(se.Fields) != 1 || !strings.Contains(se.Fields[0].Msg, "lacks a scope") {
		t.Fatalf("Test() = %#v", err)
	}

	// TestConnection does what the API does before it saves a connection.
	pat := srv.IssuePrivateAppToken()
	if err := destination.TestConnection(t.Context(), hubspot.Integration(), options(srv), destination.Provision{
		Connection: connection(t, srv, map[string]any{hubspot.KeyPrivateAppToken: pat})}); err != nil {
		t.Fatal(err)
	}
}
