package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/switchyardhq/switchyard/internal/cluster"
)

// nodeParts are what make one node of several behave as part of one cluster (internal/cluster):
// the heartbeat that shares the API rate limits out among the live API nodes, and the election
// of the one node that runs the maintenance.
type nodeParts struct {
	id uuid.UUID
	// leader is a value, configured by runNode, so that Leading may be asked before and while
	// Run starts it.
	leader cluster.Leader
	// notifier wakes the delivering nodes for events an api node accepted (PostgreSQL).
	notifier cluster.Notifier
}

// accepted is called after the API accepted events: it wakes this node's engine, or — on a
// node that does not deliver — the nodes that do.
func (a *App) accepted() {
	if a.cfg.Delivers() {
		a.engine.Wake()
	} else {
		a.node.notifier.Notify()
	}
}

// runNode starts, in g, what this node's role asks for: the delivery engine and the
// maintenance election (roles all and worker), and — on PostgreSQL — the heartbeat, and the
// NOTIFY that carries "events accepted" from api nodes to the delivering ones.
func (a *App) runNode(ctx context.Context, g *errgroup.Group) {
	a.node.id = uuid.Must(uuid.NewV7())
	if a.cfg.Delivers() {
		g.Go(func() error { return a.engine.Run(ctx) })
		a.node.leader.Store, a.node.leader.Logger, a.node.leader.Interval = a.Store, a.log, a.cfg.ElectionInterval()
		a.node.leader.Lead = a.maintain
		g.Go(func() error { a.node.leader.Run(ctx); return nil })
	}
	if a.Store.Dialect() == "postgres" {
		if a.cfg.Delivers() {
			g.Go(func() error { cluster.Listen(ctx, a.Store, a.engine.Wake, a.cfg.ElectionInterval(), a.log); return nil })
		} else {
			a.node.notifier.Store, a.node.notifier.Logger = a.Store, a.log
			g.Go(func() error { a.node.notifier.Run(ctx); return nil })
		}
		host, _ := os.Hostname()
		m := &cluster.Membership{Store: a.Store, ID: a.node.id, Role: a.cfg.Role, Host: host, Logger: a.log,
			Beat: a.cfg.ElectionInterval(), Stale: 3 * a.cfg.ElectionInterval(), ClockOffset: a.metrics.ClockOffset,
			APINodes: func(n int) {
				a.api.ShareRateLimits(n)
				a.log.Info("cluster: API rate limits shared among the live API nodes", slog.Int("api_nodes", n))
			}}
		g.Go(func() error { m.Run(ctx); return nil })
	}
}

// maintain runs the cluster's maintenance while this node leads: retention (events past it,
// expired idempotency keys) and the removal of departed nodes' rows. Stale leases need no
// chore: a delivery whose lease has run out is simply due again in every node's claim.
func (a *App) maintain(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.cleaner.Run(ctx) })
	wg.Go(func() { (&cluster.Sweeper{Store: a.Store, Logger: a.log}).Run(ctx) })
	wg.Wait()
}

// Leading reports whether this node runs the cluster's maintenance now (always, for a node
// that delivers on SQLite, once Run has started; never for an api node).
func (a *App) Leading() bool { return a.node.leader.Leading() }

// workerHandler is what a worker node serves on its API address: /healthz and /readyz for
// load balancers and orchestrators, and 404 for everything else.
func (a *App) workerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.Store.Ping(ctx); err != nil {
			a.log.Warn("store not ready", slog.Any("error", err))
			writeStatus(w, http.StatusServiceUnavailable, "unavailable")
			return
		}
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": http.StatusText(http.StatusNotFound),
			"error": map[string]any{"name": "NotFound",
				"message": "This node runs with --role worker: it delivers and serves no API. Send API requests to a node with --role api or all."}})
	})
	return mux
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	writeJSON(w, code, map[string]string{"status": status})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
