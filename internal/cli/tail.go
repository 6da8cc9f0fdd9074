package cli

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
)

// EventsTailCmd follows events as they arrive, and their deliveries until each has an outcome,
// by polling the list API: each poll reads the newest page (and the pages after it while they
// still hold unseen events), prints the events not seen before, and re-reads the events whose
// deliveries are still open.
type EventsTailCmd struct {
	apiFlags     `embed:""`
	eventFilters `embed:""`
	Last         int           `name:"last" short:"n" default:"0" help:"First show the N newest events (at most 200)."`
	Interval     time.Duration `name:"interval" default:"500ms" help:"How often to ask the server (at least 100ms)."`
	Output       string        `name:"output" short:"o" enum:"table,json,jsonl" default:"table" help:"table: a line per event and per delivery outcome, coloured on a terminal; jsonl (or json): the API's event objects (\"type\":\"event\") and rule events (\"type\":\"rule\"), one per line."`
}

// Help is the detailed help of events tail.
func (c *EventsTailCmd) Help() string {
	return `Stops on Ctrl-C. Events that arrive while tail runs are shown, then each delivery's outcome
(completed, retrying, failed, canceled) as it happens.

Examples:
  switchyard events tail
  switchyard events tail --workspace 0190… --event contact.created -n 10
  switchyard events tail -o jsonl | jq -c 'select(.type == "rule" and .status == "failed")'`
}

// tailHorizon is how far back, from the newest event seen, a poll looks for events it has not
// seen: events are listed by their creation time, which is taken before they are stored, so an
// event may appear after a newer one did.
const tailHorizon = 10 * time.Second

// tailer is the state of a tail.
type tailer struct {
	e    *env
	cl   *client.Client
	ws   uuid.UUID
	opts *client.EventListOptions
	out  *printer
	// seen holds every event already shown or skipped, with its creation time (to forget it
	// once it is far behind the newest).
	seen map[uuid.UUID]time.Time
	// open holds the events whose deliveries are followed: rule event id → last status shown.
	open   map[uuid.UUID]map[uuid.UUID]client.Status
	newest time.Time
}

// Run follows until canceled.
func (c *EventsTailCmd) Run(e *env) error {
	if c.Last < 0 || c.Last > 200 {
		return usagef("--last must be from 0 to 200")
	}
	if c.Interval < 100*time.Millisecond {
		return usagef("--interval must be at least 100ms")
	}
	ws, opts, err := c.options("")
	if err != nil {
		return err
	}
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	format := c.Output
	if format == "json" {
		format = "jsonl" // a stream: one object a line
	}
	t := &tailer{e: e, cl: cl, ws: ws, opts: opts, out: e.printer(outputFlags{Output: format}),
		seen: map[uuid.UUID]time.Time{}, open: map[uuid.UUID]map[uuid.UUID]client.Status{}}
	if err := t.start(c.Last); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "switchyard: following events (Ctrl-C to stop)")
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-e.ctx.Done():
			return nil
		case <-tick.C:
		}
		err := t.poll()
		switch {
		case err == nil:
			failures = 0
		case e.ctx.Err() != nil:
			return nil
		case fatalForTail(err):
			return err
		default:
			// A server restarting or a network hiccup: say so once in a while and keep trying.
			failures++
			if failures == 1 || failures%20 == 0 {
				fmt.Fprintf(e.stderr, "switchyard: %v (still trying)\n", err)
			}
		}
	}
}

// fatalForTail reports whether an error will not go away by asking again: a 4xx other than 429
// (bad credentials, a workspace that does not exist, a bad filter).
func fatalForTail(err error) bool {
	var ae *client.Error
	return errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 && ae.StatusCode != http.StatusTooManyRequests
}

