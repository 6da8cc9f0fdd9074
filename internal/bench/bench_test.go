package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

func TestPercentileUsesNearestRank(t *testing.T) {
	t.Parallel()
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"no values give zero", nil, 50, 0},
		{"one value is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100 is 50", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100 is 99", hundred, 99, 99 * time.Millisecond},
		{"p100 is the maximum", hundred, 100, 100 * time.Millisecond},
		{"p0 is the minimum", hundred, 0, time.Millisecond},
		{"p50 of four rounds up the rank", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p95 of four is the largest", ms(1, 2, 3, 4), 95, 4 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Fatalf("percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarizeSortsAndReportsMax(t *testing.T) {
	t.Parallel()
	l := summarize([]time.Duration{5, 1, 4, 2, 3})
	if l.N != 5 || l.P50 != 3 || l.Max != 5 || l.P99 != 5 {
		t.Fatalf("summarize = %+v", l)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	in := []float64{3, 1, 2}
	if got := median(in); got != 2 {
		t.Fatalf("median of 3 values = %v, want 2", got)
	}
	if in[0] != 3 {
		t.Fatal("median reordered its input")
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Fatalf("median of 4 values = %v, want 2.5", got)
	}
	if got := median(nil); got != 0 {
		t.Fatalf("median of none = %v", got)
	}
}

func TestFormatValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{1234567, "events/s", "1,234,567"},
		{999.6, "events/s", "1,000"},
		{123.4, "ms", "123"},
		{12.34, "ms", "12.3"},
		{1.234, "ms", "1.23"},
		{42, "count", "42"},
		{-4321, "count", "-4,321"},
	} {
		if got := formatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("formatValue(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestReportGivesMediansTargetsAndSetup(t *testing.T) {
	t.Parallel()
	run := func(n int, accepted, p99 float64) RunResult {
		return RunResult{Run: n, Results: []Result{
			{Scenario: ScenarioIngestSingle, Setup: "64 clients", Metrics: []Metric{{"accepted", accepted, "events/s"}}},
			{Scenario: ScenarioE2ELatency, Setup: "open loop", Metrics: []Metric{{"p99", p99, "ms"}},
				Errors: []ErrorCount{{Message: "HTTP 500: boom", Count: 2}}},
		}}
	}
	runs := []RunResult{run(1, 6000, 80), run(2, 4000, 20), run(3, 5500, 40)}

	sum := summarizeRuns(runs, "sqlite")
	if len(sum) != 2 {
		t.Fatalf("summary has %d rows, want 2: %+v", len(sum), sum)
	}
	if sum[0].Median != 5500 || sum[0].Met == nil || !*sum[0].Met || sum[0].Target != "≥ 5,000" {
		t.Fatalf("ingest summary = %+v", sum[0])
	}
	if sum[1].Median != 40 || sum[1].Met == nil || !*sum[1].Met || sum[1].Target != "≤ 50.0" {
		t.Fatalf("latency summary = %+v", sum[1])
	}
	if pg := summarizeRuns(runs, "postgres"); pg[0].Target != "" || pg[0].Met != nil {
		t.Fatalf("PostgreSQL has no targets, got %+v", pg[0])
	}

	rep := &Report{Settings: Settings{Store: "sqlite", Runs: 3}, Runs: runs, Summary: sum}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ingest-single", "5,500", "6,000 4,000 5,500", "≥ 5,000 ok", "64 clients",
		"run 1 e2e-latency : 2 × HTTP 500: boom"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Summary) != 2 || back.Summary[0].Median != 5500 {
		t.Fatalf("JSON round trip: %v %+v", err, back.Summary)
	}
}

func TestEnvelopeIDPrefersTheEnvelopeThenTheHeader(t *testing.T) {
	t.Parallel()
	id, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	h := http.Header{"X-Meshes-Event-Id": {other.String()}}
	if got, ok := envelopeID([]byte(`{"uuid":"`+id.String()+`","event":"x"}`), h); !ok || got != id {
		t.Fatalf("from the envelope: %v %v", got, ok)
	}
	if got, ok := envelopeID([]byte(`{"raw":true}`), h); !ok || got != other {
		t.Fatalf("from the header: %v %v", got, ok)
	}
	if _, ok := envelopeID([]byte(`{}`), http.Header{}); ok {
		t.Fatal("found an id in nothing")
	}
	if got := answerID([]byte(`{"event":{"id":"` + id.String() + `","type":"event"}}`)); got != id {
		t.Fatalf("answerID = %v", got)
	}
}

func TestProfilePathsPerPhase(t *testing.T) {
	t.Parallel()
	one := newProfiler("cpu.pprof", "", false)
	if got := one.path("cpu.pprof", "ingest-single-r1", ""); got != "cpu.pprof" {
		t.Fatalf("single phase: %s", got)
	}
	many := newProfiler("out/cpu.pprof", "", true)
	if got := many.path("out/cpu.pprof", "fanout-10-r2", ".base"); got != filepath.Join("out", "cpu-fanout-10-r2.base.pprof") {
		t.Fatalf("several phases: %s", got)
	}
}

func TestEventBodiesAreValidJSONOfTheIntendedSize(t *testing.T) {
	t.Parallel()
	if n := len(eventPayload(12345)); n < 190 || n > 220 {
		t.Fatalf("payload is %d bytes, want about 200", n)
	}
	for _, b := range append(eventBodies("a.b", 3), bulkBodies("a.b", 2, 100)...) {
		if !json.Valid(b) {
			t.Fatalf("invalid body %s", b)
		}
	}
	var bulk []map[string]any
	if err := json.Unmarshal(bulkBodies("a.b", 1, 100)[0], &bulk); err != nil || len(bulk) != 100 {
		t.Fatalf("bulk body: %v, %d events", err, len(bulk))
	}
}

// TestRunMeasuresIngestAndLatencyEndToEnd runs three scenarios for a fraction of a second on
// SQLite: the whole path (server, API setup, load, receiver, tracking, report) must work.
func TestRunMeasuresIngestAndLatencyEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts servers and drives load for a few seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	rep, err := Run(ctx, Options{Scenarios: []string{ScenarioIngestSingle, ScenarioIngestDelivering, ScenarioE2ELatency, ScenarioBacklog},
		Duration: 500 * time.Millisecond, Warmup: 200 * time.Millisecond, Concurrency: 8, Rate: 200, Backlog: 450, DrainTimeout: 20 * time.Second,
		CPUProfile: filepath.Join(dir, "cpu.pprof")})
	if err != nil {
		t.Fatal(err)
	}
	get := medianOf(t, rep)
	if v := get(ScenarioLimits, "http", "requests"); v <= 0 {
		t.Errorf("HTTP limit = %v", v)
	}
	if v := get(ScenarioLimits, "store-insert", "rows"); v <= 0 {
		t.Errorf("store limit = %v", v)
	}
	if v := get(ScenarioIngestSingle, "", "accepted"); v <= 0 {
		t.Errorf("ingest-single accepted = %v", v)
	}
	if v := get(ScenarioIngestSingle, "", "errors"); v != 0 {
		t.Errorf("ingest-single errors = %v", v)
	}
	// ingest-delivering: events accepted while the one connection delivers them, and then every
	// one of them delivered.
	if accepted, during := get(ScenarioIngestDelivering, "", "accepted"), get(ScenarioIngestDelivering, "", "delivered during load"); accepted <= 0 || during <= 0 {
		t.Errorf("ingest-delivering accepted %v/s, delivered during load %v/s", accepted, during)
	} else if kept := get(ScenarioIngestDelivering, "", "deliveries kept up"); math.Abs(kept-100*during/accepted) > 0.01 {
		t.Errorf("ingest-delivering: deliveries kept up %v %%, want %v %%", kept, 100*during/accepted)
	}
	if v, errs := get(ScenarioIngestDelivering, "", "undelivered"), get(ScenarioIngestDelivering, "", "errors"); v != 0 || errs != 0 {
		t.Errorf("ingest-delivering undelivered %v, errors %v", v, errs)
	}
	accepted, delivered := get(ScenarioE2ELatency, "", "accepted"), get(ScenarioE2ELatency, "", "delivered")
	if accepted < 50 || delivered != accepted {
		t.Errorf("e2e-latency accepted %v, delivered %v: want every accepted event delivered", accepted, delivered)
	}
	if p50, p99 := get(ScenarioE2ELatency, "", "p50"), get(ScenarioE2ELatency, "", "p99"); p50 <= 0 || p99 < p50 {
		t.Errorf("e2e-latency p50 %v, p99 %v", p50, p99)
	}
	// 450 rounds up to five requests of 100.
	if accepted, delivered := get(ScenarioBacklog, "", "accepted"), get(ScenarioBacklog, "", "undelivered"); accepted != 500 || delivered != 0 {
		t.Errorf("backlog accepted %v, undelivered %v: want 500 accepted, all delivered", accepted, delivered)
	}
	if v := get(ScenarioBacklog, "", "delivered"); v <= 0 {
		t.Errorf("backlog rate = %v deliveries/s", v)
	}
	if v := get(ScenarioBacklog, "", "errors"); v != 0 {
		t.Errorf("backlog errors = %v", v)
	}
	if len(rep.Profiles) != 4 {
		t.Errorf("profiles written: %v, want one per measured phase", rep.Profiles)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "e2e-latency") {
		t.Fatalf("table: %v\n%s", err, table.String())
	}
}

func TestMoveLastKeepsTheOthersInOrder(t *testing.T) {
	t.Parallel()
	r := Result{Metrics: []Metric{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	r.moveLast("a")
	r.moveLast("missing")
	var got []string
	for _, m := range r.Metrics {
		got = append(got, m.Name)
	}
	if strings.Join(got, ",") != "b,c,a" {
		t.Fatalf("order %v", got)
	}
}

// TestRunMeasuresSaaSBesideWebhooks runs the saas scenario for a fraction of a second on SQLite:
// connections made through the OAuth flow against the HubSpot fake, a few hundred events with
// distinct emails, every one of them in the fake's list, the figure reported beside the webhook
// baseline of the same run and the fake's own capacity.
func TestRunMeasuresSaaSBesideWebhooks(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts servers and drives load for several seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Scenarios: []string{ScenarioSaaS}, Duration: time.Second,
		Warmup: 100 * time.Millisecond, Concurrency: 8, Workers: 32, DrainTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	get := medianOf(t, rep)
	delivered, deliveries := get(ScenarioSaaS, "hubspot", "delivered"), get(ScenarioSaaS, "hubspot", "deliveries")
	// A few hundred on an idle machine; far fewer under the race detector on a busy one.
	if delivered <= 0 || deliveries < 10 {
		t.Errorf("saas delivered %v/s, %v deliveries", delivered, deliveries)
	}
	for _, name := range []string{"undelivered", "duplicates", "errors", "provider errors"} {
		if v := get(ScenarioSaaS, "hubspot", name); v != 0 {
			t.Errorf("saas %s = %v, want 0", name, v)
		}
	}
	// Each delivery creates its (new) contact, alone (one POST) or in a batch create shared with
	// the connection's concurrent deliveries, and the list memberships of concurrent deliveries
	// share calls too: at most two calls per delivery, and one creation per contact.
	if calls := get(ScenarioSaaS, "hubspot", "provider calls per delivery"); calls <= 0 || calls > 2.05 {
		t.Errorf("provider calls per delivery = %v, want at most 2", calls)
	}
	created := get(ScenarioSaaS, "hubspot", "POST contact per delivery")
	if batches := get(ScenarioSaaS, "hubspot", "POST batch create per delivery"); batches > 0 {
		created += batches * get(ScenarioSaaS, "hubspot", "contacts per batch create")
	}
	// The ratios are counted over the measured window: a batch that straddles its edge counts
	// some contacts on one side and their deliveries on the other, so allow a few percent (the
	// exact checks are the zero undelivered and duplicates above).
	if created < 0.95 || created > 1.05 {
		t.Errorf("contacts created per delivery = %v, want 1", created)
	}
	webhook := get(ScenarioE2EThroughput, "", "delivered")
	if v := get(ScenarioSaaS, "hubspot", "vs webhook e2e"); webhook <= 0 || v <= 0 || math.Abs(v-delivered/webhook) > 1e-9 {
		t.Errorf("vs webhook e2e = %v, want %v / %v", v, delivered, webhook)
	}
	if v := get(ScenarioLimits, "hubspot-fake", "deliveries"); v <= 0 {
		t.Errorf("the fake's capacity = %v", v)
	}
	if v := get(ScenarioSaaS, "hubspot", "of the fake's capacity"); v <= 0 {
		t.Errorf("share of the fake's capacity = %v", v)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "vs webhook e2e") {
		t.Fatalf("table: %v\n%s", err, table.String())
	}
}

// The bench on PostgreSQL: a throwaway database with a schema per store, statistics gathered
// after each delivery scenario's warm-up (instance.analyze), the server's CPU measured, and the
// database dropped at the end. The pool parameters on the URL keep the stores small, beside the
// other suites on the same server.
func TestRunOnPostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts servers and drives load for a few seconds")
	}
	if len(storetest.Dialects(t)) < 2 { // fails instead where CI requires PostgreSQL
		t.Skip("TEST_DATABASE_URL is not set")
	}
	base := os.Getenv("TEST_DATABASE_URL")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	benchDatabases := func() map[string]bool {
		t.Helper()
		rows, err := admin.QueryContext(context.Background(), `SELECT datname FROM pg_database WHERE datname LIKE 'switchyard\_bench\_%'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		names := map[string]bool{}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names[n] = true
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return names
	}
	before := benchDatabases()

	adminURL := storetest.WithParams(t, base, url.Values{"pool_max_conns": {"4"}, "pool_min_conns": {"1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Scenarios: []string{ScenarioIngestDelivering, ScenarioBacklog, ScenarioE2ELatency}, DatabaseURL: adminURL,
		Duration: 500 * time.Millisecond, Warmup: 200 * time.Millisecond, Concurrency: 8, Rate: 200, Backlog: 300, DrainTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	get := medianOf(t, rep)
	if v := get(ScenarioLimits, "store-insert", "rows"); v <= 0 {
		t.Errorf("store limit = %v rows/s", v)
	}
	for _, res := range rep.Runs[0].Results {
		if res.Scenario == ScenarioLimits && res.Variant == "store-insert" && !strings.Contains(res.Setup, "4 writer(s)") {
			t.Errorf("the raw limit's writers do not follow pool_max_conns: %s", res.Setup)
		}
	}
	if accepted, undelivered, errs := get(ScenarioIngestDelivering, "", "accepted"), get(ScenarioIngestDelivering, "", "undelivered"),
		get(ScenarioIngestDelivering, "", "errors"); accepted <= 0 || undelivered != 0 || errs != 0 {
		t.Errorf("ingest-delivering: accepted %v/s, undelivered %v, errors %v", accepted, undelivered, errs)
	}
	if v := get(ScenarioIngestDelivering, "", "postgres CPU"); v <= 0 {
		t.Errorf("ingest-delivering: postgres CPU %v cores, want the server's backends measured", v)
	}
	if accepted, undelivered := get(ScenarioBacklog, "", "accepted"), get(ScenarioBacklog, "", "undelivered"); accepted != 300 || undelivered != 0 {
		t.Errorf("backlog accepted %v, undelivered %v: want 300 accepted, all delivered", accepted, undelivered)
	}
	if accepted, delivered := get(ScenarioE2ELatency, "", "accepted"), get(ScenarioE2ELatency, "", "delivered"); accepted < 50 || delivered != accepted {
		t.Errorf("e2e-latency accepted %v, delivered %v: want every accepted event delivered", accepted, delivered)
	}
	for name := range benchDatabases() {
		if !before[name] {
			t.Errorf("database %s is left behind", name)
		}
	}
}

// A pool size the store would refuse is refused before the bench creates anything.
func TestPostgresPoolParametersAreChecked(t *testing.T) {
	for _, v := range []string{"1", "many"} {
		_, err := newBackend(context.Background(), "postgres://postgres@127.0.0.1:1/postgres?pool_max_conns="+v)
		if err == nil || !strings.Contains(err.Error(), "pool_max_conns") {
			t.Errorf("pool_max_conns=%s: err = %v", v, err)
		}
	}
}

// medianOf returns a reader of rep's medians that fails t when rep lacks the metric.
func medianOf(t *testing.T, rep *Report) func(scenario, variant, name string) float64 {
	return func(scenario, variant, name string) float64 {
		t.Helper()
		for _, s := range rep.Summary {
			if s.Scenario == scenario && s.Variant == variant && s.Name == name {
				return s.Median
			}
		}
		t.Fatalf("no %s %s %s in %+v", scenario, variant, name, rep.Summary)
		return 0
	}
}
