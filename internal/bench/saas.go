package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/config"
	hubspotfake "github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
)

// The SaaS scenario (saas): events delivered to a SaaS integration — HubSpot's add_to_list,
// against the in-process HubSpot fake (internal/providerfake/hubspot) — measured like
// e2e-throughput and reported beside it, with the fake's own capacity for the same calls.
//
// The fake listens on 127.0.0.1 only. Switchyard reaches it through a tap (hubspotTap): a
// loopback HTTP server in front of the fake's handler that counts the calls by kind and records,
// for every membership the fake accepts, when it arrived, under the event's tracking id, in the
// rig's receiver, so that the delivery statistics of the webhook scenarios apply unchanged. A
// delivery is the PUT …/memberships/add that puts the event's contact in the list.

// saasContactProperty is the custom number property of the fake portal the mapping's to_number
// field writes (the fake's built-in number properties are read-only).
const saasContactProperty = "seats"

// saasClientID and saasClientSecret are the fake HubSpot app's credentials, configured in
// Switchyard as the HubSpot OAuth app.
const (
	saasClientID     = "switchyard-bench"
	saasClientSecret = "switchyard-bench-secret"
)

// saasMapping is the connections' stored default mapping: the email trimmed and lower-cased,
// two names renamed, and a number converted with to_number.
var saasMapping = map[string]any{"schema_version": 1, "fields": []any{
	map[string]any{"dest": "email", "source": map[string]any{"type": "path", "value": "email"},
		"transforms": []any{map[string]any{"type": "trim"}, map[string]any{"type": "lower"}}},
	map[string]any{"dest": "firstname", "source": map[string]any{"type": "path", "value": "first_name"}},
	map[string]any{"dest": "lastname", "source": map[string]any{"type": "path", "value": "last_name"}},
	map[string]any{"dest": saasContactProperty, "source": map[string]any{"type": "path", "value": "plan.seats"},
		"transforms": []any{map[string]any{"type": "to_number"}}, "on_error": "fail_action"},
}}

// callKind is a kind of call to the fake.
type callKind int

const (
	callLookup      callKind = iota // GET /crm/v3/objects/contacts/{email}?idProperty=email
	callCreate                      // POST /crm/v3/objects/contacts
	callBatchCreate                 // POST /crm/v3/objects/contacts/batch/create
	callAdd                         // PUT /crm/v3/lists/{id}/memberships/add
	callList                        // GET /crm/v3/lists/{id}
	callOAuth                       // /oauth/… (authorize, token, token info)
	callOther
	callKinds
)

func kindOf(method, path string) callKind {
	switch {
	case strings.HasPrefix(path, "/oauth/"):
		return callOAuth
	case method == http.MethodGet && strings.HasPrefix(path, "/crm/v3/objects/contacts/"):
		return callLookup
	case method == http.MethodPost && path == "/crm/v3/objects/contacts":
		return callCreate
	case method == http.MethodPost && path == "/crm/v3/objects/contacts/batch/create":
		return callBatchCreate
	case method == http.MethodPut && strings.HasPrefix(path, "/crm/v3/lists/") && strings.HasSuffix(path, "/memberships/add"):
		return callAdd
	case method == http.MethodGet && strings.HasPrefix(path, "/crm/v3/lists/"):
		return callList
	}
	return callOther
}

// hubspotTap serves the fake's handler on its own loopback listener, counting the calls and
// recording the deliveries (see the top of this file).
type hubspotTap struct {
	fake  *hubspotfake.Server
	clock *clock
	srv   *http.Server
	url   string
	// recv receives the deliveries (nil: not recorded).
	recv  atomic.Pointer[receiver]
	calls [callKinds]atomic.Int64
	// failed counts answers other than 2xx (and the lookups' 404s, which are expected, apart).
	failed, notFound atomic.Int64
	// slots, when set (before recv), gets one value taken out per delivery recorded: the load's
	// bound on undelivered events.
	slots chan struct{}
}