// start reads the newest page: its events count as seen, and the last n of them are shown.
func (t *tailer) start(n int) error {
	o := *t.opts
	o.Limit = max(n, 100)
	p, err := t.list(&o)
	if err != nil {
		return err
	}
	for _, ev := range p.Records {
		t.markSeen(&ev)
	}
	recs := p.Records[:min(n, len(p.Records))]
	for i := len(recs) - 1; i >= 0; i-- {
		if err := t.showNew(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *tailer) list(o *client.EventListOptions) (*client.Page[client.Event], error) {
	if t.ws != uuid.Nil {
		return t.cl.ListWorkspaceEvents(t.e.ctx, t.ws, o)
	}
	return t.cl.ListEvents(t.e.ctx, o)
}

func (t *tailer) markSeen(ev *client.Event) {
	t.seen[ev.ID] = ev.CreatedAt
	if ev.CreatedAt.After(t.newest) {
		t.newest = ev.CreatedAt
	}
}

// poll shows new events and the outcomes of followed deliveries.
func (t *tailer) poll() error {
	o := *t.opts
	o.Limit = 100
	var fresh []client.Event
	fetched := map[uuid.UUID]*client.Event{}
	horizon := t.newest.Add(-tailHorizon)
	for pages := 0; pages < 10; pages++ {
		p, err := t.list(&o)
		if err != nil {
			return err
		}
		older := false
		for i := range p.Records {
			ev := &p.Records[i]
			fetched[ev.ID] = ev
			if _, ok := t.seen[ev.ID]; !ok && !ev.CreatedAt.Before(horizon) {
				fresh = append(fresh, *ev)
			}
			older = older || ev.CreatedAt.Before(horizon)
		}
		if older || p.NextCursor == nil || *p.NextCursor == "" {
			break
		}
		o.Cursor = *p.NextCursor
	}
	// Oldest first, as they happened.
	sort.SliceStable(fresh, func(i, j int) bool {
		if !fresh[i].CreatedAt.Equal(fresh[j].CreatedAt) {
			return fresh[i].CreatedAt.Before(fresh[j].CreatedAt)
		}
		return fresh[i].ID.String() < fresh[j].ID.String()
	})
	for i := range fresh {
		t.markSeen(&fresh[i])
		if err := t.showNew(&fresh[i]); err != nil {
			return err
		}
	}
	// Followed events: from this poll's pages, else read one by one (a few per poll).
	ids := make([]uuid.UUID, 0, len(t.open))
	for id := range t.open {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	reads := 0
	for _, id := range ids {
		ev, ok := fetched[id]
		if !ok {
			if reads >= 20 {
				continue
			}
			reads++
			got, err := t.cl.GetEvent(t.e.ctx, id)
			if client.IsNotFound(err) {
				delete(t.open, id)
				continue
			} else if err != nil {
				return err
			}
			ev = got
		}
		if err := t.showChanges(ev); err != nil {
			return err
		}
	}
	t.forget()
	return nil
}

// showNew prints an event seen for the first time and the outcomes it already has, and follows
// its open deliveries.
func (t *tailer) showNew(ev *client.Event) error {
	if t.out.format == "jsonl" {
		if err := t.out.json(ev); err != nil {
			return err
		}
	} else {
		rules := "no rule matched"
		if n := ev.TotalRules; n == 1 {
			rules = "1 delivery"
		} else if n > 1 {
			rules = fmt.Sprintf("%d deliveries", n)
		}
		t.line(ev.CreatedAt, ev, joinNonEmpty("  ", resourceText(ev.Resource, ev.ResourceID), rules), "", "")
	}
	t.open[ev.ID] = map[uuid.UUID]client.Status{}
	for _, r := range ev.RuleEvents {
		t.open[ev.ID][r.ID] = client.StatusPending
	}
	return t.showChanges(ev)
}

// showChanges prints each delivery whose status changed to one worth a line (retrying or
// final), and stops following the event when every delivery is final.
func (t *tailer) showChanges(ev *client.Event) error {
	shown := t.open[ev.ID]
	if shown == nil {
		return nil
	}
	settled := true
	for _, r := range ev.RuleEvents {
		if !r.Status.Final() {
			settled = false
		}
		if shown[r.ID] == r.Status || (r.Status != client.StatusRetrying && !r.Status.Final()) {
			continue
		}
		shown[r.ID] = r.Status
		if t.out.format == "jsonl" {
			if err := t.out.json(r); err != nil {
				return err
			}
			continue
		}
		at := time.Now()
		if r.CompletedAt != nil {
			at = *r.CompletedAt
		}
		attempts := "1 attempt"
		if r.AttemptCount != 1 {
			attempts = fmt.Sprintf("%d attempts", r.AttemptCount)
		}
		detail := fmt.Sprintf("%s via rule %s, %s", r.IntegrationType, r.Rule, attempts)
		lastErr := ""
		if r.LastError != nil && r.Status != client.StatusCompleted {
			lastErr = truncate(*r.LastError, 80)
		}
		t.line(at, ev, detail, string(r.Status), lastErr)
	}
	if settled {
		delete(t.open, ev.ID)
	}
	return nil
}

// line prints one table line: time, event id, event name, detail, and a coloured status.
func (t *tailer) line(at time.Time, ev *client.Event, detail, status, after string) {
	s := fmt.Sprintf("%s  %s  %-24s  %s", at.UTC().Format(time.RFC3339), ev.ID, clean(ev.Event), clean(detail))
	if status != "" {
		s += "  " + paint(t.out.color, statusColor(status), status)
	}
	if after != "" {
		s += "  " + clean(after)
	}
	fmt.Fprintln(t.out.w, s)
}

// forget drops seen events far behind the newest (they can no longer appear as new).
func (t *tailer) forget() {
	limit := t.newest.Add(-10 * tailHorizon)
	for id, at := range t.seen {
		if _, open := t.open[id]; !open && at.Before(limit) {
			delete(t.seen, id)
		}
	}
}
