package batch

import (
	"slices"
	"testing"
)

func TestFillTakesWhatIsWaitingUpToMax(t *testing.T) {
	ch := make(chan int, 10)
	for i := range 5 {
		ch <- i
	}
	b, closed := Fill([]int{-1}, ch, 4, nil)
	if closed || !slices.Equal(b, []int{-1, 0, 1, 2}) {
		t.Fatalf("Fill = %v, %v; want [-1 0 1 2], open", b, closed)
	}
	if len(ch) != 2 {
		t.Fatalf("%d items left in the channel, want 2", len(ch))
	}
}

func TestFillDoesNotWaitForMore(t *testing.T) {
	ch := make(chan int, 10)
	ch <- 7
	b, closed := Fill(nil, ch, 100, nil)
	if closed || !slices.Equal(b, []int{7}) {
		t.Fatalf("Fill = %v, %v; want [7], open", b, closed)
	}
}

func TestFillReportsAClosedChannel(t *testing.T) {
	ch := make(chan int, 3)
	ch <- 1
	close(ch)
	b, closed := Fill(nil, ch, 100, nil)
	if !closed || !slices.Equal(b, []int{1}) {
		t.Fatalf("Fill = %v, %v; want [1], closed", b, closed)
	}
}

func TestFillWeighsItemsAndNeverSplitsOne(t *testing.T) {
	ch := make(chan []string, 10)
	ch <- []string{"a", "b", "c"}
	ch <- []string{"d", "e", "f"}
	ch <- []string{"g"}
	first := []string{"x", "y"}
	b, _ := Fill([][]string{first}, ch, 4, func(s []string) int { return len(s) })
	// 2 (first) + 3 = 5 ≥ 4: the second request is taken whole, the third left queued.
	if len(b) != 2 || len(ch) != 2 {
		t.Fatalf("took %d requests, left %d; want 2 taken, 2 left", len(b), len(ch))
	}
}
