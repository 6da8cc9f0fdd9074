package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	sffake "github.com/switchyardhq/switchyard/internal/providerfake/salesforce"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestActionData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	spring := e.fake.AddCampaign("Spring webinar", true)
	autumn := e.fake.AddCampaign("Autumn launch", true)
	e.fake.AddCampaign("Old campaign", false)
	e.fake.SetPicklist("Contact", "Tier__c", []string{"Gold", "Silver"}, true)
	e.fake.AddField("Contact", sffake.Field{Name: "Score__c", Label: "Score", Type: "picklist", Createable: true, Nillable: true,
		PicklistValues: []sffake.PicklistValue{{Active: true, Label: "High", Value: "high"}}}) // not updateable

	data, err := e.sender.ActionData(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(data)
	var got struct {
		Add struct {
			Campaigns []struct{ ID, Name string } `json:"campaigns"`
		} `json:"add_to_campaign"`
		Remove struct {
			Campaigns []struct{ ID, Name string } `json:"campaigns"`
		} `json:"remove_from_campaign"`
		Update struct {
			Properties []struct {
				ID      string                          `json:"id"`
				Name    string                          `json:"name"`
				Options []struct{ Label, Value string } `json:"options"`
			} `json:"properties"`
		} `json:"update_property"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	c := got.Add.Campaigns
	if len(c) != 2 || c[0].ID != autumn || c[0].Name != "Autumn launch" || c[1].ID != spring || len(got.Remove.Campaigns) != 2 {
		t.Fatalf("campaigns %s", b)
	}
	var names []string
	for _, p := range got.Update.Properties {
		names = append(names, p.ID)
		if p.ID == "Tier__c" && (p.Name != "Tier" || len(p.Options) != 2 || p.Options[0].Value != "Gold" || p.Options[0].Label != "Gold") {
			t.Fatalf("Tier__c %+v", p)
		}
	}
	if !slices.Equal(names, []string{"LeadSource", "Tier__c"}) {
		t.Fatalf("properties %v", names)
	}
}

func TestFieldCatalog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.AddField("Contact", sffake.Field{Name: "Interests__c", Label: "Interests", Type: "multipicklist", Createable: true, Updateable: true, Nillable: true,
		PicklistValues: []sffake.PicklistValue{{Active: true, Label: "Go", Value: "go"}, {Active: false, Label: "Old", Value: "old"}}})
	e.fake.AddField("Contact", sffake.Field{Name: "Score__c", Label: "Score", Type: "double", Createable: true, Updateable: true, Nillable: true})
	e.fake.AddField("Contact", sffake.Field{Name: "Subscribed__c", Label: "Subscribed", Type: "boolean", Createable: true, Updateable: true, DefaultedOnCreate: true})
	e.fake.AddField("Contact", sffake.Field{Name: "Birthdate", Label: "Birthdate", Type: "date", Createable: true, Updateable: true, Nillable: true})
	e.fake.AddField("Contact", sffake.Field{Name: "Website__c", Label: "Website", Type: "url", Length: 255, Createable: true, Updateable: true, Nillable: true})

	fields, err := e.sender.FieldCatalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]destination.CatalogField{}
	for _, f := range fields {
		byKey[f.Key] = f
	}
	if _, ok := byKey["id"]; ok {
		t.Fatal("the record id is in the catalog")
	}
	check := func(key, typ, format string) destination.CatalogField {
		t.Helper()
		f, ok := byKey[key]
		if !ok {
			t.Fatalf("no %s in %v", key, fields)
		}
		gotFormat := ""
		if f.Constraints != nil {
			gotFormat = f.Constraints.Format
		}
		if f.Type != typ || gotFormat != format {
			t.Fatalf("%s: type %s format %q, want %s %q", key, f.Type, gotFormat, typ, format)
		}
		return f
	}
	email := check("email", "string", "email")
	if email.Label != "Email" || email.Constraints.MaxLength != 80 || email.ProviderMeta["name"] != "Email" {
		t.Fatalf("email %+v", email)
	}
	check("phone", "string", "phone")
	check("firstname", "string", "")
	check("description", "string", "")
	check("website__c", "string", "url")
	lead := check("leadsource", "enum", "")
	if len(lead.Constraints.AllowedValues) != 5 || lead.Constraints.AllowedValues[0] != "Web" {
		t.Fatalf("leadsource %+v", lead.Constraints)
	}
	interests := check("interests__c", "multi_enum", "")
	if !slices.Equal(interests.Constraints.AllowedValues, []string{"go"}) {
		t.Fatalf("interests %+v", interests.Constraints)
	}
	check("score__c", "number", "")
	check("subscribed__c", "boolean", "")
	check("birthdate", "date", "date")
	if name := check("name", "string", ""); !name.Constraints.ReadOnly {
		t.Fatalf("name is not read-only: %+v", name.Constraints)
	}
	if last := check("lastname", "string", ""); last.Constraints.Required || last.Constraints.ReadOnly {
		t.Fatalf("lastname %+v: it is filled from the email when not mapped", last.Constraints)
	}
}

func TestCatalogTypes(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]string{
		"string": "string", "textarea": "string", "email": "string", "phone": "string", "url": "string",
		"picklist": "enum", "multipicklist": "multi_enum", "boolean": "boolean", "double": "number",
		"currency": "number", "int": "number", "percent": "number", "date": "date", "datetime": "datetime",
		"reference": "string", "address": "object", "base64": "unknown",
	} {
		f, ok := catalogField(&describeField{Name: "X", Type: typ, Createable: true, Nillable: true})
		if !ok || f.Type != want {
			t.Fatalf("%s → %s, want %s", typ, f.Type, want)
		}
	}
	if f, _ := catalogField(&describeField{Name: "D", Type: "datetime"}); f.Constraints.Format != "datetime" || !f.Constraints.ReadOnly {
		t.Fatalf("datetime %+v", f.Constraints)
	}
}

func TestActionDataAndCatalogErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.ForceRequestLimit(true)
	_, err := e.sender.ActionData(context.Background())
	var se *switchyard.Error
	if !errors.As(err, &se) || se.Code != switchyard.ERATELIMITED {
		t.Fatalf("ActionData: %v", err)
	}
	e.fake.ForceRequestLimit(false)
	e.fake.RevokeGrant()
	_, err = e.sender.FieldCatalog(context.Background())
	if !errors.As(err, &se) || se.Code != switchyard.EINVALID || !strings.Contains(se.Message, "revoked") {
		t.Fatalf("FieldCatalog: %v", err)
	}
	e.noSecrets(se.Message)
}

func TestTest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.sender.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, _ := e.fake.LastRequest("/services/data/")
	if r.Method != http.MethodGet || r.Path != "/services/data/"+APIVersion+"/sobjects/Contact" {
		t.Fatalf("test call %s %s", r.Method, r.Path)
	}
	e.fake.FailNext(1, http.StatusForbidden, `[{"message":"The REST API is not enabled for this Organization.","errorCode":"API_DISABLED_FOR_ORG"}]`, nil)
	err := e.sender.Test(context.Background())
	var se *switchyard.Error
	if !errors.As(err, &se) || !strings.Contains(se.Message, "API_DISABLED_FOR_ORG") {
		t.Fatalf("Test: %v", err)
	}

	// TestConnection, as the API runs it before saving a connection.
	tokens := e.tokens
	in := Integration()
	in.New = func(destination.Options) destination.Provisioner { return e.prov }
	err = destination.TestConnection(context.Background(), in, destination.Options{}, destination.Provision{Connection: e.sender.conn, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, _ := e.tokens.Token(context.Background())
	account, err := e.prov.Identify(context.Background(), tok)
	if err != nil || account != "salesforce:org:"+testOrgID {
		t.Fatalf("Identify = %q, %v", account, err)
	}
	// The token is proven with one call to the instance.
	if r, ok := e.fake.LastRequest("/services/data/"); !ok || r.Header.Get("Authorization") != "Bearer "+tok.AccessToken {
		t.Fatalf("identify call %+v", r)
	}

	noID := (&oauth2.Token{AccessToken: tok.AccessToken}).WithExtra(map[string]any{"instance_url": e.fake.URL()})
	if _, err := e.prov.Identify(context.Background(), noID); err == nil {
		t.Fatal("identified a token without an identity URL")
	}
	badID := (&oauth2.Token{AccessToken: tok.AccessToken}).WithExtra(map[string]any{"instance_url": e.fake.URL(), "id": "https://login.salesforce.com/userinfo"})
	if _, err := e.prov.Identify(context.Background(), badID); err == nil {
		t.Fatal("identified a token whose identity URL names no org")
	}
	e.fake.ExpireAccessTokens()
	_, err = e.prov.Identify(context.Background(), tok)
	if err == nil || !strings.Contains(err.Error(), "INVALID_SESSION_ID") || strings.Contains(err.Error(), tok.AccessToken) {
		t.Fatalf("Identify with an expired token: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`: "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (fields: LastName)",
		`[{"message":"a","errorCode":"X"},{"message":"b","errorCode":"Y"}]`:                                                  "X: a; Y: b",
		`{"error":"invalid_grant","error_description":"expired access/refresh token"}`:                                       "invalid_grant: expired access/refresh token",
		`<html>`: "",
		``:       "",
	} {
		if got := errorMessage(400, []byte(body)); got != want {
			t.Fatalf("errorMessage(%s) = %q, want %q", body, got, want)
		}
	}
	h := http.Header{"Sforce-Limit-Info": {"api-usage=25/15000"}}
	if u, l, ok := apiUsage(h); !ok || u != 25 || l != 15000 {
		t.Fatalf("apiUsage = %d %d %v", u, l, ok)
	}
}
