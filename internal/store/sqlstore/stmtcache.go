package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The SQLite driver parses every query it is handed, and parsing was the largest single cost of
// the ingest and delivery paths (about 40 % of CPU in the e2e-latency profile). These wrappers
// keep a cache of prepared statements on each connection, keyed by the query text, so that each
// of Switchyard's queries is parsed once per connection. They are transparent to the SQL code:
// database/sql hands ExecContext/QueryContext the query string, and the connection picks the
// prepared statement. (pgx caches prepared statements itself.)

// maxCachedStmts bounds the cache per connection; queries past it are prepared and discarded.
const maxCachedStmts = 512

// cachingConnector opens driver connections that cache prepared statements.
type cachingConnector struct {
	drv driver.Driver
	dsn string
}

func (c *cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return c.drv }

// cachingConn wraps one driver connection. database/sql never uses a connection from two
// goroutines at once, so the cache needs no lock.
type cachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cachedStmt is a prepared statement and whether rows read from it are still open (SQLite
// cannot run a statement again until its rows are closed). order, when set, maps each of the
// statement's "?" parameters to the argument it takes (see positional).
type cachedStmt struct {
	driver.Stmt
	busy  bool
	order []int
}

// args returns the driver arguments in the statement's parameter order.
func (s *cachedStmt) args(args []driver.NamedValue) ([]driver.NamedValue, error) {
	if s.order == nil {
		return args, nil
	}
	out := make([]driver.NamedValue, len(s.order))
	for i, k := range s.order {
		if k >= len(args) {
			return nil, fmt.Errorf("missing argument $%d", k+1)
		}
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: args[k].Value}
	}
	return out, nil
}

// positional rewrites a query's $N parameters as plain "?" and returns, for each "?" in order,
// the index of the argument it takes. SQLite looks a named or numbered parameter up by a
// linear search for every bind, which made binding quadratic in the number of parameters: a
// 64-row INSERT spent most of its time there. Quoted text is left alone; a query that already
// holds a "?" is returned unchanged (nil order).
func positional(query string) (string, []int) {
	var (
		b     strings.Builder
		order []int
		quote byte
	)
	b.Grow(len(query))
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			return query, nil
		case c == '$' && i+1 < len(query) && query[i+1] >= '1' && query[i+1] <= '9':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(query[i+1 : j])
			if err != nil {
				return query, nil
			}
			order = append(order, n-1)
			b.WriteByte('?')
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	if order == nil {
		return query, nil
	}
	return b.String(), order
}

var (
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

// stmt returns the cached statement for query, preparing it if needed, and reports whether it
// is cached (an uncached one must be closed after use).
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, bool, error) {
	if s, ok := c.stmts[query]; ok && !s.busy {
		return s, true, nil
	}
	text, order := positional(query)
	prepared, err := c.PrepareContext(ctx, text)
	if err != nil {
		return nil, false, err
	}
	s := &cachedStmt{Stmt: prepared, order: order}
	if _, taken := c.stmts[query]; taken || len(c.stmts) >= maxCachedStmts {
		return s, false, nil
	}
	c.stmts[query] = s
	return s, true, nil
}

// closeUncached closes s unless it is cached.
func (s *cachedStmt) closeUncached(cached bool) error {
	if cached {
		return nil
	}
	return s.Close()
}

// prepared returns the statement for query and args in its parameter order.
func (c *cachingConn) prepared(ctx context.Context, query string, args []driver.NamedValue) (*cachedStmt, bool, []driver.NamedValue, error) {
	s, cached, err := c.stmt(ctx, query)
	if err != nil {
		return nil, false, nil, err
	}
	if args, err = s.args(args); err != nil {
		return nil, false, nil, errors.Join(err, s.closeUncached(cached))
	}
	return s, cached, args, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, cached, args, err := c.prepared(ctx, query, args)
	if err != nil {
		return nil, err
	}
	res, err := s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	return res, errors.Join(err, s.closeUncached(cached))
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, cached, args, err := c.prepared(ctx, query, args)
	if err != nil {
		return nil, err
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, errors.Join(err, s.closeUncached(cached))
	}
	s.busy = true
	return &cachedRows{Rows: rows, stmt: s, closeStmt: !cached}, nil
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.Conn.Begin() //nolint:staticcheck // fallback for drivers without BeginTx
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue lets the driver convert arguments as it would without the wrapper.
func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	var err error
	for q, s := range c.stmts {
		err = errors.Join(err, s.Close())
		delete(c.stmts, q)
	}
	return errors.Join(err, c.Conn.Close())
}

// cachedRows frees its statement for reuse when closed.
type cachedRows struct {
	driver.Rows
	stmt      *cachedStmt
	closeStmt bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.stmt.busy = false
	if r.closeStmt {
		err = errors.Join(err, r.stmt.Close())
	}
	return err
}