// startHubSpotFake starts a fake HubSpot portal (no rate limits, one MANUAL list, a custom number
// property) behind a tap on 127.0.0.1, and returns the tap and the list id.
func startHubSpotFake(c *clock) (*hubspotTap, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("starting the HubSpot fake's tap: %w", err)
	}
	fake := hubspotfake.New(nil, hubspotfake.Options{ClientID: saasClientID, ClientSecret: saasClientSecret,
		RateLimitMax: -1, SearchPerSecond: -1, DailyLimit: -1})
	fake.AddProperty(hubspotfake.Property{Name: saasContactProperty, Label: "Seats", Type: "number", FieldType: "number"})
	list := fake.AddList("Bench signups", hubspotfake.ListManual)
	fake.AddList("Bench smart list", hubspotfake.ListDynamic)
	t := &hubspotTap{fake: fake, clock: c, url: "http://" + ln.Addr().String()}
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go side("provider", func() { _ = t.srv.Serve(ln) })
	return t, list, nil
}

// close stops the tap and the fake.
func (t *hubspotTap) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.srv.Shutdown(ctx); err != nil {
		_ = t.srv.Close()
	}
	t.fake.Close()
}

// configure points Switchyard's HubSpot app at the tap, with the per-portal spacing lifted
// (rate_limit=0): the integration's documented 3 attempts/s per portal would be all a load test
// measured.
func (t *hubspotTap) configure(cfg *config.Config) {
	cfg.OAuthApps = []string{"hubspot.client_id=" + saasClientID, "hubspot.client_secret=" + saasClientSecret,
		"hubspot.auth_url=" + t.url + "/oauth/authorize", "hubspot.token_url=" + t.url + "/oauth/v1/token",
		"hubspot.api_base=" + t.url, "hubspot.rate_limit=0"}
}

// counts returns the calls made so far, by kind.
func (t *hubspotTap) counts() [callKinds]int64 {
	var out [callKinds]int64
	for i := range out {
		out[i] = t.calls[i].Load()
	}
	return out
}

// statusWriter passes an answer through, keeping its status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP passes the call to the fake and counts it. A membership the fake accepts is recorded
// as the delivery of each contact it names, under the tracking id of the contact's email (read
// from the fake's state, so that the tap parses no answer: its cost is the bench's, not the
// integration's).
func (t *hubspotTap) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	kind := kindOf(req.Method, req.URL.Path)
	t.calls[kind].Add(1)
	recv := t.recv.Load()
	sw := &statusWriter{ResponseWriter: w}
	if recv == nil || kind != callAdd {
		t.fake.ServeHTTP(sw, req)
		t.count(kind, sw.status)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	at := t.clock.now()
	t.fake.ServeHTTP(sw, req)
	t.count(kind, sw.status)
	if sw.status/100 != 2 {
		return
	}
	var ids []string
	if json.Unmarshal(body, &ids) != nil {
		return
	}
	for _, id := range ids {
		if email, ok := t.fake.ContactEmail(id); ok {
			recv.record(emailID(email), at)
			t.release()
		}
	}
}

// release frees a slot of the load's bound on undelivered events.
func (t *hubspotTap) release() {
	if t.slots != nil {
		select {
		case <-t.slots:
		default:
		}
	}
}

func (t *hubspotTap) count(kind callKind, status int) {
	switch {
	case status/100 == 2 || status/100 == 3:
	case kind == callLookup && status == http.StatusNotFound:
		t.notFound.Add(1)
	default:
		t.failed.Add(1)
	}
}

// saasNamespace derives the tracking id of an event from its person's email.
var saasNamespace = uuid.MustParse("6c0f3a5e-2f0b-4d52-9a57-8b1c2d3e4f50")

// emailID is the tracking id of the event whose person has this email: the tap records the
// delivery under it, the load tracks the event under it.
func emailID(email string) uuid.UUID { return uuid.NewSHA1(saasNamespace, []byte(email)) }

