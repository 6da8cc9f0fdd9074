// Package webhook is the webhook destination: it POSTs (or PUTs/PATCHes) each event to a
// customer's URL, wrapped in the Meshes envelope or raw, with optional authentication, custom
// headers and signatures (Standard Webhooks, or Meshes-style HMAC of the body), and classifies
// the response into the shared outcome codes. docs/integrations/webhook.md is its user guide.
package webhook

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"code.dny.dev/ssrf"
	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Type is the integration type string of webhook connections.
const Type = "webhook"

// ActionSendWebhook is the one rule action; it takes no parameters.
const ActionSendWebhook = "send_webhook"

// TestEventName is the event name of the test request sent when a connection is saved.
const TestEventName = "switchyard.test"

// Metadata keys of a webhook connection (docs/decisions.md §13).
const (
	KeyURL             = "url"
	KeyHTTPMethod      = "http_method"
	KeyPayloadMode     = "payload_mode"
	KeyAuthScheme      = "auth_scheme"
	KeyBasicUsername   = "basic_username"
	KeyBasicPassword   = "basic_password"
	KeyBearerToken     = "bearer_token"
	KeyAuthHeaderName  = "auth_header_name"
	KeyAuthHeaderValue = "auth_header_value"
	KeyCustomHeaders   = "custom_headers"
	KeySigningScheme   = "signing_scheme"
	KeySigningSecret   = "signing_secret"
	KeySignatureHeader = "signature_header"
	KeyTimeoutSeconds  = "timeout_seconds"
	KeySkipURLTest     = "skip_url_test"
)

// Values of the select fields, as the schema declares them (their canonical form). http_method
// is stored upper-case (the canonical form of an HTTP method); every other value is lower-case.
const (
	PayloadWrapped = "wrapped"
	PayloadRaw     = "raw"

	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthHeader = "header"

	SigningNone             = "none"
	SigningStandardWebhooks = "standard_webhooks"
	SigningHMACSHA256       = "hmac_sha256"
	SigningHMACSHA512       = "hmac_sha512"
)

// The schema's defaults.
const (
	DefaultMethod          = "POST"
	DefaultSignatureHeader = "X-Meshes-Signature"
	DefaultTimeoutSeconds  = 15
)

var signedSchemes = []string{SigningStandardWebhooks, SigningHMACSHA256, SigningHMACSHA512}

// Integration declares the webhook integration: its metadata schema (docs/decisions.md §13), its
// action, and its constructor. Each call returns a new value.
func Integration() *destination.Integration {
	return &destination.Integration{
		Type:     Type,
		Name:     "Webhook",
		AuthType: destination.AuthNone,
		Fields:   fields(),
		Actions: []destination.Action{{
			Key: ActionSendWebhook, Label: "Send Webhook", Noun: "Webhook",
			Display: &destination.Display{Label: "Send Webhook", Description: "Send the event to the webhook URL."},
		}},
		Check: check,
		New:   func(opts destination.Options) destination.Provisioner { return New(opts) },
	}
}

