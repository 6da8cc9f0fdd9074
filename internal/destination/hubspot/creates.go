package hubspot

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
)

// maxBatchInputs is the most inputs HubSpot's CRM v3 batch endpoints take in one request.
const maxBatchInputs = 100

// creates coalesces the contact creations of one connection's concurrent attempts. An attempt
// that finds its connection idle (no other attempt under way, no creation under way or
// gathering) creates its contact itself, with POST /crm/v3/objects/contacts, exactly as a lone
// attempt always did. Otherwise the attempts gather in a batch — for the window that the
// connection's pace gives (windowLocked; none for a slow connection), and until the creation
// under way, if any, has ended (a group commit) — and go together in one call, POST
// /crm/v3/objects/contacts/batch/create (at most maxBatchInputs), each input with its own
// objectWriteTraceId so that HubSpot answers every input on its own (201, or 207 multi-status
// with per-input errors). The batch's first attempt makes the call.
//
// Each waiting attempt then reads its own fate: created (the result echoing its trace id), or
// existing (a 409 CONFLICT for its trace id naming the existing contact). Whatever cannot be
// read as one of those — a refused value, an answer that does not name the input, a refusal
// of the whole batch with 400 or 409 — sends the attempt down the lone path, where it creates
// its contact itself and handles the refusal as before (a 400 reads the contact by email). A
// refusal that is not about the inputs (429, 401 after the refresh, 403, 5xx, no answer) is
// every waiting attempt's result.
type creates struct {
	s  *Sender
	mu sync.Mutex
	// busy: a creation (a lone attempt's or a batch) is under way.
	busy bool
	// pending is the batch gathering the attempts that wait.
	pending *createBatch
	// last is when the last attempt arrived; gap the moving average of the time between
	// arrivals, which sizes the window.
	last time.Time
	gap  time.Duration
}

// The gathering window of a busy connection, when no creation is under way: long enough for
// about batchTarget attempts to arrive at the connection's recent pace, at most batchWindow,
// and none when fewer than one companion can be expected in batchWindow. It is a latency the
// attempts of a busy connection pay once (and memberWindow once more, at most, for their list
// memberships), and what makes batches of more than a contact or two: against a fake a call
// takes a millisecond, so attempts rarely overlap one; against HubSpot a few hundred.
const (
	batchWindow  = 50 * time.Millisecond
	batchTarget  = 8
	memberWindow = 10 * time.Millisecond
)

// windowLocked is how long a batch that starts now gathers; 0: the attempt goes alone. It
// updates the pace of arrivals.
func (cr *creates) windowLocked(now time.Time, busy bool) time.Duration {
	gap := min(now.Sub(cr.last), time.Second)
	cr.last = now
	if cr.gap == 0 {
		cr.gap = gap
	} else {
		cr.gap = (4*cr.gap + gap) / 5
	}
	switch {
	case !busy:
		return 0
	case cr.s.windowOverride > 0:
		return cr.s.windowOverride
	case cr.gap > batchWindow:
		return 0
	}
	return min(batchWindow, batchTarget*cr.gap)
}

// createBatch is one batch/create call and what came of it.
type createBatch struct {
	inputs []createInput
	emails map[string]bool
	// ready: the batch's window is over; turn is closed when the call before it has ended.
	ready bool
	turn  chan struct{}
	done  chan struct{}
	// After done: every input's result (by index), or the call's failure; the answer's status
	// and excerpt.
	outcomes []createOutcome
	res      *destination.Result
	status   int
	last     string
}

type createInput struct {
	Properties   map[string]string `json:"properties"`
	Associations []struct{}        `json:"associations"`
	TraceID      string            `json:"objectWriteTraceId"`
}

// createOutcome is one input's fate; id "" sends the attempt down the lone path.
type createOutcome struct {
	id  string
	how how
}

// join decides how an attempt comes by its contact: lead (no creation under way or gathering,
// and no reason to wait for company: create it alone, then call afterCall), or wait on b's input
// i; input 0 is the batch's leader, which sends it (lead). An attempt whose email is in the
// pending batch already, or that finds it full, creates its contact alone without leading (one
// of the two creations then meets a 409 and uses the other's contact). busy: other attempts of
// the connection are under way.
func (cr *creates) join(props map[string]string, busy bool) (b *createBatch, i int, lead bool, w time.Duration) {
	email := strings.ToLower(props["email"])
	cr.mu.Lock()
	defer cr.mu.Unlock()
	w = cr.windowLocked(time.Now(), busy)
	if !cr.busy && cr.pending == nil && w == 0 {
		cr.busy = true
		return nil, 0, true, 0
	}
	b = cr.pending
	if b == nil {
		b = &createBatch{emails: map[string]bool{}, done: make(chan struct{}), turn: make(chan struct{})}
		cr.pending = b
	}
	if b.emails[email] || len(b.inputs) >= maxBatchInputs {
		return nil, 0, false, 0
	}
	b.emails[email] = true
	i = len(b.inputs)
	b.inputs = append(b.inputs, createInput{Properties: props, Associations: []struct{}{}, TraceID: strconv.Itoa(i)})
	return b, i, false, w
}

