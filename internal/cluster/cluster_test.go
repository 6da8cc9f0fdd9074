package cluster_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/cluster"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// counting is a real store that counts leader tries, so a test can tell that a follower kept
// trying (and failing) for a while.
type counting struct {
	*sqlstore.DB
	tries atomic.Int64
}

func (c *counting) LeaderTry(ctx context.Context, p store.LeaderTryParams) (store.Leadership, error) {
	c.tries.Add(1)
	return c.DB.LeaderTry(ctx, p)
}

// node is one process's store and its leader election.
type node struct {
	name    string
	store   *counting
	leader  *cluster.Leader
	running atomic.Int64 // Lead calls in progress
	stop    func()
}

// startNode opens the store at url (as application_name name, so the test can find its
// sessions) and runs an election on it with a short interval: 100 ms, so that a leader that lost
// its lock stands back 300 ms (lostLeadPause intervals) — long enough, on a busy machine, for the
// other node's next try to come first, as it does with the default 5 s.
func startNode(t *testing.T, url, name string) *node {
	t.Helper()
	if name != "" {
		url += "&application_name=" + name
	}
	db, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, store: &counting{DB: db}}
	n.leader = &cluster.Leader{Store: n.store, Interval: 100 * time.Millisecond, Lead: func(ctx context.Context) {
		n.running.Add(1)
		defer n.running.Add(-1)
		<-ctx.Done()
	}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { n.leader.Run(ctx) })
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			db.Close()
		})
	}
	t.Cleanup(n.stop)
	return n
}

func TestLeaderOnPostgres(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t) // skips without TEST_DATABASE_URL
	a := startNode(t, url, "sy_leader_a_"+uuid.NewString()[:8])
	b := startNode(t, url, "sy_leader_b_"+uuid.NewString()[:8])

	testutil.Eventually(t, 10*time.Second, "one node to lead", func() bool { return a.leader.Leading() || b.leader.Leading() })
	leader, follower := a, b
	if b.leader.Leading() {
		leader, follower = b, a
	}

	t.Run("only one node runs the chores while both are up", func(t *testing.T) {
		from := follower.store.tries.Load()
		testutil.Eventually(t, 10*time.Second, "the follower to try the lock ten more times", func() bool {
			if follower.leader.Leading() || follower.running.Load() != 0 {
				t.Fatalf("the follower %s leads too", follower.name)
			}
			if leader.running.Load() != 1 {
				t.Fatalf("the leader runs Lead %d times, want 1", leader.running.Load())
			}
			return follower.store.tries.Load() >= from+10
		})
	})

	t.Run("the other node takes over when the leader's connection is killed", func(t *testing.T) {
		admin, err := sql.Open("pgx", os.Getenv("TEST_DATABASE_URL"))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		var killed int
		err = admin.QueryRowContext(context.Background(), `SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a
			JOIN pg_locks l ON l.pid = a.pid WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1`,
			leader.name).Scan(&killed)
		if err != nil || killed != 1 {
			t.Fatalf("terminating the leader's lock session: %d killed, %v", killed, err)
		}
		var state string
		t.Cleanup(func() {
			if t.Failed() {
				t.Log("last seen: " + state)
			}
		})
		testutil.Eventually(t, 10*time.Second, "the follower to take over", func() bool {
			state = fmt.Sprintf("the old leader leads %v (%d terms); the follower leads %v after %d tries",
				leader.leader.Leading(), leader.leader.Terms(), follower.leader.Leading(), follower.store.tries.Load())
			return follower.leader.Leading() && follower.running.Load() == 1
		})
		testutil.Eventually(t, 10*time.Second, "the old leader to stop its chores", func() bool {
			return !leader.leader.Leading() && leader.running.Load() == 0
		})
		if follower.leader.Terms() != 1 {
			t.Errorf("the follower took the lead %d times, want 1", follower.leader.Terms())
		}
	})

	t.Run("a leader that stops hands over at once", func(t *testing.T) {
		// follower leads now; stop it and the first node takes the lead back.
		follower.stop()
		testutil.Eventually(t, 10*time.Second, "the first node to lead again", func() bool {
			return leader.leader.Leading() && leader.running.Load() == 1
		})
	})
}

func TestLeaderOnSQLiteAlwaysLeads(t *testing.T) {
	t.Parallel()
	n := startNode(t, storetest.SQLiteURL(t), "")
	testutil.Eventually(t, 5*time.Second, "the only node to lead", func() bool { return n.leader.Leading() && n.running.Load() == 1 })
	n.stop()
	if n.leader.Leading() || n.running.Load() != 0 {
		t.Errorf("after Run returned: leading %v, Lead running %d", n.leader.Leading(), n.running.Load())
	}
}

