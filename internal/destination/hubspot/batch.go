package hubspot

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
)

// memberships coalesces the list-membership changes of one connection's concurrent attempts —
// a group commit: the changes to one list (adding, or removing) that arrive while a call for it
// is under way go together in the next call, which HubSpot's memberships endpoints take as one
// array of record ids. A lone attempt still makes its own call at once; on a busy connection
// (other attempts under way) the first change waits up to memberWindow for others to join, and
// the connection makes about one memberships call per batch instead of one per delivery. Each
// attempt reads its own contact's fate in the shared answer (added, already there, missing), and
// a refusal of the call is every attempt's result. A batch never holds more than the
// connection's attempts in flight.
type memberships struct {
	s       *Sender
	mu      sync.Mutex
	pending map[membershipKey]*membershipBatch
	busy    map[membershipKey]bool
	// timers end the gathering of a busy connection's batches.
	timers map[membershipKey]*time.Timer
}

type membershipKey struct {
	list   string
	remove bool
}

// membershipBatch is one memberships call and what came of it.
type membershipBatch struct {
	ids  []string
	done chan struct{}
	// After done: the answer, or the call's failure; the answer's status and excerpt.
	ans    membershipAnswer
	res    *destination.Result
	status int
	last   string
}

// change adds contactID to the next call changing list (remove: taking out of it) and waits for
// that call. group is how many attempts came by their contacts in one batch create with this
// one: when that many wait, the batch need not wait for its window. It returns ctx's error if
// the attempt ends first (the call goes on for the others).
func (m *memberships) change(ctx context.Context, list string, remove bool, contactID string, group int) (*membershipBatch, error) {
	key := membershipKey{list, remove}
	m.mu.Lock()
	if m.pending == nil {
		m.pending, m.busy, m.timers = map[membershipKey]*membershipBatch{}, map[membershipKey]bool{}, map[membershipKey]*time.Timer{}
	}
	b := m.pending[key]
	if b == nil {
		b = &membershipBatch{done: make(chan struct{})}
		m.pending[key] = b
	}
	b.ids = append(b.ids, contactID)
	if !m.busy[key] {
		m.busy[key] = true
		if m.s.active.Load() > 1 {
			// A busy connection: the attempts released together by a batch create, and those
			// close behind, gather for a moment.
			m.timers[key] = time.AfterFunc(m.s.window(memberWindow), func() {
				m.mu.Lock()
				delete(m.timers, key)
				m.mu.Unlock()
				m.flush(key)
			})
		} else {
			go m.flush(key)
		}
	}
	// The batch goes before its window ends when the attempts of this one's batch create are
	// all in, or when every attempt under way waits in it.
	if t := m.timers[key]; t != nil && ((group > 1 && len(b.ids) >= group) || len(b.ids) >= int(m.s.active.Load())) && t.Stop() {
		delete(m.timers, key)
		go m.flush(key)
	}
	m.mu.Unlock()
	select {
	case <-b.done:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// flush sends the pending batches of key one after another until none is left.
func (m *memberships) flush(key membershipKey) {
	for {
		m.mu.Lock()
		b := m.pending[key]
		delete(m.pending, key)
		if b == nil {
			delete(m.busy, key)
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		m.send(key, b)
	}
}

// send makes one memberships call for batch b. It runs on behalf of several attempts, so it is
// bounded by its own timeout rather than by one attempt's context.
func (m *memberships) send(key membershipKey, b *membershipBatch) {
	defer close(b.done)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := m.s.newCaller()
	op := "add"
	if key.remove {
		op = "remove"
	}
	path := "/crm/v3/lists/" + url.PathEscape(key.list) + "/memberships/" + op
	b.res = c.call(ctx, http.MethodPut, path, nil, b.ids, &b.ans)
	b.status, b.last = c.Status(), c.Last()
}
