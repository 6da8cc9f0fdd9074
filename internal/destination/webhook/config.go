package webhook

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Metadata keys of a webhook connection (product.md §13).
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

// Values of the select fields. http_method is stored upper-case (the canonical form of an HTTP
// method); every other value is lower-case.
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

// Defaults and bounds.
const (
	DefaultMethod          = "POST"
	DefaultSignatureHeader = "X-Meshes-Signature"
	DefaultTimeoutSeconds  = 15
	MaxTimeoutSeconds      = 60
	MaxCustomHeaders       = 5
	maxURLLength           = 2048
	maxHeaderValueLength   = 8192
	whsecPrefix            = "whsec_"
)

// Headers Switchyard sets on every webhook request.
const (
	HeaderDeliveryID  = "X-Meshes-Delivery-Id"
	HeaderAttempt     = "X-Meshes-Attempt"
	HeaderEventID     = "X-Meshes-Event-Id"
	HeaderEvent       = "X-Meshes-Event"
	HeaderResource    = "X-Meshes-Resource"
	HeaderResourceID  = "X-Meshes-Resource-Id"
	HeaderTimeCreated = "X-Meshes-Time-Created"
	HeaderTimeSent    = "X-Meshes-Time-Sent"
	HeaderTimestamp   = "X-Meshes-Timestamp"

	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// reservedHeaders (lower-case) may not be set through custom_headers or auth_header_name:
// Switchyard sets them itself, or they are hop-by-hop and would break the request. Anything
// starting with "x-meshes-" is reserved too, and so is the configured signature header.
var reservedHeaders = map[string]bool{
	"content-type": true, "content-length": true, "content-encoding": true, "host": true,
	"authorization": true, "transfer-encoding": true, "connection": true, "user-agent": true,
	"te": true, "trailer": true, "upgrade": true, "keep-alive": true, "expect": true,
	"proxy-connection": true, "proxy-authorization": true,
	"webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
}

// setHeaders (lower-case) are the X-Meshes-* headers Switchyard sets; the signature header
// may be any other name that is not reserved.
var setHeaders = map[string]bool{
	"x-meshes-delivery-id": true, "x-meshes-attempt": true, "x-meshes-event-id": true,
	"x-meshes-event": true, "x-meshes-resource": true, "x-meshes-resource-id": true,
	"x-meshes-time-created": true, "x-meshes-time-sent": true, "x-meshes-timestamp": true,
}

// config is a webhook connection's metadata, parsed for sending.
type config struct {
	URL             *url.URL
	Method          string
	Raw             bool
	Auth            string
	BasicUsername   string
	BasicPassword   string
	BearerToken     string
	AuthHeaderName  string
	AuthHeaderValue string
	// CustomHeaders are [name, value] pairs sorted by name.
	CustomHeaders   [][2]string
	Signing         string
	SigningKeys     [][]byte
	SignatureHeader string
	Timeout         time.Duration
	SkipURLTest     bool
	// secrets are the plaintext secret values, to redact from anything we report.
	secrets []string
}

// parser reads metadata leniently (defaults for absent values, case-insensitive choices) and
// collects one field error per key. It is shared by save-time validation and delivery, so a
// connection is read the same way in both.
type parser struct {
	meta map[string]any
	errs []switchyard.FieldError
}

func (p *parser) fail(key, format string, args ...any) {
	param := destination.ParamPrefix + key
	for _, e := range p.errs {
		if e.Param == param {
			return
		}
	}
	p.errs = append(p.errs, switchyard.FieldError{Param: param, Msg: fmt.Sprintf(format, args...)})
}

// str returns the trimmed string at key, def when absent or blank.
func (p *parser) str(key, def string) string {
	v, ok := p.meta[key]
	if !ok || v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		p.fail(key, "must be a string")
		return def
	}
	if s = strings.TrimSpace(s); s == "" {
		return def
	}
	return s
}

// required returns the string at key, failing when it is absent or blank.
func (p *parser) required(key string) string {
	s := p.str(key, "")
	if s == "" {
		p.fail(key, "is required")
	}
	return s
}

// choice returns the allowed value matching the string at key case-insensitively.
func (p *parser) choice(key, def string, allowed ...string) string {
	s := p.str(key, def)
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a
		}
	}
	p.fail(key, "must be one of: %s", strings.Join(allowed, ", "))
	return def
}

func (p *parser) number(key string, def float64) float64 {
	v, ok := p.meta[key]
	if !ok || v == nil {
		return def
	}
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case json.Number:
		x, err := v.Float64()
		if err != nil {
			p.fail(key, "must be a number")
			return def
		}
		f = x
	default:
		p.fail(key, "must be a number")
		return def
	}
	return f
}

