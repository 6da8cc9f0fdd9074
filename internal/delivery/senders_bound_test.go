package delivery

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// forgettingTokens records which connections' token sources the senders cache dropped.
type forgettingTokens struct {
	mu        sync.Mutex
	forgotten map[uuid.UUID]bool
}

func (f *forgettingTokens) Tokens(context.Context, *switchyard.Connection) (destination.Tokens, string, error) {
	return nil, "", destination.ErrNoCredentials
}

func (f *forgettingTokens) Forget(id uuid.UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgotten[id] = true
}

// Many connections used within the idle period do not grow the cache past its bound: past it,
// the less recently used half goes at once, and their token sources with them.
func TestSendersStayBounded(t *testing.T) {
	t.Parallel()
	s, prov, box := testSenders(t)
	tokens := &forgettingTokens{forgotten: map[uuid.UUID]bool{}}
	s.tokens, s.max = tokens, 50
	now := time.Now()
	var ids []uuid.UUID
	for i := range 1000 {
		id := uuid.New()
		ids = append(ids, id)
		p, err := s.acquire(context.Background(), sealedConn(t, box, id, map[string]any{"url": "https://example.com"}), now.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		s.release(p)
		entries := 0
		s.byConn.Range(func(any, any) bool { entries++; return true })
		if entries > 51 || int64(entries) != s.size.Load() {
			t.Fatalf("after %d connections: %d entries (size counter %d), want at most 51", i+1, entries, s.size.Load())
		}
	}
	if prov.n.Load() != 1000 {
		t.Errorf("%d provisionings for 1000 connections", prov.n.Load())
	}
	// The most recent connection is still cached; the first was pruned and its tokens forgotten.
	if _, ok := s.byConn.Load(ids[len(ids)-1]); !ok {
		t.Error("the most recently used connection was pruned")
	}
	tokens.mu.Lock()
	defer tokens.mu.Unlock()
	if !tokens.forgotten[ids[0]] || len(tokens.forgotten) < 900 {
		t.Errorf("token sources forgotten: %d (the first connection's: %v), want every pruned connection's", len(tokens.forgotten), tokens.forgotten[ids[0]])
	}
}
