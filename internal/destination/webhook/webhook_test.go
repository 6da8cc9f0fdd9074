package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestDescribe(t *testing.T) {
	t.Parallel()

	got, err := json.MarshalIndent(Integration().Describe(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "integration.golden.json", append(got, '\n'))
}

func TestIntegrationDeclaration(t *testing.T) {
	t.Parallel()

	in := Integration()
	destination.NewRegistry(in) // panics if the declaration is malformed
	want := []string{KeyBasicPassword, KeyBearerToken, KeyAuthHeaderValue, KeySigningSecret}
	if got := in.SecretFields(); !reflect.DeepEqual(got, want) {
		t.Errorf("SecretFields() = %v, want %v", got, want)
	}
	if !in.HasAction(ActionSendWebhook) {
		t.Error("send_webhook is not an action")
	}
}

func TestValidateMetadata(t *testing.T) {
	t.Parallel()

	defaults := func(extra map[string]any) map[string]any {
		m := map[string]any{
			KeyURL: "https://hooks.example.com/in", KeyHTTPMethod: "POST", KeyPayloadMode: "wrapped",
			KeyAuthScheme: "none", KeySigningScheme: "none", KeyTimeoutSeconds: 15.0, KeySkipURLTest: false,
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		in      map[string]any
		private bool
		want    map[string]any    // nil: not checked
		errs    map[string]string // param → part of the message
	}{
		{
			name: "a URL alone gets every default",
			in:   map[string]any{KeyURL: "https://hooks.example.com/in"},
			want: defaults(nil),
		},
		{
			name: "choices match case-insensitively; the method is stored upper-case",
			in: map[string]any{KeyURL: "https://hooks.example.com/in", KeyHTTPMethod: "patch", KeyPayloadMode: "RAW",
				KeyAuthScheme: "Bearer", KeyBearerToken: "tok", KeySigningScheme: "HMAC_SHA512", KeySigningSecret: "s"},
			want: defaults(map[string]any{KeyHTTPMethod: "PATCH", KeyPayloadMode: "raw", KeyAuthScheme: "bearer", KeyBearerToken: "tok",
				KeySigningScheme: "hmac_sha512", KeySigningSecret: "s", KeySignatureHeader: "X-Meshes-Signature"}),
		},
		{
			name: "credentials of a scheme not chosen are dropped",
			in:   map[string]any{KeyURL: "https://hooks.example.com/in", KeyBearerToken: "stale", KeySigningSecret: "stale", KeySignatureHeader: "X-Sig"},
			want: defaults(nil),
		},
		{
			name: "unknown keys are kept",
			in:   map[string]any{KeyURL: "https://hooks.example.com/in", "note": "from the dashboard"},
			want: defaults(map[string]any{"note": "from the dashboard"}),
		},
		{
			name: "five custom headers are allowed; timeout may come as a string",
			in: map[string]any{KeyURL: "https://hooks.example.com/in", KeyTimeoutSeconds: "60",
				KeyCustomHeaders: map[string]any{"A": "1", "B": "2", "C": "3", "D": "4", "E": "5"}},
			want: defaults(map[string]any{KeyTimeoutSeconds: 60.0, KeyCustomHeaders: map[string]any{"A": "1", "B": "2", "C": "3", "D": "4", "E": "5"}}),
		},
		{
			name: "the custom auth header may be Authorization",
			in:   map[string]any{KeyURL: "https://hooks.example.com/in", KeyAuthScheme: "header", KeyAuthHeaderName: "Authorization", KeyAuthHeaderValue: "Token abc"},
			want: defaults(map[string]any{KeyAuthScheme: "header", KeyAuthHeaderName: "Authorization", KeyAuthHeaderValue: "Token abc"}),
		},
		{
			name:    "http and private addresses are allowed when the server allows private destinations",
			in:      map[string]any{KeyURL: "http://127.0.0.1:8080/in"},
			private: true,
			want:    defaults(map[string]any{KeyURL: "http://127.0.0.1:8080/in"}),
		},
		{name: "the URL is required", in: map[string]any{}, errs: map[string]string{"metadata.url": "is required"}},
		{name: "the URL must be a URL", in: map[string]any{KeyURL: "hooks.example.com"}, errs: map[string]string{"metadata.url": "absolute http or https"}},
		{name: "the URL must be http(s)", in: map[string]any{KeyURL: "ftp://hooks.example.com"}, errs: map[string]string{"metadata.url": "absolute http or https"}},
		{name: "the URL must use https", in: map[string]any{KeyURL: "http://hooks.example.com"}, errs: map[string]string{"metadata.url": "must use https"}},
		{name: "the URL must not hold credentials", in: map[string]any{KeyURL: "https://u:p@hooks.example.com"}, errs: map[string]string{"metadata.url": "credentials"}},
		{name: "the URL must not be a private address", in: map[string]any{KeyURL: "https://10.0.0.7/in"}, errs: map[string]string{"metadata.url": "private"}},
		{name: "the URL must not be the metadata service", in: map[string]any{KeyURL: "https://169.254.169.254/latest"}, errs: map[string]string{"metadata.url": "private"}},
		{name: "the URL must not be localhost", in: map[string]any{KeyURL: "https://LocalHost./in"}, errs: map[string]string{"metadata.url": "private"}},
		{name: "the URL must not be long", in: map[string]any{KeyURL: "https://hooks.example.com/" + strings.Repeat("a", 2100)}, errs: map[string]string{"metadata.url": "at most 2048"}},
		{name: "an unknown method is refused", in: map[string]any{KeyURL: "https://h.example", KeyHTTPMethod: "GET"}, errs: map[string]string{"metadata.http_method": "POST, PUT, PATCH"}},
		{
			name: "more than five custom headers are refused",
			in:   map[string]any{KeyURL: "https://h.example", KeyCustomHeaders: map[string]any{"A": "1", "B": "2", "C": "3", "D": "4", "E": "5", "F": "6"}},
			errs: map[string]string{"metadata.custom_headers": "at most 5"},
		},
		{name: "Content-Type is reserved", in: map[string]any{KeyURL: "https://h.example", KeyCustomHeaders: map[string]any{"content-type": "text/plain"}}, errs: map[string]string{"metadata.custom_headers": "content-type is a reserved header"}},
		{name: "Authorization is reserved", in: map[string]any{KeyURL: "https://h.example", KeyCustomHeaders: map[string]any{"AUTHORIZATION": "x"}}, errs: map[string]string{"metadata.custom_headers": "reserved"}},
		{name: "X-Meshes-* is reserved", in: map[string]any{KeyURL: "https://h.example", KeyCustomHeaders: map[string]any{"x-meshes-anything": "x"}}, errs: map[string]string{"metadata.custom_headers": "reserved"}},
		{name: "webhook-* signature headers are reserved", in: map[string]any{KeyURL: "https://h.example", KeyCustomHeaders: map[string]any{"Webhook-Signature": "x"}}, errs: map[string]string{"metadata.custom_headers": "reserved"}},
		{
			name: "the configured signature header is reserved",
			in: map[string]any{KeyURL: "https://h.example", KeySigningScheme: "hmac_sha256", KeySigningSecret: "s", KeySignatureHeader: "X-Sig",
				KeyCustomHeaders: map[string]any{"x-sig": "x"}},
			errs: map[string]string{"metadata.custom_headers": "reserved"},
		},
		{
			name: "a custom header may not repeat the auth header",
			in: map[string]any{KeyURL: "https://h.example", KeyAuthScheme: "header", KeyAuthHeaderName: "X-API-Key", KeyAuthHeaderValue: "v",
				KeyCustomHeaders: map[string]any{"x-api-key": "x"}},
			errs: map[string]string{"metadata.custom_headers": "auth_header_name"},
		},
		{name: "custom header values must be strings", in: map[string]any{KeyURL: "https://h.example", KeyCustomHeaders: map[string]any{"X-N": 5.0}}, errs: map[string]string{"metadata.custom_headers": "must be a string"}},
		{name: "custom header values must not inject lines", in: map[string]any{KeyURL: "https://h.example", KeyCustomHeaders: map[string]any{"X-N": "a\r\nHost: evil"}}, errs: map[string]string{"metadata.custom_headers": "control characters"}},
		{name: "custom header names must be tokens", in: map[string]any{KeyURL: "https://h.example", KeyCustomHeaders: map[string]any{"X N": "a"}}, errs: map[string]string{"metadata.custom_headers": "not a valid header name"}},
		{name: "basic auth needs a password", in: map[string]any{KeyURL: "https://h.example", KeyAuthScheme: "basic", KeyBasicUsername: "u"}, errs: map[string]string{"metadata.basic_password": "is required"}},
		{name: "basic usernames have no colon", in: map[string]any{KeyURL: "https://h.example", KeyAuthScheme: "basic", KeyBasicUsername: "u:v", KeyBasicPassword: "p"}, errs: map[string]string{"metadata.basic_username": "colon"}},
		{name: "bearer auth needs a token", in: map[string]any{KeyURL: "https://h.example", KeyAuthScheme: "bearer"}, errs: map[string]string{"metadata.bearer_token": "is required"}},
		{
			name: "header auth needs a name and a value",
			in:   map[string]any{KeyURL: "https://h.example", KeyAuthScheme: "header"},
			errs: map[string]string{"metadata.auth_header_name": "is required", "metadata.auth_header_value": "is required"},
		},
		{name: "the auth header may not be reserved", in: map[string]any{KeyURL: "https://h.example", KeyAuthScheme: "header", KeyAuthHeaderName: "X-Meshes-Key", KeyAuthHeaderValue: "v"}, errs: map[string]string{"metadata.auth_header_name": "reserved"}},
		{name: "signing needs a secret", in: map[string]any{KeyURL: "https://h.example", KeySigningScheme: "standard_webhooks"}, errs: map[string]string{"metadata.signing_secret": "is required"}},
		{name: "a secret list needs one secret", in: map[string]any{KeyURL: "https://h.example", KeySigningScheme: "hmac_sha256", KeySigningSecret: " , ,"}, errs: map[string]string{"metadata.signing_secret": "at least one"}},
		{name: "a whsec_ secret must be base64", in: map[string]any{KeyURL: "https://h.example", KeySigningScheme: "standard_webhooks", KeySigningSecret: "whsec_ok, whsec_!!!"}, errs: map[string]string{"metadata.signing_secret": "secret 2"}},
		{
			name: "the signature header may not be one Switchyard sets",
			in:   map[string]any{KeyURL: "https://h.example", KeySigningScheme: "hmac_sha256", KeySigningSecret: "s", KeySignatureHeader: "Content-Type"},
			errs: map[string]string{"metadata.signature_header": "sets itself"},
		},
		{name: "the timeout is at least 1", in: map[string]any{KeyURL: "https://h.example", KeyTimeoutSeconds: 0}, errs: map[string]string{"metadata.timeout_seconds": "from 1 to 60"}},
		{name: "the timeout is at most 60", in: map[string]any{KeyURL: "https://h.example", KeyTimeoutSeconds: 61}, errs: map[string]string{"metadata.timeout_seconds": "from 1 to 60"}},
		{name: "the timeout is whole seconds", in: map[string]any{KeyURL: "https://h.example", KeyTimeoutSeconds: 1.5}, errs: map[string]string{"metadata.timeout_seconds": "whole number"}},
		{name: "skip_url_test is a boolean", in: map[string]any{KeyURL: "https://h.example", KeySkipURLTest: "yes please"}, errs: map[string]string{"metadata.skip_url_test": "true or false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := Integration().ValidateMetadata(tt.in, destination.Options{AllowPrivate: tt.private})
			gotErrs := make(map[string]string)
			for _, e := range errs {
				gotErrs[e.Param] = e.Msg
			}
			if len(gotErrs) != len(tt.errs) {
				t.Errorf("errors = %v, want %v", gotErrs, tt.errs)
			}
			for param, part := range tt.errs {
				if !strings.Contains(gotErrs[param], part) {
					t.Errorf("error for %s = %q, want it to contain %q", param, gotErrs[param], part)
				}
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("metadata = %#v\nwant       %#v", got, tt.want)
			}
			if len(errs) == 0 {
				// What passes validation must be deliverable as it is stored.
				if _, errs := parseConfig(got); len(errs) > 0 {
					t.Errorf("validated metadata does not parse for delivery: %v", errs)
				}
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()

	got := Integration().Mask(map[string]any{KeyURL: "https://h.example", KeyAuthScheme: "bearer", KeyBearerToken: "tok", KeySigningSecret: "a,b"})
	want := map[string]any{KeyURL: "https://h.example", KeyAuthScheme: "bearer", KeyBearerToken: "********", KeySigningSecret: "********"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Mask() = %v, want %v", got, want)
	}
}

func TestConnectionTest(t *testing.T) {
	t.Parallel()

	in := Integration()

	t.Run("a working endpoint passes and receives switchyard.test", func(t *testing.T) {
		t.Parallel()
		dest := newRecorder(t, nil)
		conn := &switchyard.Connection{Metadata: normalise(t, local(), map[string]any{KeyURL: dest.URL, KeySigningScheme: "standard_webhooks", KeySigningSecret: testWhsec})}
		if err := destination.TestConnection(t.Context(), in, local(), destination.Provision{Connection: conn}); err != nil {
			t.Fatalf("Test() = %v", err)
		}
		got := dest.only(t)
		contains(t, "test body", string(got.Body), `"event":"switchyard.test"`)
		if err := standardWebhooksVerify(testWhsec, got.Header, got.Body); err != nil {
			t.Errorf("the test request is not signed like a delivery: %v", err)
		}
	})

	t.Run("a failing endpoint fails with the outcome's message on metadata.url", func(t *testing.T) {
		t.Parallel()
		dest := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
		err := destination.TestConnection(t.Context(), in, local(), destination.Provision{Connection: &switchyard.Connection{Metadata: normalise(t, local(), map[string]any{KeyURL: dest.URL})}})
		var e *switchyard.Error
		if !errors.As(err, &e) || e.Code != switchyard.EINVALID || len(e.Fields) != 1 || e.Fields[0].Param != "metadata.url" {
			t.Fatalf("Test() = %#v, want an invalid error on metadata.url", err)
		}
		contains(t, "message", e.Message, "HTTP 404 Not Found")
		contains(t, "field message", e.Fields[0].Msg, "destination_not_found")
	})

	t.Run("skip_url_test sends nothing", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		conn := &switchyard.Connection{Metadata: normalise(t, local(), map[string]any{KeyURL: "http://" + addr, KeySkipURLTest: true})}
		if err := destination.TestConnection(t.Context(), in, local(), destination.Provision{Connection: conn}); err != nil {
			t.Errorf("Test() = %v, want nil", err)
		}
	})
}

// TestURLPort checks that a URL whose port no connection can use is refused when the connection
// is saved, whatever skip_url_test says, instead of failing every delivery as a retried
// network error; and that a stored one fails its deliveries at once, without a connection.
func TestURLPort(t *testing.T) {
	t.Parallel()

	const portMsg = "must have a port from 1 to 65535"
	tests := []struct {
		url string
		// schemaMsg is the part of the message ValidateMetadata gives; "" means portMsg. A URL
		// url.Parse refuses is already refused by the generic schema, whose message wins.
		schemaMsg string
	}{
		{url: "https://example.com:99999/"},
		{url: "https://example.com:65536/hook"},
		{url: "https://example.com:0/"},
		{url: "https://example.com:00000/"},
		{url: "https://example.com:4294967297/"},
		{url: "https://example.com:99999999999999999999999/"},
		{url: "https://[2001:db8::1]:0/"},
		{url: "http://hooks.example.com:70000/in"},
		{url: "https://example.com:abc/", schemaMsg: "absolute http or https URL"},
		{url: "https://example.com:-1/", schemaMsg: "absolute http or https URL"},
		{url: "https://example.com:443:1/", schemaMsg: "absolute http or https URL"},
		{url: "https://example.com:%34%34%33/", schemaMsg: "absolute http or https URL"},
	}
	for _, tt := range tests {
		for _, skip := range []bool{true, false} {
			for _, private := range []bool{true, false} {
				name := fmt.Sprintf("%s skip_url_test=%t private=%t", tt.url, skip, private)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					opts := destination.Options{AllowPrivate: private}
					meta := map[string]any{KeyURL: tt.url, KeySkipURLTest: skip}

					_, errs := Integration().ValidateMetadata(meta, opts)
					want := tt.schemaMsg
					if want == "" {
						want = portMsg
					}
					if len(errs) != 1 || errs[0].Param != "metadata.url" || !strings.Contains(errs[0].Msg, want) {
						t.Errorf("ValidateMetadata errors = %v, want one on metadata.url containing %q", errs, want)
					}

					// The webhook's own check says what is wrong, whichever layer reports it.
					if errs := check(meta, opts); len(errs) != 1 || errs[0].Param != "metadata.url" || errs[0].Msg != portMsg {
						t.Errorf("check errors = %v, want exactly metadata.url %q", errs, portMsg)
					}

					// A connection stored before this check: normalised by the schema, with
					// the URL as it was saved.
					stored := normalise(t, destination.Options{AllowPrivate: true}, map[string]any{KeyURL: "https://example.com/", KeySkipURLTest: skip})
					stored[KeyURL] = tt.url

					// The save-time test refuses it too, even when told to skip the request.
					err := destination.TestConnection(t.Context(), Integration(), opts, destination.Provision{Connection: &switchyard.Connection{Metadata: stored}})
					var e *switchyard.Error
					if !errors.As(err, &e) || e.Code != switchyard.EINVALID || len(e.Fields) != 1 || e.Fields[0].Param != "metadata.url" {
						t.Errorf("Test() = %#v, want an invalid error on metadata.url", err)
					}

					// A connection stored before this check fails at once, never retried: the
					// provisioner refuses it as stored…
					a := New(opts)
					t.Cleanup(a.CloseIdleConnections)
					req := testRequest(stored)
					res := attempt(t.Context(), a, req)
					if res.Outcome != switchyard.OutcomeInvalidRequest || res.HTTPStatus != 0 {
						t.Errorf("result = %s %d (%s), want invalid_request", res.Outcome, res.HTTPStatus, res.Message)
					}
					contains(t, "message", res.Message, "metadata.url "+portMsg)

					// …and the engine, which validates what it provisions, refuses it first.
					res = deliverOnce(t.Context(), a, req)
					if res.Outcome != switchyard.OutcomeInvalidRequest || res.HTTPStatus != 0 {
						t.Errorf("result = %s %d (%s), want invalid_request", res.Outcome, res.HTTPStatus, res.Message)
					}
					contains(t, "message", res.Message, "metadata.url ")
					contains(t, "message", res.Message, want)
				})
			}
		}
	}

	for _, url := range []string{
		"https://example.com:1/",
		"https://example.com:65535/",
		"https://example.com:443/",
		"https://example.com:08443/",
		"https://example.com:/", // an empty port is the scheme's default
		"https://[2001:db8::1]:8443/",
	} {
		t.Run(url+" is accepted", func(t *testing.T) {
			t.Parallel()
			meta := map[string]any{KeyURL: url, KeySkipURLTest: true}
			got, errs := Integration().ValidateMetadata(meta, destination.Options{AllowPrivate: true})
			if len(errs) != 0 {
				t.Errorf("ValidateMetadata errors = %v, want none", errs)
			}
			if c, errs := parseConfig(got); len(errs) != 0 || c.URL == nil {
				t.Errorf("parseConfig = %v, %v; want a URL and no errors", c.URL, errs)
			}
		})
	}
}

// TestProvisionRequiresNormalisedMetadata checks that the provisioner reads metadata as the
// schema normalises it and refuses anything else rather than guess a default, a spelling or a
// type: the schema is the one source of those.
func TestProvisionRequiresNormalisedMetadata(t *testing.T) {
	t.Parallel()

	base := func() map[string]any {
		return normalise(t, local(), map[string]any{KeyURL: "https://hooks.example.com/in", KeyAuthScheme: "bearer", KeyBearerToken: "tok",
			KeySigningScheme: "hmac_sha256", KeySigningSecret: "s", KeyCustomHeaders: map[string]any{"X-Tenant": "acme"}})
	}
	tests := []struct {
		name   string
		change func(m map[string]any)
		param  string
	}{
		{"a default not filled", func(m map[string]any) { delete(m, KeyHTTPMethod) }, "metadata.http_method"},
		{"a default not filled under a condition", func(m map[string]any) { delete(m, KeySignatureHeader) }, "metadata.signature_header"},
		{"a required value missing", func(m map[string]any) { delete(m, KeyBearerToken) }, "metadata.bearer_token"},
		{"a choice not in its declared form", func(m map[string]any) { m[KeyHTTPMethod] = "post" }, "metadata.http_method"},
		{"a choice not declared", func(m map[string]any) { m[KeyPayloadMode] = "compact" }, "metadata.payload_mode"},
		{"a number as a string", func(m map[string]any) { m[KeyTimeoutSeconds] = "15" }, "metadata.timeout_seconds"},
		{"a number as an int", func(m map[string]any) { m[KeyTimeoutSeconds] = 15 }, "metadata.timeout_seconds"},
		{"a boolean as a string", func(m map[string]any) { m[KeySkipURLTest] = "true" }, "metadata.skip_url_test"},
		{"an untrimmed string", func(m map[string]any) { m[KeyURL] = " https://hooks.example.com/in" }, "metadata.url"},
		{"a null", func(m map[string]any) { m[KeyCustomHeaders] = nil }, "metadata.custom_headers"},
		{"an object of another type", func(m map[string]any) { m[KeyCustomHeaders] = map[string]string{"X-Tenant": "acme"} }, "metadata.custom_headers"},
		{"a credential of a scheme not chosen", func(m map[string]any) { m[KeyBasicPassword] = "stale" }, "metadata.basic_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			meta := base()
			tt.change(meta)
			_, err := New(local()).Provision(t.Context(), destination.Provision{Connection: &switchyard.Connection{Metadata: meta}})
			var e *switchyard.Error
			if !errors.As(err, &e) || e.Code != switchyard.EINVALID || len(e.Fields) != 1 || e.Fields[0].Param != tt.param {
				t.Fatalf("Provision() = %v, want an invalid error on %s alone", err, tt.param)
			}
			contains(t, "field message", e.Fields[0].Msg, "is not normalised")
			contains(t, "message", e.Message, tt.param)
		})
	}

	t.Run("normalised metadata is provisioned as it is", func(t *testing.T) {
		t.Parallel()
		meta := base()
		s, err := New(local()).Provision(t.Context(), destination.Provision{Connection: &switchyard.Connection{Metadata: meta}})
		if err != nil {
			t.Fatalf("Provision() = %v", err)
		}
		c := s.(*sender).c
		if c.Method != "POST" || c.Raw || c.Auth != AuthBearer || c.SignatureHeader != DefaultSignatureHeader ||
			c.Timeout != DefaultTimeoutSeconds*time.Second || len(c.CustomHeaders) != 1 {
			t.Errorf("config = %+v", c)
		}
		if !reflect.DeepEqual(meta, base()) {
			t.Errorf("Provision changed the metadata: %v", meta)
		}
	})
}
