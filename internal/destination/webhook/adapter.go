package webhook

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// DefaultUserAgent is sent when the server configures none.
const DefaultUserAgent = "Switchyard-Webhooks/1"

// Adapter delivers to webhook connections. One Adapter serves every webhook connection of a
// server: it holds the one shared Transport, so keep-alive connections are reused across
// deliveries. It is safe for concurrent use.
type Adapter struct {
	client    *http.Client
	transport *http.Transport
	// dialer makes every connection; tests in this package set its Resolver to fail lookups
	// without the network.
	dialer       *net.Dialer
	allowPrivate bool
	userAgent    string
	logger       *slog.Logger
}

var _ destination.Provisioner = (*Adapter)(nil)

// New returns a webhook adapter. It has no side effects: connections are made on first use.
// Unless opts.AllowPrivate, every connection is checked when it is dialled (after DNS
// resolution, so rebinding cannot get around it) and refused if it goes to a loopback,
// private, link-local, metadata or other special-purpose address. Redirects are not followed:
// a 3xx counts as delivered (docs/meshes-compat.md §9), and following one could lead anywhere,
// including past the https rule.
func New(opts destination.Options) *Adapter {
	hc := destination.NewHTTPClient(opts, destination.HTTPClientConfig{
		// Any port: customers' endpoints listen where they like; the addresses are what matter.
		AnyPort:             true,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256, // many deliveries in flight to one host must not reconnect each time
		// No ResponseHeaderTimeout: the connection's timeout_seconds bounds each request.
	})
	return &Adapter{
		client:       hc.Client,
		transport:    hc.Transport,
		dialer:       hc.Dialer,
		allowPrivate: opts.AllowPrivate,
		userAgent:    opts.UserAgentOr(DefaultUserAgent),
		logger:       opts.LoggerOrDiscard(),
	}
}

// CloseIdleConnections closes the adapter's idle keep-alive connections.
func (a *Adapter) CloseIdleConnections() { a.transport.CloseIdleConnections() }

// Cleanup closes the idle connections when the adapter is dropped.
func (a *Adapter) Cleanup() { a.CloseIdleConnections() }

// Provision decodes a connection's metadata into its config, once per connection value, and
// returns the sender that delivers with it. The metadata must be normalised by the schema
// (Integration().ValidateMetadata: defaults filled, select values canonical, types
// normalised), as the engine and the API always provision it. Provision refuses metadata that
// is not, rather than guess a default or a spelling, and normalised metadata that breaks a rule
// the schema cannot say (a connection stored before the rule existed). It makes no network
// call.
func (a *Adapter) Provision(_ context.Context, p destination.Provision) (destination.Sender, error) {
	if p.Connection == nil {
		return nil, &switchyard.Error{Code: switchyard.EINVALID, Message: "no connection to provision"}
	}
	c, errs := parseConfig(p.Connection.Metadata)
	if len(errs) > 0 {
		return nil, &switchyard.Error{Code: switchyard.EINVALID,
			Message: "connection metadata is invalid: " + errs[0].Param + " " + errs[0].Msg, Fields: errs}
	}
	return &sender{a: a, c: c, conn: p.Connection}, nil
}

// sender delivers for one webhook connection value.
type sender struct {
	a    *Adapter
	c    *config
	conn *switchyard.Connection
}

var _ destination.Tester = (*sender)(nil)

// Deliver makes one request for req and classifies what came of it. It never retries.
func (s *sender) Deliver(ctx context.Context, req *destination.Request) destination.Result {
	if req == nil || req.Event == nil {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "delivery request without an event"}
	}
	start := time.Now()
	res := s.a.deliver(ctx, s.c, req)
	if s.a.logger.Enabled(ctx, slog.LevelDebug) {
		s.a.logger.LogAttrs(ctx, slog.LevelDebug, "webhook attempt",
			slog.String("delivery_id", req.DeliveryID.String()), slog.Int("attempt", req.Attempt),
			slog.String("outcome", string(res.Outcome)), slog.Int("http_status", res.HTTPStatus),
			slog.Duration("duration", time.Since(start)))
	}
	return res
}

