package delivery

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// countingSender remembers the metadata it was provisioned with and whether it was cleaned up.
type countingSender struct {
	meta    map[string]any
	cleaned atomic.Int32
}

func (s *countingSender) Deliver(context.Context, *destination.Request) destination.Result {
	return destination.Result{Outcome: switchyard.OutcomeDelivered}
}

func (s *countingSender) Cleanup() { s.cleaned.Add(1) }

// countingProvisioner counts provisionings.
type countingProvisioner struct{ n atomic.Int32 }

func (p *countingProvisioner) Provision(_ context.Context, pr destination.Provision) (destination.Sender, error) {
	p.n.Add(1)
	return &countingSender{meta: pr.Connection.Metadata}, nil
}

func testSenders(t *testing.T) (*senders, *countingProvisioner, *secret.Box) {
	t.Helper()
	box, err := secret.New(secret.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	prov := &countingProvisioner{}
	reg := destination.NewRegistry(&destination.Integration{Type: "counting", Name: "Counting", AuthType: destination.AuthNone,
		Fields: []destination.Field{
			{Key: "url", Label: "URL", Type: destination.FieldText, Required: true},
			{Key: "secret", Label: "Secret", Type: destination.FieldPassword, Secret: true},
			{Key: "mode", Label: "Mode", Type: destination.FieldSelect, Default: "a",
				Options: []destination.Option{{Label: "A", Value: "a"}, {Label: "B", Value: "b"}}},
		},
		New: func(destination.Options) destination.Provisioner { return prov }})
	return newSenders(nil, reg, box, destination.Options{}, nil), prov, box
}

func sealedConn(t *testing.T, box *secret.Box, id uuid.UUID, meta map[string]any) *switchyard.Connection {
	t.Helper()
	m, err := secret.SealFields(box, meta, []string{"secret"})
	if err != nil {
		t.Fatal(err)
	}
	return &switchyard.Connection{ID: id, Type: "counting", Metadata: m, Active: true}
}

// A connection value is provisioned once — however many attempts start on it at once — from its
// normalised metadata with the secrets opened; a new value is provisioned again, and the old
// sender is cleaned up once the last attempt using it is done.
func TestSendersFollowTheConnectionValue(t *testing.T) {
	t.Parallel()
	s, prov, box := testSenders(t)
	id := uuid.New()
	first := sealedConn(t, box, id, map[string]any{"url": "https://example.com", "secret": "one", "mode": "B"})
	now := time.Now()

	var wg sync.WaitGroup
	got := make([]*provisioned, 20)
	for i := range got {
		wg.Go(func() {
			p, err := s.acquire(context.Background(), first, now)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = p
		})
	}
	wg.Wait()
	if prov.n.Load() != 1 {
		t.Fatalf("20 concurrent attempts provisioned %d times, want 1", prov.n.Load())
	}
	old := got[0].sender.(*countingSender)
	if old.meta["secret"] != "one" || old.meta["mode"] != "b" {
		t.Fatalf("provisioned with %v, want the secret opened and the choice normalised", old.meta)
	}
	if first.Metadata["secret"] == "one" {
		t.Fatal("the stored (sealed) metadata was modified")
	}

	changed := sealedConn(t, box, id, map[string]any{"url": "https://example.com", "secret": "two"})
	p2, err := s.acquire(context.Background(), changed, now)
	if err != nil || p2.sender.(*countingSender).meta["secret"] != "two" || prov.n.Load() != 2 {
		t.Fatalf("after the connection changed: %v (err %v, %d provisionings); want a new sender with the new secret", p2, err, prov.n.Load())
	}
	for i, p := range got {
		if old.cleaned.Load() != 0 {
			t.Fatalf("the replaced sender was cleaned up with %d attempts still using it", len(got)-i)
		}
		s.release(p)
	}
	if old.cleaned.Load() != 1 {
		t.Fatalf("the replaced sender was cleaned up %d times after its last attempt, want 1", old.cleaned.Load())
	}
	s.release(p2)

	// Idle entries are pruned and cleaned up; busy ones stay.
	if n := s.prune(now.Add(time.Second)); n != 1 || p2.sender.(*countingSender).cleaned.Load() != 1 {
		t.Fatalf("prune dropped %d entries, want 1 (cleaned %d)", n, p2.sender.(*countingSender).cleaned.Load())
	}
}

// Metadata the schema refuses (stored before a rule tightened, say) is not Switchyard's failure:
// the entry says why, and attempts fail with it instead of being retried for ever.
func TestSendersReportInvalidMetadata(t *testing.T) {
	t.Parallel()
	s, prov, box := testSenders(t)
	p, err := s.acquire(context.Background(), sealedConn(t, box, uuid.New(), map[string]any{"mode": "c"}), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.release(p)
	if p.invalid == nil || p.sender != nil || prov.n.Load() != 0 {
		t.Fatalf("invalid metadata gave %+v (provisioned %d times)", p, prov.n.Load())
	}
}
