// Package store defines Switchyard's storage interface: every database operation the API, the
// delivery engine and the CLI need, with one params struct per method and the current time passed
// in so tests control it. Package sqlstore implements it for SQLite and PostgreSQL, and package
// storetest holds the conformance suite both dialects pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// ErrNotFound is returned when the requested row does not exist (or belongs to another tenant:
// the two are indistinguishable by design).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would violate a uniqueness rule.
var ErrConflict = errors.New("conflict")

// ErrTooEarly is returned by DeliveryRetry when the delivery is in flight or its next attempt is
// imminent anyway: a manual retry would add nothing.
var ErrTooEarly = errors.New("too early")

// ErrLeaseLost is returned by DeliveryRecord when the delivery's lease was taken over by another
// worker (it expired) before the result was recorded.
var ErrLeaseLost = errors.New("delivery lease lost")

// Store is every database operation of Switchyard. Methods that read tenant data take the
// organization id and never return another organization's rows.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database handles.
	Close() error

	// Bootstrap creates the first organization, its owner machine key and a default workspace in
	// one transaction when the store has no organization yet. Otherwise it creates nothing and
	// returns the existing first organization, workspace and key (Created false).
	Bootstrap(ctx context.Context, p BootstrapParams) (*BootstrapResult, error)

	// MachineKeyInsert stores a new machine key.
	MachineKeyInsert(ctx context.Context, k *switchyard.MachineKey) error
	// MachineKeyGetByAccessKey finds a key (revoked or not) by its access key.
	MachineKeyGetByAccessKey(ctx context.Context, accessKey string) (*switchyard.MachineKey, error)

	// Keys and tenancy (params in params_keys.go).

	// OrganizationCreate stores a new organization with its first machine key and workspace in
	// one transaction: all three or none.
	OrganizationCreate(ctx context.Context, p OrganizationCreateParams) error
	// OrganizationGet returns one organization; with ID uuid.Nil, the first one created (the
	// one Bootstrap made). ErrNotFound when there is none.
	OrganizationGet(ctx context.Context, p OrganizationGetParams) (*switchyard.Organization, error)
	// MachineKeyList lists the organization's machine keys, revoked ones included, newest first.
	MachineKeyList(ctx context.Context, p MachineKeyListParams) (*Page[*switchyard.MachineKey], error)
	// MachineKeyRevoke marks one of the organization's keys revoked as of Now and returns it. It
	// is idempotent: revoking a revoked key changes nothing and returns it with its first
	// revocation time.
	MachineKeyRevoke(ctx context.Context, p MachineKeyRevokeParams) (*switchyard.MachineKey, error)
	// WorkspacePublishableKeyRotate replaces a workspace's publishable key and returns the
	// workspace; the old key finds nothing from then on.
	WorkspacePublishableKeyRotate(ctx context.Context, p WorkspacePublishableKeyRotateParams) (*switchyard.Workspace, error)

	// WorkspaceInsert stores a new workspace; ErrConflict if its name is taken in the organization.
	WorkspaceInsert(ctx context.Context, w *switchyard.Workspace) error
	// WorkspaceGet returns one workspace of the organization.
	WorkspaceGet(ctx context.Context, p WorkspaceGetParams) (*switchyard.Workspace, error)
	// WorkspaceGetByPublishableKey finds the workspace a publishable key belongs to.
	WorkspaceGetByPublishableKey(ctx context.Context, key string) (*switchyard.Workspace, error)
	// WorkspaceList lists the organization's workspaces, newest first.
	WorkspaceList(ctx context.Context, p ListParams) (*Page[*switchyard.Workspace], error)

	// ConnectionInsert stores a new connection.
	ConnectionInsert(ctx context.Context, c *switchyard.Connection) error
	// ConnectionGet returns one connection of the organization.
	ConnectionGet(ctx context.Context, p ConnectionGetParams) (*switchyard.Connection, error)

	// RuleInsert stores a new rule.
	RuleInsert(ctx context.Context, r *switchyard.Rule) error
	// RuleGet returns one rule of the organization.
	RuleGet(ctx context.Context, p RuleGetParams) (*switchyard.Rule, error)

	// EventGet returns one event of the organization, without its payload unless WithPayload.
	EventGet(ctx context.Context, p EventGetParams) (*switchyard.Event, error)
	// EventGetWithDeliveries returns what EventGet does and the event's deliveries, oldest first,
	// read together: the event's status and counts are those its deliveries' states add up to,
	// never a state from before an outcome beside deliveries from after it.
	EventGetWithDeliveries(ctx context.Context, p EventGetParams) (*switchyard.Event, []*switchyard.Delivery, error)

	// DeliveryClaim leases up to Limit due deliveries (due time at or before Now, including
	// deliveries whose earlier lease expired) until LeaseUntil, marks them processing and returns
	// them. Concurrent claimers never receive the same delivery while its lease holds.
	DeliveryClaim(ctx context.Context, p DeliveryClaimParams) ([]*Claimed, error)
	// DeliveryRecordBatch records many outcomes in one transaction. The returned slice holds one
	// error per record: nil, or ErrLeaseLost for a record whose lease no longer held.
	DeliveryRecordBatch(ctx context.Context, ps []DeliveryRecordParams) ([]error, error)
	// DeliveryRelease hands claimed deliveries back without an attempt, due again at DueAt.
	DeliveryRelease(ctx context.Context, p DeliveryReleaseParams) error
	// DeliveryDefer pushes a connection's waiting deliveries due before Until back to Until and
	// returns how many it moved.
	DeliveryDefer(ctx context.Context, p DeliveryDeferParams) (int, error)
	// DeliveryQueueStats reports the due, unclaimed deliveries.
	DeliveryQueueStats(ctx context.Context, p DeliveryQueueStatsParams) (*QueueStats, error)
	// LimitPause pauses a connection or provider account on every node (a 429).
	LimitPause(ctx context.Context, p LimitPauseParams) error
	// CircuitOpen opens a connection's circuit for every node; see CircuitOpenParams.
	CircuitOpen(ctx context.Context, p CircuitOpenParams) (*CircuitOpenResult, error)
	// CircuitClose closes a connection's circuit, or hands its half-open probe back.
	CircuitClose(ctx context.Context, p CircuitCloseParams) error
	// LimitList returns the pauses and circuits in force (params_limits.go).
	LimitList(ctx context.Context, p LimitListParams) ([]LimitState, error)
	// EventDeleteBefore deletes up to Limit finished events created before Before, with their
	// deliveries and attempts (retention), and returns how many events it deleted.
	EventDeleteBefore(ctx context.Context, p EventDeleteBeforeParams) (int, error)
	// IdempotencyKeyDeleteBefore removes up to Limit idempotency keys created before Before and
	// returns how many it removed.
	IdempotencyKeyDeleteBefore(ctx context.Context, p IdempotencyKeyDeleteBeforeParams) (int, error)
	// ConnectionDeactivate marks a connection inactive with a reason.
	ConnectionDeactivate(ctx context.Context, p ConnectionDeactivateParams) error
	// AttemptListByDelivery returns the attempts of one delivery, oldest first.
	AttemptListByDelivery(ctx context.Context, p AttemptListByDeliveryParams) ([]*switchyard.Attempt, error)

	// The rest of the Meshes API surface (params in params_api.go).

	// WorkspaceUpdate replaces a workspace's name and description and returns it; ErrConflict if
	// the name is taken in the organization.
	WorkspaceUpdate(ctx context.Context, p WorkspaceUpdateParams) (*switchyard.Workspace, error)

	// ConnectionList lists the organization's connections (or one workspace's), newest first.
	ConnectionList(ctx context.Context, p ConnectionListParams) (*Page[*switchyard.Connection], error)
	// ConnectionUpdate replaces a connection's name, metadata and hidden flag, reactivates it,
	// and returns it.
	ConnectionUpdate(ctx context.Context, p ConnectionUpdateParams) (*switchyard.Connection, error)
	// ConnectionDelete deletes a connection with its rules and stored mappings, and cancels its
	// unfinished deliveries, in one transaction. Without Force it returns ErrConflict when the
	// connection has an active rule. It returns the deleted connection.
	ConnectionDelete(ctx context.Context, p ConnectionDeleteParams) (*switchyard.Connection, error)

	// RuleList lists the organization's rules (or one workspace's), newest first, filtered.
	RuleList(ctx context.Context, p RuleListParams) (*Page[*switchyard.Rule], error)
	// RuleDelete deletes a rule and cancels its unfinished deliveries in one transaction, and
	// returns the deleted rule.
	RuleDelete(ctx context.Context, p RuleDeleteParams) (*switchyard.Rule, error)

	// CatalogList returns a workspace's event types or resources, by key.
	CatalogList(ctx context.Context, p CatalogListParams) ([]*switchyard.CatalogEntry, error)

	// CredentialGet returns a connection's managed OAuth credential; ErrNotFound when it has none.
	CredentialGet(ctx context.Context, p CredentialGetParams) (*switchyard.Credential, error)
	// CredentialUpdate replaces a connection's credential if its stored version is still
	// p.ExpectedVersion (compare-and-swap), returning it with its new version; ErrConflict when
	// another writer got there first, ErrNotFound when the connection has no credential.
	CredentialUpdate(ctx context.Context, p CredentialUpdateParams) (*switchyard.Credential, error)
	// ConnectionAuthorize completes an OAuth flow in one transaction: it inserts p.Connection
	// with its credential (version 1), or — re-authorizing the existing connection p.ExistingID
	// — replaces that connection's credential (version: the next odd number) and reactivates
	// it. It returns the connection.
	ConnectionAuthorize(ctx context.Context, p ConnectionAuthorizeParams) (*switchyard.Connection, error)
	// OAuthStateInsert stores a started OAuth flow (and deletes flows that expired before Now).
	OAuthStateInsert(ctx context.Context, st *switchyard.OAuthState) error
	// OAuthStateTake marks a flow's state used and returns it; ErrNotFound when the state is
	// unknown, already used or expired.
	OAuthStateTake(ctx context.Context, p OAuthStateTakeParams) (*switchyard.OAuthState, error)

	// MappingGet returns the latest stored version of a connection's default mapping;
	// ErrNotFound when none was saved (or the connection is another organization's).
	MappingGet(ctx context.Context, p MappingGetParams) (*switchyard.Mapping, error)
	// MappingSave stores a new version of a connection's default mapping and returns it.
	// ErrConflict when ExpectedVersion or MappingID is set and does not match the latest
	// version, or when a concurrent save took the version; ErrNotFound for an unknown connection.
	MappingSave(ctx context.Context, p MappingSaveParams) (*switchyard.Mapping, error)

	// EventListWithDeliveries lists the organization's events (or one workspace's), newest
	// first, filtered, and the deliveries of the listed events, oldest first — read together, as
	// EventGetWithDeliveries reads one event with its deliveries.
	EventListWithDeliveries(ctx context.Context, p EventListParams) (*Page[*switchyard.Event], []*switchyard.Delivery, error)
	// EventInsertBatch does what EventInsert does for each event, all in one transaction: all
	// are stored or none. It returns each event's deliveries, in input order.
	EventInsertBatch(ctx context.Context, p EventInsertBatchParams) ([][]*switchyard.Delivery, error)
	// EventCancel cancels every unfinished delivery of an event and returns the event with its
	// status re-derived.
	EventCancel(ctx context.Context, p EventCancelParams) (*switchyard.Event, error)

	// DeliveryGet returns the delivery of one event through one rule.
	DeliveryGet(ctx context.Context, p DeliveryGetParams) (*switchyard.Delivery, error)
	// DeliveryRetry makes a failed, canceled or later-scheduled delivery due now (pending) and
	// re-derives its event. ErrConflict when the delivery completed; ErrTooEarly when it is in
	// flight or already due within ImminentWithin.
	DeliveryRetry(ctx context.Context, p DeliveryRetryParams) (*switchyard.Delivery, error)
	// DeliveryCancel cancels an unfinished delivery and re-derives its event; ErrConflict when
	// it already finished. An attempt in flight finishes, but its outcome no longer changes the
	// delivery (its recorder gets ErrLeaseLost).
	DeliveryCancel(ctx context.Context, p DeliveryCancelParams) (*switchyard.Delivery, error)

	// AttemptList lists one delivery's attempts, newest first.
	AttemptList(ctx context.Context, p AttemptListParams) (*Page[*switchyard.Attempt], error)
	// AttemptGet returns one attempt of one delivery.
	AttemptGet(ctx context.Context, p AttemptGetParams) (*switchyard.Attempt, error)

	// Embed sessions (params in params_sessions.go).

	// SessionInsert stores a new session; ErrNotFound when its workspace does not exist.
	SessionInsert(ctx context.Context, p SessionInsertParams) error
	// SessionGet returns one session of the organization, revoked and expired ones included.
	SessionGet(ctx context.Context, p SessionGetParams) (*Session, error)
	// SessionList lists a workspace's sessions, newest first, filtered.
	SessionList(ctx context.Context, p SessionListParams) (*Page[*Session], error)
	// SessionRefresh replaces a session's access token hash and expiry and moves its token
	// version on, compare-and-swap: ErrConflict when the version is no longer
	// ExpectedVersion or the session is revoked or expired at Now (the caller reads it again to
	// tell which), ErrNotFound when the organization has no such session.
	SessionRefresh(ctx context.Context, p SessionRefreshParams) (*Session, error)
	// SessionRevoke marks a session revoked as of Now and returns it. It is idempotent:
	// revoking a revoked session changes nothing and returns it with its first revocation time.
	SessionRevoke(ctx context.Context, p SessionRevokeParams) (*Session, error)
	// SessionTakeLaunch marks a session's launch token used and returns the session;
	// ErrNotFound when no session has that launch token, or it was used already, or it expired,
	// or the session is revoked or expired.
	SessionTakeLaunch(ctx context.Context, p SessionTakeLaunchParams) (*Session, error)

	// The operator dashboard (params in params_dashboard.go).

	// DashboardLoginInsert stores a single-use login token's hash (and deletes login tokens
	// that expired before CreatedAt).
	DashboardLoginInsert(ctx context.Context, p DashboardLoginInsertParams) error
	// DashboardLoginTake marks a login token used and returns it; ErrNotFound when the token is
	// unknown, already used or expired at Now.
	DashboardLoginTake(ctx context.Context, p DashboardLoginTakeParams) (*DashboardLogin, error)
	// DashboardSessionInsert stores a new dashboard session (and deletes sessions that ended
	// before CreatedAt); ErrConflict when the id hash is taken.
	DashboardSessionInsert(ctx context.Context, p DashboardSessionInsertParams) error
	// DashboardSessionGet returns a live session; ErrNotFound when it is unknown, revoked or
	// expired at Now.
	DashboardSessionGet(ctx context.Context, p DashboardSessionGetParams) (*DashboardSession, error)
	// DashboardSessionRevoke ends a session as of Now; revoking an unknown or ended session is
	// not an error.
	DashboardSessionRevoke(ctx context.Context, p DashboardSessionRevokeParams) error
	// DeliveryQueueByConnection reports an organization's unfinished deliveries per
	// connection (connections with none are left out), the most due first.
	DeliveryQueueByConnection(ctx context.Context, p DeliveryQueueByConnectionParams) ([]ConnectionQueue, error)
	// EventStatusCounts counts an organization's events by workspace and status.
	EventStatusCounts(ctx context.Context, p EventStatusCountsParams) ([]EventStatusCount, error)
	// WorkspaceActivity summarises one workspace's (or one resource's) recent deliveries for its
	// dashboard: events per hour by status, failed attempts by outcome, the oldest due delivery.
	WorkspaceActivity(ctx context.Context, p WorkspaceActivityParams) (*WorkspaceActivity, error)
}