func (a *Adapter) deliver(ctx context.Context, c *config, req *destination.Request) destination.Result {
	if !a.allowPrivate && c.URL.Scheme != "https" {
		return destination.Result{
			Outcome: switchyard.OutcomeInvalidRequest,
			Message: "destination refused: the URL must use https (the server does not allow private destinations)",
		}
	}
	sentAt := req.SentAt
	if sentAt.IsZero() {
		sentAt = time.Now()
	}
	if c.Raw && !(validHeaderValue(req.Event.Name) && validHeaderValue(req.Event.Resource) && validHeaderValue(req.Event.ResourceID)) {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "the event name, resource or resource id cannot be sent in a raw-mode header"}
	}
	body, err := buildBody(c, req.Event, sentAt)
	if err != nil {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: err.Error()}
	}

	reqCtx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(reqCtx, c.Method, c.URL.String(), bytes.NewReader(body))
	if err != nil {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "cannot build the request: invalid URL or method"}
	}
	hreq.Header = a.requestHeaders(c, req, sentAt, body)

	resp, err := a.client.Do(hreq)
	if err != nil {
		res := destination.ClassifyTransportError(ctx, err, c.Timeout, c.URL)
		res.Message = destination.Redact(res.Message, c.secrets)
		return res
	}
	excerpt := destination.ReadExcerpt(resp)
	res := classifyResponse(resp, c, sentAt)
	res.Response = destination.Redact(excerpt, c.secrets)
	return res
}

// classifyResponse maps the destination's status into an outcome (docs/integrations/webhook.md
// has the table).
func classifyResponse(resp *http.Response, c *config, sentAt time.Time) destination.Result {
	code := resp.StatusCode
	res := destination.Result{HTTPStatus: code, Message: destination.StatusMessage(code)}
	switch {
	case code >= 200 && code < 300:
		res.Outcome = switchyard.OutcomeDelivered
	case code >= 300 && code < 400:
		res.Outcome = switchyard.OutcomeDelivered
		res.Message += " (redirect not followed)"
	case code == http.StatusBadRequest:
		res.Outcome = switchyard.OutcomeRejectedClientError
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		res.Outcome = switchyard.OutcomeAuthFailed
		if c.Auth != AuthNone {
			// The credentials we send are wrong; without credentials, the endpoint simply
			// refuses us and deactivating would not help the customer find out why.
			res.Deactivate = switchyard.InactiveAuthenticationInvalid
		}
	case code == http.StatusNotFound:
		res.Outcome = switchyard.OutcomeDestinationNotFound
	case code == http.StatusRequestTimeout:
		res.Outcome = switchyard.OutcomeDestinationTimeout
	case code == http.StatusConflict:
		res.Outcome = switchyard.OutcomeDestinationConflict
	case code == http.StatusGone:
		res.Outcome = switchyard.OutcomeDestinationGone
		res.Deactivate = destination.InactiveDestinationGone
	case code == http.StatusRequestEntityTooLarge:
		res.Outcome = switchyard.OutcomePayloadTooLarge
	case code == http.StatusUnprocessableEntity:
		res.Outcome = switchyard.OutcomeValidationFailed
	case code == http.StatusTooManyRequests:
		res.Outcome = switchyard.OutcomeRateLimited
	case code >= 400 && code < 500:
		res.Outcome = switchyard.OutcomeRejectedClientError
	default: // 5xx, and anything outside the defined ranges
		res.Outcome = switchyard.OutcomeRejectedServerError
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		if d, ok := destination.ParseRetryAfter(resp.Header.Get("Retry-After"), sentAt); ok {
			res.RetryAfter = d
		}
	}
	return res
}
