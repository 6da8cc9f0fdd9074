package hubspot_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
	"github.com/switchyardhq/switchyard/internal/destination/hubspot"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/switchyard"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

const (
	createPath      = "/crm/v3/objects/contacts"
	batchCreatePath = "/crm/v3/objects/contacts/batch/create"
)

// createRig is a sender whose lone contact creations (POST /crm/v3/objects/contacts) pass
// through faults, so that a test can hold the first attempt's creation while others gather.
type createRig struct {
	srv    *fake.Server
	list   string
	faults *destinationtest.Faults
	sender *hubspot.Sender
	wg     sync.WaitGroup
}

func newCreateRig(t *testing.T) *createRig {
	t.Helper()
	return newRig(t, func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == createPath })
}

// newRig is a sender whose calls that match pass through faults.
func newRig(t *testing.T, match func(*http.Request) bool) *createRig {
	t.Helper()
	srv := newFake(t, fake.Options{})
	srv.AddProperty(fake.Property{Name: "plan", Type: "enumeration", FieldType: "select",
		Options: []fake.Option{{Label: "Free", Value: "free"}, {Label: "Pro", Value: "pro"}}})
	faults, proxy := destinationtest.Serve(t, destinationtest.Proxy(t, srv.URL()))
	faults.Match = match
	opts := options(srv)
	app := opts.Apps[hubspot.Type]
	app.APIBase = proxy.URL
	opts.Apps = map[string]destination.OAuthApp{hubspot.Type: app}
	sender := destinationtest.Provision(t, hubspot.Integration(), opts, destination.Provision{
		Connection: &switchyard.Connection{Type: hubspot.Type, Name: "creates", Active: true, Metadata: map[string]any{}},
		Tokens:     newOAuthTokens(srv), Account: portal(srv)}).(*hubspot.Sender)
	return &createRig{srv: srv, list: srv.AddList("Customers", fake.ListManual), faults: faults, sender: sender}
}

// deliver starts an add_to_list attempt for email (with the plan field when plan is not "")
// and stores its result in *out.
func (g *createRig) deliver(t *testing.T, email, plan string, out *destination.Result) {
	fields := map[string]any{"email": email}
	if plan != "" {
		fields["plan"] = plan
	}
	req := request(hubspot.ActionAddToList, map[string]any{hubspot.ParamID: g.list}, fields)
	g.wg.Go(func() { *out = g.sender.Deliver(t.Context(), req) })
}

// hold makes the first attempt's lone creation hang, and waits until it is under way.
func (g *createRig) hold(t *testing.T, lead *destination.Result) {
	t.Helper()
	g.faults.Hang()
	g.deliver(t, "lead@example.com", "", lead)
	testutil.Eventually(t, 10*time.Second, "the first attempt's creation", func() bool { return g.faults.Requests() == 1 })
}

func (g *createRig) waiting(t *testing.T, n int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d attempts waiting for the batch", n), func() bool {
		return hubspot.PendingCreates(g.sender) == n
	})
}

func (g *createRig) inList(t *testing.T, email string) {
	t.Helper()
	c, ok := g.srv.Contact(email)
	if !ok || !slices.Contains(g.srv.ListMembers(g.list), c.ID) {
		t.Fatalf("%s is not in the list (contact found: %v)", email, ok)
	}
}

