package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
)

// EventsCmd groups the event commands.
type EventsCmd struct {
	Send   EventsSendCmd   `cmd:"" help:"Emit an event, or many from a JSON-lines file (--bulk)."`
	List   EventsListCmd   `cmd:"" help:"List events, newest first, with their delivery counts."`
	Get    EventsGetCmd    `cmd:"" help:"Show an event, its deliveries (one per matching rule) and optionally its payload."`
	Tail   EventsTailCmd   `cmd:"" help:"Follow new events and their delivery outcomes live."`
	Retry  EventsRetryCmd  `cmd:"" help:"Deliver an event's failed or canceled deliveries again."`
	Cancel EventsCancelCmd `cmd:"" help:"Cancel an event's unfinished deliveries."`
}

// eventFilters are the filters of GET /events.
type eventFilters struct {
	Workspace  string `name:"workspace" placeholder:"UUID" help:"Only this workspace's events."`
	Event      string `name:"event" placeholder:"NAME" help:"Only events of this name, e.g. contact.created."`
	Resource   string `name:"resource" help:"Only events about this resource type."`
	ResourceID string `name:"resource-id" help:"Only events about this resource id."`
}

// options turns the filters into the client's list options (with workspace, uuid.Nil for all).
func (f *eventFilters) options(status string) (uuid.UUID, *client.EventListOptions, error) {
	ws := uuid.Nil
	if f.Workspace != "" {
		id, err := parseID("--workspace", f.Workspace)
		if err != nil {
			return uuid.Nil, nil, err
		}
		ws = id
	}
	return ws, &client.EventListOptions{Event: f.Event, Resource: f.Resource, ResourceID: f.ResourceID,
		Status: client.Status(status)}, nil
}

// listEvents lists the organization's events, or one workspace's.
func listEvents(e *env, c *client.Client, ws uuid.UUID, o *client.EventListOptions) (*client.Page[client.Event], error) {
	if ws != uuid.Nil {
		return c.ListWorkspaceEvents(e.ctx, ws, o)
	}
	return c.ListEvents(e.ctx, o)
}

// EventsSendCmd emits events.
type EventsSendCmd struct {
	apiFlags       `embed:""`
	Name           string        `arg:"" optional:"" name:"event" help:"Event name, e.g. contact.created (with --bulk: the name of lines that give none)."`
	Workspace      string        `name:"workspace" placeholder:"UUID" help:"Workspace to emit into (default: $SWITCHYARD_WORKSPACE, else the profile's; not needed with a publishable key)."`
	Payload        string        `name:"payload" short:"d" placeholder:"JSON" help:"The payload, a JSON object."`
	File           string        `name:"file" short:"f" placeholder:"FILE" help:"Read the payload from FILE ('-': standard input). Without --payload and --file, a payload piped on standard input is read."`
	Bulk           string        `name:"bulk" placeholder:"FILE" help:"Emit every line of a JSON-lines FILE ('-': standard input), 100 per request: an event object {\"event\",\"payload\",\"resource\",\"resource_id\",\"idempotency_key\"} or, with the event argument, a bare payload."`
	Resource       string        `name:"resource" help:"Resource type the event is about, e.g. contact."`
	ResourceID     string        `name:"resource-id" help:"Resource id the event is about."`
	IdempotencyKey string        `name:"idempotency-key" placeholder:"KEY" help:"Emit at most once per key (24 hours): a repeat answers with the first event."`
	PublishableKey string        `name:"publishable-key" placeholder:"mesh_pub_…" help:"Emit with this workspace's publishable key instead of the machine key (without the flag, $SWITCHYARD_PUBLISHABLE_KEY or the profile's is used when no machine key is configured)."`
	Wait           time.Duration `name:"wait" placeholder:"DURATION" help:"Wait up to DURATION for the event's deliveries to finish and show them; exit 1 if one failed (needs a machine key)."`
	outputFlags    `embed:""`
}

