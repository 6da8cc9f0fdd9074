// Package builtin lists every integration Switchyard ships with. It is the one place a new
// destination is registered (docs/conventions.md §4): add its package's Integration() below.
package builtin

import (
	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/hubspot"
	"github.com/switchyardhq/switchyard/internal/destination/intercom"
	"github.com/switchyardhq/switchyard/internal/destination/salesforce"
	"github.com/switchyardhq/switchyard/internal/destination/webhook"
	"github.com/switchyardhq/switchyard/internal/destination/zoom"
)

// Registry returns a new registry of the built-in integrations.
func Registry() *destination.Registry {
	return destination.NewRegistry(
		hubspot.Integration(),
		intercom.Integration(),
		salesforce.Integration(),
		webhook.Integration(),
		zoom.Integration(),
	)
}