func (p *parser) boolean(key string, def bool) bool {
	v, ok := p.meta[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		p.fail(key, "must be true or false")
		return def
	}
	return b
}

// parseConfig reads a webhook connection's metadata. It always returns a config (URL may be
// nil); errors name the metadata keys at fault.
func parseConfig(meta map[string]any) (*config, []switchyard.FieldError) {
	p := &parser{meta: meta}
	c := &config{}

	if raw := p.required(KeyURL); raw != "" {
		c.URL = parseURL(p, raw)
	}
	c.Method = p.choice(KeyHTTPMethod, DefaultMethod, "POST", "PUT", "PATCH")
	c.Raw = p.choice(KeyPayloadMode, PayloadWrapped, PayloadWrapped, PayloadRaw) == PayloadRaw
	c.Signing = p.choice(KeySigningScheme, SigningNone, SigningNone, SigningStandardWebhooks, SigningHMACSHA256, SigningHMACSHA512)
	if c.Signing == SigningHMACSHA256 || c.Signing == SigningHMACSHA512 {
		c.SignatureHeader = p.str(KeySignatureHeader, DefaultSignatureHeader)
		if msg := checkHeaderName(c.SignatureHeader); msg != "" {
			p.fail(KeySignatureHeader, "%s", msg)
		} else if l := strings.ToLower(c.SignatureHeader); reservedHeaders[l] || setHeaders[l] {
			p.fail(KeySignatureHeader, "%s is a header Switchyard sets itself", c.SignatureHeader)
		}
	}
	if c.Signing != SigningNone {
		c.SigningKeys = parseSecrets(p, c.Signing, p.required(KeySigningSecret))
		for _, s := range strings.Split(p.str(KeySigningSecret, ""), ",") {
			c.secrets = append(c.secrets, strings.TrimSpace(s))
		}
	}

	c.Auth = p.choice(KeyAuthScheme, AuthNone, AuthNone, AuthBasic, AuthBearer, AuthHeader)
	switch c.Auth {
	case AuthBasic:
		c.BasicUsername = p.required(KeyBasicUsername)
		c.BasicPassword = p.required(KeyBasicPassword)
		if strings.Contains(c.BasicUsername, ":") {
			p.fail(KeyBasicUsername, "must not contain a colon")
		}
		checkHeaderValue(p, KeyBasicUsername, c.BasicUsername)
		checkHeaderValue(p, KeyBasicPassword, c.BasicPassword)
		c.secrets = append(c.secrets, c.BasicPassword,
			base64.StdEncoding.EncodeToString([]byte(c.BasicUsername+":"+c.BasicPassword)))
	case AuthBearer:
		c.BearerToken = p.required(KeyBearerToken)
		checkHeaderValue(p, KeyBearerToken, c.BearerToken)
		c.secrets = append(c.secrets, c.BearerToken)
	case AuthHeader:
		c.AuthHeaderName = p.required(KeyAuthHeaderName)
		c.AuthHeaderValue = p.required(KeyAuthHeaderValue)
		if c.AuthHeaderName != "" {
			if msg := checkHeaderName(c.AuthHeaderName); msg != "" {
				p.fail(KeyAuthHeaderName, "%s", msg)
			} else if l := strings.ToLower(c.AuthHeaderName); l != "authorization" && c.reserved(l) {
				p.fail(KeyAuthHeaderName, "%s is a reserved header", c.AuthHeaderName)
			}
		}
		checkHeaderValue(p, KeyAuthHeaderValue, c.AuthHeaderValue)
		c.secrets = append(c.secrets, c.AuthHeaderValue)
	}

	c.CustomHeaders = parseCustomHeaders(p, c)

	t := p.number(KeyTimeoutSeconds, DefaultTimeoutSeconds)
	if t != math.Trunc(t) || t < 1 || t > MaxTimeoutSeconds {
		p.fail(KeyTimeoutSeconds, "must be a whole number of seconds from 1 to %d", MaxTimeoutSeconds)
		t = DefaultTimeoutSeconds
	}
	c.Timeout = time.Duration(t) * time.Second
	c.SkipURLTest = p.boolean(KeySkipURLTest, false)
	return c, p.errs
}

