package client

import (
	"context"
	"time"
)

// WithClock makes the client read the time from now (token minting, Retry-After dates).
func WithClock(now func() time.Time) Option {
	return func(c *Client) { c.now = now }
}

// WithSleep replaces the client's wait between retries, so tests can record the waits instead
// of making them.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}