// Help is the detailed help of events send.
func (c *EventsSendCmd) Help() string {
	return `Examples:
  switchyard events send contact.created --payload '{"email":"ada@example.com"}'
  echo '{"email":"ada@example.com"}' | switchyard events send contact.created --workspace 0190…
  switchyard events send contact.created -f payload.json --resource contact --resource-id 42 --wait 30s
  switchyard events send --bulk events.jsonl           # lines: {"event":"…","payload":{…}}
  switchyard events send contact.created --bulk payloads.jsonl --publishable-key mesh_pub_…`
}

// Run emits.
func (c *EventsSendCmd) Run(e *env) error {
	if c.Bulk != "" && (c.Payload != "" || c.File != "" || c.IdempotencyKey != "" || c.Wait > 0) {
		return usagef("--bulk cannot be combined with --payload, --file, --idempotency-key or --wait")
	}
	if c.Bulk == "" && c.Name == "" {
		return usagef("the event name is missing: switchyard events send NAME --payload '{…}'")
	}
	s, err := c.resolve(e)
	if err != nil {
		return err
	}
	if err := s.checkServer(); err != nil {
		return err
	}
	// The machine key is used when one is configured, unless --publishable-key is given.
	pubKey := c.PublishableKey
	opts := []client.Option{client.WithRetries(c.Retries)}
	if pubKey == "" && !s.hasMachineKey() {
		pubKey = s.PublishableKey
	}
	if pubKey != "" {
		if c.Wait > 0 {
			return usagef("--wait needs a machine key: a publishable key cannot read events")
		}
		opts = append(opts, client.WithPublishableKey(pubKey))
	} else {
		key, err := s.machineKey()
		if err != nil {
			return err
		}
		opts = append(opts, client.WithMachineKey(key))
	}
	ws := uuid.Nil
	if pubKey == "" {
		if ws, err = s.workspaceID(c.Workspace); err != nil {
			return err
		}
	} else if c.Workspace != "" {
		return usagef("--workspace cannot be used with a publishable key, which names its workspace")
	}
	cl, err := e.newClient(s.Server, opts...)
	if err != nil {
		return err
	}
	if c.Bulk != "" {
		return c.bulk(e, cl, ws)
	}
	payload, err := c.payload(e)
	if err != nil {
		return err
	}
	// Without a key of the user's, a key of our own lets the client retry the emit after a 5xx
	// or a broken connection without ever storing the event twice.
	key := c.IdempotencyKey
	if key == "" {
		key = "cli-" + uuid.NewString()
	}
	ev, err := cl.EmitEvent(e.ctx, client.EventInput{Event: c.Name, Payload: payload, Workspace: ws,
		Resource: c.Resource, ResourceID: c.ResourceID, IdempotencyKey: key})
	if err != nil {
		return err
	}
	if ev.Replayed && c.IdempotencyKey != "" {
		fmt.Fprintf(e.stderr, "switchyard: idempotency key %q was used before: this is the event accepted then.\n", c.IdempotencyKey)
	}
	if c.Wait <= 0 {
		return printObject(e, c.outputFlags, ev, [][2]string{{"ID", ev.ID.String()}, {"EVENT", ev.Event},
			{"WORKSPACE", ev.Workspace.String()}, {"RESOURCE", resourceText(ev.Resource, ev.ResourceID)},
			{"STATUS", string(ev.Status)}, {"CREATED", timeText(&ev.CreatedAt)}})
	}
	full, err := waitDelivered(e, cl, ev.ID, c.Wait)
	if err != nil {
		return err
	}
	if err := printEvent(e, c.outputFlags, full); err != nil {
		return err
	}
	if full.FailedCount > 0 {
		return fmt.Errorf("%d of %d deliveries failed", full.FailedCount, full.TotalRules)
	}
	return nil
}

// payload reads the event's payload (readPayload).
func (c *EventsSendCmd) payload(e *env) (json.RawMessage, error) {
	return readPayload(e, c.Payload, c.File)
}

