// Package batch holds the one loop behind Switchyard's group commits (ingest, the SQLite
// committer, the delivery recorder): take what arrived while the previous write ran, up to a
// bound, and write it together.
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
