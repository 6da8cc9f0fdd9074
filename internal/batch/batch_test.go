package batch

import (
	"slices"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testutil"
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

// A spare takes nothing while less than a full batch waits, takes a full one when woken, and
// stops when told to.
func TestSpareTakesOnlyFullBatches(t *testing.T) {
	ch := make(chan int, 8)
	wake, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	writes := make(chan []int, 8)
	go func() {
		defer close(done)
		Spare(ch, wake, stop, func() bool { return len(ch) >= 4 }, 4, nil, func(b []int) { writes <- slices.Clone(b) })
	}()
	ch <- 1
	ch <- 2
	wake <- struct{}{} // unbuffered: received once the spare sleeps,
	wake <- struct{}{} // and again only after it looked at the queue and went back to sleep
	if len(writes) != 0 || len(ch) != 2 {
		t.Fatalf("the spare wrote %d batches with 2 items queued (%d left), want none taken", len(writes), len(ch))
	}
	ch <- 3
	ch <- 4
	wake <- struct{}{}
	if b := testutil.Receive(t, writes, 10*time.Second, "the spare's write"); !slices.Equal(b, []int{1, 2, 3, 4}) {
		t.Fatalf("the spare wrote %v, want the full batch [1 2 3 4]", b)
	}
	close(stop)
	<-done
}

// A spare whose channel is closed returns.
func TestSpareReturnsWhenTheChannelCloses(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 1
	close(ch)
	wake, done := make(chan struct{}, 1), make(chan struct{})
	Wake(wake)
	var wrote [][]int
	go func() {
		defer close(done)
		Spare(ch, wake, make(chan struct{}), func() bool { return true }, 4, nil, func(b []int) { wrote = append(wrote, slices.Clone(b)) })
	}()
	<-done
	if len(wrote) != 1 || !slices.Equal(wrote[0], []int{1}) {
		t.Fatalf("the spare wrote %v, want the one item left before the channel closed", wrote)
	}
}
