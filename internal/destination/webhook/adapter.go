package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"code.dny.dev/ssrf"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// DefaultUserAgent is sent when the server configures none.
const DefaultUserAgent = "Switchyard-Webhooks/1"

const (
	// excerptLimit bounds the response body kept in Result.Response.
	excerptLimit = 4 << 10
	// drainLimit bounds what is read past the excerpt so the connection can be reused; a
	// longer body is abandoned and its connection closed.
	drainLimit = 64 << 10
)

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

var _ destination.Adapter = (*Adapter)(nil)

// New returns a webhook adapter. It has no side effects: connections are made on first use.
// Unless opts.AllowPrivate, every connection is checked when it is dialled (after DNS
// resolution, so rebinding cannot get around it) and refused if it goes to a loopback,
// private, link-local, metadata or other special-purpose address.
func New(opts destination.Options) *Adapter {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !opts.AllowPrivate {
		// Any port: customers' endpoints listen where they like; the addresses are what matter.
		dialer.Control = ssrf.New(ssrf.WithAnyPort()).Safe
	}
	transport := &http.Transport{
		// Never a proxy: it would dial on our behalf and bypass the dial-time check.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256, // many deliveries in flight to one host must not reconnect each time
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Adapter{
		client: &http.Client{
			Transport: transport,
			// Redirects are not followed: a 3xx counts as delivered (meshes-api.md §7), and
			// following one could lead anywhere, including past the https rule.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport:    transport,
		dialer:       dialer,
		allowPrivate: opts.AllowPrivate,
		userAgent:    ua,
		logger:       logger,
	}
}

// CloseIdleConnections closes the adapter's idle keep-alive connections.
func (a *Adapter) CloseIdleConnections() { a.transport.CloseIdleConnections() }

// Deliver makes one request for req and classifies what came of it. It never retries.
func (a *Adapter) Deliver(ctx context.Context, req *destination.Request) destination.Result {
	if req == nil || req.Event == nil || req.Connection == nil {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "delivery request without an event or connection"}
	}
	start := time.Now()
	res := a.deliver(ctx, req)
	if a.logger.Enabled(ctx, slog.LevelDebug) {
		a.logger.LogAttrs(ctx, slog.LevelDebug, "webhook attempt",
			slog.String("delivery_id", req.DeliveryID.String()), slog.Int("attempt", req.Attempt),
			slog.String("outcome", string(res.Outcome)), slog.Int("http_status", res.HTTPStatus),
			slog.Duration("duration", time.Since(start)))
	}
	return res
}

func (a *Adapter) deliver(ctx context.Context, req *destination.Request) destination.Result {
	c, errs := parseConfig(req.Connection.Metadata)
	if len(errs) > 0 {
		return destination.Result{
			Outcome: switchyard.OutcomeInvalidRequest,
			Message: fmt.Sprintf("connection metadata is invalid: %s %s", errs[0].Param, errs[0].Msg),
		}
	}
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
		res := classifyError(ctx, err, c.Timeout, c.URL)
		res.Message = redact(res.Message, c.secrets)
		return res
	}
	excerpt := readExcerpt(resp)
	res := classifyResponse(resp, c, sentAt)
	res.Response = redact(excerpt, c.secrets)
	return res
}

// classifyResponse maps the destination's status into an outcome (docs/integrations/webhook.md
// has the table).
func classifyResponse(resp *http.Response, c *config, sentAt time.Time) destination.Result {
	code := resp.StatusCode
	res := destination.Result{HTTPStatus: code, Message: statusMessage(code)}
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
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), sentAt); ok {
			res.RetryAfter = d
		}
	}
	return res
}

func statusMessage(code int) string {
	if text := http.StatusText(code); text != "" {
		return "HTTP " + strconv.Itoa(code) + " " + text
	}
	return "HTTP " + strconv.Itoa(code)
}

// classifyError maps a failure to get a response to dest (the configured URL). parent is the
// caller's context: when it was canceled the failure is ours (shutdown), not the destination's.
// The message is shown to the tenant, so it is built by transportMessage, never from the raw
// error text.
func classifyError(parent context.Context, err error, timeout time.Duration, dest *url.URL) destination.Result {
	// The *url.Error carries the URL, which may hold a token in its query: keep it out.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var (
		netErr net.Error
		dnsErr *net.DNSError
	)
	switch {
	case errors.Is(err, ssrf.ErrProhibitedIP) || errors.Is(err, ssrf.ErrProhibitedNetwork) ||
		errors.Is(err, ssrf.ErrProhibitedPort) || errors.Is(err, ssrf.ErrInvalidHostPort):
		return destination.Result{
			Outcome: switchyard.OutcomeInvalidRequest,
			Message: "destination refused: " + ssrfReason(err) +
				"; loopback, private, link-local and metadata addresses are blocked unless the server allows private destinations",
		}
	case errors.Is(parent.Err(), context.Canceled):
		return destination.Result{Outcome: switchyard.OutcomeInternalError, Message: "attempt canceled by Switchyard before the destination answered"}
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
		return destination.Result{Outcome: switchyard.OutcomeTimeout, Message: transportMessage(err, dest)}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return destination.Result{Outcome: switchyard.OutcomeTimeout, Message: fmt.Sprintf("no response within the %s timeout", timeout)}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return destination.Result{Outcome: switchyard.OutcomeNetworkError, Message: "network error: the destination closed the connection without a response"}
	}
	return destination.Result{Outcome: switchyard.OutcomeNetworkError, Message: "network error: " + transportMessage(err, dest)}
}

