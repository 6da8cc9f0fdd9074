package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/switchyardhq/switchyard/client"
)

// Our tools (switchyard_*): what an operator needs when a delivery goes wrong, beyond Meshes'
// set. Retrying a delivery is meshes_retry_event_rule (the same route), so there is no second
// tool for it.

type attemptsArgs struct {
	EventID string `json:"event_id"`
	RuleID  string `json:"rule_id"`
}

type attemptArgs struct {
	EventID   string `json:"event_id"`
	RuleID    string `json:"rule_id"`
	AttemptID string `json:"attempt_id"`
}

type ruleTestArgs struct {
	RuleID     string          `json:"rule_id"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	EventID    *string         `json:"event_id,omitempty"`
	Resource   *string         `json:"resource,omitempty"`
	ResourceID *string         `json:"resource_id,omitempty"`
	DryRun     bool            `json:"dry_run"`
}

type actionDataArgs struct {
	ConnectionID string `json:"connection_id"`
	Action       string `json:"action"`
}

func (t *tools) addSwitchyard() {
	add(t, "switchyard_list_delivery_attempts",
		"List the delivery attempts of an event: for each rule the event matched (or only rule_id), the delivery's status and "+
			"every attempt, newest first, with outcome_code (delivered, timeout, rate_limited, auth_failed…), http_status, "+
			"message and the start of the destination's answer. Use it to find out why a delivery failed before retrying it.",
		object(req("event_id", id(eventDesc)), opt("rule_id", id("Only this rule's delivery."))), readOnly,
		func(ctx context.Context, c *client.Client, in attemptsArgs) (json.RawMessage, error) {
			eid, err := uuidArg("event_id", in.EventID)
			if err != nil {
				return nil, err
			}
			if in.RuleID != "" {
				rid, err := uuidArg("rule_id", in.RuleID)
				if err != nil {
					return nil, err
				}
				return get(ctx, c, "/events/"+eid+"/rules/"+rid+"/attempts", query("limit", "200"))
			}
			var ev struct {
				RuleEvents []struct {
					Rule            string  `json:"rule"`
					Connection      string  `json:"connection"`
					IntegrationType string  `json:"integration_type"`
					Status          string  `json:"status"`
					AttemptCount    int     `json:"attempt_count"`
					LastError       *string `json:"last_error"`
				} `json:"rule_events"`
			}
			raw, err := get(ctx, c, "/events/"+eid, nil)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("decoding the event: %w", err)
			}
			type deliveryJSON struct {
				RuleID          string          `json:"rule_id"`
				Connection      string          `json:"connection"`
				IntegrationType string          `json:"integration_type"`
				Status          string          `json:"status"`
				AttemptCount    int             `json:"attempt_count"`
				LastError       *string         `json:"last_error"`
				Attempts        json.RawMessage `json:"attempts"`
			}
			out := struct {
				EventID    string         `json:"event_id"`
				Deliveries []deliveryJSON `json:"deliveries"`
			}{EventID: eid, Deliveries: []deliveryJSON{}}
			for _, re := range ev.RuleEvents {
				var page struct {
					Records json.RawMessage `json:"records"`
				}
				if err := c.Do(ctx, http.MethodGet, "/events/"+eid+"/rules/"+re.Rule+"/attempts", query("limit", "200"), nil, &page); err != nil {
					return nil, err
				}
				out.Deliveries = append(out.Deliveries, deliveryJSON{RuleID: re.Rule, Connection: re.Connection,
					IntegrationType: re.IntegrationType, Status: re.Status, AttemptCount: re.AttemptCount,
					LastError: re.LastError, Attempts: page.Records})
			}
			return json.Marshal(out)
		})
	add(t, "switchyard_get_attempt_response",
		"Get what the destination answered to one attempt: outcome, HTTP status, and a bounded excerpt of the response "+
			"(status line, selected headers, start of the body). attempt_id comes from switchyard_list_delivery_attempts.",
		object(req("event_id", id(eventDesc)), req("rule_id", id(ruleDesc)), req("attempt_id", id("The attempt's id."))), readOnly,
		func(ctx context.Context, c *client.Client, in attemptArgs) (json.RawMessage, error) {
			eid, err := uuidArg("event_id", in.EventID)
			if err != nil {
				return nil, err
			}
			rid, err := uuidArg("rule_id", in.RuleID)
			if err != nil {
				return nil, err
			}
			aid, err := uuidArg("attempt_id", in.AttemptID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/events/"+eid+"/rules/"+rid+"/attempts/"+aid+"/response-details", nil)
		})
	add(t, "switchyard_cancel_delivery",
		"Cancel one delivery (the event's delivery for one rule) that is still pending or waiting to retry: it will not be sent. "+
			"meshes_retry_event_rule can queue it again later. Returns the delivery.",
		object(req("event_id", id(eventDesc)), req("rule_id", id(ruleDesc))), deletes,
		func(ctx context.Context, c *client.Client, in retryArgs) (json.RawMessage, error) {
			return deliveryAction(ctx, c, in, "cancel")
		})
	add(t, "switchyard_cancel_event",
		"Cancel every delivery of an event that has not finished yet. Finished deliveries are left as they are. Returns the event.",
		object(req("event_id", id(eventDesc))), deletes,
		func(ctx context.Context, c *client.Client, in eventArg) (json.RawMessage, error) {
			eid, err := uuidArg("event_id", in.EventID)
			if err != nil {
				return nil, err
			}
			return call(ctx, c, http.MethodPost, "/events/"+eid+"/cancel", nil, nil)
		})
	add(t, "switchyard_test_rule",
		"Test a rule with a sample payload (or a stored event's, by event_id) without storing anything. With dry_run (the default) "+
			"nothing is sent: the answer shows the resolved action parameters, the mapped fields and, for webhooks, the exact request. "+
			"With dry_run false the destination is really called once and the outcome is returned (no retry, no attempt recorded).",
		object(req("rule_id", id(ruleDesc)), opt("payload", record("A sample payload (a JSON object).", nil)),
			opt("event_id", id("Use this stored event's payload instead.")), opt("resource", resourceSchema()), opt("resource_id", resourceIDSchema()),
			opt("dry_run", def(boolean("Only prepare the request; send nothing."), true))),
		sends,
		func(ctx context.Context, c *client.Client, in ruleTestArgs) (json.RawMessage, error) {
			rid, err := uuidArg("rule_id", in.RuleID)
			if err != nil {
				return nil, err
			}
			if in.EventID != nil {
				if _, err := uuidArg("event_id", *in.EventID); err != nil {
					return nil, err
				}
			}
			body := in
			body.RuleID = ""
			return call(ctx, c, http.MethodPost, "/rules/"+rid+"/test", nil, ruleTestBody(body))
		})
	add(t, "switchyard_get_action_data",
		"Explain what a connection's actions need and offer: for each action of the connection's integration (or only `action`), "+
			"its declaration (label, fields, parameters) and the live data the provider returns for it (lists, tags, channels). "+
			"Use it to fill meshes_create_rule's action and metadata_extra.",
		object(req("connection_id", id(connDesc)), opt("action", str("Only this action.", 0, 0))), readsRemote,
		func(ctx context.Context, c *client.Client, in actionDataArgs) (json.RawMessage, error) {
			return actionData(ctx, c, in)
		})
	add(t, "switchyard_get_connection_health",
		"Get a connection's health: whether it is active (and why it was deactivated, e.g. revoked credentials), its circuit "+
			"breaker (closed, open until a time, half-open), a pause after the provider's 429, and its queue (due, scheduled "+
			"retries, in flight, age of the oldest due delivery). Circuit and pause are the cluster's with shared limits (PostgreSQL), else the answering node's.",
		object(req("connection_id", id(connDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in connectionArg) (json.RawMessage, error) {
			cid, err := uuidArg("connection_id", in.ConnectionID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/connections/"+cid+"/health", nil)
		})
	add(t, "switchyard_get_backlog",
		"Get a workspace's delivery backlog: how many deliveries are due, scheduled for retry and in flight, how long the oldest "+
			"due one has waited, and the same per connection (with its circuit), most overdue first. Use it when deliveries seem slow.",
		object(req("workspace_id", id(wsDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in workspaceArg) (json.RawMessage, error) {
			ws, err := uuidArg("workspace_id", in.WorkspaceID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/workspaces/"+ws+"/backlog", nil)
		})
}

// ruleTestBody is the POST /rules/{id}/test body.
func ruleTestBody(in ruleTestArgs) map[string]any {
	body := map[string]any{"dry_run": in.DryRun}
	if len(in.Payload) > 0 {
		body["payload"] = in.Payload
	}
	setOpt(body, "event_id", in.EventID)
	setOpt(body, "resource", in.Resource)
	setOpt(body, "resource_id", in.ResourceID)
	return body
}

// actionData joins the connection's type, its integration's action declarations and the
// connection's live action data.
func actionData(ctx context.Context, c *client.Client, in actionDataArgs) (json.RawMessage, error) {
	cid, err := uuidArg("connection_id", in.ConnectionID)
	if err != nil {
		return nil, err
	}
	var conn struct {
		Type string `json:"type"`
	}
	if err := c.Do(ctx, http.MethodGet, "/connections/"+cid, nil, nil, &conn); err != nil {
		return nil, err
	}
	var declared map[string]json.RawMessage
	for cursor := ""; ; {
		var page struct {
			Records []struct {
				Type    string                     `json:"type"`
				Actions map[string]json.RawMessage `json:"actions"`
			} `json:"records"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := c.Do(ctx, http.MethodGet, "/integrations", query("limit", "200", "cursor", cursor), nil, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			if r.Type == conn.Type {
				declared = r.Actions
			}
		}
		if declared != nil || page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
	}
	var live map[string]json.RawMessage
	if err := c.Do(ctx, http.MethodGet, "/connections/"+cid+"/actions", nil, nil, &live); err != nil {
		return nil, err
	}
	type actionJSON struct {
		Declaration json.RawMessage `json:"declaration"`
		Data        json.RawMessage `json:"data"`
	}
	out := struct {
		ConnectionID    string                `json:"connection_id"`
		IntegrationType string                `json:"integration_type"`
		Actions         map[string]actionJSON `json:"actions"`
	}{ConnectionID: cid, IntegrationType: conn.Type, Actions: map[string]actionJSON{}}
	for key, d := range declared {
		if in.Action != "" && key != in.Action {
			continue
		}
		a := actionJSON{Declaration: d, Data: live[key]}
		if a.Data == nil {
			a.Data = json.RawMessage("null")
		}
		out.Actions[key] = a
	}
	if in.Action != "" && len(out.Actions) == 0 {
		return nil, badArg("the %s integration has no action %q", conn.Type, in.Action)
	}
	return json.Marshal(out)
}
