package app_test

// Two nodes on one PostgreSQL store (issue 4): both serve the API and both deliver; while both are
// healthy no delivery may be made twice.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

func TestTwoNodesShareOnePostgres(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t) // skips without TEST_DATABASE_URL
	key := crashKey()

	first := twoNodeStart(t, dbURL, key)
	second := twoNodeStart(t, dbURL, key)
	if !first.creds.Created || first.creds.SecretKey == "" {
		t.Fatalf("the first node's bootstrap of an empty store: %+v", first.creds)
	}

	t.Run("the second node finds the credentials the first created", func(t *testing.T) {
		if c := second.creds; c.Created || c.SecretKey != "" || c.OrganizationID != first.creds.OrganizationID ||
			c.AccessKey != first.creds.AccessKey || c.WorkspaceID != first.creds.WorkspaceID ||
			c.PublishableKey != first.creds.PublishableKey {
			t.Errorf("the second node's bootstrap: %+v, want the first's ids without the secret (%+v)", c, first.creds)
		}
	})

	t.Run("every delivery is made exactly once and every event completes", func(t *testing.T) {
		const events = 2000
		creds := first.creds // the second node reports no secret; the key is the same
		nodes := []*server{{url: first.url, metricsURL: first.metricsURL, creds: creds}, {url: second.url, metricsURL: second.metricsURL, creds: creds}}
		recv := newCrashReceiver(t, func(int) time.Duration { return time.Duration(1+rand.IntN(3)) * time.Millisecond })
		crashRoute(t, nodes[0], recv.URL)

		em := crashEmit(t, creds.PublishableKey, events, func(i int) string { return nodes[i%2].url })
		accepted := em.wait(t, 30*time.Second)
		if len(accepted) != events {
			t.Fatalf("%d events accepted, want %d", len(accepted), events)
		}
		crashPoll(t, "the receiver to see every accepted event", 25*time.Second, func() bool {
			return recv.missing(accepted) == 0
		})
		crashAwaitCompleted(t, creds, accepted, func(i int) string { return nodes[i%2].url }, 15*time.Second)

		var delivered [2]float64
		for i, n := range nodes {
			v, err := crashMetric(n.metricsURL, `switchyard_delivery_attempts_total{outcome="delivered"}`)
			switch {
			case errors.Is(err, errNoSample):
				// Allowed: on a busy machine one node can win every claim for the one connection
				// (the other skips it while its claim holds the connection's lock).
				t.Logf("node %d made no delivery", i+1)
			case err != nil:
				t.Fatalf("node %d: %v", i+1, err)
			}
			delivered[i] = v
		}
		for i, n := range []*twoNode{first, second} {
			if c := n.log.count("ERROR", "claiming deliveries"); c > 0 {
				t.Errorf("node %d failed %d claims: %v", i+1, c, n.log.warnings())
			}
		}
		if sum := int(delivered[0] + delivered[1]); sum != len(accepted) {
			t.Errorf("the nodes counted %v successful attempts (%d in all), want one per event (%d)", delivered, sum, len(accepted))
		}
		// Stop both nodes before counting: Run returns only once every attempt in flight is
		// recorded, so a second delivery of anything would have reached the receiver by then.
		first.stop(t)
		second.stop(t)
		recv.checkExactlyOnce(t, accepted)
		t.Logf("%d events over two nodes: node 1 delivered %v, node 2 %v; receiver got %d requests; warnings: node 1 %v, node 2 %v",
			len(accepted), delivered[0], delivered[1], recv.total(), first.log.warnings(), second.log.warnings())
	})
}

// twoNode is one in-process Switchyard on a shared store.
type twoNode struct {
	url string
	// metricsURL is the base URL of the node's metrics listener.
	metricsURL string
	creds      *app.Credentials
	log        *crashLog // warnings and errors only
	stop       func(t *testing.T)
}

// twoNodeStart runs the real app on 127.0.0.1:0 against the store at dbURL with the key,
// bootstrapping it as serve does. The node stops when t ends, if not before.
func twoNodeStart(t *testing.T, dbURL, key string) *twoNode {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	cfg.EncryptionKey = key
	cfg.AllowPrivateDestinations = true
	cfg.PollInterval = 50 * time.Millisecond
	cfg.RateLimitMachine, cfg.RateLimitPublishable = 0, 0 // the test emits thousands of events a second
	n := &twoNode{log: newCrashLog()}
	logger := slog.New(slog.NewJSONHandler(n.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if n.creds, err = a.Bootstrap(ctx); err != nil {
		cancel()
		a.Close()
		t.Fatal(err)
	}
	ls := listenLoopback(t)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ls) }()
	var stopped bool
	n.stop = func(t *testing.T) {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app.Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("app.Run did not return within 30s of its context ending")
		}
		a.Close()
	}
	t.Cleanup(func() { n.stop(t) })
	n.url, n.metricsURL = "http://"+ls.API.Addr().String(), "http://"+ls.Metrics.Addr().String()
	return n
}

// checkExactlyOnce checks that each event arrived exactly once, and that no delivery id was used
// twice.
func (r *crashReceiver) checkExactlyOnce(t *testing.T, events []uuid.UUID) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var bad []string
	for _, id := range events {
		if got := r.events[id]; len(got) != 1 {
			bad = append(bad, fmt.Sprintf("event %s arrived %d times (delivery ids %v)", id, len(got), got))
		}
	}
	for id, n := range r.deliveries {
		if n != 1 {
			bad = append(bad, fmt.Sprintf("delivery %s arrived %d times", id, n))
		}
	}
	if r.requests != len(events) {
		bad = append(bad, fmt.Sprintf("%d requests for %d events", r.requests, len(events)))
	}
	if len(bad) > 0 {
		t.Errorf("%d problems with exactly-once delivery, e.g.:\n%s", len(bad), strings.Join(bad[:min(len(bad), 5)], "\n"))
	}
}

// A node opens its database pool before it serves (pool_min_conns, by default the whole pool),
// instead of growing it under the first burst of work (docs/postgres.md).
func TestServingOpensThePostgresPool(t *testing.T) {
	t.Parallel()
	name := "sy_pool_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	dbURL := storetest.WithParams(t, storetest.PostgresURL(t), url.Values{ // skips without TEST_DATABASE_URL
		"pool_max_conns":   {"10"},
		"pool_min_conns":   {"8"}, // more than an idle node uses (two or three)
		"application_name": {name},
	})
	cfg := config.Default()
	cfg.DatabaseURL, cfg.EncryptionKey = dbURL, crashKey()
	runApp(t, cfg)

	admin, err := sql.Open("pgx", os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var open int
	testutil.Eventually(t, 10*time.Second, "the node's 8 connections", func() bool {
		err := admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&open)
		return err == nil && open >= 8
	})
	if open > 10 {
		t.Errorf("%d connections open, more than pool_max_conns (10)", open)
	}
}