// readPayload reads a payload from --payload, --file or a piped standard input, and checks
// that it is a JSON object (the API would refuse anything else, less clearly).
func readPayload(e *env, flag, file string) (json.RawMessage, error) {
	var data []byte
	switch {
	case flag != "" && file != "":
		return nil, usagef("give the payload once: --payload or --file")
	case flag != "":
		data = []byte(flag)
	case file == "-" || file == "" && !e.stdinTTY && e.stdin != nil:
		b, err := io.ReadAll(io.LimitReader(e.stdin, 16<<20))
		if err != nil {
			return nil, fmt.Errorf("reading the payload from standard input: %w", err)
		}
		data = b
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the payload: %w", err)
		}
		data = b
	default:
		return nil, usagef("no payload: give --payload '{…}', --file FILE, or pipe it on standard input")
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, usagef("the payload is empty: send at least {}")
	}
	if data[0] != '{' || !json.Valid(data) {
		return nil, usagef("the payload must be a JSON object")
	}
	return json.RawMessage(data), nil
}

// bulkLine is one line of a --bulk file with its number, for error messages.
type bulkLine struct {
	n  int
	in client.EventInput
}

// bulkReport is what --bulk prints with --output json.
type bulkReport struct {
	Accepted int            `json:"accepted"`
	Refused  int            `json:"refused"`
	Seconds  float64        `json:"seconds"`
	Errors   []bulkLineErr  `json:"errors"`
	Events   []bulkAccepted `json:"-"`
}

type bulkLineErr struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

type bulkAccepted struct {
	Line int `json:"line"`
	*client.AcceptedEvent
}

// refusedError reports events that the server refused: an API error (exit code 3).
type refusedError struct{ refused, total int }

func (e *refusedError) Error() string {
	return fmt.Sprintf("%d of %d events were refused", e.refused, e.total)
}

// bulk emits every line of the file, 100 events per request, with a progress line and the
// rate on a terminal. Lines that are not valid JSON are refused here; the others are sent and
// refused or accepted one by one by the server.
func (c *EventsSendCmd) bulk(e *env, cl *client.Client, ws uuid.UUID) error {
	var r io.Reader = e.stdin
	if c.Bulk != "-" {
		f, err := os.Open(c.Bulk)
		if err != nil {
			return fmt.Errorf("reading the events: %w", err)
		}
		defer f.Close()
		r = f
	}
	pr := e.printer(c.outputFlags)
	rep := &bulkReport{Errors: []bulkLineErr{}}
	prog := newProgress(e.stderr, e.progress())
	refuse := func(line int, msg string) error {
		rep.Refused++
		rep.Errors = append(rep.Errors, bulkLineErr{Line: line, Message: msg})
		if c.Output == "jsonl" {
			return pr.json(map[string]any{"line": line, "error": msg})
		}
		return nil
	}
	// Each request carries an idempotency key of its own (each event then gets "<key>:<index>"
	// unless its line names one), so that the client may retry it after a 5xx or a broken
	// connection without storing any event twice.
	runKey, batches := "cli-bulk-"+uuid.NewString(), 0
	flush := func(batch []bulkLine) error {
		if len(batch) == 0 {
			return nil
		}
		in := make([]client.EventInput, len(batch))
		for i, b := range batch {
			in[i] = b.in
		}
		batches++
		res, err := cl.EmitEvents(e.ctx, in, fmt.Sprintf("%s-%d", runKey, batches))
		if err != nil {
			return fmt.Errorf("sending lines %d–%d: %w", batch[0].n, batch[len(batch)-1].n, err)
		}
		for i, rec := range res.Records {
			if i >= len(batch) {
				break
			}
			if rec.Error != nil {
				if err := refuse(batch[i].n, bulkErrorText(rec.Error)); err != nil {
					return err
				}
				continue
			}
			rep.Accepted++
			if c.Output == "jsonl" {
				if err := pr.json(bulkAccepted{Line: batch[i].n, AcceptedEvent: rec.Event}); err != nil {
					return err
				}
			}
		}
		done := rep.Accepted + rep.Refused
		prog.update(false, "%d events sent, %d refused, %.0f events/s", done, rep.Refused, prog.rate(done))
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var batch []bulkLine
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		in, msg := c.bulkInput(line, ws)
		if msg != "" {
			if err := refuse(n, msg); err != nil {
				return err
			}
			continue
		}
		batch = append(batch, bulkLine{n: n, in: in})
		if len(batch) == 100 {
			if err := flush(batch); err != nil {
				prog.done()
				return err
			}
			batch = batch[:0]
		}
	}
	if err := sc.Err(); err != nil {
		prog.done()
		return fmt.Errorf("reading line %d of the events: %w", n+1, err)
	}
	if err := flush(batch); err != nil {
		prog.done()
		return err
	}
	total := rep.Accepted + rep.Refused
	prog.update(true, "%d events sent, %d refused, %.0f events/s", total, rep.Refused, prog.rate(total))
	prog.done()
	rep.Seconds = time.Since(prog.start).Seconds()
	switch c.Output {
	case "json":
		if err := pr.json(rep); err != nil {
			return err
		}
	case "table":
		for _, le := range rep.Errors {
			fmt.Fprintf(e.stderr, "line %d: %s\n", le.Line, le.Message)
		}
		fmt.Fprintf(e.stdout, "Accepted %d events, refused %d.\n", rep.Accepted, rep.Refused)
	}
	if total == 0 {
		return usagef("no events in %s", c.Bulk)
	}
	if rep.Refused > 0 {
		return &refusedError{refused: rep.Refused, total: total}
	}
	return nil
}

