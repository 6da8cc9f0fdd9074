package destination

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Delivery settings every connection accepts, whatever its integration: the engine reads them
// (package delivery), and the registry adds them to every integration's schema so that they are
// validated and published like any other field.
const (
	KeyMaxConcurrency     = "max_concurrency"
	KeyRateLimitPerSecond = "rate_limit_per_second"
	KeyRetrySchedule      = "retry_schedule"
)

// Bounds of the delivery settings.
const (
	MaxConcurrencyLimit = 256
	// MinRatePerSecond is the smallest rate_limit_per_second other than 0 (none): one delivery
	// every 1,000 s. Below it the interval between deliveries, in microseconds, overflowed the
	// cluster's rate budget (a rate of 1e-300 let everything through).
	MinRatePerSecond   = 0.001
	MaxRatePerSecond   = 100000
	maxScheduleEntries = 20
	maxScheduleStep    = 24 * time.Hour
)

// deliveryFields are appended to every integration's Fields by NewRegistry.
var deliveryFields = []Field{
	{Key: KeyMaxConcurrency, Label: "Max concurrent deliveries", Type: FieldNumber,
		HelpText: fmt.Sprintf("Deliveries in flight to this connection at once, across all of the server's nodes (1–%d). Default: the server's setting.", MaxConcurrencyLimit)},
	{Key: KeyRateLimitPerSecond, Label: "Rate limit (per second)", Type: FieldNumber,
		HelpText: "Most deliveries per second to this connection, across all of the server's nodes (0.001–100000). 0 or empty: no limit."},
	{Key: KeyRetrySchedule, Label: "Retry schedule", Type: FieldText,
		HelpText: "Waits before each retry, comma-separated Go durations (e.g. 5s,1m,5m,30m,2h,6h,12h). Default: the server's schedule."},
}

// MaxConcurrencyOf is a connection's max_concurrency as the limits apply it: the number in its
// metadata when that is at least 1, else def.
func MaxConcurrencyOf(meta map[string]any, def int) int {
	if v, ok := meta[KeyMaxConcurrency].(float64); ok && v >= 1 {
		return int(v)
	}
	return def
}

// RateLimitOf is a connection's rate_limit_per_second as the limits apply it: 0 for none, and a
// rate stored below MinRatePerSecond (before the API refused one) raised to it.
func RateLimitOf(meta map[string]any) float64 {
	if v, ok := meta[KeyRateLimitPerSecond].(float64); ok && v > 0 {
		return max(v, MinRatePerSecond)
	}
	return 0
}

// checkDeliveryFields checks the ranges a Field cannot declare.
func checkDeliveryFields(meta map[string]any) []switchyard.FieldError {
	var errs []switchyard.FieldError
	if v, ok := meta[KeyMaxConcurrency].(float64); ok && (v != float64(int(v)) || v < 1 || v > MaxConcurrencyLimit) {
		errs = append(errs, switchyard.FieldError{Param: ParamPrefix + KeyMaxConcurrency,
			Msg: fmt.Sprintf("must be a whole number from 1 to %d", MaxConcurrencyLimit)})
	}
	if v, ok := meta[KeyRateLimitPerSecond].(float64); ok && (v < 0 || v > MaxRatePerSecond || (v > 0 && v < MinRatePerSecond)) {
		errs = append(errs, switchyard.FieldError{Param: ParamPrefix + KeyRateLimitPerSecond, Msg: "must be 0 (no limit) or from 0.001 to 100000"})
	}
	if v, ok := meta[KeyRetrySchedule].(string); ok && v != "" {
		if _, err := ParseRetrySchedule(v); err != nil {
			errs = append(errs, switchyard.FieldError{Param: ParamPrefix + KeyRetrySchedule, Msg: err.Error()})
		}
	}
	return errs
}

// ParseRetrySchedule parses a comma-separated list of waits ("5s,1m,5m"): 1 to 20 entries, each
// from 1 s to 24 h.
func ParseRetrySchedule(s string) ([]time.Duration, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxScheduleEntries {
		return nil, fmt.Errorf("must have at most %d entries", maxScheduleEntries)
	}
	out := make([]time.Duration, 0, len(parts))
	for _, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d < time.Second || d > maxScheduleStep {
			return nil, fmt.Errorf("must be comma-separated durations from 1s to 24h, like 5s,1m,5m")
		}
		out = append(out, d)
	}
	return out, nil
}