// lead sends b once its window is over (the caller waited for it) and no call is under way: at
// once, or when the call under way ends (afterCall hands it the turn). The leader sends on its
// own goroutine, sparing one per batch; if its attempt ends while it waits for the turn, the
// batch is sent from another.
func (cr *creates) lead(ctx context.Context, b *createBatch) {
	cr.mu.Lock()
	b.ready = true
	if cr.busy {
		cr.mu.Unlock()
		select {
		case <-b.turn:
		case <-ctx.Done():
			go func() {
				<-b.turn
				cr.send(b)
				cr.afterCall()
			}()
			return
		}
	} else {
		cr.busy = true
		cr.pending = nil
		cr.mu.Unlock()
	}
	cr.send(b)
	cr.afterCall()
}

// afterCall ends a call (a lone attempt's or a batch's): the pending batch whose window is over
// gets the turn; one still gathering is sent by its leader when its window ends.
func (cr *creates) afterCall() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if b := cr.pending; b != nil && b.ready {
		cr.pending = nil
		close(b.turn)
		return
	}
	cr.busy = false
}

// batchAnswer is the part of BatchResponseSimplePublicObject(WithErrors) the sender reads.
type batchAnswer struct {
	Results []struct {
		ID         string `json:"id"`
		TraceID    string `json:"objectWriteTraceId"`
		Properties struct {
			Email *string `json:"email"`
		} `json:"properties"`
	} `json:"results"`
	Errors []struct {
		Category string              `json:"category"`
		Message  string              `json:"message"`
		Context  map[string][]string `json:"context"`
	} `json:"errors"`
}

// send makes the batch/create call for b. It runs on behalf of several attempts, so it is
// bounded by its own timeout rather than by one attempt's context.
func (cr *creates) send(b *createBatch) {
	defer close(b.done)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := cr.s.newCaller()
	b.outcomes = make([]createOutcome, len(b.inputs))
	status, body, res := c.send(ctx, http.MethodPost, "/crm/v3/objects/contacts/batch/create", nil, map[string]any{"inputs": b.inputs})
	b.status, b.last = c.Status(), c.Last()
	if res != nil {
		if res.HTTPStatus == http.StatusBadRequest || res.HTTPStatus == http.StatusConflict {
			return // about the inputs, but not saying which: each attempt creates its contact alone
		}
		b.res = res
		return
	}
	var ans batchAnswer
	if json.Unmarshal(body, &ans) != nil {
		b.res = c.Unexpected(status, "its answer is not the batch answer it documents")
		return
	}
	byTrace := make(map[string]int, len(b.inputs))
	byEmail := make(map[string]int, len(b.inputs))
	for i, in := range b.inputs {
		byTrace[in.TraceID] = i
		byEmail[strings.ToLower(in.Properties["email"])] = i
	}
	for _, r := range ans.Results {
		i, ok := byTrace[r.TraceID]
		if !ok || r.TraceID == "" {
			// An answer without the trace id: the result's email names the input.
			e := r.Properties.Email
			if e == nil {
				continue
			}
			if i, ok = byEmail[strings.ToLower(*e)]; !ok {
				continue
			}
		}
		if r.ID != "" {
			b.outcomes[i] = createOutcome{id: r.ID, how: contactCreated}
		}
	}
	for _, e := range ans.Errors {
		if e.Category != "CONFLICT" {
			continue // a refused value: the lone path reports it (or finds the contact)
		}
		m := conflictPattern.FindStringSubmatch(e.Message)
		if m == nil {
			continue
		}
		for _, tid := range e.Context["objectWriteTraceId"] {
			if i, ok := byTrace[tid]; ok && b.outcomes[i].id == "" {
				b.outcomes[i] = createOutcome{id: m[1], how: contactFound}
			}
		}
	}
}

// contactFor finds or creates the contact of who, with props (the mapped fields, update_property's
// property, the email) written to a contact it creates: alone when no creation is under way for
// the connection, else in the connection's next batch (see creates).
func (s *Sender) contactFor(ctx context.Context, c *caller, email string, props map[string]string) (*contact, *destination.Result) {
	b, i, lead, w := s.creates.join(props, s.active.Load() > 1)
	if b == nil {
		if lead {
			defer s.creates.afterCall()
		}
		return c.findOrCreate(ctx, email, props)
	}
	if i == 0 {
		// The batch's leader: it waits out the window, then sends the batch (after the call
		// under way, if any). If the attempt ends first, the batch is still sent, for the others.
		start, t := time.Now(), time.NewTimer(w)
		select {
		case <-t.C:
			s.creates.lead(ctx, b)
		case <-ctx.Done():
			t.Stop()
			rest := w - time.Since(start)
			go func() {
				time.Sleep(rest)
				s.creates.lead(context.Background(), b)
			}()
		}
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		res := destination.ClassifyTransportError(ctx, ctx.Err(), callTimeout, s.p.Base)
		prefix(&res, "creating the contact")
		return nil, &res
	}
	c.batched, c.batchStatus, c.batchLast = true, b.status, b.last
	if b.res != nil {
		res := *b.res
		prefix(&res, "creating the contact")
		return nil, &res
	}
	o := b.outcomes[i]
	if o.id == "" {
		c.batched = false
		return c.findOrCreate(ctx, email, props)
	}
	return &contact{id: o.id, how: o.how, withProps: o.how == contactCreated, group: len(b.inputs)}, nil
}
