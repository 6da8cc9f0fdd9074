package switchyard_test

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestEventStatus(t *testing.T) {
	t.Parallel()
	const (
		pe = switchyard.StatusPending
		pr = switchyard.StatusProcessing
		re = switchyard.StatusRetrying
		co = switchyard.StatusCompleted
		fa = switchyard.StatusFailed
		ca = switchyard.StatusCanceled
	)
	for _, tc := range []struct {
		name   string
		counts switchyard.StatusCounts
		want   switchyard.Status
	}{
		{"an event with no deliveries is completed", switchyard.StatusCounts{}, co},
		{"all pending is pending", switchyard.StatusCounts{pe: 3}, pe},
		{"any in flight is processing", switchyard.StatusCounts{pe: 2, pr: 1, re: 1}, pr},
		{"waiting for a retry is retrying", switchyard.StatusCounts{pe: 1, re: 1}, re},
		{"partly done and partly pending is processing", switchyard.StatusCounts{co: 1, pe: 1}, pr},
		{"all completed is completed", switchyard.StatusCounts{co: 3}, co},
		{"a failure among finished deliveries is failed", switchyard.StatusCounts{co: 2, fa: 1}, fa},
		{"a failure while another still retries is not yet failed", switchyard.StatusCounts{fa: 1, re: 1}, re},
		{"completed and canceled is completed", switchyard.StatusCounts{co: 1, ca: 1}, co},
		{"all canceled is canceled", switchyard.StatusCounts{ca: 2}, ca},
		{"failed and canceled is failed", switchyard.StatusCounts{fa: 1, ca: 1}, fa},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := switchyard.EventStatus(tc.counts); got != tc.want {
				t.Fatalf("EventStatus(%v) = %s, want %s", tc.counts, got, tc.want)
			}
		})
	}
}

func TestOutcomeRetryable(t *testing.T) {
	t.Parallel()
	retry := map[switchyard.Outcome]bool{
		switchyard.OutcomeRateLimited: true, switchyard.OutcomeTimeout: true, switchyard.OutcomeNetworkError: true,
		switchyard.OutcomeRejectedServerError: true, switchyard.OutcomeDestinationTimeout: true, switchyard.OutcomeInternalError: true,
	}
	for _, o := range []switchyard.Outcome{
		switchyard.OutcomeDelivered, switchyard.OutcomeRateLimited, switchyard.OutcomeAuthFailed, switchyard.OutcomeTimeout,
		switchyard.OutcomeNetworkError, switchyard.OutcomeMappingError, switchyard.OutcomeRejectedClientError,
		switchyard.OutcomeRejectedServerError, switchyard.OutcomeInternalError, switchyard.OutcomeInvalidRequest,
		switchyard.OutcomeValidationFailed, switchyard.OutcomeDestinationNotFound, switchyard.OutcomeDestinationConflict,
		switchyard.OutcomeDestinationGone, switchyard.OutcomeDestinationTimeout, switchyard.OutcomePayloadTooLarge,
	} {
		if o.Retryable() != retry[o] {
			t.Errorf("%s.Retryable() = %v, want %v", o, o.Retryable(), retry[o])
		}
	}
}