// fields is the connection-metadata schema: the one place that says which keys a webhook
// connection has, their types, defaults, allowed values and when they apply. ValidateMetadata
// applies it; config.go decodes what it leaves and adds only what a schema cannot say.
func fields() []destination.Field {
	return []destination.Field{
		{
			Key: KeyURL, Label: "Webhook URL", Type: destination.FieldText, Required: true,
			Validate: destination.ValidateURL,
			HelpText: "The https URL events are sent to.",
		},
		{
			Key: KeyHTTPMethod, Label: "HTTP method", Type: destination.FieldSelect, Default: DefaultMethod,
			Options: []destination.Option{{Label: "POST", Value: "POST"}, {Label: "PUT", Value: "PUT"}, {Label: "PATCH", Value: "PATCH"}},
		},
		{
			Key: KeyPayloadMode, Label: "Payload format", Type: destination.FieldSelect, Default: PayloadWrapped,
			HelpText: "Wrapped sends the full event envelope; raw sends only the payload, with event details in X-Meshes-* headers.",
			Options:  []destination.Option{{Label: "Wrapped", Value: PayloadWrapped}, {Label: "Raw", Value: PayloadRaw}},
		},
		{
			Key: KeyAuthScheme, Label: "Authentication", Type: destination.FieldSelect, Default: AuthNone,
			Options: []destination.Option{
				{Label: "None", Value: AuthNone}, {Label: "Basic", Value: AuthBasic},
				{Label: "Bearer token", Value: AuthBearer}, {Label: "Custom header", Value: AuthHeader},
			},
		},
		{
			Key: KeyBasicUsername, Label: "Username", Type: destination.FieldText, Required: true,
			DependsOn: &destination.DependsOn{Field: KeyAuthScheme, Value: []string{AuthBasic}},
		},
		{
			Key: KeyBasicPassword, Label: "Password", Type: destination.FieldPassword, Required: true, Secret: true,
			DependsOn: &destination.DependsOn{Field: KeyAuthScheme, Value: []string{AuthBasic}},
		},
		{
			Key: KeyBearerToken, Label: "Bearer token", Type: destination.FieldPassword, Required: true, Secret: true,
			HelpText:  "Sent as Authorization: Bearer <token>.",
			DependsOn: &destination.DependsOn{Field: KeyAuthScheme, Value: []string{AuthBearer}},
		},
		{
			Key: KeyAuthHeaderName, Label: "Header name", Type: destination.FieldText, Required: true,
			HelpText:  "For example X-API-Key.",
			DependsOn: &destination.DependsOn{Field: KeyAuthScheme, Value: []string{AuthHeader}},
		},
		{
			Key: KeyAuthHeaderValue, Label: "Header value", Type: destination.FieldPassword, Required: true, Secret: true,
			DependsOn: &destination.DependsOn{Field: KeyAuthScheme, Value: []string{AuthHeader}},
		},
		{
			Key: KeyCustomHeaders, Label: "Custom headers", Type: destination.FieldObject,
			HelpText: "Up to 5 static headers, as an object of names to string values. Content-Type, Authorization, X-Meshes-* and other headers Switchyard sets are refused.",
		},
		{
			Key: KeySigningScheme, Label: "Signing", Type: destination.FieldSelect, Default: SigningNone,
			HelpText: "Standard Webhooks signs the delivery id, timestamp and body; HMAC signs the body only.",
			Options: []destination.Option{
				{Label: "None", Value: SigningNone}, {Label: "Standard Webhooks", Value: SigningStandardWebhooks},
				{Label: "HMAC-SHA256", Value: SigningHMACSHA256}, {Label: "HMAC-SHA512", Value: SigningHMACSHA512},
			},
		},
		{
			Key: KeySigningSecret, Label: "Signing secret", Type: destination.FieldPassword, Required: true, Secret: true,
			HelpText:  "Several secrets, comma-separated, are all used while you rotate. For Standard Webhooks a whsec_ secret is base64 after the prefix.",
			DependsOn: &destination.DependsOn{Field: KeySigningScheme, Value: signedSchemes},
		},
		{
			Key: KeySignatureHeader, Label: "Signature header", Type: destination.FieldText, Default: DefaultSignatureHeader,
			DependsOn: &destination.DependsOn{Field: KeySigningScheme, Value: []string{SigningHMACSHA256, SigningHMACSHA512}},
		},
		{
			Key: KeyTimeoutSeconds, Label: "Timeout (seconds)", Type: destination.FieldNumber, Default: float64(DefaultTimeoutSeconds),
			HelpText: "How long to wait for a response, 1 to 60 seconds.",
		},
		{
			Key: KeySkipURLTest, Label: "Skip URL payload test", Type: destination.FieldBoolean, Default: false,
			HelpText: "Save without sending a test request to the URL.",
		},
	}
}

// check applies the rules the generic schema cannot say: header and secret formats, bounds,
// and, unless private destinations are allowed, https and no literal private address.
// ValidateMetadata runs it on its normalised copy, from which a field the schema refused is
// gone (its error already reported): check decodes what is there and passes over the rest,
// whereas Provision refuses metadata that is not normalised.
func check(meta map[string]any, opts destination.Options) []switchyard.FieldError {
	p := &parser{meta: meta}
	c := p.decode()
	if c.URL != nil && !opts.AllowPrivate {
		if c.URL.Scheme != "https" {
			p.fail(KeyURL, "must use https")
		} else if privateHost(c.URL.Hostname()) {
			p.fail(KeyURL, "must not point to a loopback, private, link-local or metadata address")
		}
	}
	return p.errs
}

// privateHost reports whether host is obviously not a public destination: a literal IP the
// SSRF guard refuses, or a localhost name. Names that resolve to such addresses are refused at
// connect time instead, where DNS rebinding cannot get around the check.
func privateHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ssrf.New().SafeAddr(ip) != nil
	}
	return false
}

// Test sends a test request (event switchyard.test) to the connection, unless skip_url_test is
// set. A failure is a *switchyard.Error naming metadata.url.
func (s *sender) Test(ctx context.Context) error {
	if s.c.SkipURLTest {
		return nil
	}
	now := time.Now()
	ev := &switchyard.Event{
		ID:             newID(),
		OrganizationID: s.conn.OrganizationID,
		WorkspaceID:    s.conn.WorkspaceID,
		Name:           TestEventName,
		Resource:       switchyard.DefaultResource,
		Payload:        []byte(`{"message":"This is a test request from Switchyard."}`),
		CreatedAt:      now,
	}
	res := s.Deliver(ctx, &destination.Request{DeliveryID: newID(), Attempt: 1, Event: ev, Connection: s.conn, SentAt: now})
	if res.Outcome == switchyard.OutcomeDelivered {
		return nil
	}
	msg := "test request failed (" + string(res.Outcome) + "): " + res.Message
	return &switchyard.Error{
		Code:    switchyard.EINVALID,
		Message: "The test request to the webhook URL failed: " + res.Message + ". Fix the endpoint, or set skip_url_test to save without a test.",
		Fields:  []switchyard.FieldError{{Param: destination.ParamPrefix + KeyURL, Msg: msg}},
	}
}

func newID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}
