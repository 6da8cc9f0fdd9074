// Package cluster lets the nodes that share one PostgreSQL database behave as one. Each node
// announces itself with a heartbeat row (Membership), so that what a node enforces alone — its
// share of the API rate limits — follows the number of live nodes; and one node at a time,
// elected through a lock held on a database session (Leader), runs the maintenance that must run
// once for the whole cluster: retention, expired idempotency keys, departed nodes' rows
// (docs/deploy.md, "Several nodes"). On SQLite there is one node, which always leads.
package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
)

// Defaults of Membership and Leader.
const (
	// DefaultBeat is how often a node refreshes its heartbeat.
	DefaultBeat = 5 * time.Second
	// DefaultStale is how long after its last heartbeat a node counts as gone: three missed
	// beats, so that one slow write does not make the others think it left.
	DefaultStale = 15 * time.Second
	// DefaultElection is how often a follower tries to take the leader lock, and a leader
	// checks that it still holds it.
	DefaultElection = 5 * time.Second
	// DefaultMaxClockOffset is how far a node's clock may be from the database's before
	// Membership warns. The nodes compare times they each wrote — leases, the shared rate
	// budget, pauses, circuits, heartbeats — so an offset skews them all: a node whose clock is
	// a second ahead holds a connection's shared rate budget a second ahead of the others'.
	DefaultMaxClockOffset = 250 * time.Millisecond
)

// Membership keeps this node's heartbeat row fresh and reports how many live nodes serve the
// API. Run it for as long as the node serves.
type Membership struct {
	Store store.Cluster
	// ID, Role and Host describe this node (Role: "all", "api" or "worker").
	ID   uuid.UUID
	Role string
	Host string
	// Beat is how often the row is refreshed (default DefaultBeat); Stale how old a row may be
	// and still count (default DefaultStale).
	Beat  time.Duration
	Stale time.Duration
	// APINodes is called with the number of live nodes serving the API (roles all and api; at
	// least 1) after the first heartbeat and whenever the number changes.
	APINodes func(n int)
	// ClockOffset, if set, is called after each heartbeat with how far this node's clock is
	// ahead of the database's (negative: behind), measured at the middle of the heartbeat's
	// round trip. Past MaxClockOffset (default DefaultMaxClockOffset, beyond what the round trip
	// leaves uncertain) Membership logs a warning, once until the offset is back within it.
	ClockOffset    func(d time.Duration)
	MaxClockOffset time.Duration
	Logger         *slog.Logger
	Now            func() time.Time

	clockOff bool // the last heartbeat found the clock off (checkClock; only Run's goroutine)
}

// beatTimeout bounds one heartbeat, which a shutdown waits for.
const beatTimeout = 2 * time.Second