func TestMembershipCountsAPINodes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		db := openStore(t, d)
		type member struct {
			count atomic.Int64
			stop  func()
		}
		start := func(role string) *member {
			m := &member{}
			ms := &cluster.Membership{Store: db, ID: uuid.New(), Role: role, Host: "test", Beat: 10 * time.Millisecond,
				APINodes: func(n int) { m.count.Store(int64(n)) }}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { ms.Run(ctx) })
			m.stop = sync.OnceFunc(func() { cancel(); wg.Wait() })
			t.Cleanup(m.stop)
			return m
		}
		all := start("all")
		testutil.Eventually(t, 5*time.Second, "one API node", func() bool { return all.count.Load() == 1 })
		start("worker")
		api := start("api")
		testutil.Eventually(t, 5*time.Second, "two API nodes (workers do not count)", func() bool {
			return all.count.Load() == 2 && api.count.Load() == 2
		})
		api.stop()
		testutil.Eventually(t, 5*time.Second, "one API node after one stopped", func() bool { return all.count.Load() == 1 })

		testutil.Eventually(t, 5*time.Second, "the two running nodes (and not the stopped one) to be listed", func() bool {
			nodes, err := db.NodeList(context.Background(), store.NodeListParams{})
			if err != nil {
				t.Fatal(err)
			}
			roles := map[string]int{}
			for _, n := range nodes {
				roles[n.Role]++
			}
			return len(nodes) == 2 && roles["all"] == 1 && roles["worker"] == 1
		})
	})
}

// A node's heartbeat measures how far its clock is from the database's and warns, once, past the
// bound; on PostgreSQL, a node whose clock runs 3 s ahead is told so, and one on time is not.
// (SQLite has one node, whose clock is the cluster's.)
func TestMembershipMeasuresTheClockOffset(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		db := openStore(t, d)
		for _, ahead := range []time.Duration{0, 3 * time.Second, -3 * time.Second} {
			var (
				mu      sync.Mutex
				offsets []time.Duration
				logs    bytes.Buffer
			)
			ms := &cluster.Membership{Store: db, ID: uuid.New(), Role: "all", Host: "test", Beat: 10 * time.Millisecond,
				Now:         func() time.Time { return time.Now().Add(ahead) },
				ClockOffset: func(d time.Duration) { mu.Lock(); offsets = append(offsets, d); mu.Unlock() },
				Logger:      slog.New(slog.NewTextHandler(&syncWriter{w: &logs, mu: &mu}, nil))}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { ms.Run(ctx) })
			testutil.Eventually(t, 5*time.Second, "three heartbeats", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(offsets) >= 3
			})
			cancel()
			wg.Wait()
			mu.Lock()
			want := ahead
			if d.Name == "sqlite" {
				want = 0
			}
			for _, got := range offsets {
				if (got - want).Abs() > time.Second { // (the round trip bounds the error; a loaded machine's can be long)
					t.Errorf("%s ahead: measured offsets %v, want about %s", ahead, offsets, want)
					break
				}
			}
			if warned := strings.Count(logs.String(), "clock is off"); warned != map[bool]int{true: 1, false: 0}[want != 0] {
				t.Errorf("%s ahead: warned %d times, want %d:\n%s", ahead, warned, map[bool]int{true: 1, false: 0}[want != 0], logs.String())
			}
			mu.Unlock()
		}
	})
}

// openStore opens a fresh store of dialect d, closed when the test ends.
func openStore(t *testing.T, d storetest.Dialect) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), d.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// syncWriter serialises writes to w under mu.
type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func TestSweeperRemovesDepartedNodes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		db := openStore(t, d)
		now := time.Now()
		live := uuid.New()
		for id, seen := range map[uuid.UUID]time.Time{uuid.New(): now.Add(-2 * time.Hour), live: now.Add(-time.Minute)} {
			if _, err := db.NodeBeat(ctx, store.NodeBeatParams{ID: id, Role: "all", Host: "h", StartedAt: seen, Now: seen}); err != nil {
				t.Fatal(err)
			}
		}
		s := &cluster.Sweeper{Store: db, Now: func() time.Time { return now }}
		if err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if nodes, err := db.NodeList(ctx, store.NodeListParams{}); err != nil || len(nodes) != 1 || nodes[0].ID != live {
			t.Errorf("after the sweep, nodes %v (%v), want only %s, seen a minute ago", nodes, err, live)
		}
	})
}

func TestNotifierWakesListenersOfTheSameSchemaOnly(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	open := func(url string) *sqlstore.DB {
		db, err := sqlstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	sender, listener, elsewhere := open(url), open(url), open(storetest.PostgresURL(t))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var woken, wokenElsewhere atomic.Int64
	wg.Go(func() { cluster.Listen(ctx, listener, func() { woken.Add(1) }, time.Second, nil) })
	wg.Go(func() { cluster.Listen(ctx, elsewhere, func() { wokenElsewhere.Add(1) }, time.Second, nil) })
	n := &cluster.Notifier{Store: sender}
	wg.Go(func() { n.Run(ctx) })
	// Each listener is woken once when its LISTEN is in place (for anything sent before).
	testutil.Eventually(t, 10*time.Second, "both listeners to listen", func() bool {
		return woken.Load() == 1 && wokenElsewhere.Load() == 1
	})
	n.Notify()
	testutil.Eventually(t, 10*time.Second, "the listener to be woken by the notification", func() bool {
		return woken.Load() == 2
	})
	if got := wokenElsewhere.Load(); got != 1 {
		t.Errorf("a listener on another schema was woken %d times, want only its own start", got)
	}
}
