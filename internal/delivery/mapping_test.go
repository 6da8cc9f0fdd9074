package delivery_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// recordingSender hands every request it gets to the test, and lists a small field catalog.
type recordingSender struct{ got chan *destination.Request }

func (s *recordingSender) Deliver(_ context.Context, req *destination.Request) destination.Result {
	s.got <- req
	return destination.Result{Outcome: switchyard.OutcomeDelivered}
}

func (s *recordingSender) FieldCatalog(context.Context) ([]destination.CatalogField, error) {
	return []destination.CatalogField{{Key: "email", Type: "string"}, {Key: "firstname", Type: "string"},
		{Key: "plan", Type: "enum"}, {Key: "createdate", Type: "datetime", Constraints: &destination.FieldConstraints{ReadOnly: true}}}, nil
}

func (s *recordingSender) Provision(context.Context, destination.Provision) (destination.Sender, error) {
	return s, nil
}

// The engine maps each payload through the connection's mapping before its sender sees it — the
// stored one, or one generated from the destination's catalog — and resolves the rule's
// templates; a fail_action field that cannot be mapped fails the attempt as mapping_error.
func TestEngineAppliesMappings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, d.NewURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		rec := &recordingSender{got: make(chan *destination.Request, 16)}
		reg := destination.NewRegistry(&destination.Integration{Type: "crm", Name: "CRM", AuthType: destination.AuthNone, Mapped: true,
			Actions: []destination.Action{{Key: "tag", Label: "Tag", Fields: []string{"id"}}},
			New:     func(destination.Options) destination.Provisioner { return rec }})
		tn := storetest.NewTenant(t, db)
		conn := storetest.NewConnection(tn.Workspace)
		conn.Type, conn.Metadata = "crm", map[string]any{}
		if err := db.ConnectionInsert(ctx, conn); err != nil {
			t.Fatal(err)
		}
		rule := &switchyard.Rule{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
			ConnectionID: conn.ID, Type: "crm", Event: "user.signup", Active: true, CreatedBy: "test", CreatedAt: storetest.T0,
			UpdatedAt: storetest.T0, Metadata: map[string]any{"action": "tag", "id": "vip", "note": "Welcome {{ first_name }} ({{user.plan}})"}}
		if err := db.RuleInsert(ctx, rule); err != nil {
			t.Fatal(err)
		}
		box, err := secret.New(secret.GenerateKey())
		if err != nil {
			t.Fatal(err)
		}
		e := delivery.New(delivery.Config{Store: db, Integrations: reg, Box: box, PollInterval: 10 * time.Millisecond})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })

		emit := func(payload string) uuid.UUID {
			ev := &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
				Name: "user.signup", Resource: switchyard.DefaultResource, Payload: json.RawMessage(payload), CreatedBy: "test",
				CreatedAt: time.Now()}
			if _, err := storetest.InsertEvent(ctx, db, ev); err != nil {
				t.Fatal(err)
			}
			e.Wake()
			return ev.ID
		}
		next := func() *destination.Request {
			select {
			case req := <-rec.got:
				return req
			case <-time.After(15 * time.Second):
				t.Fatal("the sender got no request")
				return nil
			}
		}

		// No mapping saved: generated from the catalog for the payload's keys (read-only
		// catalog fields left out), templates resolved from the payload.
		emit(`{"email":"ada@example.com","first_name":"Ada","plan":"pro","createdate":"2026-01-01","user":{"plan":"gold"}}`)
		req := next()
		want := map[string]any{"email": "ada@example.com", "firstname": "Ada", "plan": "pro"}
		if len(req.Fields) != len(want) {
			t.Fatalf("generated mapping gave %v, want %v", req.Fields, want)
		}
		for k, v := range want {
			if req.Fields[k] != v {
				t.Fatalf("generated mapping gave %v, want %v", req.Fields, want)
			}
		}
		if req.Action != "tag" || req.Params["id"] != "vip" || req.Params["note"] != "Welcome Ada (gold)" {
			t.Fatalf("action %q params %v", req.Action, req.Params)
		}

		// A saved mapping replaces the generated one at the next attempt.
		schema := `{"schema_version":1,"fields":[
			{"dest":"email","source":{"type":"path","value":"email"},"transforms":[{"type":"lower"}]},
			{"dest":"score","source":{"type":"path","value":"score"},"transforms":[{"type":"to_number"}],"on_error":"fail_action"},
			{"dest":"source","source":{"type":"literal","value":"switchyard"}}]}`
		if _, err := db.MappingSave(ctx, store.MappingSaveParams{OrganizationID: tn.Org.ID, ConnectionID: conn.ID,
			NewMappingID: uuid.New(), Schema: []byte(schema), CreatedBy: "test", Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
		emit(`{"email":"ADA@Example.com","score":"42"}`)
		req = next()
		if req.Fields["email"] != "ada@example.com" || req.Fields["source"] != "switchyard" || req.Fields["firstname"] != nil {
			t.Fatalf("stored mapping gave %v", req.Fields)
		}
		if n, ok := req.Fields["score"].(json.Number); !ok || n.String() != "42" {
			t.Fatalf("score %#v, want the number 42", req.Fields["score"])
		}

		// A fail_action field that cannot be mapped: mapping_error, no retry, sender not called.
		id := emit(`{"email":"b@example.com","score":"not a number"}`)
		var ev *switchyard.Event
		if !testutil.Poll(15*time.Second, func() bool {
			var err error
			ev, err = db.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: id})
			return err == nil && ev.Status == switchyard.StatusFailed
		}) {
			t.Fatalf("event %+v did not fail", ev)
		}
		_, ds, _ := db.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: id})
		as, _ := db.AttemptListByDelivery(ctx, store.AttemptListByDeliveryParams{OrganizationID: tn.Org.ID, DeliveryID: ds[0].ID})
		if len(as) != 1 || as[0].Outcome != switchyard.OutcomeMappingError || ds[0].NextAttemptAt != nil {
			t.Fatalf("attempts %+v, delivery %+v: want one mapping_error and no retry", as, ds[0])
		}
		select {
		case req := <-rec.got:
			t.Fatalf("the sender was called for an unmappable payload: %v", req.Fields)
		default:
		}
	})
}
