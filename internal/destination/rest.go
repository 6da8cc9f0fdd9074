package destination

import (
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// REST is what the provisioner of an integration whose provider is one JSON API behind one base
// URL (HubSpot, Intercom) shares with all its connections: the guarded HTTP client, the API base,
// the User-Agent, the logger, and the secrets no message may show (the OAuth app's client
// secret). Embedded in a provisioner, it gives it Cleanup.
type REST struct {
	HTTP      *HTTPClient
	Base      *url.URL
	UserAgent string
	Logger    *slog.Logger
	Secrets   []string
}

// NewREST builds the REST part of in's provisioner from the server's options: the API base
// the configuration gives (tests point it at a fake), else the one in declares; the configured
// User-Agent, else userAgent; answers' headers awaited for at most responseTimeout. Unless
// opts.AllowPrivate, connections to loopback, private, link-local and metadata addresses are
// refused when dialled.
func NewREST(opts Options, in *Integration, userAgent string, responseTimeout time.Duration) REST {
	app := opts.App(in)
	r := REST{
		HTTP: NewHTTPClient(opts, HTTPClientConfig{
			AnyPort: true, MaxIdleConnsPerHost: 128, ResponseHeaderTimeout: responseTimeout}),
		Base:      ParseBaseURL(app.APIBase, in.APIBase),
		UserAgent: opts.UserAgentOr(userAgent),
		Logger:    opts.LoggerOrDiscard(),
	}
	if app.ClientSecret != "" {
		r.Secrets = append(r.Secrets, app.ClientSecret)
	}
	return r
}

// Cleanup closes idle connections when the server stops.
func (r *REST) Cleanup() { r.HTTP.Cleanup() }

// URL is the API URL of path, whose values are already escaped (url.PathEscape), and query.
func (r *REST) URL(path string, query url.Values) string {
	u := *r.Base
	u.RawPath = strings.TrimRight(u.EscapedPath(), "/") + path
	if p, err := url.PathUnescape(u.RawPath); err == nil {
		u.Path = p
	}
	u.RawQuery = query.Encode()
	return u.String()
}