// bulkInput reads one line: an event object (it has "payload" or "event"), or a bare payload
// named by the event argument. It returns a message when the line cannot be sent.
func (c *EventsSendCmd) bulkInput(line []byte, ws uuid.UUID) (client.EventInput, string) {
	if line[0] != '{' || !json.Valid(line) {
		return client.EventInput{}, "not a JSON object"
	}
	var obj struct {
		Event          *string         `json:"event"`
		Payload        json.RawMessage `json:"payload"`
		Resource       string          `json:"resource"`
		ResourceID     string          `json:"resource_id"`
		IdempotencyKey string          `json:"idempotency_key"`
	}
	if err := json.Unmarshal(line, &obj); err != nil {
		return client.EventInput{}, "not an event object: " + err.Error()
	}
	in := client.EventInput{Workspace: ws, Resource: c.Resource, ResourceID: c.ResourceID}
	if obj.Event == nil && obj.Payload == nil {
		// A bare payload.
		if c.Name == "" {
			return client.EventInput{}, `has no "event" and no event argument was given`
		}
		in.Event, in.Payload = c.Name, json.RawMessage(line)
		return in, ""
	}
	in.Event = c.Name
	if obj.Event != nil {
		in.Event = *obj.Event
	}
	if in.Event == "" {
		return client.EventInput{}, `has no "event" and no event argument was given`
	}
	if obj.Payload == nil {
		return client.EventInput{}, `has no "payload"`
	}
	in.Payload = obj.Payload
	if obj.Resource != "" {
		in.Resource = obj.Resource
	}
	if obj.ResourceID != "" {
		in.ResourceID = obj.ResourceID
	}
	in.IdempotencyKey = obj.IdempotencyKey
	return in, ""
}

// bulkErrorText is a refused item's message with its invalid fields.
func bulkErrorText(e *client.Error) string {
	msg := e.Message
	for _, f := range e.Fields {
		msg += fmt.Sprintf("; %s %s", f.Param, f.Msg)
	}
	return msg
}

