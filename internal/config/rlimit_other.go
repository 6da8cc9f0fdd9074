//go:build !unix

package config

// maxConnectionsLimit is unknown off Unix: no check.
func maxConnectionsLimit() int { return 1 << 30 }
