package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

var errBadPayload = errors.New("the event payload is not valid JSON")

// buildBody returns the exact bytes to send: the wrapped envelope (docs/meshes-compat.md §10) or, in
// raw mode, the payload alone. The payload is compacted on the way, which also validates it.
func buildBody(c *config, ev *switchyard.Event, sentAt time.Time) ([]byte, error) {
	payload := bytes.TrimSpace(ev.Payload)
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	var buf bytes.Buffer
	if c.Raw {
		buf.Grow(len(payload))
		if err := json.Compact(&buf, payload); err != nil {
			return nil, errBadPayload
		}
		return buf.Bytes(), nil
	}

	buf.Grow(len(payload) + 256)
	buf.WriteString(`{"uuid":"`)
	buf.WriteString(ev.ID.String())
	buf.WriteString(`","event":`)
	writeJSONString(&buf, ev.Name)
	buf.WriteString(`,"resource":`)
	writeJSONString(&buf, resourceOf(ev))
	buf.WriteString(`,"resource_id":`)
	if ev.ResourceID == "" {
		buf.WriteString("null")
	} else {
		writeJSONString(&buf, ev.ResourceID)
	}
	buf.WriteString(`,"payload":`)
	if err := json.Compact(&buf, payload); err != nil {
		return nil, errBadPayload
	}
	buf.WriteString(`,"time_created":`)
	buf.WriteString(strconv.FormatInt(ev.CreatedAt.UnixMilli(), 10))
	buf.WriteString(`,"time_sent":`)
	buf.WriteString(strconv.FormatInt(sentAt.UnixMilli(), 10))
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func resourceOf(ev *switchyard.Event) string {
	if ev.Resource == "" {
		return switchyard.DefaultResource
	}
	return ev.Resource
}

// writeJSONString writes s as a JSON string. encoding/json's escaping of <, > and & is kept
// off: the body is not HTML.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

// requestHeaders builds every header of one attempt. Custom headers go first so that nothing
// Switchyard sets can be overridden (they are also refused on save).
func (a *Adapter) requestHeaders(c *config, req *destination.Request, sentAt time.Time, body []byte) http.Header {
	// Keys Switchyard sets are written directly in canonical form (Header.Set would
	// canonicalise each one again on this hot path).
	h := make(http.Header, 16)
	for _, kv := range c.CustomHeaders {
		h.Set(kv[0], kv[1])
	}
	switch c.Auth {
	case AuthBasic:
		h["Authorization"] = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(c.BasicUsername+":"+c.BasicPassword))}
	case AuthBearer:
		h["Authorization"] = []string{"Bearer " + c.BearerToken}
	case AuthHeader:
		h.Set(c.AuthHeaderName, c.AuthHeaderValue)
	}
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{a.userAgent}
	deliveryID := req.DeliveryID.String()
	h[HeaderDeliveryID] = []string{deliveryID}
	h[HeaderAttempt] = []string{strconv.Itoa(req.Attempt)}
	if c.Raw {
		ev := req.Event
		h[HeaderEventID] = []string{ev.ID.String()}
		h[HeaderEvent] = []string{ev.Name}
		h[HeaderResource] = []string{resourceOf(ev)}
		if ev.ResourceID != "" {
			h[HeaderResourceID] = []string{ev.ResourceID}
		}
		h[HeaderTimeCreated] = []string{strconv.FormatInt(ev.CreatedAt.UnixMilli(), 10)}
		h[HeaderTimeSent] = []string{strconv.FormatInt(sentAt.UnixMilli(), 10)}
	}
	ts := strconv.FormatInt(sentAt.Unix(), 10)
	switch c.Signing {
	case SigningStandardWebhooks:
		h[HeaderWebhookID] = []string{deliveryID}
		h[HeaderWebhookTimestamp] = []string{ts}
		h[HeaderWebhookSignature] = []string{standardSignature(c.SigningKeys, deliveryID, ts, body)}
	case SigningHMACSHA256:
		h.Set(c.SignatureHeader, hexSignature(sha256.New, c.SigningKeys, body))
		h[HeaderTimestamp] = []string{ts}
	case SigningHMACSHA512:
		h.Set(c.SignatureHeader, hexSignature(sha512.New, c.SigningKeys, body))
		h[HeaderTimestamp] = []string{ts}
	}
	return h
}

// standardSignature is the Standard Webhooks webhook-signature value: for each key,
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)), space-separated.
func standardSignature(keys [][]byte, id, ts string, body []byte) string {
	var sb strings.Builder
	for n, key := range keys {
		if n > 0 {
			sb.WriteByte(' ')
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sb.WriteString("v1,")
		sb.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return sb.String()
}

// hexSignature is the Meshes-style signature: for each key, the lower-case hex HMAC of the
// body bytes, comma-separated.
func hexSignature(h func() hash.Hash, keys [][]byte, body []byte) string {
	var sb strings.Builder
	for n, key := range keys {
		if n > 0 {
			sb.WriteByte(',')
		}
		mac := hmac.New(h, key)
		mac.Write(body)
		sb.WriteString(hex.EncodeToString(mac.Sum(nil)))
	}
	return sb.String()
}

// Preview is the request Deliver would send for req, without sending it: the rule test's dry
// run. The credentials and signatures are masked; the body is exact.
func (s *sender) Preview(_ context.Context, req *destination.Request) (*destination.PreviewRequest, error) {
	sentAt := req.SentAt
	if sentAt.IsZero() {
		sentAt = time.Now()
	}
	body, err := buildBody(s.c, req.Event, sentAt)
	if err != nil {
		return nil, err
	}
	h := s.a.requestHeaders(s.c, req, sentAt, body)
	for _, name := range []string{"Authorization", HeaderWebhookSignature, s.c.AuthHeaderName, s.c.SignatureHeader} {
		if name != "" && h.Get(name) != "" {
			h.Set(name, destination.MaskedValue)
		}
	}
	return &destination.PreviewRequest{Method: s.c.Method, URL: s.c.URL.String(), Header: h, Body: body}, nil
}
