package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

const (
	// A Standard Webhooks secret (32 random bytes) and a plain one, both active, as during a rotation.
	testWhsec       = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	testPlainSecret = "plain-secret-used-as-raw-bytes"
)

// TestOutboundRequest checks the exact request each configuration sends against golden files,
// and verifies every signature independently of the code that made it.
func TestOutboundRequest(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		meta   map[string]any
		verify func(t *testing.T, c *captured)
	}{
		{name: "wrapped", meta: map[string]any{}},
		{name: "raw", meta: map[string]any{KeyPayloadMode: "raw", KeyHTTPMethod: "put"}},
		{name: "raw_without_resource_id", meta: map[string]any{KeyPayloadMode: "raw", KeyHTTPMethod: "PATCH"}},
		{name: "auth_basic", meta: map[string]any{KeyAuthScheme: "basic", KeyBasicUsername: "hooks", KeyBasicPassword: "s3cret-pass"}},
		{name: "auth_bearer", meta: map[string]any{KeyAuthScheme: "bearer", KeyBearerToken: "tok_live_abc123"}},
		{
			name: "auth_header_and_custom_headers",
			meta: map[string]any{
				KeyAuthScheme: "header", KeyAuthHeaderName: "X-API-Key", KeyAuthHeaderValue: "sk-abc123",
				KeyCustomHeaders: map[string]any{"X-Tenant": "acme", "x-trace-source": "switchyard"},
			},
		},
		{
			name:   "signed_standard_webhooks",
			meta:   map[string]any{KeySigningScheme: "standard_webhooks", KeySigningSecret: testWhsec + ", " + testPlainSecret},
			verify: verifyStandardWebhooks,
		},
		{
			name:   "signed_hmac_sha256",
			meta:   map[string]any{KeySigningScheme: "hmac_sha256", KeySigningSecret: testPlainSecret, KeySignatureHeader: "X-Signature"},
			verify: verifyHex(sha256.New, "X-Signature", testPlainSecret),
		},
		{
			name:   "signed_hmac_sha512_two_secrets",
			meta:   map[string]any{KeySigningScheme: "hmac_sha512", KeySigningSecret: "old-secret," + testPlainSecret},
			verify: verifyHex(sha512.New, DefaultSignatureHeader, "old-secret", testPlainSecret),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dest := newRecorder(t, nil)
			tt.meta[KeyURL] = dest.URL + "/hooks/in?source=switchyard"
			req := testRequest(tt.meta)
			if tt.name == "raw_without_resource_id" {
				req.Event.ResourceID = ""
			}
			a := New(local())
			t.Cleanup(a.CloseIdleConnections)

			res := deliverOnce(t.Context(), a, req)

			if res.Outcome != switchyard.OutcomeDelivered {
				t.Fatalf("outcome = %s (%s), want delivered", res.Outcome, res.Message)
			}
			got := dest.only(t)
			golden(t, "request_"+tt.name+".golden", got.dump())
			if tt.verify != nil {
				tt.verify(t, got)
			}
		})
	}
}

// verifyStandardWebhooks checks the request as a Standard Webhooks receiver would, once per
// configured secret: the secrets rotate, and a receiver may hold either.
func verifyStandardWebhooks(t *testing.T, c *captured) {
	t.Helper()
	for _, secret := range []string{testWhsec, testPlainSecret} {
		if err := standardWebhooksVerify(secret, c.Header, c.Body); err != nil {
			t.Errorf("verifying with %q: %v", secret, err)
		}
		tampered := append([]byte(nil), c.Body...)
		tampered[len(tampered)-2] ^= 1
		if standardWebhooksVerify(secret, c.Header, tampered) == nil {
			t.Errorf("a tampered body verified with %q", secret)
		}
	}
	if c.Header.Get("Webhook-Id") != testDeliveryID.String() {
		t.Errorf("webhook-id = %q, want the delivery id", c.Header.Get("Webhook-Id"))
	}
	if c.Header.Get("Webhook-Timestamp") != strconv.FormatInt(testSentAt.Unix(), 10) {
		t.Errorf("webhook-timestamp = %q, want %d", c.Header.Get("Webhook-Timestamp"), testSentAt.Unix())
	}
}