// BootstrapParams holds the records Bootstrap creates on an empty store.
type BootstrapParams struct {
	Organization *switchyard.Organization
	MachineKey   *switchyard.MachineKey
	Workspace    *switchyard.Workspace
}

// BootstrapResult says what Bootstrap did. When Created is false the records are the existing
// ones (the machine key's sealed secret included, for the caller to withhold).
type BootstrapResult struct {
	Created      bool
	Organization *switchyard.Organization
	MachineKey   *switchyard.MachineKey
	Workspace    *switchyard.Workspace
}

// ListParams selects one page of an organization-wide list.
type ListParams struct {
	OrganizationID uuid.UUID
	// Limit is the page size; callers validate it (1–200).
	Limit int
	// Cursor is the opaque NextCursor of the previous page, or "".
	Cursor string
	// Workspaces, when not empty, limits the list to records of these workspaces (the
	// workspaces themselves, for WorkspaceList): what a workspace-limited machine key sees.
	// Lists of records that belong to no workspace (MachineKeyList) ignore it.
	Workspaces []uuid.UUID
}

// Page is one page of a list, newest first. NextCursor is "" on the last page.
type Page[T any] struct {
	Records    []T
	NextCursor string
}

// WorkspaceGetParams selects one workspace of an organization.
type WorkspaceGetParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
}

