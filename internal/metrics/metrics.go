// Package metrics defines Switchyard's Prometheus metrics in one place. Every part that reports
// takes a *Metrics; a nil *Metrics reports nothing, so tests and tools need not build one.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors.
type Metrics struct {
	registry *prometheus.Registry

	eventsAccepted  prometheus.Counter
	deliveries      *prometheus.CounterVec
	attemptDuration prometheus.Histogram
	endToEnd        prometheus.Histogram
	queueDepth      prometheus.Gauge
	queueOldestAge  prometheus.Gauge
	circuitState    *prometheus.GaugeVec
	clockOffset     prometheus.Gauge
}

// latencyBuckets span 1 ms to about 65 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 17)

// New registers every collector (and the Go and process collectors) in a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		eventsAccepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_events_accepted_total", Help: "Events accepted by the API."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_delivery_attempts_total", Help: "Delivery attempts by outcome code."}, []string{"outcome"}),
		attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "switchyard_delivery_attempt_duration_seconds", Help: "Duration of one delivery attempt.", Buckets: latencyBuckets}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "switchyard_event_delivered_latency_seconds", Help: "Time from an event's acceptance to a successful delivery of it.", Buckets: latencyBuckets}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_delivery_queue_due", Help: "Deliveries due now and not claimed (sampled)."}),
		queueOldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_delivery_queue_oldest_due_age_seconds", Help: "How long the oldest due, unclaimed delivery has waited (sampled; 0 when none)."}),
		circuitState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_connection_circuit_state", Help: "Circuit breaker state per connection on this node: 0 closed, 1 half-open, 2 open."},
			[]string{"connection_id"}),
		clockOffset: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_node_clock_offset_seconds", Help: "How far this node's clock is ahead of the database's (negative: behind), measured at each cluster heartbeat (PostgreSQL)."}),
	}
	r.MustRegister(m.eventsAccepted, m.deliveries, m.attemptDuration, m.endToEnd, m.queueDepth, m.queueOldestAge, m.circuitState, m.clockOffset,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// EventsAccepted counts n accepted events.
func (m *Metrics) EventsAccepted(n int) {
	if m != nil {
		m.eventsAccepted.Add(float64(n))
	}
}

// Attempt records one attempt's outcome and duration.
func (m *Metrics) Attempt(outcome string, d time.Duration) {
	if m != nil {
		m.deliveries.WithLabelValues(outcome).Inc()
		m.attemptDuration.Observe(d.Seconds())
	}
}

// Delivered records the time from an event's acceptance to its successful delivery.
func (m *Metrics) Delivered(sinceAccepted time.Duration) {
	if m != nil {
		m.endToEnd.Observe(sinceAccepted.Seconds())
	}
}

// Queue records the sampled queue depth and the age of the oldest due delivery.
func (m *Metrics) Queue(due int, oldestAge time.Duration) {
	if m != nil {
		m.queueDepth.Set(float64(due))
		m.queueOldestAge.Set(oldestAge.Seconds())
	}
}

// Circuit states.
const (
	CircuitClosed   = 0
	CircuitHalfOpen = 1
	CircuitOpen     = 2
)

// Circuit records a connection's breaker state; closed connections are dropped from the series
// so the label set stays bounded by the connections in trouble.
func (m *Metrics) Circuit(connectionID string, state int) {
	if m == nil {
		return
	}
	if state == CircuitClosed {
		m.circuitState.DeleteLabelValues(connectionID)
		return
	}
	m.circuitState.WithLabelValues(connectionID).Set(float64(state))
}

// ClockOffset records how far this node's clock is ahead of the database's.
func (m *Metrics) ClockOffset(d time.Duration) {
	if m != nil {
		m.clockOffset.Set(d.Seconds())
	}
}