// Run beats until ctx ends, then deletes this node's row so that the others stop counting it
// at once rather than after Stale.
func (m *Membership) Run(ctx context.Context) {
	if m.Beat <= 0 {
		m.Beat = DefaultBeat
	}
	if m.Stale <= 0 {
		m.Stale = DefaultStale
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.MaxClockOffset <= 0 {
		m.MaxClockOffset = DefaultMaxClockOffset
	}
	started, last, failing := m.Now(), 0, false
	t := time.NewTicker(m.Beat)
	defer t.Stop()
	for {
		// A beat is not abandoned half-way when ctx ends: a canceled upsert may still commit on
		// the server after the departure's delete below, bringing the row back until it goes
		// stale (seen in CI: a stopped node still counted).
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), beatTimeout)
		n, err := m.beat(bctx, started)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			// Keep the last count: a database that does not answer is no reason to let every
			// key through at the full cluster rate on this node.
			if !failing {
				m.Logger.Warn("cluster: node heartbeat failed", slog.Any("error", err))
			}
			failing = true
		case err == nil:
			failing = false
			if n != last && m.APINodes != nil {
				m.APINodes(n)
			}
			last = n
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := m.Store.NodeDelete(dctx, store.NodeDeleteParams{ID: m.ID}); err != nil {
				m.Logger.Warn("cluster: removing this node's heartbeat row", slog.Any("error", err))
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

// beat refreshes the row, checks this node's clock against the database's, and counts the live
// API nodes.
func (m *Membership) beat(ctx context.Context, started time.Time) (int, error) {
	now := m.Now()
	dbNow, err := m.Store.NodeBeat(ctx, store.NodeBeatParams{ID: m.ID, Role: m.Role, Host: m.Host, StartedAt: started, Now: now})
	if err != nil {
		return 0, err
	}
	m.checkClock(now, m.Now(), dbNow)
	nodes, err := m.Store.NodeList(ctx, store.NodeListParams{SeenSince: now.Add(-m.Stale)})
	if err != nil {
		return 0, err
	}
	api := 0
	for _, n := range nodes {
		if n.Role != "worker" {
			api++
		}
	}
	return max(1, api), nil
}

// checkClock compares this node's clock, between sent and received (a heartbeat's round trip),
// with the database's clock read in between.
func (m *Membership) checkClock(sent, received, dbNow time.Time) {
	rtt := received.Sub(sent)
	offset := sent.Add(rtt / 2).Sub(dbNow)
	if m.ClockOffset != nil {
		m.ClockOffset(offset)
	}
	off := offset.Abs() > m.MaxClockOffset+rtt/2
	switch {
	case off && !m.clockOff:
		m.Logger.Warn("cluster: this node's clock is off the database's; leases, shared rate limits, pauses and circuits are skewed by as much (keep the nodes' clocks synchronised, e.g. with NTP)",
			slog.Duration("ahead_by", offset), slog.Duration("round_trip", rtt), slog.Duration("max", m.MaxClockOffset))
	case !off && m.clockOff:
		m.Logger.Info("cluster: this node's clock agrees with the database's again", slog.Duration("ahead_by", offset))
	}
	m.clockOff = off
}

// Leader elects one node among those running it on one database, through store.Cluster's
// LeaderTry, and runs Lead on that node only. When the leader dies its lock's database session
// ends, the server releases the lock, and another node's next try (within Interval) takes it
// over. Between a leader losing its connection and noticing (at its next check, within
// Interval), two nodes may both run Lead: what Lead runs must be idempotent, as deletes of
// expired rows are.
type Leader struct {
	Store store.Cluster
	// Name tells elections apart (default "maintenance").
	Name string
	// Interval is how often a follower tries the lock and the leader checks it still holds it
	// (default DefaultElection).
	Interval time.Duration
	// Lead runs while this node leads; its context ends when the lead is lost or Run's
	// context ends, and Lead must then return.
	Lead   func(ctx context.Context)
	Logger *slog.Logger

	leading atomic.Bool
	terms   atomic.Int64
}

// Leading reports whether this node leads now.
func (l *Leader) Leading() bool { return l.leading.Load() }

// Terms counts the times this node has taken the lead.
func (l *Leader) Terms() int64 { return l.terms.Load() }

// Run takes part in the election until ctx ends, releasing the lead (if held) before it returns.
func (l *Leader) Run(ctx context.Context) {
	if l.Name == "" {
		l.Name = "maintenance"
	}
	if l.Interval <= 0 {
		l.Interval = DefaultElection
	}
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(l.Interval)
	defer t.Stop()
	for ctx.Err() == nil {
		lead, err := l.Store.LeaderTry(ctx, store.LeaderTryParams{Name: l.Name})
		ticks := 1
		switch {
		case err == nil:
			if l.hold(ctx, lead, t.C) {
				// A leader that lost its lock stands back for a few tries, so that another node,
				// which has been trying all along, takes over rather than this one (whose
				// connection to the database just failed) winning the lock straight back.
				ticks = lostLeadPause
			}
		case !errors.Is(err, store.ErrLeaderElsewhere) && ctx.Err() == nil:
			l.Logger.Warn("cluster: trying the leader lock", slog.String("election", l.Name), slog.Any("error", err))
		}
		for ; ticks > 0 && ctx.Err() == nil; ticks-- {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}
}

// lostLeadPause is how many election intervals a node that lost the lead waits before it tries
// to take it again.
const lostLeadPause = 3

// hold runs Lead while lead is held, checking it every tick. It reports whether the lead was
// lost (rather than given up because ctx ended).
func (l *Leader) hold(ctx context.Context, lead store.Leadership, tick <-chan time.Time) (lost bool) {
	l.terms.Add(1)
	l.leading.Store(true)
	l.Logger.Info("cluster: this node now leads", slog.String("election", l.Name))
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if l.Lead != nil {
			l.Lead(lctx)
		}
	}()
	for held := true; held; {
		select {
		case <-ctx.Done():
			held = false
		case <-tick:
			if err := lead.Check(ctx); err != nil {
				held, lost = false, ctx.Err() == nil
				if lost {
					l.Logger.Warn("cluster: lost the lead", slog.String("election", l.Name), slog.Any("error", err))
				}
			}
		}
	}
	cancel()
	<-done
	l.leading.Store(false)
	if err := lead.Release(); err != nil {
		l.Logger.Warn("cluster: releasing the lead", slog.String("election", l.Name), slog.Any("error", err))
	}
	return lost
}

// Sweeper removes the rows of nodes gone for more than DepartedGrace (kept that long so that an
// operator can still see a node that just left). The leader runs it. (Expired OAuth states and
// dashboard logins and sessions need no sweep: each insert removes its table's expired rows.)
type Sweeper struct {
	Store store.Cluster
	// Interval is how often it sweeps (default 1 h); it also sweeps once a minute after start.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// DepartedGrace is how long after its last heartbeat a node's row is kept.
const DepartedGrace = time.Hour

// Run sweeps until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	if s.Interval <= 0 {
		s.Interval = time.Hour
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	wait := min(time.Minute, s.Interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = s.Interval
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("cluster: removing departed nodes", slog.Any("error", err))
		}
	}
}

// Sweep removes the rows of departed nodes now.
func (s *Sweeper) Sweep(ctx context.Context) error {
	_, err := s.Store.NodeDeleteBefore(ctx, store.NodeDeleteBeforeParams{Before: s.Now().Add(-DepartedGrace)})
	return err
}

// Notifier wakes the delivering nodes when a node that does not deliver (role api) has accepted
// events: Notify never blocks, and Run sends one NOTIFY at a time, with one more for whatever was
// accepted while it was being sent, so a burst of requests costs a few notifications, not one
// each. Its zero value is ready once Store is set.
type Notifier struct {
	Store  store.Cluster
	Logger *slog.Logger

	once sync.Once
	kick chan struct{}
}

func (n *Notifier) init() { n.once.Do(func() { n.kick = make(chan struct{}, 1) }) }

// Notify asks Run to send a notification. It never blocks.
func (n *Notifier) Notify() {
	n.init()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run sends the notifications asked for until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	n.init()
	if n.Logger == nil {
		n.Logger = slog.New(slog.DiscardHandler)
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		err := n.Store.DueNotify(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			// The delivering nodes still find the events at their next poll.
			n.Logger.Warn("cluster: notifying the delivering nodes", slog.Any("error", err))
			failing = true
		case err == nil:
			failing = false
		}
	}
}

// Listen calls wake whenever a Notifier on any node sends, until ctx ends, listening again
// (after retry) when the connection it listens on fails.
func Listen(ctx context.Context, st store.Cluster, wake func(), retry time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for ctx.Err() == nil {
		if err := st.DueListen(ctx, wake); err != nil && ctx.Err() == nil {
			log.Warn("cluster: listening for accepted events", slog.Any("error", err))
		}
		// Anything notified while not listening is found by a claim now.
		wake()
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}