// ConnectionGetParams selects one connection of an organization.
type ConnectionGetParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
}

// RuleGetParams selects one rule of an organization.
type RuleGetParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
}

// AttemptListByDeliveryParams selects the attempts of one delivery of an organization.
type AttemptListByDeliveryParams struct {
	OrganizationID uuid.UUID
	DeliveryID     uuid.UUID
}

// EventGetParams selects one event.
type EventGetParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	WithPayload    bool
}

// DeliveryClaimParams selects and leases due deliveries.
type DeliveryClaimParams struct {
	Now        time.Time
	LeaseUntil time.Time
	// Limit is the most deliveries to claim.
	Limit int
	// PerConnection is the most deliveries of any one connection to claim (0: no cap).
	PerConnection int
	// Exclude lists connections whose deliveries must not be claimed now.
	Exclude []uuid.UUID
	// Window is how many of the oldest due deliveries the claim chooses among, at most (and by
	// default) 8 × Limit, at least 256. Fairness needs a few per connection with due work; each costs the claim a
	// row read and sorted. Deliveries of excluded connections are not among them but are read
	// past, up to 8 × Window of the oldest due deliveries in all: a claim costs the same however
	// large an excluded connection's backlog is, and what lies beyond is for a Sweep.
	Window int
	// Sweep makes the claim look past the oldest due deliveries, where the backlogs of excluded
	// and busy connections may hide other connections' due work: instead of the window it walks
	// up to SweepConnections connections in id order, after SweepAfter, and claims among the
	// first Limit of them with due deliveries that Exclude does not list. What it costs is
	// bounded by the connections walked, whatever the backlogs behind them.
	Sweep      bool
	SweepAfter uuid.UUID
	// Swept, if set, is told where a Sweep's walk stopped (the last connection walked, or taken
	// when Limit of them were): the next sweep's SweepAfter, uuid.Nil once the walk passed the
	// last connection, so that the next starts again from the first.
	Swept func(last uuid.UUID)
	// Room caps, in claims without Shared, what the claim takes of the listed connections
	// (below PerConnection): the slots this node has free for them. Without it a claim made
	// because one of a busy connection's slots freed would take PerConnection deliveries, start
	// one and hand the rest back — two writes of many rows for one attempt.
	Room map[uuid.UUID]int
	// Shared makes the connections' limits hold for every node on the database (see
	// params_limits.go): per connection the claim takes at most its max_concurrency (else
	// PerConnection) minus its deliveries leased on any node, within its rate_limit_per_second
	// budget, and nothing while it is paused or its circuit is open — except one half-open probe
	// (Claimed.Probe) for the whole cluster.
	Shared bool
	// Blocked, if set, is told of each connection a Shared claim found unable to take any
	// delivery now (saturated on the cluster, out of rate budget, paused, circuit open or probe
	// in flight) and until when that holds at least (saturation: a short recheck), so that the
	// caller can leave it out of its next claims' candidates.
	Blocked func(connectionID uuid.UUID, until time.Time)
	// Full, if set, is told of each connection a claim took all it was allowed from (Shared:
	// its whole budget; otherwise its Room, or PerConnection): more of its deliveries may be
	// due, to be claimed as soon as one of its slots frees.
	Full func(connectionID uuid.UUID)
	// Settled, if set, lists the deliveries this node has finished attempting but whose
	// outcomes are not yet written (Shared claims), and those it keeps ahead (Ahead): still
	// leased in the table, they do not hold a slot at the destination, so the claim does not
	// count them. Without it a freed slot would stay taken until the outcome's group commit,
	// and one busy connection would wait for its own writes. It is called just before the
	// budgets are read, so that attempts finishing while the claim takes its locks count as
	// free too.
	Settled func() []uuid.UUID
	// Ahead lets a Shared claim take, of each listed connection, up to that many deliveries
	// beyond what the cluster lets it start now, to be kept by this node and started only in
	// the slot of one of its own attempts of the connection as that attempt finishes (a slot
	// handed over: the cluster's count of the connection's attempts does not change). They are
	// returned with Claimed.Ahead set. Leased and `processing` like any claimed delivery, they
	// count as holding a slot for every other node's claims, and for this node's when Settled
	// lists them; so the connection's max_concurrency holds for the cluster. Only a connection
	// with no rate limit, not paused and with its circuit closed is given any.
	Ahead map[uuid.UUID]int
}