// waitDelivered polls the event until every delivery has a final status or the time is up.
func waitDelivered(e *env, cl *client.Client, id uuid.UUID, within time.Duration) (*client.Event, error) {
	deadline := time.Now().Add(within)
	wait := 100 * time.Millisecond
	for {
		ev, err := cl.GetEvent(e.ctx, id)
		if err != nil {
			return nil, err
		}
		if eventSettled(ev) {
			return ev, nil
		}
		if time.Now().Add(wait).After(deadline) {
			return ev, fmt.Errorf("event %s: deliveries not finished after %s (status %s)", id, within, ev.Status)
		}
		select {
		case <-e.ctx.Done():
			return nil, e.ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

// eventSettled reports whether every delivery of an event has a final status.
func eventSettled(ev *client.Event) bool {
	for _, r := range ev.RuleEvents {
		if !r.Status.Final() {
			return false
		}
	}
	return len(ev.RuleEvents) > 0 || ev.Status.Final() || ev.TotalRules == 0
}

func resourceText(resource, id string) string {
	if id == "" {
		return resource
	}
	return resource + "/" + id
}

// rulesText summarises an event's deliveries: "2/3 delivered, 1 failed".
func rulesText(ev *client.Event) string {
	if ev.TotalRules == 0 {
		return "no rules"
	}
	s := fmt.Sprintf("%d/%d delivered", ev.CompletedCount, ev.TotalRules)
	if ev.FailedCount > 0 {
		s += fmt.Sprintf(", %d failed", ev.FailedCount)
	}
	return s
}

// EventsListCmd lists events.
type EventsListCmd struct {
	apiFlags     `embed:""`
	eventFilters `embed:""`
	Status       string `name:"status" enum:",pending,processing,retrying,completed,failed,canceled" default:"" placeholder:"STATUS" help:"Only events with this status: pending, processing, retrying, completed, failed or canceled."`
	listFlags    `embed:""`
	outputFlags  `embed:""`
}

// Help is the detailed help of events list.
func (c *EventsListCmd) Help() string {
	return `Examples:
  switchyard events list
  switchyard events list --status failed --event contact.created --limit 20
  switchyard events list --workspace 0190… --all -o jsonl | jq -r .id`
}

// Run lists.
func (c *EventsListCmd) Run(e *env) error {
	ws, opts, err := c.options(c.Status)
	if err != nil {
		return err
	}
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	p, err := fetchList(c.listFlags, func(lo client.ListOptions) (*client.Page[client.Event], error) {
		opts.ListOptions = lo
		return listEvents(e, cl, ws, opts)
	})
	if err != nil {
		return err
	}
	return printList(e, c.outputFlags, p, newTable("CREATED", "ID", "EVENT", "RESOURCE", "DELIVERIES", "STATUS"),
		func(ev client.Event) []string {
			return []string{timeText(&ev.CreatedAt), ev.ID.String(), ev.Event, resourceText(ev.Resource, ev.ResourceID),
				rulesText(&ev), string(ev.Status)}
		})
}

// EventsGetCmd shows an event.
type EventsGetCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"event-id" help:"The event's id."`
	Payload     bool   `name:"payload" help:"Also show the payload as it was emitted."`
	Attempts    bool   `name:"attempts" help:"Also list every delivery attempt with its outcome."`
	outputFlags `embed:""`
}

// Help is the detailed help of events get.
func (c *EventsGetCmd) Help() string {
	return `Examples:
  switchyard events get 0190…
  switchyard events get 0190… --payload --attempts
  switchyard events get 0190… -o json | jq '.rule_events[] | select(.status == "failed")'`
}

// eventWithAttempts is an event as events get prints it with --attempts and JSON output.
type eventWithAttempts struct {
	*client.Event
	Attempts []client.Attempt `json:"attempts"`
}

// Run shows the event.
func (c *EventsGetCmd) Run(e *env) error {
	cl, id, err := c.clientFor(e, "event id", c.ID)
	if err != nil {
		return err
	}
	var ev *client.Event
	if c.Payload {
		ev, err = cl.GetEventPayload(e.ctx, id)
	} else {
		ev, err = cl.GetEvent(e.ctx, id)
	}
	if err != nil {
		return err
	}
	if !c.Attempts {
		return printEvent(e, c.outputFlags, ev)
	}
	var attempts []client.Attempt
	for _, r := range ev.RuleEvents {
		as, err := client.Collect(cl.Attempts(e.ctx, ev.ID, r.Rule, &client.ListOptions{Limit: 200}))
		if err != nil {
			return err
		}
		attempts = append(attempts, as...)
	}
	if c.Output != "table" {
		if attempts == nil {
			attempts = []client.Attempt{}
		}
		return e.printer(c.outputFlags).json(eventWithAttempts{Event: ev, Attempts: attempts})
	}
	if err := printEvent(e, c.outputFlags, ev); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	t := newTable("ATTEMPT", "RULE", "STARTED", "DURATION", "HTTP", "MESSAGE", "OUTCOME")
	for _, a := range attempts {
		httpStatus := ""
		if a.HTTPStatus != nil {
			httpStatus = strconv.Itoa(*a.HTTPStatus)
		}
		color := ansiRed
		if a.OutcomeCode == "delivered" {
			color = ansiGreen
		}
		t.addColored(color, strconv.Itoa(a.AttemptNumber), a.RuleID.String(), timeText(&a.StartedAt),
			fmt.Sprintf("%dms", a.DurationMS), httpStatus, a.Message, a.OutcomeCode)
	}
	return t.write(e.stdout, e.color())
}

// printEvent prints an event: JSON, or its fields and a table of its deliveries.
func printEvent(e *env, o outputFlags, ev *client.Event) error {
	if o.Output != "table" {
		return e.printer(o).json(ev)
	}
	fields := [][2]string{{"ID", ev.ID.String()}, {"EVENT", ev.Event}, {"WORKSPACE", ev.Workspace.String()},
		{"RESOURCE", resourceText(ev.Resource, ev.ResourceID)}, {"STATUS", string(ev.Status)},
		{"DELIVERIES", rulesText(ev)}, {"CREATED", timeText(&ev.CreatedAt)}, {"COMPLETED", timeText(ev.CompletedAt)},
		{"CREATED BY", ev.CreatedBy}}
	if err := writeFields(e.stdout, fields); err != nil {
		return err
	}
	if len(ev.RuleEvents) > 0 {
		fmt.Fprintln(e.stdout)
		if err := deliveriesTable(ev.RuleEvents).write(e.stdout, e.color()); err != nil {
			return err
		}
	}
	if len(ev.Payload) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, ev.Payload, "", "  ") != nil {
			buf.Reset()
			buf.Write(ev.Payload)
		}
		fmt.Fprintf(e.stdout, "\nPAYLOAD\n%s\n", buf.String())
	}
	return nil
}

// deliveriesTable lists rule events.
func deliveriesTable(rs []client.RuleEvent) *table {
	t := newTable("RULE", "CONNECTION", "INTEGRATION", "ATTEMPTS", "COMPLETED", "LAST ERROR", "STATUS")
	for _, r := range rs {
		lastErr := ""
		if r.LastError != nil {
			lastErr = *r.LastError
		}
		t.addColored(statusColor(string(r.Status)), r.Rule.String(), r.Connection.String(), r.IntegrationType,
			strconv.Itoa(r.AttemptCount), timeText(r.CompletedAt), truncate(lastErr, 60), string(r.Status))
	}
	return t
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// EventsRetryCmd retries deliveries.
type EventsRetryCmd struct {
	apiFlags    `embed:""`
	ID          string   `arg:"" name:"event-id" help:"The event's id."`
	Rules       []string `name:"rule" placeholder:"UUID" help:"Retry only the delivery through this rule (repeatable). Default: every failed or canceled delivery of the event."`
	outputFlags `embed:""`
}

// Help is the detailed help of events retry.
func (c *EventsRetryCmd) Help() string {
	return `A delivery that completed cannot be retried (emit the event again); one in flight or due within
5 seconds is refused as too early.

Examples:
  switchyard events retry 0190…
  switchyard events retry 0190… --rule 0190…`
}

// Run retries.
func (c *EventsRetryCmd) Run(e *env) error {
	return deliveryAction(e, &c.apiFlags, c.outputFlags, c.ID, c.Rules, "retry")
}

// EventsCancelCmd cancels deliveries.
type EventsCancelCmd struct {
	apiFlags    `embed:""`
	ID          string   `arg:"" name:"event-id" help:"The event's id."`
	Rules       []string `name:"rule" placeholder:"UUID" help:"Cancel only the delivery through this rule (repeatable). Default: every unfinished delivery of the event."`
	outputFlags `embed:""`
}

// Help is the detailed help of events cancel.
func (c *EventsCancelCmd) Help() string {
	return `An attempt in flight finishes, but no further attempt is made.

Examples:
  switchyard events cancel 0190…
  switchyard events cancel 0190… --rule 0190…`
}

// Run cancels.
func (c *EventsCancelCmd) Run(e *env) error {
	return deliveryAction(e, &c.apiFlags, c.outputFlags, c.ID, c.Rules, "cancel")
}

// deliveryAction retries or cancels the named deliveries of an event, or the ones the action
// applies to: failed and canceled ones for retry, unfinished ones for cancel (the event's own
// cancel route).
func deliveryAction(e *env, f *apiFlags, o outputFlags, eventID string, ruleArgs []string, action string) error {
	id, err := parseID("event id", eventID)
	if err != nil {
		return err
	}
	var rules []uuid.UUID
	for _, r := range ruleArgs {
		rid, err := parseID("--rule", r)
		if err != nil {
			return err
		}
		rules = append(rules, rid)
	}
	cl, _, err := f.client(e)
	if err != nil {
		return err
	}
	if len(rules) == 0 && action == "cancel" {
		ev, err := cl.CancelEvent(e.ctx, id)
		if err != nil {
			return err
		}
		return printEvent(e, o, ev)
	}
	if len(rules) == 0 {
		ev, err := cl.GetEvent(e.ctx, id)
		if err != nil {
			return err
		}
		for _, r := range ev.RuleEvents {
			if r.Status == client.StatusFailed || r.Status == client.StatusCanceled {
				rules = append(rules, r.Rule)
			}
		}
		if len(rules) == 0 {
			return fmt.Errorf("event %s has no failed or canceled delivery to retry", id)
		}
	}
	var done []client.RuleEvent
	var errs []error
	for _, rid := range rules {
		var r *client.RuleEvent
		if action == "retry" {
			r, err = cl.RetryDelivery(e.ctx, id, rid)
		} else {
			r, err = cl.CancelDelivery(e.ctx, id, rid)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", rid, err))
			continue
		}
		done = append(done, *r)
	}
	switch o.Output {
	case "json":
		if done == nil {
			done = []client.RuleEvent{}
		}
		if err := e.printer(o).json(done); err != nil {
			return err
		}
	case "jsonl":
		for _, r := range done {
			if err := e.printer(o).json(r); err != nil {
				return err
			}
		}
	default:
		if len(done) > 0 {
			if err := deliveriesTable(done).write(e.stdout, e.color()); err != nil {
				return err
			}
		}
	}
	return errors.Join(errs...)
}

// joinNonEmpty joins the non-empty strings.
func joinNonEmpty(sep string, ss ...string) string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, sep)
}

// Help is the detailed help of events.
func (c *EventsCmd) Help() string {
	return `Examples:
  switchyard events send contact.created --payload '{"email":"ada@example.com"}' --wait 30s
  switchyard events tail
  switchyard events list --status failed
  switchyard events retry 0190…`
}
