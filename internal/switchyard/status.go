package switchyard

// Status is the state of a delivery, and of an event as derived from its deliveries.
type Status string

// The statuses of the Meshes API. A delivery moves pending → processing → completed, or
// processing → retrying → processing … → failed, or to canceled from any non-terminal state.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusRetrying   Status = "retrying"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
)

// Terminal reports whether no further attempt will be made in this status.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusProcessing, StatusRetrying, StatusCompleted, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Outcome classifies the result of one attempt. Every destination maps its responses into this
// shared vocabulary (the Meshes API's 16 outcome codes).
type Outcome string

// The outcome codes.
const (
	OutcomeDelivered           Outcome = "delivered"
	OutcomeRateLimited         Outcome = "rate_limited"
	OutcomeAuthFailed          Outcome = "auth_failed"
	OutcomeTimeout             Outcome = "timeout"
	OutcomeNetworkError        Outcome = "network_error"
	OutcomeMappingError        Outcome = "mapping_error"
	OutcomeRejectedClientError Outcome = "rejected_client_error"
	OutcomeRejectedServerError Outcome = "rejected_server_error"
	OutcomeInternalError       Outcome = "internal_error"
	OutcomeInvalidRequest      Outcome = "invalid_request"
	OutcomeValidationFailed    Outcome = "validation_failed"
	OutcomeDestinationNotFound Outcome = "destination_not_found"
	OutcomeDestinationConflict Outcome = "destination_conflict"
	OutcomeDestinationGone     Outcome = "destination_gone"
	OutcomeDestinationTimeout  Outcome = "destination_timeout"
	OutcomePayloadTooLarge     Outcome = "payload_too_large"
)

// Retryable reports whether an attempt with this outcome should be tried again later.
// internal_error is retryable: it is Switchyard's own failure, and it never uses up an attempt.
func (o Outcome) Retryable() bool {
	switch o {
	case OutcomeRateLimited, OutcomeTimeout, OutcomeNetworkError, OutcomeRejectedServerError,
		OutcomeDestinationTimeout, OutcomeInternalError:
		return true
	}
	return false
}
