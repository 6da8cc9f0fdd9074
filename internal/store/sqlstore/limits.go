package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Per-connection limits that hold for every node on one database (docs/delivery.md, "Limits
// across nodes"). A shared claim (claimShared) works in three steps inside the claim
// transaction:
//
//  1. It finds the connections that have due candidates and takes, for each, a transaction
//     advisory lock (PostgreSQL; skipping any connection another node is claiming for right
//     now, which that node serves). Claims for one connection are thus serialised across nodes,
//     and the next step sees every claim committed before it.
//  2. In a new statement (so with a snapshot taken after the locks), it reads each connection's
//     settings, its deliveries leased on any node (the deliveries_leased index), and its row of
//     delivery_limits: pause, circuit, rate budget. From these it computes how many deliveries
//     the connection may take now.
//  3. It claims at most that many per connection — and, beyond, what the node may keep ahead
//     (DeliveryClaimParams.Ahead; never for a rate-limited, paused or open connection) — and
//     writes back what the claim used: the rate budget (a GCRA theoretical arrival time) and
//     the half-open probe's lease.
//
// The 429 pause and circuit transitions are written by the nodes that see them (LimitPause,
// CircuitOpen, CircuitClose). On SQLite one node owns the file and its in-memory controller is
// authoritative, so the engine never asks for a shared claim there; the SQL runs on both
// dialects all the same (SQLite's single writer serialises claims without locks).

// limitLockSpace is the first key of the advisory locks of shared claims (two-int form), so
// they do not collide with other advisory locks of the database (goose's migration lock uses
// the one-bigint form).
const limitLockSpace = 0x5359 // "SY"

// sharedRecheck is how long a connection found saturated on the cluster is left out of a node's
// claims (DeliveryClaimParams.Blocked) before it is looked at again: what other nodes free is
// noticed that late at most (what this node frees, at once).
const sharedRecheck = 50 * time.Millisecond

// sharedBudget is what one connection may take in a shared claim.
type sharedBudget struct {
	id   uuid.UUID
	take int
	// until is, for a connection that can take nothing now, when that may change.
	until  int64
	probe  bool  // the take is the circuit's half-open probe
	ahead  int   // what it may take beyond take, kept ahead (DeliveryClaimParams.Ahead)
	rateI  int64 // the rate limiter's interval between attempts (µs); 0: no rate limit
	rateT0 int64 // max(rate_tat, now): where this claim's use of the rate budget starts
}

// claimShared leases due deliveries within each connection's cluster-wide limits (see above)
// and returns them with their events (PostgreSQL), the ids of the connections whose claim is a
// probe, the ids of the deliveries taken ahead (DeliveryClaimParams.Ahead) and the routing
// version (claimUpdate). A Sweep's claim is made among the connections its walk found (walked,
// walkDue) instead of those with deliveries in the window.
func (db *DB) claimShared(ctx context.Context, tx claimStmts, p store.DeliveryClaimParams, window int, walked []uuid.UUID) (*sharedClaim, error) {
	now, lease := micros(p.Now), micros(p.LeaseUntil)
	perClaim := p.PerConnection
	if perClaim <= 0 {
		perClaim = p.Limit
	}

	// 1. The connections with due work, locked for this claim: those with deliveries in the
	// window, or those the sweep's walk found.
	var (
		q    string
		args []any
	)
	if !p.Sweep {
		var exclude string
		exclude, args = db.idSet("connection_id", true, p.Exclude, []any{now, window})
		q = `SELECT DISTINCT connection_id FROM (` + dueWindow("$1", "$2", exclude) + `) candidates`
	} else if db.d.name == "postgres" {
		q, args = `SELECT id AS connection_id FROM unnest($1::uuid[]) AS walked(id)`, []any{walked}
	}
	if db.d.name == "postgres" {
		// DISTINCT keeps the subquery from being flattened: one lock attempt per connection.
		// generic: the next statement (sharedBudgets) is run with its generic plan, which
		// sharedBudgets restores to the default for the statements after it.
		q = `SELECT connection_id FROM (` + q + `) due, (SELECT set_config('plan_cache_mode', 'force_generic_plan', true)) generic
			WHERE pg_try_advisory_xact_lock(` + strconv.Itoa(limitLockSpace) + `, hashtext(connection_id::text))`
	}
	ids := walked // SQLite's sweep: nothing to lock
	if q != "" {
		rows, err := tx.query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("locking connections: %w", err)
		}
		if ids, err = collect(rows, func(s scanner) (uuid.UUID, error) {
			var id uuid.UUID
			return id, s.Scan(&id)
		}, "connections to claim for"); err != nil {
			return nil, err
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}

	// 2. What each may take now.
	var settled []uuid.UUID
	if p.Settled != nil {
		settled = p.Settled()
	}
	budgets, err := db.sharedBudgets(ctx, tx, ids, p.Now, perClaim, settled, p.Ahead)
	if err != nil {
		return nil, err
	}
	var (
		in   []uuid.UUID
		caps []int
	)
	for _, b := range budgets {
		if b.take == 0 && b.ahead == 0 {
			if p.Blocked != nil {
				p.Blocked(b.id, fromMicros(b.until))
			}
			continue
		}
		in, caps = append(in, b.id), append(caps, b.take+b.ahead)
	}
	if len(in) == 0 {
		return nil, nil
	}
	if tx.last != nil && !slices.ContainsFunc(budgets, func(b sharedBudget) bool { return b.take > 0 && (b.rateI > 0 || b.probe) }) {
		tx.last() // nothing to write after the claim itself (step 3)
	}
	args = []any{lease, now, p.Limit, window}
	var candidates string
	if p.Sweep {
		candidates, args = db.dueOf(in, "$5", append(args, perClaim))
	} else {
		var list string
		list, args = db.idSet("connection_id", false, in, args)
		candidates = dueWindow("$2", "$4", list)
	}
	args, capOf := db.capsByConnection(args, in, caps, "0")
	ds, evs, version, err := db.claimUpdate(ctx, tx, db.d.lockDue(dueRanked(candidates, capOf)), args)
	if err != nil {
		return nil, err
	}

	// 3. What the claim used of the rate budgets, and the probes it took. Of each connection's
	// deliveries, the oldest (by id: ids are time-ordered) are the ones to start now, those past
	// its take are kept ahead.
	out := &sharedClaim{deliveries: ds, events: evs, version: version}
	byConn := map[uuid.UUID][]*switchyard.Delivery{}
	for _, d := range ds {
		byConn[d.ConnectionID] = append(byConn[d.ConnectionID], d)
	}
	for _, b := range budgets {
		taken := byConn[b.id]
		k := len(taken)
		if k == 0 {
			continue
		}
		if (k == b.take+b.ahead || len(ds) >= window) && p.Full != nil {
			// All it was allowed, or all the window held (an allowance with what is kept
			// ahead can be larger): more may be due.
			p.Full(b.id)
		}
		if k > b.take {
			slices.SortFunc(taken, func(x, y *switchyard.Delivery) int { return bytes.Compare(x.ID[:], y.ID[:]) })
			if out.ahead == nil {
				out.ahead = map[uuid.UUID]bool{}
			}
			for _, d := range taken[b.take:] {
				out.ahead[d.ID] = true
			}
		}
		if b.rateI > 0 {
			if err := tx.exec(ctx, `INSERT INTO delivery_limits (key, rate_tat, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (key) DO UPDATE SET rate_tat = excluded.rate_tat, updated_at = excluded.updated_at`,
				store.LimitKeyConnection(b.id), b.rateT0+int64(k)*b.rateI, now); err != nil {
				return nil, fmt.Errorf("using the rate budget: %w", err)
			}
		}
		if b.probe {
			if err := tx.exec(ctx, `UPDATE delivery_limits SET circuit = 'half_open', probe_until = $1, updated_at = $2 WHERE key = $3`,
				lease, now, store.LimitKeyConnection(b.id)); err != nil {
				return nil, fmt.Errorf("taking the half-open probe: %w", err)
			}
			if out.probes == nil {
				out.probes = map[uuid.UUID]bool{}
			}
			out.probes[b.id] = true
		}
	}
	return out, nil
}

// sharedClaim is what a shared claim took.
type sharedClaim struct {
	deliveries []*switchyard.Delivery
	events     []*switchyard.Event // nil: to be read after the commit (SQLite)
	probes     map[uuid.UUID]bool  // connections whose delivery is the half-open probe
	ahead      map[uuid.UUID]bool  // deliveries taken ahead (DeliveryClaimParams.Ahead)
	version    int64
}

// sharedBudgets reads what each connection may take now (step 2 of claimShared), and what it
// may take beyond that to keep ahead (its entry in ahead, if nothing but its slots holds it
// back). A delivery listed in settled (finished, outcome not yet written) does not count as
// leased.
//
// On PostgreSQL its statement runs with its generic plan (step 1 asks for it) and then restores
// the default plan choice for the rest of the claim. Left to choose, PostgreSQL kept planning it
// anew for every call (0.16–0.2 ms on a quiet machine, ~0.45 ms of CPU per call under load,
// against 0.02 ms for the generic plan; docs/benchmarks.md): its estimate of the generic plan,
// not knowing how many connections the arrays hold, stays above the custom plans'.
func (db *DB) sharedBudgets(ctx context.Context, tx claimStmts, ids []uuid.UUID, at time.Time, perClaim int, settled []uuid.UUID,
	ahead map[uuid.UUID]int) ([]sharedBudget, error) {
	now := micros(at)
	in, args := db.idSet("c.id", false, ids, []any{now})
	notSettled, args := db.idSet("d.id", true, settled, args)
	planDefault := ""
	if db.d.name == "postgres" {
		// Evaluated once (an InitPlan), and only in this transaction.
		planDefault = ` AND (SELECT set_config('plan_cache_mode', 'auto', true)) IS NOT NULL`
	}
	rows, err := tx.query(ctx, `
		SELECT c.id, c.metadata,
			(SELECT COUNT(*) FROM deliveries d WHERE d.connection_id = c.id AND d.status = 'processing' AND d.next_attempt_at > $1 AND `+notSettled+`),
			COALESCE(l.paused_until, 0), COALESCE(l.circuit, 'closed'), COALESCE(l.open_until, 0), COALESCE(l.probe_until, 0),
			COALESCE(l.rate_tat, 0)
		FROM connections c LEFT JOIN delivery_limits l ON l.key = 'c:' || c.id
		WHERE `+in+planDefault, args...)
	if err != nil {
		return nil, fmt.Errorf("reading connection limits: %w", err)
	}
	defer rows.Close()
	found := map[uuid.UUID]bool{}
	var out []sharedBudget
	for rows.Next() {
		var (
			b                                         sharedBudget
			meta, circuit                             string
			leased                                    int
			pausedUntil, openUntil, probeUntil, rateT int64
		)
		if err := rows.Scan(&b.id, &meta, &leased, &pausedUntil, &circuit, &openUntil, &probeUntil, &rateT); err != nil {
			return nil, fmt.Errorf("reading connection limits: %w", err)
		}
		found[b.id] = true
		md, _ := unmarshalMetadata(meta) // unreadable settings: the defaults
		ceiling := perClaimCeiling(md, perClaim)
		b.take = max(0, min(ceiling.max-leased, perClaim))
		b.until = now + sharedRecheck.Microseconds() // saturated: slots free as attempts finish anywhere
		switch {
		case pausedUntil > now:
			b.take, b.until = 0, pausedUntil
		case circuit == store.CircuitOpen && openUntil > now:
			b.take, b.until = 0, openUntil
		case circuit == store.CircuitHalfOpen && probeUntil > now:
			b.take = 0 // the probe runs: its outcome is known within sharedRecheck of its end
		case circuit == store.CircuitOpen, circuit == store.CircuitHalfOpen:
			// The cool-down is over (or the last probe's lease ran out): one probe, cluster-wide.
			b.take, b.probe = min(b.take, 1), true
		case ceiling.rate == 0:
			// Nothing but its slots holds it back: it may be given what the node asked to
			// keep ahead.
			b.ahead = max(0, ahead[b.id])
		}
		if ceiling.rate > 0 && b.take > 0 {
			b.rateI = max(1, int64(float64(time.Second/time.Microsecond)/ceiling.rate))
			burst := max(1, int64(ceiling.rate))
			b.rateT0 = max(rateT, now)
			tokens := (now + burst*b.rateI - b.rateT0) / b.rateI
			if tokens < 1 {
				b.until = b.rateT0 - (burst-1)*b.rateI // when the next token is there
			}
			b.take = min(b.take, int(max(0, tokens)))
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading connection limits: %w", err)
	}
	for _, id := range ids {
		if !found[id] {
			// Deleted meanwhile: its deliveries are claimed to be settled without an attempt.
			out = append(out, sharedBudget{id: id, take: perClaim})
		}
	}
	return out, nil
}

// connectionCeiling is a connection's own limits, from its metadata.
type connectionCeiling struct {
	max  int     // max_concurrency, else the default
	rate float64 // rate_limit_per_second; 0: none
}

// perClaimCeiling reads max_concurrency and rate_limit_per_second as the engine's controller
// does (destination.MaxConcurrencyOf, RateLimitOf), defaulting to def.
func perClaimCeiling(md map[string]any, def int) connectionCeiling {
	return connectionCeiling{max: destination.MaxConcurrencyOf(md, def), rate: destination.RateLimitOf(md)}
}

// LimitPause pauses a connection or provider account until Until (never shortening a pause).
func (db *DB) LimitPause(ctx context.Context, p store.LimitPauseParams) error {
	if p.Key == "" {
		return errors.New("pausing: no key")
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO delivery_limits (key, paused_until, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET paused_until = excluded.paused_until, updated_at = excluded.updated_at
		WHERE delivery_limits.paused_until < excluded.paused_until`, p.Key, micros(p.Until), micros(p.Now))
	if err != nil {
		return fmt.Errorf("pausing %s: %w", p.Key, err)
	}
	return nil
}

// CircuitOpen opens a closed circuit for Cooldown, or reopens a half-open one whose probe
// failed for twice its last cool-down (up to MaxCooldown).
func (db *DB) CircuitOpen(ctx context.Context, p store.CircuitOpenParams) (*store.CircuitOpenResult, error) {
	key, now := store.LimitKeyConnection(p.ConnectionID), micros(p.Now)
	first, most := p.Cooldown.Microseconds(), max(p.MaxCooldown.Microseconds(), p.Cooldown.Microseconds())
	var (
		res sql.Result
		err error
	)
	if p.Probe {
		res, err = db.w.ExecContext(ctx, `UPDATE delivery_limits SET circuit = 'open',
			cooldown = CASE WHEN cooldown * 2 > $1 THEN $1 WHEN cooldown * 2 < $2 THEN $2 ELSE cooldown * 2 END,
			open_until = $3 + CASE WHEN cooldown * 2 > $1 THEN $1 WHEN cooldown * 2 < $2 THEN $2 ELSE cooldown * 2 END,
			probe_until = 0, updated_at = $3
			WHERE key = $4 AND circuit = 'half_open'`, most, first, now, key)
	} else {
		res, err = db.w.ExecContext(ctx, `INSERT INTO delivery_limits (key, circuit, open_until, cooldown, updated_at)
			VALUES ($1, 'open', $2, $3, $4)
			ON CONFLICT (key) DO UPDATE SET circuit = 'open', open_until = excluded.open_until, cooldown = excluded.cooldown,
				probe_until = 0, updated_at = excluded.updated_at
			WHERE delivery_limits.circuit = 'closed'`, key, now+first, first, now)
	}
	if err != nil {
		return nil, fmt.Errorf("opening circuit: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, fmt.Errorf("opening circuit: %w", err)
	}
	out := &store.CircuitOpenResult{Opened: n == 1}
	var (
		circuit   string
		openUntil int64
	)
	switch err := db.w.QueryRowContext(ctx, `SELECT circuit, open_until FROM delivery_limits WHERE key = $1`, key).Scan(&circuit, &openUntil); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("reading circuit: %w", err)
	case circuit == store.CircuitOpen:
		out.OpenUntil = fromMicros(openUntil)
	}
	return out, nil
}

// CircuitClose closes a connection's circuit, or (Reprobe) makes its probe due again at once.
func (db *DB) CircuitClose(ctx context.Context, p store.CircuitCloseParams) error {
	q := `UPDATE delivery_limits SET circuit = 'closed', open_until = 0, probe_until = 0, cooldown = 0, updated_at = $1
		WHERE key = $2 AND circuit <> 'closed'`
	if p.Reprobe {
		q = `UPDATE delivery_limits SET circuit = 'open', open_until = $1, probe_until = 0, updated_at = $1
			WHERE key = $2 AND circuit = 'half_open'`
	}
	if _, err := db.w.ExecContext(ctx, q, micros(p.Now), store.LimitKeyConnection(p.ConnectionID)); err != nil {
		return fmt.Errorf("closing circuit: %w", err)
	}
	return nil
}

// LimitList returns the rows paused as of Now or whose circuit is not closed, most recently
// changed first.
func (db *DB) LimitList(ctx context.Context, p store.LimitListParams) ([]store.LimitState, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key, paused_until, circuit, open_until FROM delivery_limits
		WHERE paused_until > $1 OR circuit <> 'closed' ORDER BY updated_at DESC, key LIMIT 10000`, micros(p.Now))
	if err != nil {
		return nil, fmt.Errorf("listing limits: %w", err)
	}
	return collect(rows, func(s scanner) (store.LimitState, error) {
		var (
			l                 store.LimitState
			paused, openUntil int64
		)
		if err := s.Scan(&l.Key, &paused, &l.Circuit, &openUntil); err != nil {
			return l, err
		}
		if paused > micros(p.Now) {
			l.PausedUntil = fromMicros(paused)
		}
		if openUntil > 0 {
			l.OpenUntil = fromMicros(openUntil)
		}
		if id, ok := strings.CutPrefix(l.Key, "c:"); ok {
			l.ConnectionID, _ = uuid.Parse(id)
		}
		return l, nil
	}, "limits")
}
