package destination

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"code.dny.dev/ssrf"
)

// HTTPClient is the guarded HTTP client an integration's provisioner builds once and shares
// across its connections: every connection is checked when it is dialled (after DNS
// resolution, so rebinding cannot get around it) and refused if it goes to a loopback,
// private, link-local, metadata or other special-purpose address, unless Options.AllowPrivate;
// no proxy is used (it would dial on our behalf, past the dial-time check); TLS is 1.2 or
// later; redirects are never followed (an API that redirects is not where the integration
// thinks it is, and following one could lead anywhere with our credentials).
type HTTPClient struct {
	Client    *http.Client
	Transport *http.Transport
	// Dialer makes every connection (tests may set its Resolver).
	Dialer *net.Dialer
}

// HTTPClientConfig is what differs between integrations' clients.
type HTTPClientConfig struct {
	// AnyPort lets the SSRF guard accept any port (customers' webhook endpoints, API bases a
	// server may override); otherwise only 80 and 443 are dialled. The addresses are checked
	// either way.
	AnyPort bool
	// MaxIdleConns and MaxIdleConnsPerHost bound the keep-alive pool (0: 256 and 64).
	MaxIdleConns        int
	MaxIdleConnsPerHost int
	// ResponseHeaderTimeout bounds the wait for an answer's headers (0: only the request's
	// context bounds it).
	ResponseHeaderTimeout time.Duration
}

// NewHTTPClient builds the guarded client (see HTTPClient) for opts. It has no side effects:
// connections are made on first use.
func NewHTTPClient(opts Options, cfg HTTPClientConfig) *HTTPClient {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !opts.AllowPrivate {
		var guard []ssrf.Option
		if cfg.AnyPort {
			guard = append(guard, ssrf.WithAnyPort())
		}
		dialer.Control = ssrf.New(guard...).Safe
	}
	if cfg.MaxIdleConns == 0 {
		cfg.MaxIdleConns = 256
	}
	if cfg.MaxIdleConnsPerHost == 0 {
		cfg.MaxIdleConnsPerHost = 64
	}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the dial-time check
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           cfg.MaxIdleConns,
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &HTTPClient{
		Client: &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Transport: transport,
		Dialer:    dialer,
	}
}

// Cleanup closes the idle keep-alive connections.
func (c *HTTPClient) Cleanup() { c.Transport.CloseIdleConnections() }

// UserAgentOr is the configured user agent, or def when the server configures none.
func (o Options) UserAgentOr(def string) string {
	if o.UserAgent == "" {
		return def
	}
	return o.UserAgent
}

// LoggerOrDiscard is the configured logger, or one that discards everything.
func (o Options) LoggerOrDiscard() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// ParseBaseURL parses an API base URL (a trailing slash dropped), falling back to documented
// when raw is not an absolute URL with a host.
func ParseBaseURL(raw, documented string) *url.URL {
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || base.Host == "" {
		base, _ = url.Parse(documented)
	}
	return base
}
