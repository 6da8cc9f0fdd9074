package webhook

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Bounds the schema cannot say.
const (
	MaxTimeoutSeconds    = 60
	MaxCustomHeaders     = 5
	maxURLLength         = 2048
	maxHeaderValueLength = 8192
	whsecPrefix          = "whsec_"
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

// declared is the schema (webhook.go), in declaration order, and schema the same fields by key:
// the one source of the defaults, allowed values and types of the metadata. Nothing below
// restates them.
var (
	declared = fields()
	schema   = func() map[string]*destination.Field {
		m := make(map[string]*destination.Field, len(declared))
		for n := range declared {
			m[declared[n].Key] = &declared[n]
		}
		return m
	}()
)

// parser decodes metadata that ValidateMetadata has normalised — every value of its declared
// type, select values in their declared form, defaults filled, trimmed, fields whose DependsOn
// does not hold removed — and applies the rules a schema cannot say, collecting one field
// error per key. A value that is not as normalisation leaves it is an error, never a guess.
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

func (p *parser) notNormalised(key, want string) {
	p.fail(key, "is not normalised (want %s): validate the metadata with the integration's schema first", want)
}

// value returns the value at key; absent and null are both "not there".
func (p *parser) value(key string) (any, bool) {
	v, ok := p.meta[key]
	return v, ok && v != nil
}

// str returns the string at key, "" when it is not there.
func (p *parser) str(key string) string {
	v, ok := p.value(key)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.notNormalised(key, "a string")
		return ""
	}
	return s
}

// choice returns the select value at key, "" when it is not there. It must be one of the
// values the schema declares, in its declared form.
func (p *parser) choice(key string) string {
	s := p.str(key)
	if s != "" && normalForm(schema[key], s) != "" {
		p.notNormalised(key, normalForm(schema[key], s))
		return ""
	}
	return s
}

// number returns the number at key; ok is false when it is not there.
func (p *parser) number(key string) (n float64, ok bool) {
	v, ok := p.value(key)
	if !ok {
		return 0, false
	}
	if n, ok = v.(float64); !ok {
		p.notNormalised(key, "a number")
	}
	return n, ok
}

func (p *parser) boolean(key string) bool {
	v, ok := p.value(key)
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		p.notNormalised(key, "true or false")
	}
	return b
}

// normalised checks meta against what ValidateMetadata leaves, field by declared field: a
// field that applies is there when the schema fills it (Default) or requires it, and in its
// normal form; a field whose DependsOn does not hold is not there. Keys the schema does not
// declare are the customer's and are not looked at.
func (p *parser) normalised() {
	for n := range declared {
		f := &declared[n]
		v, exists := p.meta[f.Key]
		switch {
		case f.DependsOn != nil && !dependsHolds(p.meta, f.DependsOn):
			if exists {
				p.notNormalised(f.Key, fmt.Sprintf("no value unless %s is one of %s", f.DependsOn.Field, strings.Join(f.DependsOn.Value, ", ")))
			}
		case exists && v == nil:
			p.notNormalised(f.Key, "a value or no key, not null")
		case !exists:
			if f.Default != nil || f.Required {
				p.notNormalised(f.Key, "a value: the schema fills or requires it")
			}
		default:
			if want := normalForm(f, v); want != "" {
				p.notNormalised(f.Key, want)
			}
		}
	}
}

// dependsHolds reports whether the field d names has one of d's values (normalised metadata
// holds select values in their declared form, so they compare exactly).
func dependsHolds(meta map[string]any, d *destination.DependsOn) bool {
	s, _ := meta[d.Field].(string)
	return s != "" && slices.Contains(d.Value, s)
}

// normalForm says what f's value should be when v is not in the form ValidateMetadata gives
// it, or "" when it is.
func normalForm(f *destination.Field, v any) string {
	switch f.Type {
	case destination.FieldText, destination.FieldPassword, destination.FieldTextarea:
		s, ok := v.(string)
		if !ok || strings.TrimSpace(s) == "" || f.Type != destination.FieldTextarea && s != strings.TrimSpace(s) {
			return "a non-blank string without surrounding white space"
		}
	case destination.FieldSelect:
		s, _ := v.(string)
		for _, o := range f.Options {
			if s == o.Value {
				return ""
			}
		}
		vals := make([]string, len(f.Options))
		for n, o := range f.Options {
			vals[n] = o.Value
		}
		return "one of: " + strings.Join(vals, ", ")
	case destination.FieldNumber:
		if n, ok := v.(float64); !ok || math.IsNaN(n) || math.IsInf(n, 0) {
			return "a number"
		}
	case destination.FieldBoolean:
		if _, ok := v.(bool); !ok {
			return "true or false"
		}
	case destination.FieldObject:
		if _, ok := v.(map[string]any); !ok {
			return "an object"
		}
	}
	return ""
}