// standardWebhooksVerify follows the Standard Webhooks specification: the key is the base64
// after "whsec_" (here any other secret is its raw bytes, as Switchyard documents), the signed
// content is "id.timestamp.body", and any one "v1,<base64>" entry must match.
func standardWebhooksVerify(secret string, h http.Header, body []byte) error {
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		var err error
		if key, err = base64.StdEncoding.DecodeString(rest); err != nil {
			return err
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Split(h.Get("webhook-signature"), " ") {
		version, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if version == "v1" && err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// verifyHex checks a Meshes-style signature header: one lower-case hex HMAC of the body per
// secret, comma-separated, in order, plus the timestamp header.
func verifyHex(h func() hash.Hash, header string, secrets ...string) func(*testing.T, *captured) {
	return func(t *testing.T, c *captured) {
		t.Helper()
		var want []string
		for _, s := range secrets {
			mac := hmac.New(h, []byte(s))
			mac.Write(c.Body)
			want = append(want, hex.EncodeToString(mac.Sum(nil)))
		}
		if got := c.Header.Get(header); got != strings.Join(want, ",") {
			t.Errorf("%s = %q, want %q", header, got, strings.Join(want, ","))
		}
		if got := c.Header.Get("X-Meshes-Timestamp"); got != strconv.FormatInt(testSentAt.Unix(), 10) {
			t.Errorf("X-Meshes-Timestamp = %q", got)
		}
	}
}

// TestStandardWebhooksVector reproduces the Standard Webhooks specification's published test
// vector, so that any of its libraries can verify Switchyard's signatures.
func TestStandardWebhooksVector(t *testing.T) {
	t.Parallel()

	p := &parser{}
	keys := parseSecrets(p, SigningStandardWebhooks, testWhsec)
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	got := standardSignature(keys, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
}

func TestWrappedEnvelope(t *testing.T) {
	t.Parallel()

	body, err := buildBody(&config{}, testEvent(), testSentAt)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		UUID        string         `json:"uuid"`
		Event       string         `json:"event"`
		Resource    string         `json:"resource"`
		ResourceID  *string        `json:"resource_id"`
		Payload     map[string]any `json:"payload"`
		TimeCreated int64          `json:"time_created"`
		TimeSent    int64          `json:"time_sent"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("envelope is not JSON: %v\n%s", err, body)
	}
	if env.UUID != testEventID.String() || env.Event != "user.signup" || env.Resource != "user" ||
		env.ResourceID == nil || *env.ResourceID != "usr_2048" ||
		env.TimeCreated != 1774137600000 || env.TimeSent != 1774137600500 ||
		env.Payload["name"] != "Ada <Lovelace> & co" {
		t.Errorf("envelope = %+v", env)
	}

	t.Run("an event without resource has resource global and a null resource_id", func(t *testing.T) {
		t.Parallel()
		ev := testEvent()
		ev.Resource, ev.ResourceID, ev.Payload = "", "", nil
		body, err := buildBody(&config{}, ev, testSentAt)
		if err != nil {
			t.Fatal(err)
		}
		contains(t, "body", string(body), `"resource":"global","resource_id":null,"payload":{}`)
	})

	t.Run("an invalid payload is refused", func(t *testing.T) {
		t.Parallel()
		ev := testEvent()
		ev.Payload = []byte(`{"a":`)
		for _, raw := range []bool{false, true} {
			if _, err := buildBody(&config{Raw: raw}, ev, testSentAt); err == nil {
				t.Errorf("raw=%v: no error", raw)
			}
		}
	})
}
