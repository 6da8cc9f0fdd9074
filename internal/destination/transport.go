package destination

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"code.dny.dev/ssrf"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// One classifier for every integration: how an HTTP answer (or the failure to get one) becomes
// an attempt's outcome, message and response excerpt. Integrations add what their provider
// documents — its error body, its rate-limit headers, what a 409 means — through
// ProviderRules (classify.go); nothing here is specific to one provider.

const (
	// excerptLimit bounds the response body kept in Result.Response.
	excerptLimit = 4 << 10
	// drainLimit bounds what is read past the excerpt so the connection can be reused; a
	// longer body is abandoned and its connection closed.
	drainLimit = 64 << 10
)

// StatusMessage is "HTTP 503 Service Unavailable".
func StatusMessage(code int) string {
	if text := http.StatusText(code); text != "" {
		return "HTTP " + strconv.Itoa(code) + " " + text
	}
	return "HTTP " + strconv.Itoa(code)
}

// ClassifyTransportError maps a failure to get a response to dest (the configured URL). parent is the
// caller's context: when it was canceled the failure is ours (shutdown), not the destination's.
// The message is shown to the tenant, so it is built by TransportMessage, never from the raw
// error text.
func ClassifyTransportError(parent context.Context, err error, timeout time.Duration, dest *url.URL) Result {
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
		return Result{
			Outcome: switchyard.OutcomeInvalidRequest,
			Message: "destination refused: " + ssrfReason(err) +
				"; loopback, private, link-local and metadata addresses are blocked unless the server allows private destinations",
		}
	case errors.Is(parent.Err(), context.Canceled):
		return Result{Outcome: switchyard.OutcomeInternalError, Message: "attempt canceled by Switchyard before the destination answered"}
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
		return Result{Outcome: switchyard.OutcomeTimeout, Message: TransportMessage(err, dest)}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return Result{Outcome: switchyard.OutcomeTimeout, Message: fmt.Sprintf("no response within the %s timeout", timeout)}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return Result{Outcome: switchyard.OutcomeNetworkError, Message: "network error: the destination closed the connection without a response"}
	}
	return Result{Outcome: switchyard.OutcomeNetworkError, Message: "network error: " + TransportMessage(err, dest)}
}

// TransportMessage says what failed on the way to dest, for the tenant's eyes. Go's error texts
// name addresses of ours: a *net.DNSError the resolver's ("lookup h on 10.0.0.2:53: …"), a
// *net.OpError the local socket's ("read tcp 10.1.2.3:51234->…"). The message names only the host
// and port the tenant configured, the step that failed, and the innermost reason, with any IP
// address left in that reason replaced.
func TransportMessage(err error, dest *url.URL) string {
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
		return "connection to " + hostPort + " failed: " + ScrubAddresses(what)
	}
	return ScrubAddresses(err.Error())
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
	return ScrubAddresses(s)
}

// ipAddress matches an IPv4 address or a bracketed or compressed IPv6 address, with an
// optional port.
var ipAddress = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[^\]]*)?\](?::\d+)?|[0-9A-Fa-f:]*::[0-9A-Fa-f:.]*`)

// ScrubAddresses replaces every IP address (with its port) in s, a last guard on error text
// that may name our resolver or local sockets.
func ScrubAddresses(s string) string {
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

// ReadExcerpt returns the status line, a few headers and the start of the body, then drains a
// bounded amount more so the connection can go back to the pool, and closes the body.
func ReadExcerpt(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, excerptLimit+1))
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	return Excerpt(resp, b)
}

// ReadBody reads a whole response body of up to limit bytes and closes it. A longer body is an
// error (the provider answered something other than what its documentation describes).
func ReadBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > limit {
		return b[:limit], bodyTooLarge{limit}
	}
	return b, nil
}

// ErrBodyTooLarge is what ReadBody's error for a body longer than its limit is (errors.Is).
var ErrBodyTooLarge = errors.New("the response body is too large")

// bodyTooLarge is ReadBody's error for a body longer than limit.
type bodyTooLarge struct{ limit int64 }

func (e bodyTooLarge) Error() string {
	return fmt.Sprintf("the response body is larger than %d bytes", e.limit)
}

func (e bodyTooLarge) Is(target error) bool { return target == ErrBodyTooLarge }

// Excerpt is what an attempt keeps of a response whose body (or its start) is b: the status
// line, a few headers and the first excerptLimit bytes of the body.
func Excerpt(resp *http.Response, b []byte) string {
	truncated := len(b) > excerptLimit
	if truncated {
		b = b[:excerptLimit]
	}
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
	return CleanText(sb.String())
}

// CleanText is s as text can be stored: NUL dropped, bytes that are not UTF-8 replaced by
// U+FFFD. Results are stored as text, and PostgreSQL refuses both; what a destination answers
// may hold anything (a JSON error message may hold \u0000). s itself when already clean.
func CleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// Redact replaces secret values in s, in case a destination echoes our request back.
// Secrets shorter than 4 characters are left alone: replacing them would mangle the text and
// protect nothing.
func Redact(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 && strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, MaskedValue)
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