// parseConfig decodes a connection's normalised metadata for delivery (Provision): metadata
// that is not normalised is refused, and so is normalised metadata that breaks a rule the
// schema cannot say (a connection stored before the rule existed). It always returns a config
// (URL may be nil); errors name the metadata keys at fault.
func parseConfig(meta map[string]any) (*config, []switchyard.FieldError) {
	p := &parser{meta: meta}
	p.normalised()
	c := p.decode()
	return c, p.errs
}

// decode reads the config and applies the rules a schema cannot say: the URL's, the header
// names and values', the secrets' formats, the custom headers', the timeout's bounds. A field
// that is not there is left zero: in Check, it is one the schema refused and has reported.
func (p *parser) decode() *config {
	c := &config{}
	if raw := p.str(KeyURL); raw != "" {
		c.URL = parseURL(p, raw)
	}
	c.Method = p.choice(KeyHTTPMethod)
	c.Raw = p.choice(KeyPayloadMode) == PayloadRaw
	c.Signing = p.choice(KeySigningScheme)
	if c.Signing == SigningHMACSHA256 || c.Signing == SigningHMACSHA512 {
		c.SignatureHeader = p.str(KeySignatureHeader)
		switch l := strings.ToLower(c.SignatureHeader); {
		case c.SignatureHeader == "": // not there: the schema's error stands
		case checkHeaderName(c.SignatureHeader) != "":
			p.fail(KeySignatureHeader, "%s", checkHeaderName(c.SignatureHeader))
		case reservedHeaders[l] || setHeaders[l]:
			p.fail(KeySignatureHeader, "%s is a header Switchyard sets itself", c.SignatureHeader)
		}
	}
	if c.Signing != "" && c.Signing != SigningNone {
		list := p.str(KeySigningSecret)
		c.SigningKeys = parseSecrets(p, c.Signing, list)
		for s := range strings.SplitSeq(list, ",") {
			c.secrets = append(c.secrets, strings.TrimSpace(s))
		}
	}

	c.Auth = p.choice(KeyAuthScheme)
	switch c.Auth {
	case AuthBasic:
		c.BasicUsername = p.str(KeyBasicUsername)
		c.BasicPassword = p.str(KeyBasicPassword)
		if strings.Contains(c.BasicUsername, ":") {
			p.fail(KeyBasicUsername, "must not contain a colon")
		}
		checkHeaderValue(p, KeyBasicUsername, c.BasicUsername)
		checkHeaderValue(p, KeyBasicPassword, c.BasicPassword)
		c.secrets = append(c.secrets, c.BasicPassword,
			base64.StdEncoding.EncodeToString([]byte(c.BasicUsername+":"+c.BasicPassword)))
	case AuthBearer:
		c.BearerToken = p.str(KeyBearerToken)
		checkHeaderValue(p, KeyBearerToken, c.BearerToken)
		c.secrets = append(c.secrets, c.BearerToken)
	case AuthHeader:
		c.AuthHeaderName = p.str(KeyAuthHeaderName)
		c.AuthHeaderValue = p.str(KeyAuthHeaderValue)
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

	if t, ok := p.number(KeyTimeoutSeconds); ok {
		if t != math.Trunc(t) || t < 1 || t > MaxTimeoutSeconds {
			p.fail(KeyTimeoutSeconds, "must be a whole number of seconds from 1 to %d", MaxTimeoutSeconds)
		} else {
			c.Timeout = time.Duration(t) * time.Second
		}
	}
	c.SkipURLTest = p.boolean(KeySkipURLTest)
	return c
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
	v, ok := p.value(KeyCustomHeaders)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.notNormalised(KeyCustomHeaders, "an object")
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