// SweepConnections is how many connections a Sweep claim walks (DeliveryClaimParams.Sweep).
const SweepConnections = 256

// Claimed is a leased delivery with everything needed to attempt it.
type Claimed struct {
	Delivery *switchyard.Delivery
	// Event is the delivery's event with its payload, read-only: its status, start and counts
	// are as of the claim at best (another delivery of a fan-out event may have finished since,
	// and SQLite may answer from the events it has just stored, sqlstore's recentEvents); what
	// never changes — ids, name, resource, payload, creation time, total rules — is exact.
	Event      *switchyard.Event
	Rule       *switchyard.Rule
	Connection *switchyard.Connection
	// LeaseUntil identifies this claim: DeliveryRecord only succeeds while it still holds.
	LeaseUntil time.Time
	// Probe marks the half-open probe of an open circuit (Shared claims only): its outcome
	// closes or reopens the circuit for every node.
	Probe bool
	// Ahead marks a delivery a Shared claim took beyond the cluster's budget
	// (DeliveryClaimParams.Ahead): it may start only in a slot handed over by a finishing
	// attempt of its connection on this node.
	Ahead bool
}

// DeliveryRecordParams is the outcome of one claimed delivery.
type DeliveryRecordParams struct {
	DeliveryID uuid.UUID
	EventID    uuid.UUID
	LeaseUntil time.Time
	// Attempt is the attempt made, or nil when none was (for example Switchyard's own failure
	// before calling the destination); an attempt increments the delivery's attempt count.
	Attempt *switchyard.Attempt
	// Status is the delivery's new status.
	Status switchyard.Status
	// NextAttemptAt is when to try again (Status retrying or pending), nil when terminal.
	NextAttemptAt *time.Time
	LastError     string
	Now           time.Time
	// EventTotalRules, when 1, tells the store the event has no other delivery, so its status
	// follows from this one without counting (a hint for the common case; 0 means unknown).
	EventTotalRules int
}

