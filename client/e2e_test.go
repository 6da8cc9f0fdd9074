package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

func TestWorkspaces(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.client(t)
	ctx := context.Background()

	var created []uuid.UUID
	t.Run("CreateWorkspace returns the new workspace", func(t *testing.T) {
		desc := "Made by the client test"
		for i := range 4 {
			w, err := c.CreateWorkspace(ctx, client.WorkspaceCreate{Name: fmt.Sprintf("Client ws %d", i), Description: &desc})
			if err != nil {
				t.Fatal(err)
			}
			if w.ID == uuid.Nil || w.Name != fmt.Sprintf("Client ws %d", i) || w.Description == nil || *w.Description != desc ||
				w.CreatedAt.IsZero() {
				t.Fatalf("created %+v", w)
			}
			created = append(created, w.ID)
		}
	})

	t.Run("ListWorkspaces pages by cursor and Workspaces walks every page", func(t *testing.T) {
		first, err := c.ListWorkspaces(ctx, &client.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if first.Count != 2 || first.Limit != 2 || len(first.Records) != 2 || first.NextCursor == nil {
			t.Fatalf("first page %+v", first)
		}
		second, err := c.ListWorkspaces(ctx, &client.ListOptions{Limit: 2, Cursor: *first.NextCursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(second.Records) != 2 || second.Records[0].ID == first.Records[0].ID {
			t.Fatalf("second page %+v", second)
		}
		// 5 workspaces (bootstrap's and 4) in pages of 2: three pages.
		all, err := client.Collect(c.Workspaces(ctx, &client.ListOptions{Limit: 2}))
		if err != nil {
			t.Fatal(err)
		}
		ids := map[uuid.UUID]bool{}
		for _, w := range all {
			ids[w.ID] = true
		}
		if len(all) != 5 || len(ids) != 5 || !ids[s.creds.WorkspaceID] {
			t.Fatalf("walked %d workspaces (%d distinct)", len(all), len(ids))
		}
		for _, id := range created {
			if !ids[id] {
				t.Fatalf("workspace %s missing from the walk", id)
			}
		}
	})

	t.Run("an iterator stops when the loop breaks", func(t *testing.T) {
		n := 0
		for _, err := range c.Workspaces(ctx, &client.ListOptions{Limit: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 2 {
				break
			}
		}
		if n != 2 {
			t.Fatalf("looped %d times", n)
		}
	})

	t.Run("GetWorkspace includes the publishable key and RotatePublishableKey replaces it", func(t *testing.T) {
		w, err := c.GetWorkspace(ctx, s.creds.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if w.PublishableKey == nil || w.PublishableKey.PublicKey != s.creds.PublishableKey {
			t.Fatalf("workspace %+v", w)
		}
		rotated, err := c.RotatePublishableKey(ctx, created[0])
		if err != nil {
			t.Fatal(err)
		}
		before, err := c.GetWorkspace(ctx, created[0])
		if err != nil {
			t.Fatal(err)
		}
		if rotated.PublishableKey == nil || !strings.HasPrefix(rotated.PublishableKey.PublicKey, "mesh_pub_") ||
			before.PublishableKey.PublicKey != rotated.PublishableKey.PublicKey {
			t.Fatalf("rotated %+v, then read %+v", rotated.PublishableKey, before.PublishableKey)
		}
		pub, err := client.New(s.url, client.WithPublishableKey(rotated.PublishableKey.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		e, err := pub.EmitEvent(ctx, client.EventInput{Event: "key.rotated", Payload: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		if e.Workspace != created[0] {
			t.Fatalf("emitted into %s with %s's new key", e.Workspace, created[0])
		}
	})

	t.Run("a client with both keys emits with the publishable key and manages with the JWT", func(t *testing.T) {
		both := s.client(t, client.WithPublishableKey(s.creds.PublishableKey))
		e, err := both.EmitEvent(ctx, client.EventInput{Event: "both.keys", Payload: map[string]any{}})
		if err != nil || e.Workspace != s.creds.WorkspaceID {
			t.Fatalf("emit %+v %v", e, err)
		}
		if _, err := both.GetEvent(ctx, e.ID); err != nil {
			t.Fatalf("read with the JWT: %v", err)
		}
	})

	t.Run("UpdateWorkspace keeps, sets and clears the description", func(t *testing.T) {
		id := created[1]
		w, err := c.UpdateWorkspace(ctx, id, client.WorkspaceUpdate{Name: "Renamed ws", KeepDescription: true})
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != "Renamed ws" || w.Description == nil || *w.Description != "Made by the client test" {
			t.Fatalf("kept: %+v", w)
		}
		other := "Another"
		if w, err = c.UpdateWorkspace(ctx, id, client.WorkspaceUpdate{Name: "Renamed ws", Description: &other}); err != nil {
			t.Fatal(err)
		}
		if w.Description == nil || *w.Description != other {
			t.Fatalf("set: %+v", w)
		}
		if w, err = c.UpdateWorkspace(ctx, id, client.WorkspaceUpdate{Name: "Renamed ws"}); err != nil {
			t.Fatal(err)
		}
		if w.Description != nil {
			t.Fatalf("cleared: %+v", w)
		}
	})

	t.Run("a 400 carries the failing field, the error body and the request id", func(t *testing.T) {
		_, err := c.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "x"})
		e := apiError(t, err, http.StatusBadRequest)
		if !client.IsInvalid(err) || e.Name != "BadRequest" || len(e.Fields) == 0 || e.Fields[0].Param != "name" ||
			!strings.Contains(e.Message, "name") || e.RequestID == "" || !json.Valid(e.Body) ||
			!bytes.Contains(e.Body, []byte(`"param":"name"`)) {
			t.Fatalf("error %+v, body %s", e, e.Body)
		}
		if !strings.Contains(e.Error(), "400") || !strings.Contains(e.Error(), e.RequestID) {
			t.Fatalf("Error() = %q", e.Error())
		}
	})

	t.Run("a 404 is IsNotFound", func(t *testing.T) {
		_, err := c.GetWorkspace(ctx, uuid.New())
		e := apiError(t, err, http.StatusNotFound)
		if !client.IsNotFound(err) || client.IsInvalid(err) || e.Name != "NotFound" || e.RequestID == "" {
			t.Fatalf("error %+v", e)
		}
		// Wrapped errors are still recognized.
		if !client.IsNotFound(fmt.Errorf("loading: %w", err)) || client.IsNotFound(errors.New("other")) {
			t.Fatal("IsNotFound does not look through wrapping")
		}
	})

	t.Run("a wrong secret is a 401", func(t *testing.T) {
		k := s.machineKey()
		k.SecretKey = "not-the-secret-not-the-secret-not-the-secret"
		bad, err := client.New(s.url, client.WithMachineKey(k))
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.ListWorkspaces(ctx, nil)
		if e := apiError(t, err, http.StatusUnauthorized); !client.IsUnauthorized(err) || !strings.Contains(e.Message, "signature") {
			t.Fatalf("error %+v", e)
		}
		noCreds, err := client.New(s.url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := noCreds.ListWorkspaces(ctx, nil); !client.IsUnauthorized(err) {
			t.Fatalf("without credentials: %v", err)
		}
	})

	t.Run("Health, Ready and OpenAPI need no credentials", func(t *testing.T) {
		anon, err := client.New(s.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		if h, err := anon.Health(ctx); err != nil || h.Status != "ok" {
			t.Fatalf("health %+v %v", h, err)
		}
		if h, err := anon.Ready(ctx); err != nil || h.Status != "ok" {
			t.Fatalf("ready %+v %v", h, err)
		}
		doc, err := anon.OpenAPI(ctx)
		if err != nil || !bytes.Contains(doc, []byte(`"/api/v1/workspaces"`)) {
			t.Fatalf("openapi %.100s %v", doc, err)
		}
	})

	t.Run("Do reaches any route and decodes into a json.RawMessage", func(t *testing.T) {
		var raw json.RawMessage
		if err := c.Do(ctx, http.MethodGet, "/workspaces/"+s.creds.WorkspaceID.String(), nil, nil, &raw); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(raw, []byte(s.creds.WorkspaceID.String())) {
			t.Fatalf("raw %s", raw)
		}
		if err := c.Do(ctx, http.MethodGet, "workspaces", nil, nil, nil); err == nil {
			t.Fatal("a path without a leading slash was sent")
		}
	})
}

func TestConnectionsAndRules(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.client(t)
	ctx := context.Background()
	ws := s.creds.WorkspaceID
	h := newHook(t, 200)

	conn, err := c.CreateConnection(ctx, client.ConnectionCreate{Workspace: ws, Type: "webhook", Name: "Orders hook",
		Metadata: map[string]any{"url": h.url(), "skip_url_test": true}})
	if err != nil {
		t.Fatal(err)
	}
	if conn.ID == uuid.Nil || conn.Workspace != ws || conn.Type != "webhook" || !conn.Active || conn.Metadata["url"] != h.url() {
		t.Fatalf("connection %+v", conn)
	}

	t.Run("GetConnection and UpdateConnection read and change it", func(t *testing.T) {
		got, err := c.GetConnection(ctx, conn.ID)
		if err != nil || got.Name != "Orders hook" {
			t.Fatalf("get %+v %v", got, err)
		}
		hidden := true
		upd, err := c.UpdateConnection(ctx, conn.ID, client.ConnectionUpdate{Name: "Orders hook 2", Metadata: got.Metadata, Hidden: &hidden})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Name != "Orders hook 2" || !upd.Hidden || !upd.UpdatedAt.After(got.UpdatedAt) && !upd.UpdatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("updated %+v", upd)
		}
	})

	t.Run("connections list by page, by iterator and by workspace", func(t *testing.T) {
		if _, err := c.CreateConnection(ctx, client.ConnectionCreate{Workspace: ws, Type: "webhook", Name: "Second hook",
			Metadata: map[string]any{"url": h.url(), "skip_url_test": true}}); err != nil {
			t.Fatal(err)
		}
		p, err := c.ListConnections(ctx, &client.ListOptions{Limit: 1})
		if err != nil || len(p.Records) != 1 || p.NextCursor == nil {
			t.Fatalf("page %+v %v", p, err)
		}
		all, err := client.Collect(c.Connections(ctx, &client.ListOptions{Limit: 1}))
		if err != nil || len(all) != 2 {
			t.Fatalf("all %d %v", len(all), err)
		}
		wp, err := c.ListWorkspaceConnections(ctx, ws, nil)
		if err != nil || len(wp.Records) != 2 {
			t.Fatalf("workspace page %+v %v", wp, err)
		}
		wall, err := client.Collect(c.WorkspaceConnections(ctx, ws, &client.ListOptions{Limit: 1}))
		if err != nil || len(wall) != 2 || wall[0].ID == wall[1].ID {
			t.Fatalf("workspace walk %d %v", len(wall), err)
		}
	})

	t.Run("a webhook connection has no action data and no destination fields", func(t *testing.T) {
		actions, err := c.GetConnectionActions(ctx, conn.ID)
		if err != nil || actions == nil || len(actions) != 0 {
			t.Fatalf("actions %v %v", actions, err)
		}
		cat, err := c.GetConnectionFields(ctx, conn.ID, true)
		if err != nil || cat.ConnectionID != conn.ID || cat.IntegrationType != "webhook" || len(cat.Fields) != 0 {
			t.Fatalf("fields %+v %v", cat, err)
		}
	})

	t.Run("the default mapping is read and saved", func(t *testing.T) {
		m, err := c.GetDefaultMapping(ctx, conn.ID)
		if err != nil {
			if e := new(client.Error); errors.As(err, &e) {
				t.Fatalf("get mapping: %v %s", err, e.Body)
			}
			t.Fatal(err)
		}
		if m.Status != "generated" || m.Mapping.ConnectionID != conn.ID || m.Mapping.Version != 0 || !json.Valid(m.Mapping.Schema) {
			t.Fatalf("mapping %+v", m)
		}
		schema := json.RawMessage(`{"schema_version":1,"fields":[{"dest":"email","source":{"type":"path","value":"user.email"}}]}`)
		saved, err := c.UpdateDefaultMapping(ctx, conn.ID, client.MappingUpdate{Schema: schema})
		if err != nil {
			var e *client.Error
			errors.As(err, &e)
			t.Fatalf("save: %v %s", err, e.Body)
		}
		if saved.Status != "stored" || saved.Mapping.Version != 1 || !bytes.Contains(saved.Mapping.Schema, []byte("user.email")) {
			t.Fatalf("saved %+v %s", saved, saved.Mapping.Schema)
		}
		stale := 0 + 1 - 1 // version 0 is stale now that 1 is stored
		_, err = c.UpdateDefaultMapping(ctx, conn.ID, client.MappingUpdate{Schema: schema, ExpectedVersion: &stale})
		if err == nil || (!client.IsConflict(err) && !client.IsInvalid(err)) {
			t.Fatalf("stale save: %v", err)
		}
	})

	t.Run("StartOAuth answers the API's error when OAuth is off", func(t *testing.T) {
		_, err := c.StartOAuth(ctx, client.OAuthStart{Workspace: ws, Type: "hubspot", Name: "Hub", RedirectURL: "https://example.com/back"})
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode < 400 || e.Message == "" || e.RequestID == "" {
			t.Fatalf("error %v", err)
		}
	})

	var rule *client.Rule
	t.Run("CreateRule, GetRule and the rule lists", func(t *testing.T) {
		var err error
		rule, err = c.CreateRule(ctx, client.RuleCreate{Workspace: ws, Connection: conn.ID, Event: "order.paid",
			Metadata: map[string]any{"action": "send_webhook"}})
		if err != nil {
			t.Fatal(err)
		}
		if rule.Connection != conn.ID || rule.Event != "order.paid" || !rule.Active || rule.Metadata["action"] != "send_webhook" {
			t.Fatalf("rule %+v", rule)
		}
		if _, err := c.CreateRule(ctx, client.RuleCreate{Workspace: ws, Connection: conn.ID, Event: "order.refunded",
			Resource: "order", ResourceID: "o-1", Metadata: map[string]any{"action": "send_webhook"}}); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetRule(ctx, rule.ID)
		if err != nil || got.ID != rule.ID || got.Workspace != ws {
			t.Fatalf("get %+v %v", got, err)
		}
		all, err := client.Collect(c.Rules(ctx, &client.RuleListOptions{ListOptions: client.ListOptions{Limit: 1}}))
		if err != nil || len(all) != 2 {
			t.Fatalf("all rules %d %v", len(all), err)
		}
		paid, err := c.ListRules(ctx, &client.RuleListOptions{Event: "order.paid"})
		if err != nil || len(paid.Records) != 1 || paid.Records[0].ID != rule.ID {
			t.Fatalf("filtered %+v %v", paid, err)
		}
		byRes, err := client.Collect(c.WorkspaceRules(ctx, ws, &client.RuleListOptions{Resource: "order", ResourceID: "o-1"}))
		if err != nil || len(byRes) != 1 || byRes[0].Event != "order.refunded" {
			t.Fatalf("by resource %+v %v", byRes, err)
		}
		wp, err := c.ListWorkspaceRules(ctx, ws, nil)
		if err != nil || len(wp.Records) != 2 {
			t.Fatalf("workspace rules %+v %v", wp, err)
		}
	})

	t.Run("TestRule previews a dry run and performs a real one", func(t *testing.T) {
		dry, err := c.TestRule(ctx, rule.ID, client.RuleTest{Payload: json.RawMessage(`{"total":42}`), DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if !dry.DryRun || dry.RuleID != rule.ID || dry.Action != "send_webhook" || dry.Attempt != nil || dry.Request == nil ||
			dry.Request.Method != http.MethodPost || !strings.HasPrefix(dry.Request.URL, h.srv.URL) {
			t.Fatalf("dry run %+v", dry)
		}
		if h.requests() != 0 {
			t.Fatalf("a dry run sent %d requests", h.requests())
		}
		real, err := c.TestRule(ctx, rule.ID, client.RuleTest{Payload: json.RawMessage(`{"total":42}`)})
		if err != nil {
			t.Fatal(err)
		}
		if real.DryRun || real.Attempt == nil || real.Attempt.OutcomeCode != "delivered" || real.Attempt.HTTPStatus == nil ||
			*real.Attempt.HTTPStatus != 200 || h.requests() != 1 {
			t.Fatalf("real run %+v (attempt %+v), %d requests", real, real.Attempt, h.requests())
		}
	})

	t.Run("DeleteConnection refuses a connection with rules unless forced", func(t *testing.T) {
		_, err := c.DeleteConnection(ctx, conn.ID, false)
		if !client.IsConflict(err) {
			t.Fatalf("unforced delete: %v", err)
		}
		del, err := c.DeleteConnection(ctx, conn.ID, true)
		if err != nil || del.ID != conn.ID || del.Type != "webhook" {
			t.Fatalf("forced delete %+v %v", del, err)
		}
		if _, err := c.GetRule(ctx, rule.ID); !client.IsNotFound(err) {
			t.Fatalf("the connection's rule after the forced delete: %v", err)
		}
	})

	t.Run("DeleteRule deletes a rule", func(t *testing.T) {
		other := newHook(t, 200)
		_, r := webhook(t, c, ws, other.url(), "user.deleted")
		del, err := c.DeleteRule(ctx, r.ID)
		if err != nil || del.ID != r.ID || del.Event != "user.deleted" {
			t.Fatalf("delete %+v %v", del, err)
		}
		if _, err := c.GetRule(ctx, r.ID); !client.IsNotFound(err) {
			t.Fatalf("after delete: %v", err)
		}
	})

	t.Run("ListIntegrations and Integrations describe the webhook", func(t *testing.T) {
		p, err := c.ListIntegrations(ctx, &client.ListOptions{Limit: 1})
		if err != nil || len(p.Records) != 1 {
			t.Fatalf("page %+v %v", p, err)
		}
		all, err := client.Collect(c.Integrations(ctx, &client.ListOptions{Limit: 3}))
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(all, func(in client.Integration) bool { return in.Type == "webhook" })
		if i < 0 || len(all) < 2 {
			t.Fatalf("%d integrations, webhook at %d", len(all), i)
		}
		wh := all[i]
		if _, ok := wh.Actions["send_webhook"]; !ok || slices.IndexFunc(wh.Authentication.Fields, func(f client.IntegrationField) bool {
			return f.Key == "url"
		}) < 0 {
			t.Fatalf("webhook %+v", wh)
		}
	})
}

func TestEventsAndDeliveries(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.client(t)
	ctx := context.Background()
	ws := s.creds.WorkspaceID
	h := newHook(t, 400)
	_, rule := webhook(t, c, ws, h.url(), "user.signup")

	var first *client.AcceptedEvent
	t.Run("EmitEvent with a machine key, and again with the same idempotency key", func(t *testing.T) {
		var err error
		first, err = c.EmitEvent(ctx, client.EventInput{Event: "user.signup", Workspace: ws, Resource: "user", ResourceID: "u-1",
			Payload: map[string]any{"email": "ada@example.com"}, IdempotencyKey: "signup-u-1"})
		if err != nil {
			t.Fatal(err)
		}
		if first.ID == uuid.Nil || first.Workspace != ws || first.Event != "user.signup" || first.Replayed || first.ResourceID != "u-1" {
			t.Fatalf("first %+v", first)
		}
		again, err := c.EmitEvent(ctx, client.EventInput{Event: "user.signup", Workspace: ws, Resource: "user", ResourceID: "u-1",
			Payload: map[string]any{"email": "ada@example.com"}, IdempotencyKey: "signup-u-1"})
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID || !again.Replayed {
			t.Fatalf("replay %+v of %s", again, first.ID)
		}
	})

	t.Run("EmitEvent with a publishable key names no workspace", func(t *testing.T) {
		pub, err := client.New(s.url, client.WithPublishableKey(s.creds.PublishableKey))
		if err != nil {
			t.Fatal(err)
		}
		e, err := pub.EmitEvent(ctx, client.EventInput{Event: "page.viewed", Payload: json.RawMessage(`{"path":"/"}`)})
		if err != nil || e.Workspace != ws {
			t.Fatalf("emit %+v %v", e, err)
		}
		// The publishable key only emits.
		if _, err := pub.ListEvents(ctx, nil); !client.IsUnauthorized(err) {
			t.Fatalf("list with a publishable key: %v", err)
		}
	})

	t.Run("EmitEvent refuses a nil payload before sending", func(t *testing.T) {
		if _, err := c.EmitEvent(ctx, client.EventInput{Event: "x", Workspace: ws}); err == nil || client.StatusCode(err) != 0 {
			t.Fatalf("nil payload: %v", err)
		}
	})

	t.Run("EmitEvents reports each item, refused ones as errors with their field", func(t *testing.T) {
		res, err := c.EmitEvents(ctx, []client.EventInput{
			{Event: "bulk.one", Workspace: ws, Payload: map[string]any{"n": 1}},
			{Event: "", Workspace: ws, Payload: map[string]any{"n": 2}},
			{Event: "bulk.three", Workspace: ws, Payload: map[string]any{"n": 3}},
		}, "bulk-1")
		if err != nil {
			t.Fatal(err)
		}
		if res.Count != 2 || res.ErrorCount != 1 || len(res.Records) != 3 || res.Records[0].Event == nil ||
			res.Records[2].Event == nil || res.Records[1].Error == nil {
			t.Fatalf("bulk %+v", res)
		}
		if e := res.Records[1].Error; e.StatusCode != 400 || e.Name != "BadRequest" || len(e.Fields) == 0 || e.Fields[0].Param != "event" {
			t.Fatalf("item error %+v", e)
		}
		// The same request again stores nothing new: each item's key is "bulk-1:<index>".
		again, err := c.EmitEvents(ctx, []client.EventInput{
			{Event: "bulk.one", Workspace: ws, Payload: map[string]any{"n": 1}},
		}, "bulk-1")
		if err != nil || again.Records[0].Event == nil || again.Records[0].Event.ID != res.Records[0].Event.ID {
			t.Fatalf("replayed bulk %+v %v", again, err)
		}
		_, err = c.EmitEvents(ctx, nil, "")
		if e := apiError(t, err, http.StatusBadRequest); !strings.Contains(e.Message, "1 to 100") {
			t.Fatalf("empty bulk: %+v", e)
		}
	})

	t.Run("GetEvent, GetEventPayload and the event lists", func(t *testing.T) {
		e, err := c.GetEvent(ctx, first.ID)
		if err != nil || e.ID != first.ID || e.TotalRules != 1 || len(e.RuleEvents) != 1 || e.RuleEvents[0].Rule != rule.ID ||
			e.Payload != nil {
			t.Fatalf("event %+v %v", e, err)
		}
		p, err := c.GetEventPayload(ctx, first.ID)
		if err != nil || string(p.Payload) != `{"email":"ada@example.com"}` {
			t.Fatalf("payload %s %v", p.Payload, err)
		}
		page, err := c.ListEvents(ctx, &client.EventListOptions{ListOptions: client.ListOptions{Limit: 2}})
		if err != nil || len(page.Records) != 2 || page.NextCursor == nil {
			t.Fatalf("page %+v %v", page, err)
		}
		all, err := client.Collect(c.Events(ctx, &client.EventListOptions{ListOptions: client.ListOptions{Limit: 2}}))
		if err != nil || len(all) != 4 { // signup, page.viewed, bulk.one, bulk.three
			t.Fatalf("all events %d %v", len(all), err)
		}
		signups, err := client.Collect(c.WorkspaceEvents(ctx, ws, &client.EventListOptions{Event: "user.signup", Resource: "user", ResourceID: "u-1"}))
		if err != nil || len(signups) != 1 || signups[0].ID != first.ID {
			t.Fatalf("filtered %+v %v", signups, err)
		}
		wp, err := c.ListWorkspaceEvents(ctx, ws, &client.EventListOptions{Event: "bulk.one"})
		if err != nil || len(wp.Records) != 1 {
			t.Fatalf("workspace page %+v %v", wp, err)
		}
		types, err := c.ListWorkspaceEventTypes(ctx, ws)
		if err != nil || slices.IndexFunc(types, func(e client.CatalogEntry) bool { return e.Key == "user.signup" }) < 0 {
			t.Fatalf("event types %+v %v", types, err)
		}
		resources, err := c.ListWorkspaceResources(ctx, ws)
		if err != nil || slices.IndexFunc(resources, func(e client.CatalogEntry) bool { return e.Key == "user" }) < 0 {
			t.Fatalf("resources %+v %v", resources, err)
		}
	})

	t.Run("a rejected delivery's attempts are listed, read, retried and then delivered", func(t *testing.T) {
		testutil.Eventually(t, 10*time.Second, "the rejected delivery to fail", func() bool {
			e, err := c.GetEvent(ctx, first.ID)
			return err == nil && e.RuleEvents[0].Status == client.StatusFailed
		})
		p, err := c.ListAttempts(ctx, first.ID, rule.ID, nil)
		if err != nil || len(p.Records) != 1 {
			t.Fatalf("attempts %+v %v", p, err)
		}
		a := p.Records[0]
		if a.AttemptNumber != 1 || a.OutcomeCode != "rejected_client_error" || a.HTTPStatus == nil || *a.HTTPStatus != 400 || a.RuleID != rule.ID {
			t.Fatalf("attempt %+v", a)
		}
		one, err := c.GetAttempt(ctx, first.ID, rule.ID, a.ID)
		if err != nil || one.ID != a.ID || one.OutcomeCode != a.OutcomeCode {
			t.Fatalf("get attempt %+v %v", one, err)
		}
		d, err := c.GetAttemptResponseDetails(ctx, first.ID, rule.ID, a.ID)
		if err != nil || d.AttemptID != a.ID || !strings.Contains(d.ResponseExcerpt, "ok") {
			t.Fatalf("details %+v %v", d, err)
		}
		h.status.Store(200)
		re, err := c.RetryDelivery(ctx, first.ID, rule.ID)
		if err != nil || re.Rule != rule.ID || re.EventID != first.ID || re.Status.Final() {
			t.Fatalf("retry %+v %v", re, err)
		}
		testutil.Eventually(t, 10*time.Second, "the retried delivery to complete", func() bool {
			e, err := c.GetEvent(ctx, first.ID)
			return err == nil && e.Status == client.StatusCompleted
		})
		all, err := client.Collect(c.Attempts(ctx, first.ID, rule.ID, &client.ListOptions{Limit: 1}))
		if err != nil || len(all) != 2 || all[0].ID == all[1].ID {
			t.Fatalf("all attempts %+v %v", all, err)
		}
		// Nothing is left to cancel: 409.
		if _, err := c.CancelDelivery(ctx, first.ID, rule.ID); !client.IsConflict(err) {
			t.Fatalf("cancel a completed delivery: %v", err)
		}
	})

	t.Run("CancelDelivery and CancelEvent stop deliveries that have not finished", func(t *testing.T) {
		slow := newHook(t, 503) // retried with backoff, so the delivery waits in retrying
		_, r := webhook(t, c, ws, slow.url(), "invoice.sent")
		e1, err := c.EmitEvent(ctx, client.EventInput{Event: "invoice.sent", Workspace: ws, Payload: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		e2, err := c.EmitEvent(ctx, client.EventInput{Event: "invoice.sent", Workspace: ws, Payload: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		re, err := c.CancelDelivery(ctx, e1.ID, r.ID)
		if err != nil || re.Status != client.StatusCanceled {
			t.Fatalf("cancel delivery %+v %v", re, err)
		}
		ev, err := c.CancelEvent(ctx, e2.ID)
		if err != nil || ev.ID != e2.ID || len(ev.RuleEvents) != 1 || ev.RuleEvents[0].Status != client.StatusCanceled {
			t.Fatalf("cancel event %+v %v", ev, err)
		}
	})

	t.Run("unknown events, rules and attempts are 404s", func(t *testing.T) {
		for name, call := range map[string]func() error{
			"event":   func() error { _, err := c.GetEvent(ctx, uuid.New()); return err },
			"payload": func() error { _, err := c.GetEventPayload(ctx, uuid.New()); return err },
			"attempt": func() error { _, err := c.GetAttempt(ctx, first.ID, rule.ID, uuid.New()); return err },
			"retry":   func() error { _, err := c.RetryDelivery(ctx, first.ID, uuid.New()); return err },
		} {
			if err := call(); !client.IsNotFound(err) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestKeysAndSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.client(t)
	ctx := context.Background()
	ws := s.creds.WorkspaceID

	t.Run("a machine key limited to a workspace is created, used, listed and revoked", func(t *testing.T) {
		k, err := c.CreateMachineKey(ctx, client.MachineKeyCreate{Name: "ci", Workspaces: []uuid.UUID{ws},
			Permissions: []string{client.PermissionRead}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k.AccessKey, "mk_") || k.SecretKey == "" || len(k.Workspaces) != 1 || k.RevokedAt != nil {
			t.Fatalf("key %+v", k)
		}
		limited, err := client.New(s.url, client.WithMachineKey(client.MachineKey{AccessKey: k.AccessKey, SecretKey: k.SecretKey,
			OrgID: s.creds.OrganizationID}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := limited.GetWorkspace(ctx, ws); err != nil {
			t.Fatalf("read with the read key: %v", err)
		}
		_, err = limited.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "Not allowed"})
		if !client.IsForbidden(err) {
			t.Fatalf("write with the read key: %v", err)
		}
		p, err := c.ListMachineKeys(ctx, &client.ListOptions{Limit: 1})
		if err != nil || len(p.Records) != 1 || p.Records[0].SecretKey != "" {
			t.Fatalf("page %+v %v", p, err)
		}
		all, err := client.Collect(c.MachineKeys(ctx, &client.ListOptions{Limit: 1}))
		if err != nil || len(all) != 2 {
			t.Fatalf("all keys %+v %v", all, err)
		}

		// A key never used before its revocation is refused at once (nothing cached it).
		unused, err := c.CreateMachineKey(ctx, client.MachineKeyCreate{Name: "unused"})
		if err != nil {
			t.Fatal(err)
		}
		revoked, err := c.RevokeMachineKey(ctx, unused.ID)
		if err != nil || revoked.RevokedAt == nil || revoked.ID != unused.ID {
			t.Fatalf("revoke %+v %v", revoked, err)
		}
		gone, err := client.New(s.url, client.WithMachineKey(client.MachineKey{AccessKey: unused.AccessKey, SecretKey: unused.SecretKey,
			OrgID: s.creds.OrganizationID}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gone.ListWorkspaces(ctx, nil); !client.IsUnauthorized(err) {
			t.Fatalf("revoked key: %v", err)
		}
	})

	t.Run("an embed session is created, used as a bearer token, listed, refreshed and revoked", func(t *testing.T) {
		created, err := c.CreateSession(ctx, client.SessionCreate{WorkspaceID: ws, Role: "admin", ExternalUserID: "user-7"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(created.SessionID, "sess_") || created.AccessToken == "" || created.LaunchToken == "" ||
			created.WorkspaceID != ws || created.Role != "admin" || !created.ExpiresAt.After(time.Now()) {
			t.Fatalf("session %+v", created)
		}
		if _, err := c.CreateSession(ctx, client.SessionCreate{WorkspaceID: ws}); err != nil {
			t.Fatal(err)
		}
		bearer, err := client.New(s.url, client.WithBearerToken(created.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bearer.ListEvents(ctx, nil); err != nil {
			t.Fatalf("the session token as a bearer token: %v", err)
		}
		p, err := c.ListSessions(ctx, &client.SessionListOptions{WorkspaceID: ws, ListOptions: client.ListOptions{Limit: 1}})
		if err != nil || len(p.Records) != 1 || p.NextCursor == nil {
			t.Fatalf("page %+v %v", p, err)
		}
		all, err := client.Collect(c.Sessions(ctx, &client.SessionListOptions{WorkspaceID: ws, Status: "active", ListOptions: client.ListOptions{Limit: 1}}))
		if err != nil || len(all) != 2 {
			t.Fatalf("all sessions %d %v", len(all), err)
		}
		refreshed, err := c.RefreshSession(ctx, created.SessionID)
		if err != nil || refreshed.SessionID != created.SessionID || refreshed.AccessToken == created.AccessToken {
			t.Fatalf("refresh %+v %v", refreshed, err)
		}
		if _, err := bearer.ListEvents(ctx, nil); !client.IsUnauthorized(err) {
			t.Fatalf("the replaced token: %v", err)
		}
		if err := c.RevokeSession(ctx, created.SessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RefreshSession(ctx, created.SessionID); !client.IsConflict(err) {
			t.Fatalf("refresh a revoked session: %v", err)
		}
		revoked, err := client.Collect(c.Sessions(ctx, &client.SessionListOptions{WorkspaceID: ws, Status: "revoked"}))
		if err != nil || len(revoked) != 1 || revoked[0].SessionID != created.SessionID {
			t.Fatalf("revoked sessions %+v %v", revoked, err)
		}
		if _, err := c.ListSessions(ctx, nil); !client.IsInvalid(err) {
			t.Fatalf("sessions without a workspace: %v", err)
		}
	})
}
