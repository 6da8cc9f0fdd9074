// Package batch holds the one loop behind Switchyard's group commits (ingest, the SQLite
// committer, the delivery recorder): take what arrived while the previous write ran, up to a
// bound, and write it together — and the spare writers that ingest and the recorder add on
// PostgreSQL only while a full batch waits.
package batch

// Fill appends to b whatever is already waiting in ch, without blocking, until b weighs at
// least max. weight gives an item's weight (nil: every item weighs 1); b's items count too. It
// returns the batch and whether ch was found closed. An item is never split: the last one taken
// may carry the batch past max.
func Fill[T any](b []T, ch <-chan T, max int, weight func(T) int) ([]T, bool) {
	w := 0
	for _, it := range b {
		w += weigh(it, weight)
	}
	for w < max {
		select {
		case it, ok := <-ch:
			if !ok {
				return b, true
			}
			b = append(b, it)
			w += weigh(it, weight)
		default:
			return b, false
		}
	}
	return b, false
}

func weigh[T any](it T, weight func(T) int) int {
	if weight == nil {
		return 1
	}
	return weight(it)
}

// Spare is a spare writer of a group commit, for where several writers may commit side by side
// (PostgreSQL) but one that takes whatever is queued makes fewer, fuller commits: the first
// writer runs its own loop, and spares add commits only while it cannot keep up. A spare sleeps
// until woken (wake; see Wake), then, while full reports that a full batch waits in ch, takes one
// (Fill, up to max by weight) and hands it to write. It returns once stop is closed, leaving what
// is still queued to the first writer, or once ch is found closed.
func Spare[T any](ch <-chan T, wake, stop <-chan struct{}, full func() bool, max int, weight func(T) int, write func([]T)) {
	var b []T
	for {
		select {
		case <-wake:
		case <-stop:
			return
		}
	take:
		for full() {
			select {
			case it, ok := <-ch:
				if !ok {
					return
				}
				var closed bool
				b, closed = Fill(append(b[:0], it), ch, max, weight)
				write(b)
				clear(b)
				if closed {
					return
				}
			default:
				break take // taken meanwhile by another writer
			}
		}
	}
}

// Wake wakes a sleeping Spare without blocking; a wake-up sent while none sleeps waits in wake
// (which should hold one) for the next.
func Wake(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default: // a spare has been woken already
	}
}