// saasEmail is the distinct email of event n.
func saasEmail(n uint64) string { return "signup" + strconv.FormatUint(n, 10) + "@bench.example.com" }

// saasBody is event n: the event name, and a payload of about 200 bytes with the person.
func saasBody(event string, n uint64) []byte {
	b := []byte(`{"event":`)
	b = strconv.AppendQuote(b, event)
	b = fmt.Appendf(b, `,"resource":"user","resource_id":"usr_%d","payload":{"email":"%s","first_name":"Ada","last_name":"Lovelace",`+
		`"plan":{"name":"pro","seats":"%d"},"source":"switchyard-bench","note":"`, n, saasEmail(n), n%50+1)
	return append(b, strings.Repeat("x", 60)+`"}}`...)
}

// saas measures deliveries per second to HubSpot (add_to_list on a MANUAL list, through the fake)
// exactly as e2e-throughput measures webhooks, beside the webhook figure of the same run (measured
// here first when e2e-throughput is not selected), and the fake's own capacity for the same calls.
func (r *runner) saas(ctx context.Context) ([]Result, error) {
	var out []Result
	if r.webhookE2E == 0 {
		res, err := r.e2eThroughput(ctx)
		out = append(out, res...)
		if err != nil {
			return out, err
		}
	}
	var used int64
	res, err := r.measure(ctx, ScenarioSaaS, func() (Result, error) {
		tap, list, err := startHubSpotFake(r.clock)
		if err != nil {
			return Result{}, err
		}
		defer tap.close()
		return r.withConfiguredRig(ctx, ScenarioSaaS, tap.configure, func(g *rig) (Result, error) {
			res, n, err := r.saasRun(ctx, g, tap, list)
			used = n
			return res, err
		})
	})
	if err != nil {
		return out, err
	}
	lim, err := r.measure(ctx, "limits-hubspot-fake", func() (Result, error) { return r.measureFakeLimit(ctx, used) })
	if err != nil {
		return out, err
	}
	delivered, _ := res.metric("delivered")
	res.add("vs webhook e2e", ratio(delivered, r.webhookE2E), "×")
	fakeRate, _ := lim.metric("deliveries")
	res.add("of the fake's capacity", 100*ratio(delivered, fakeRate), "%")
	for _, name := range []string{"errors", "process CPU", "postgres CPU", "other CPU", "attempts"} {
		res.moveLast(name)
	}
	return append(out, res, lim), nil
}