// The contact creations of concurrent attempts go together in one batch create; each attempt
// reads its own input's fate. A conflict names the existing contact; a refused value fails
// that attempt alone, which then takes the lone path (and finds an existing contact anyway).
func TestContactCreatesAreBatched(t *testing.T) {
	t.Parallel()
	g := newCreateRig(t)
	old := g.srv.AddContact(map[string]string{"email": "old@example.com"})
	oldBad := g.srv.AddContact(map[string]string{"email": "old-bad@example.com"})

	var lead destination.Result
	g.hold(t, &lead)
	type attempt struct {
		email, plan string
		want        switchyard.Outcome
	}
	attempts := []attempt{
		{"new1@example.com", "pro", switchyard.OutcomeDelivered},
		{"new2@example.com", "", switchyard.OutcomeDelivered},
		{"old@example.com", "", switchyard.OutcomeDelivered},
		{"bad@example.com", "gold", switchyard.OutcomeValidationFailed},
		{"old-bad@example.com", "gold", switchyard.OutcomeDelivered},
		{"new3@example.com", "free", switchyard.OutcomeDelivered},
	}
	results := make([]destination.Result, len(attempts))
	for i, a := range attempts {
		g.deliver(t, a.email, a.plan, &results[i])
	}
	g.waiting(t, len(attempts))
	g.faults.Release()
	g.wg.Wait()

	expect(t, lead, switchyard.OutcomeDelivered)
	for i, a := range attempts {
		if results[i].Outcome != a.want {
			t.Fatalf("%s: outcome %q, want %q: %s", a.email, results[i].Outcome, a.want, results[i].Message)
		}
		if a.want == switchyard.OutcomeDelivered {
			g.inList(t, a.email)
		}
	}
	if n := count(g.srv, http.MethodPost, batchCreatePath); n != 1 {
		t.Fatalf("%d batch creates for %d waiting attempts, want 1", n, len(attempts))
	}
	// The lead's creation, then the lone creations of the two attempts whose value was refused.
	if n := g.faults.Requests(); n != 3 {
		t.Fatalf("%d lone creations, want 3 (the first attempt's, and the two refused values')", n)
	}
	batch := g.srv.RequestsTo(http.MethodPost, batchCreatePath)[0]
	var body struct {
		Inputs []struct {
			Properties map[string]string `json:"properties"`
			TraceID    string            `json:"objectWriteTraceId"`
		} `json:"inputs"`
	}
	if err := batch.JSON(&body); err != nil || len(body.Inputs) != len(attempts) {
		t.Fatalf("batch body %s (%v)", batch.Body, err)
	}
	for _, in := range body.Inputs {
		if in.TraceID == "" || in.Properties["email"] == "" {
			t.Fatalf("an input without trace id or email: %s", batch.Body)
		}
	}
	if c, _ := g.srv.Contact("new1@example.com"); c.Properties["plan"] != "pro" {
		t.Fatalf("the batch did not write the mapped fields: %+v", c)
	}
	for email, id := range map[string]string{"old@example.com": old, "old-bad@example.com": oldBad} {
		if c, _ := g.srv.Contact(email); c.ID != id {
			t.Fatalf("%s: a second contact %s was made (existing %s)", email, c.ID, id)
		}
	}
	i := slices.IndexFunc(attempts, func(a attempt) bool { return a.email == "old@example.com" })
	if !strings.Contains(results[i].Message, "contact "+old+" found") {
		t.Fatalf("the conflicting attempt's message: %q", results[i].Message)
	}
	if _, ok := g.srv.Contact("bad@example.com"); ok {
		t.Fatal("a contact was created with a refused value")
	}
	i = slices.IndexFunc(attempts, func(a attempt) bool { return a.email == "bad@example.com" })
	if !strings.Contains(results[i].Message, "INVALID_OPTION") {
		t.Fatalf("the refused value's message: %q", results[i].Message)
	}
}

// Two waiting attempts for one person do not share the batch: the second creates alone, and
// whichever creation comes second meets the 409 and uses the other's contact.
func TestBatchedCreatesOfOnePerson(t *testing.T) {
	t.Parallel()
	g := newCreateRig(t)
	var lead, a, b destination.Result
	g.hold(t, &lead)
	g.deliver(t, "twice@example.com", "", &a)
	g.waiting(t, 1)
	g.deliver(t, "TWICE@example.com", "", &b)
	testutil.Eventually(t, 10*time.Second, "the second attempt's lone creation", func() bool { return g.faults.Requests() == 2 })
	g.faults.Release()
	g.wg.Wait()
	expect(t, lead, switchyard.OutcomeDelivered)
	expect(t, a, switchyard.OutcomeDelivered)
	expect(t, b, switchyard.OutcomeDelivered)
	g.inList(t, "twice@example.com")
	n := 0
	for _, c := range g.srv.Contacts() {
		if c.Properties["email"] == "twice@example.com" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d contacts for one email", n)
	}
}

