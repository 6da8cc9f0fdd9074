package hubspot

import "time"

// PendingMemberships is how many contacts wait for the sender's next memberships call (tests).
func PendingMemberships(s *Sender) int {
	s.members.mu.Lock()
	defer s.members.mu.Unlock()
	n := 0
	for _, b := range s.members.pending {
		n += len(b.ids)
	}
	return n
}

// PendingCreates is how many attempts wait for the sender's next batch create (tests).
func PendingCreates(s *Sender) int {
	s.creates.mu.Lock()
	defer s.creates.mu.Unlock()
	if s.creates.pending == nil {
		return 0
	}
	return len(s.creates.pending.inputs)
}

// SetBatchWindow replaces how long a busy connection's batches gather (tests).
func SetBatchWindow(s *Sender, d time.Duration) { s.windowOverride = d }