// saasRun sets up one rig (connections made through the OAuth flow, their mappings, the rules)
// and measures it. It also returns how many contacts the fake holds at the end, for the fake's
// limit.
func (r *runner) saasRun(ctx context.Context, g *rig, tap *hubspotTap, list string) (Result, int64, error) {
	conns := r.e2eConnections()
	name := func(i uint64) string { return fmt.Sprintf("bench.saas.%d", i%uint64(conns)) }
	for i := range conns {
		id, err := g.in.oauthConnect(ctx, "hubspot", fmt.Sprintf("Bench HubSpot %d", i))
		if err != nil {
			return Result{}, 0, err
		}
		if err := g.in.api(ctx, http.MethodPut, "/api/v1/connections/"+id+"/mappings/default",
			map[string]any{"schema": saasMapping}, nil); err != nil {
			return Result{}, 0, fmt.Errorf("saving the mapping: %w", err)
		}
		if err := g.in.ruleWith(ctx, id, name(uint64(i)), map[string]any{"action": "add_to_list", "id": list}); err != nil {
			return Result{}, 0, err
		}
	}
	tap.slots = make(chan struct{}, r.opts.Workers)
	tap.recv.Store(g.recv)
	var (
		seq                    atomic.Uint64
		before                 [callKinds]int64
		receiptsBefore, failed int64
		contactsBefore         int
	)
	// The fake delivers far slower than Switchyard ingests: unbounded, the closed loop would
	// queue tens of thousands of events in 10 s and the phase would measure a long drain against
	// a fake that slows down with every contact it holds. Each client therefore waits while more
	// than backlog events are accepted but not delivered — enough to keep every worker busy. A
	// client takes a slot before it sends, and the tap frees one per delivery (a refused event
	// frees its own): the clients sleep until then instead of polling, which cost the process
	// more CPU than the webhook scenario's clients (which never wait) spend.
	backlog := int64(r.opts.Workers)
	send := func(ctx context.Context, _ uint64, buf *bytes.Buffer) outcome {
		select {
		case tap.slots <- struct{}{}:
		case <-ctx.Done():
			return outcome{err: ctx.Err()}
		}
		n := seq.Add(1)
		o := r.post(ctx, g.in.eventsURL(), g.in.pubKey, saasBody(name(n), n), buf, 1, false)
		if o.err == nil {
			o.id = emailID(saasEmail(n))
		} else {
			tap.release()
		}
		return o
	}
	st, lr, cpu, err := r.deliveryLoadOf(ctx, g, ScenarioSaaS, r.opts.Concurrency, send, 1, r.deliveryBudget(), func() {
		before, receiptsBefore, failed, contactsBefore = tap.counts(), g.recv.total.Load(), tap.failed.Load(), tap.fake.ContactCount()
	})
	if err != nil {
		return Result{}, 0, err
	}
	// Every membership the fake accepted from the warm-up's drain on: the tracked events', and
	// those of the requests still in flight when the measured phase ended (not tracked, but their
	// calls are counted too).
	waitTotal(ctx, g.recv, int64(seq.Load())-int64(lr.errors), min(r.opts.DrainTimeout, 5*time.Second))
	after, receipts, contacts := tap.counts(), g.recv.total.Load()-receiptsBefore, tap.fake.ContactCount()-contactsBefore
	out := Result{Scenario: ScenarioSaaS, Variant: "hubspot",
		Setup: fmt.Sprintf("POST /api/v1/events, %d clients closed loop (waiting while > %d events are undelivered), distinct emails; %d HubSpot connections made through the OAuth flow, "+
			"each with a stored mapping (email trim+lower, first_name→firstname, last_name→lastname, plan.seats to_number→%s) "+
			"and 1 rule add_to_list on a MANUAL list of the HubSpot fake (127.0.0.1, rate limits off, hubspot.rate_limit=0); "+
			"delivered = the fake accepted the membership; sent for %s (budget %d events), then drained",
			r.opts.Concurrency, backlog, conns, saasContactProperty, lr.window().Round(time.Millisecond), r.deliveryBudget()),
		Errors: lr.errorCounts()}
	r.deliveryMetrics(&out, &lr, &st, cpu)
	l := summarize(st.latencies)
	out.add("first delivery p95", ms(l.P95), "ms")
	out.moveLast("errors")
	if receipts > 0 {
		per := func(k callKind) float64 { return float64(after[k]-before[k]) / float64(receipts) }
		total := 0.0
		for _, k := range []callKind{callLookup, callCreate, callBatchCreate, callAdd, callList, callOther} {
			total += per(k)
		}
		out.add("provider calls per delivery", total, "calls")
		out.add("GET contact per delivery", per(callLookup), "calls")
		out.add("POST contact per delivery", per(callCreate), "calls")
		out.add("POST batch create per delivery", per(callBatchCreate), "calls")
		if n := after[callBatchCreate] - before[callBatchCreate]; n > 0 {
			// Every email is new and every call succeeded (provider errors below): the contacts
			// not created by a lone POST were created by the batches.
			lone := after[callCreate] - before[callCreate]
			out.add("contacts per batch create", float64(int64(contacts)-lone)/float64(n), "contacts")
		}
		out.add("PUT membership per delivery", per(callAdd), "calls")
		out.add("token calls", float64(after[callOAuth]-before[callOAuth]), "count")
	}
	out.add("provider errors", float64(tap.failed.Load()-failed), "count")
	return out, int64(seq.Load()), nil
}