// A refusal of the whole batch that is not about its inputs is every waiting attempt's result;
// one about its inputs without saying which (400, 409) sends each down the lone path.
func TestBatchCreateRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		failure fake.Failure
		want    switchyard.Outcome
		lone    int // lone creations after the lead's
	}{
		{"429 rate limits every attempt", fake.Failure{Status: http.StatusTooManyRequests,
			Body:    `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","category":"RATE_LIMITS","policyName":"TEN_SECONDLY_ROLLING","correlationId":"c1"}`,
			Headers: map[string]string{"Content-Type": "application/json", "X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Max": "110", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}},
			switchyard.OutcomeRateLimited, 0},
		{"503 fails every attempt, retried", fake.Failure{Status: http.StatusServiceUnavailable, Body: `{"status":"error","message":"unavailable","correlationId":"c2"}`,
			Headers: map[string]string{"Content-Type": "application/json"}}, switchyard.OutcomeRejectedServerError, 0},
		{"400 for the batch: each attempt alone", fake.Failure{Status: http.StatusBadRequest,
			Body:    `{"status":"error","message":"Invalid input JSON","category":"VALIDATION_ERROR","correlationId":"c3"}`,
			Headers: map[string]string{"Content-Type": "application/json"}}, switchyard.OutcomeDelivered, 3},
		{"409 for the batch: each attempt alone", fake.Failure{Status: http.StatusConflict,
			Body:    `{"status":"error","message":"Contact already exists. Existing ID: 1","category":"CONFLICT","correlationId":"c4"}`,
			Headers: map[string]string{"Content-Type": "application/json"}}, switchyard.OutcomeDelivered, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newCreateRig(t)
			tc.failure.Method, tc.failure.PathPrefix = http.MethodPost, batchCreatePath
			g.srv.InjectFailure(1, tc.failure)
			var lead destination.Result
			g.hold(t, &lead)
			results := make([]destination.Result, 3)
			for i := range results {
				g.deliver(t, fmt.Sprintf("w%d@example.com", i), "", &results[i])
			}
			g.waiting(t, 3)
			g.faults.Release()
			g.wg.Wait()
			expect(t, lead, switchyard.OutcomeDelivered)
			for i, res := range results {
				expect(t, res, tc.want)
				if tc.want == switchyard.OutcomeRateLimited && (res.RateLimitScope != portal(g.srv) || res.RetryAfter <= 0) {
					t.Fatalf("attempt %d: scope %q, retry after %v", i, res.RateLimitScope, res.RetryAfter)
				}
				_, made := g.srv.Contact(fmt.Sprintf("w%d@example.com", i))
				if made != (tc.want == switchyard.OutcomeDelivered) {
					t.Fatalf("attempt %d: contact created %v, outcome %s", i, made, res.Outcome)
				}
			}
			if n := g.faults.Requests() - 1; n != tc.lone {
				t.Fatalf("%d lone creations after the batch, want %d", n, tc.lone)
			}
		})
	}
}

// A batch never holds more than HubSpot's 100 inputs: the attempts that find it full create
// their contacts alone.
func TestBatchCreateSizeLimit(t *testing.T) {
	t.Parallel()
	g := newCreateRig(t)
	var lead destination.Result
	g.hold(t, &lead)
	const n, over = fake.MaxBatchInputs, 5
	results := make([]destination.Result, n+over)
	for i := range n {
		g.deliver(t, fmt.Sprintf("b%d@example.com", i), "", &results[i])
	}
	g.waiting(t, n)
	for i := n; i < n+over; i++ {
		g.deliver(t, fmt.Sprintf("b%d@example.com", i), "", &results[i])
	}
	testutil.Eventually(t, 10*time.Second, "the lone creations of the attempts over the limit", func() bool {
		return g.faults.Requests() == 1+over
	})
	g.faults.Release()
	g.wg.Wait()
	expect(t, lead, switchyard.OutcomeDelivered)
	for i, res := range results {
		expect(t, res, switchyard.OutcomeDelivered)
		g.inList(t, fmt.Sprintf("b%d@example.com", i))
	}
	batches := g.srv.RequestsTo(http.MethodPost, batchCreatePath)
	if len(batches) != 1 {
		t.Fatalf("%d batch creates, want 1", len(batches))
	}
	var body struct {
		Inputs []any `json:"inputs"`
	}
	if err := batches[0].JSON(&body); err != nil || len(body.Inputs) != n {
		t.Fatalf("the batch holds %d inputs, want %d (%v)", len(body.Inputs), n, err)
	}
}

// On a busy connection (another attempt under way) with no creation under way, the first
// waiting attempt's batch gathers for a short window, so that attempts that do not overlap a
// call still share one.
func TestBusyConnectionGathersCreations(t *testing.T) {
	t.Parallel()
	g := newRig(t, func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/memberships/") })
	hubspot.SetBatchWindow(g.sender, 500*time.Millisecond)
	g.faults.Hang() // the first attempt stays under way, in its memberships call
	var first, a, b destination.Result
	g.deliver(t, "first@example.com", "", &first)
	testutil.Eventually(t, 10*time.Second, "the first attempt's memberships call", func() bool { return g.faults.Requests() == 1 })
	if n := count(g.srv, http.MethodPost, createPath); n != 1 {
		t.Fatalf("the attempt of an idle connection made %d lone creations, want 1", n)
	}
	start := time.Now()
	g.deliver(t, "a@example.com", "", &a)
	g.waiting(t, 1)
	g.deliver(t, "b@example.com", "pro", &b)
	g.waiting(t, 2)
	testutil.Eventually(t, 10*time.Second, "the batch create", func() bool { return count(g.srv, http.MethodPost, batchCreatePath) == 1 })
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Fatalf("the batch went after %v, before its window", waited)
	}
	g.faults.Release()
	g.wg.Wait()
	for _, res := range []destination.Result{first, a, b} {
		expect(t, res, switchyard.OutcomeDelivered)
	}
	for _, e := range []string{"first@example.com", "a@example.com", "b@example.com"} {
		g.inList(t, e)
	}
	if n := count(g.srv, http.MethodPost, createPath); n != 1 {
		t.Fatalf("%d lone creations, want 1 (the first attempt's)", n)
	}
	if c, _ := g.srv.Contact("b@example.com"); c.Properties["plan"] != "pro" {
		t.Fatalf("the batch did not write the mapped fields: %+v", c)
	}
}