func parseURL(p *parser, raw string) *url.URL {
	if len(raw) > maxURLLength {
		p.fail(KeyURL, "must be at most %d characters", maxURLLength)
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil && strings.Contains(err.Error(), "invalid port") {
		p.fail(KeyURL, "must have a port from 1 to 65535")
		return nil
	}
	if err != nil || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Hostname() == "" {
		p.fail(KeyURL, "must be an absolute http or https URL")
		return nil
	}
	if u.User != nil {
		p.fail(KeyURL, "must not contain credentials; use auth_scheme basic instead")
		return nil
	}
	// url.Parse takes any run of digits as a port; one no connection can use (0, 65536,
	// 99999, …) would fail every attempt as a retried network error. An empty port
	// ("host:/") is the scheme's default and fine.
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.fail(KeyURL, "must have a port from 1 to 65535")
			return nil
		}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Fragment, u.RawFragment = "", ""
	return u
}

// parseSecrets splits the comma-separated signing secrets and derives each HMAC key. For
// Standard Webhooks a "whsec_"-prefixed secret is base64 after the prefix, as the Standard
// Webhooks libraries expect; any other secret is used as its raw UTF-8 bytes. The hmac_sha*
// schemes always use the raw bytes.
func parseSecrets(p *parser, scheme, list string) [][]byte {
	if list == "" {
		return nil
	}
	var keys [][]byte
	for n, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if scheme == SigningStandardWebhooks && strings.HasPrefix(s, whsecPrefix) {
			b64 := strings.TrimPrefix(s, whsecPrefix)
			key, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				key, err = base64.RawStdEncoding.DecodeString(b64)
			}
			if err != nil || len(key) == 0 {
				p.fail(KeySigningSecret, "secret %d starts with %q but is not valid base64 after it", n+1, whsecPrefix)
				continue
			}
			keys = append(keys, key)
			continue
		}
		keys = append(keys, []byte(s))
	}
	if len(keys) == 0 {
		p.fail(KeySigningSecret, "must contain at least one secret")
	}
	return keys
}

func parseCustomHeaders(p *parser, c *config) [][2]string {
	v, ok := p.meta[KeyCustomHeaders]
	if !ok || v == nil {
		return nil
	}
	var m map[string]any
	switch v := v.(type) {
	case map[string]any:
		m = v
	case map[string]string:
		m = make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
	default:
		p.fail(KeyCustomHeaders, "must be an object of header names to string values")
		return nil
	}
	if len(m) > MaxCustomHeaders {
		p.fail(KeyCustomHeaders, "must have at most %d headers", MaxCustomHeaders)
		return nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	seen := make(map[string]bool, len(names))
	headers := make([][2]string, 0, len(names))
	for _, name := range names {
		value, ok := m[name].(string)
		switch l := strings.ToLower(name); {
		case checkHeaderName(name) != "":
			p.fail(KeyCustomHeaders, "%q: %s", name, checkHeaderName(name))
		case c.reserved(l):
			p.fail(KeyCustomHeaders, "%s is a reserved header", name)
		case c.Auth == AuthHeader && strings.EqualFold(name, c.AuthHeaderName):
			p.fail(KeyCustomHeaders, "%s is already set by auth_header_name", name)
		case seen[l]:
			p.fail(KeyCustomHeaders, "%s is given twice", name)
		case !ok:
			p.fail(KeyCustomHeaders, "the value of %s must be a string", name)
		case !validHeaderValue(value):
			p.fail(KeyCustomHeaders, "the value of %s must be at most %d characters without control characters", name, maxHeaderValueLength)
		default:
			seen[l] = true
			headers = append(headers, [2]string{name, value})
		}
	}
	return headers
}

// reserved reports whether the lower-case header name may not be configured by the customer.
func (c *config) reserved(lower string) bool {
	return reservedHeaders[lower] || strings.HasPrefix(lower, "x-meshes-") ||
		(c.SignatureHeader != "" && strings.EqualFold(lower, c.SignatureHeader))
}

// checkHeaderName says what is wrong with a header name, or "" (RFC 9110 token).
func checkHeaderName(name string) string {
	if name == "" {
		return "must not be empty"
	}
	for n := 0; n < len(name); n++ {
		c := name[n]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return "is not a valid header name"
		}
	}
	return ""
}

func checkHeaderValue(p *parser, key, v string) {
	if !validHeaderValue(v) {
		p.fail(key, "must be at most %d characters without control characters", maxHeaderValueLength)
	}
}

// validHeaderValue reports whether v can be sent as a header value: no control characters
// other than tab (which also rules out CR/LF header injection).
func validHeaderValue(v string) bool {
	if len(v) > maxHeaderValueLength {
		return false
	}
	for n := 0; n < len(v); n++ {
		if c := v[n]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