// transportMessage says what failed on the way to dest, for the tenant's eyes. Go's error texts
// name addresses of ours: a *net.DNSError the resolver's ("lookup h on 10.0.0.2:53: …"), a
// *net.OpError the local socket's ("read tcp 10.1.2.3:51234->…"). The message names only the host
// and port the tenant configured, the step that failed, and the innermost reason, with any IP
// address left in that reason replaced.
func transportMessage(err error, dest *url.URL) string {
	host, port := dest.Hostname(), dest.Port()
	if port == "" {
		port = "443"
		if dest.Scheme == "http" {
			port = "80"
		}
	}
	hostPort := net.JoinHostPort(host, port)

	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		var reason string
		switch {
		case dnsErr.IsNotFound:
			reason = "no such host"
		case dnsErr.IsTimeout:
			reason = "timeout"
		default:
			reason = innermostReason(errors.New(dnsErr.Err))
		}
		return "DNS lookup failed for host " + host + ": " + reason
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		switch opErr.Op {
		case "dial":
			return "could not connect to " + hostPort + ": " + innermostReason(opErr.Err)
		case "read":
			return "reading from " + hostPort + " failed: " + innermostReason(opErr.Err)
		case "write":
			return "writing to " + hostPort + " failed: " + innermostReason(opErr.Err)
		}
		// Other steps ("remote error" for a TLS alert, …) keep their own words.
		what := opErr.Op
		if opErr.Err != nil {
			what += ": " + opErr.Err.Error()
		}
		return "connection to " + hostPort + " failed: " + scrubAddresses(what)
	}
	return scrubAddresses(err.Error())
}

// innermostReason is the last part of err's text ("connect: connection refused" gives
// "connection refused"), with IP addresses replaced: Go nests "op addr: reason", so the last
// part is the reason and the parts before it carry the addresses.
func innermostReason(err error) string {
	if err == nil {
		return "unknown error"
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) && sys.Err != nil {
		err = sys.Err
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		s = s[i+2:]
	}
	return scrubAddresses(s)
}

// ipAddress matches an IPv4 address or a bracketed or compressed IPv6 address, with an
// optional port.
var ipAddress = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[^\]]*)?\](?::\d+)?|[0-9A-Fa-f:]*::[0-9A-Fa-f:.]*`)

// scrubAddresses replaces every IP address (with its port) in s, a last guard on error text
// that may name our resolver or local sockets.
func scrubAddresses(s string) string {
	return ipAddress.ReplaceAllString(s, "[address hidden]")
}

// ssrfReason is the guard's own explanation ("127.0.0.1 is not a permitted destination
// (denied by: 127.0.0.0/8)") without the dial error around it.
func ssrfReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	s := err.Error()
	for _, sentinel := range []error{ssrf.ErrProhibitedIP, ssrf.ErrProhibitedNetwork, ssrf.ErrProhibitedPort, ssrf.ErrInvalidHostPort} {
		if i := strings.Index(s, sentinel.Error()+": "); i >= 0 {
			return s[i+len(sentinel.Error())+2:]
		}
	}
	return s
}

// readExcerpt returns the status line, a few headers and the start of the body, then drains a
// bounded amount more so the connection can go back to the pool, and closes the body.
func readExcerpt(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, excerptLimit+1))
	truncated := len(b) > excerptLimit
	if truncated {
		b = b[:excerptLimit]
	}
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)

	var sb strings.Builder
	sb.Grow(len(b) + 128)
	sb.WriteString(resp.Proto)
	sb.WriteByte(' ')
	sb.WriteString(resp.Status)
	sb.WriteByte('\n')
	for _, name := range []string{"Content-Type", "Location", "Retry-After", "Www-Authenticate"} {
		if v := resp.Header.Get(name); v != "" {
			sb.WriteString(name)
			sb.WriteString(": ")
			sb.WriteString(v)
			sb.WriteByte('\n')
		}
	}
	if len(b) > 0 {
		sb.WriteByte('\n')
		sb.Write(b)
		if truncated {
			sb.WriteString("…")
		}
	}
	// Excerpts are stored as text: keep them valid UTF-8 and free of NULs (PostgreSQL refuses both).
	return strings.ReplaceAll(strings.ToValidUTF8(sb.String(), "\uFFFD"), "\x00", "")
}

// redact replaces secret values in s, in case a destination echoes our request back.
// Secrets shorter than 4 characters are left alone: replacing them would mangle the text and
// protect nothing.
func redact(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 && strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, destination.MaskedValue)
		}
	}
	return s
}

// ParseRetryAfter reads a Retry-After value: delta-seconds, or an HTTP-date taken relative to
// now. It reports false for anything else, including negative numbers, dates before now and
// delays too large to represent.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(maxRetryAfter/time.Second) {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 || d > maxRetryAfter {
		return 0, false
	}
	return d, true
}

// maxRetryAfter bounds what ParseRetryAfter reports, far above any cap the engine applies,
// so that time arithmetic on the result cannot overflow.
const maxRetryAfter = 100 * 365 * 24 * time.Hour

func isDigits(s string) bool {
	for n := 0; n < len(s); n++ {
		if s[n] < '0' || s[n] > '9' {
			return false
		}
	}
	return true
}