// A batch's first attempt sends it; if that attempt ends while the batch gathers, the batch is
// still sent for the others.
func TestBatchOutlivesItsLeader(t *testing.T) {
	t.Parallel()
	g := newRig(t, func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/memberships/") })
	hubspot.SetBatchWindow(g.sender, 300*time.Millisecond)
	g.faults.Hang()
	var first, leader, other destination.Result
	g.deliver(t, "first@example.com", "", &first)
	testutil.Eventually(t, 10*time.Second, "the first attempt's memberships call", func() bool { return g.faults.Requests() == 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req := request(hubspot.ActionAddToList, map[string]any{hubspot.ParamID: g.list}, map[string]any{"email": "leader@example.com"})
	g.wg.Go(func() { leader = g.sender.Deliver(ctx, req) })
	g.waiting(t, 1)
	g.deliver(t, "other@example.com", "", &other)
	g.waiting(t, 2)
	testutil.Eventually(t, 10*time.Second, "the batch create", func() bool { return count(g.srv, http.MethodPost, batchCreatePath) == 1 })
	g.faults.Release()
	g.wg.Wait()
	expect(t, first, switchyard.OutcomeDelivered)
	expect(t, other, switchyard.OutcomeDelivered)
	expect(t, leader, switchyard.OutcomeTimeout)
	g.inList(t, "other@example.com")
	if _, ok := g.srv.Contact("leader@example.com"); !ok {
		t.Fatal("the batch did not create the leader's contact")
	}
}

// The other actions read their contact from the batch too: update_property's value is written
// by the batch create (no PATCH), remove_from_list takes an existing contact out of the list and
// skips a new one.
func TestBatchedCreatesServeEveryAction(t *testing.T) {
	t.Parallel()
	g := newCreateRig(t)
	member := g.srv.AddContact(map[string]string{"email": "member@example.com"})
	g.srv.AddListMembers(g.list, member)
	var lead, set, removed, removedNew destination.Result
	g.hold(t, &lead)
	do := func(req *destination.Request, out *destination.Result) {
		g.wg.Go(func() { *out = g.sender.Deliver(t.Context(), req) })
	}
	do(request(hubspot.ActionUpdateProperty, map[string]any{hubspot.ParamID: "plan", hubspot.ParamValue: "pro"},
		map[string]any{"email": "set@example.com"}), &set)
	do(request(hubspot.ActionRemoveFromList, map[string]any{hubspot.ParamID: g.list}, map[string]any{"email": "member@example.com"}), &removed)
	do(request(hubspot.ActionRemoveFromList, map[string]any{hubspot.ParamID: g.list}, map[string]any{"email": "new@example.com"}), &removedNew)
	g.waiting(t, 3)
	g.faults.Release()
	g.wg.Wait()
	for _, res := range []destination.Result{lead, set, removed, removedNew} {
		expect(t, res, switchyard.OutcomeDelivered)
	}
	c, _ := g.srv.Contact("set@example.com")
	if c.Properties["plan"] != "pro" {
		t.Fatalf("update_property's value was not written by the batch: %+v", c)
	}
	if n := count(g.srv, http.MethodPatch, createPath+"/"+c.ID); n != 0 {
		t.Fatalf("%d PATCH calls for a contact created with its property", n)
	}
	if slices.Contains(g.srv.ListMembers(g.list), member) || !strings.Contains(removed.Message, "removed from list") {
		t.Fatalf("the existing contact is still in the list: %q", removed.Message)
	}
	if !strings.Contains(removedNew.Message, "a new contact is in no list") {
		t.Fatalf("the new contact's removal: %q", removedNew.Message)
	}
	if n := count(g.srv, http.MethodPost, batchCreatePath); n != 1 {
		t.Fatalf("%d batch creates, want 1", n)
	}
}