// measureFakeLimit drives the HubSpot fake (a fresh one, behind the same tap, recording as in the
// scenario) with the calls the integration makes for a new contact — POST it, PUT it in the
// MANUAL list — for distinct emails, closed loop with the bench's client and concurrency, without
// Switchyard. The measured phase stops at contacts new contacts (the scenario's count; 0:
// limitWindow only), so that both measure a fake holding as many contacts.
func (r *runner) measureFakeLimit(ctx context.Context, contacts int64) (Result, error) {
	tap, list, err := startHubSpotFake(r.clock)
	if err != nil {
		return Result{}, err
	}
	defer tap.close()
	recv := newReceiver(r.clock)
	defer recv.close()
	tap.recv.Store(recv)
	token := "Bearer " + tap.fake.IssueToken().AccessToken
	var seq atomic.Uint64
	call := func(ctx context.Context, method, path string, body []byte, want int, buf *bytes.Buffer) error {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, tap.url+path, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", token)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return err
		}
		buf.Reset()
		_, err = buf.ReadFrom(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != want {
			return &httpError{status: resp.StatusCode, body: truncateBytes(buf.Bytes(), 200)}
		}
		return nil
	}
	send := func(ctx context.Context, _ uint64, buf *bytes.Buffer) outcome {
		o := outcome{start: r.clock.now()}
		n := seq.Add(1)
		email := saasEmail(n)
		body := fmt.Appendf(nil, `{"properties":{"email":"%s","firstname":"Ada","lastname":"Lovelace","%s":"%d"}}`,
			email, saasContactProperty, n%50+1)
		o.err = call(ctx, http.MethodPost, "/crm/v3/objects/contacts", body, http.StatusCreated, buf)
		if o.err == nil {
			var ct struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(buf.Bytes(), &ct); err != nil || ct.ID == "" {
				o.err = errors.New("the fake's answer to POST names no contact id")
			} else {
				o.err = call(ctx, http.MethodPut, "/crm/v3/lists/"+list+"/memberships/add", []byte(`["`+ct.ID+`"]`), http.StatusOK, buf)
			}
		}
		o.end = r.clock.now()
		if o.err == nil {
			o.events = 1
		}
		return o
	}
	m := r.newMeter("limits hubspot-fake", recv)
	defer m.done()
	warm := min(r.opts.Warmup, time.Second)
	load := &closedLoad{workers: r.opts.Concurrency, warmup: warm, duration: min(r.opts.Duration, limitWindow), send: send}
	if contacts > 0 {
		// The scenario's contacts, warm-up included, bound the whole limit run: the measured
		// phase ends when the fake holds as many as the scenario left it with.
		load.duration = r.opts.Duration + r.opts.DrainTimeout
		load.budget = contacts
	}
	var sp *span
	load.onMeasure = func() {
		sp = r.startCPU()
		if contacts > 0 {
			load.budget = max(1, contacts-int64(seq.Load()))
		}
	}
	res := load.run(ctx, r.clock, m.meter)
	cpu := sp.use()
	out := Result{Scenario: "limits", Variant: "hubspot-fake",
		Setup: fmt.Sprintf("the HubSpot fake behind the same tap, without Switchyard: per delivery "+
			"POST contact (201), PUT list membership (200), distinct emails; %d clients closed loop; %s window, %d contacts at the end",
			r.opts.Concurrency, res.window().Round(time.Millisecond), seq.Load()),
		Errors: res.errorCounts()}
	out.add("requests", 2*perSecond(res.events, res.window()), "req/s")
	out.add("deliveries", perSecond(res.events, res.window()), "deliveries/s")
	l := summarize(res.latencies)
	out.add("delivery p50", ms(l.P50), "ms")
	out.add("delivery p99", ms(l.P99), "ms")
	out.add("errors", float64(res.errors), "count")
	out.addCPU(cpu)
	return out, ctx.Err()
}

func truncateBytes(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
