package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Cluster is what the nodes sharing one database use to know of each other and to elect the one
// node that runs the cluster's maintenance (internal/cluster; docs/deploy.md, "Several nodes").
// It is apart from Store because it is plumbing of the process, not of the domain: an advisory
// lock lives on a database session, and a node's heartbeat says nothing about any tenant.
type Cluster interface {
	// NodeBeat records that node ID is alive (inserting its row on the first beat) and returns
	// the database's clock as it wrote the row (PostgreSQL; SQLite, which has one node, returns
	// p.Now), so that the node can tell how far its own clock is from the cluster's.
	NodeBeat(ctx context.Context, p NodeBeatParams) (dbNow time.Time, err error)
	// NodeList returns the nodes seen since SeenSince, oldest first.
	NodeList(ctx context.Context, p NodeListParams) ([]Node, error)
	// NodeDelete removes a node's row (the node is stopping). A missing row is not an error.
	NodeDelete(ctx context.Context, p NodeDeleteParams) error
	// NodeDeleteBefore removes the rows of nodes last seen before Before and returns how many.
	NodeDeleteBefore(ctx context.Context, p NodeDeleteBeforeParams) (int, error)
	// LeaderTry makes this process the holder of the named cluster-wide lock if no other
	// process holds it, and returns ErrLeaderElsewhere if one does. On PostgreSQL the lock is a
	// session-level advisory lock on a connection of its own, released by the server when that
	// connection ends for whatever reason; on SQLite, where one process owns the file, it is
	// always granted.
	LeaderTry(ctx context.Context, p LeaderTryParams) (Leadership, error)
	// DueNotify tells the nodes in DueListen that deliveries may be due (PostgreSQL NOTIFY; a
	// no-op on SQLite).
	DueNotify(ctx context.Context) error
	// DueListen calls wake once listening (anything notified earlier was missed) and then for
	// every DueNotify of any node, until ctx ends (nil) or its connection fails (the error;
	// listen again). On SQLite it only waits for ctx.
	DueListen(ctx context.Context, wake func()) error
}

// ErrLeaderElsewhere is returned by LeaderTry when another process holds the lock.
var ErrLeaderElsewhere = errors.New("another node holds the lock")

// Leadership is a held cluster-wide lock.
type Leadership interface {
	// Check returns nil while the lock is still held, and an error once it is lost (its
	// database connection gone).
	Check(ctx context.Context) error
	// Release gives the lock up.
	Release() error
}

// Node is one process sharing the database.
type Node struct {
	ID uuid.UUID
	// Role is "all", "api" or "worker" (config.Config.Role).
	Role string
	// Host is the node's host name, for operators.
	Host      string
	StartedAt time.Time
	SeenAt    time.Time
}

// NodeBeatParams records a heartbeat.
type NodeBeatParams struct {
	ID        uuid.UUID
	Role      string
	Host      string
	StartedAt time.Time
	Now       time.Time
}

// NodeListParams selects the live nodes.
type NodeListParams struct {
	SeenSince time.Time
}

// NodeDeleteParams names a stopping node.
type NodeDeleteParams struct {
	ID uuid.UUID
}

// NodeDeleteBeforeParams selects long-gone nodes.
type NodeDeleteBeforeParams struct {
	Before time.Time
}

// LeaderTryParams names the lock.
type LeaderTryParams struct {
	// Name tells locks apart ("maintenance"); the lock is also private to the database and
	// schema, so installations sharing a server never contend.
	Name string
}