// ConnectionDeactivateParams marks one connection inactive.
type ConnectionDeactivateParams struct {
	ConnectionID uuid.UUID
	Reason       string
	Now          time.Time
}

// ClaimRef identifies one claim: a delivery and the lease it was claimed with.
type ClaimRef struct {
	DeliveryID uuid.UUID
	LeaseUntil time.Time
}

// DeliveryReleaseParams hands claims back.
type DeliveryReleaseParams struct {
	Claims []ClaimRef
	DueAt  time.Time
	Now    time.Time
}

// DeliveryDeferParams defers one connection's waiting deliveries.
type DeliveryDeferParams struct {
	ConnectionID uuid.UUID
	Until        time.Time
	// DueBy, when set, limits the deferral to deliveries already due by then (so that a repeated
	// deferral moves only what came due since the last one).
	DueBy time.Time
	Now   time.Time
}

// DeliveryQueueStatsParams asks for queue statistics as of Now.
type DeliveryQueueStatsParams struct {
	Now time.Time
}

// QueueStats describes the due, unclaimed deliveries.
type QueueStats struct {
	Due int
	// OldestDue is the earliest due time among them, nil when there are none.
	OldestDue *time.Time
}

// EventDeleteBeforeParams selects finished events to delete.
type EventDeleteBeforeParams struct {
	Before time.Time
	Limit  int
}

// IdempotencyKeyDeleteBeforeParams selects expired idempotency keys.
type IdempotencyKeyDeleteBeforeParams struct {
	Before time.Time
	Limit  int
}

// CredentialGetParams selects a connection's credential.
type CredentialGetParams struct {
	ConnectionID uuid.UUID
}

// CredentialUpdateParams is a refreshed credential and the version it replaces.
type CredentialUpdateParams struct {
	ConnectionID    uuid.UUID
	ExpectedVersion int64
	Sealed          string
	Now             time.Time
}

// ConnectionAuthorizeParams completes an OAuth flow.
type ConnectionAuthorizeParams struct {
	// Connection is the new connection to insert; nil when ExistingID is set.
	Connection *switchyard.Connection
	// ExistingID, when not uuid.Nil, is the connection being re-authorized (of
	// OrganizationID).
	ExistingID     uuid.UUID
	OrganizationID uuid.UUID
	Sealed         string
	Account        string
	Now            time.Time
}

// OAuthStateTakeParams selects a started flow by its state's hash.
type OAuthStateTakeParams struct {
	StateHash string
	Now       time.Time
}
