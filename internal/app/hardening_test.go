package app_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// send sends body exactly as given (bytes that json.Marshal would have mended included) with
// the headers, and returns the status and the answer.
func (s *server) send(t *testing.T, method, path, body string, headers map[string]string) (int, []byte) {
	t.Helper()
	resp, b := s.request(t, method, path, body, headers)
	return resp.StatusCode, b
}

// request sends body as it is (Content-Type JSON) with the headers and returns the response
// (body read and closed) and its body.
func (s *server) request(t *testing.T, method, path, body string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// bearer is the Authorization header of a fresh machine JWT.
func (s *server) bearer(t *testing.T) map[string]string {
	t.Helper()
	tok, err := auth.Mint(s.creds.AccessKey, s.creds.SecretKey, s.creds.OrganizationID, time.Now(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"Authorization": "Bearer " + tok}
}

// errorParams decodes the Meshes error shape and returns its field names, failing unless b is one.
func errorParams(t *testing.T, b []byte) []string {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not the Meshes error shape: %s (%v)", b, err)
	}
	return e.params()
}

// Text the stores cannot hold — invalid UTF-8 (PostgreSQL once answered 500 to it, SQLite stored
// it) and NUL characters — is refused with a 400 naming the field, before any store sees it,
// from a publishable key and a machine JWT alike; a bulk request refuses the bad item alone and
// stores every good item exactly once.
func TestHostileTextIsRefusedAtTheEdge(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID.String()
		credentials := map[string]func() (map[string]string, string){
			"publishable key": func() (map[string]string, string) {
				return map[string]string{"X-Meshes-Publishable-Key": s.creds.PublishableKey}, ""
			},
			"machine JWT": func() (map[string]string, string) { return s.bearer(t), `"workspace":"` + ws + `",` },
		}
		for name, creds := range credentials {
			t.Run(name, func(t *testing.T) {
				headers, wsField := creds()
				for _, c := range []struct {
					name, event, payload, param string
				}{
					{"invalid UTF-8 in a payload value", `"user.signup"`, "{\"name\":\"caf\xc3\x28\"}", "payload.name"},
					{"invalid UTF-8 in a payload key", `"user.signup"`, "{\"caf\xc3\x28\":1}", "payload"},
					{"invalid UTF-8 deep in the payload", `"user.signup"`, "{\"a\":[{\"b\":\"\xc3\x28\"}]}", "payload.a[0].b"},
					{"invalid UTF-8 in the event name", "\"user.\xc3\x28\"", `{"x":1}`, "event"},
					{"a blank event name", `"   "`, `{"x":1}`, "event"},
					{"NUL in a payload value", `"user.signup"`, `{"a":["ok","b\u0000"]}`, "payload.a[1]"},
					{"NUL in a payload key", `"user.signup"`, `{"a\u0000b":1}`, "payload"},
					{"NUL in the event name", `"user\u0000signup"`, `{"x":1}`, "event"},
				} {
					code, b := s.send(t, "POST", "/api/v1/events", `{`+wsField+`"event":`+c.event+`,"payload":`+c.payload+`}`, headers)
					if code != http.StatusBadRequest {
						t.Fatalf("%s: %d %s, want 400", c.name, code, b)
					}
					if params := errorParams(t, b); len(params) != 1 || params[0] != c.param {
						t.Errorf("%s: error names %v, want [%s]", c.name, params, c.param)
					}
				}
				// An escaped backslash before u0000 is text, not a NUL: stored byte for byte.
				payload := `{"note":"\\u0000 is six characters"}`
				code, b := s.send(t, "POST", "/api/v1/events", `{`+wsField+`"event":"text.ok","payload":`+payload+`}`, headers)
				if code != http.StatusCreated {
					t.Fatalf("escaped backslash: %d %s", code, b)
				}
				var created struct{ Event idOf }
				if err := json.Unmarshal(b, &created); err != nil {
					t.Fatal(err)
				}
				var stored struct {
					Payload json.RawMessage `json:"payload"`
				}
				s.call(t, "GET", "/api/v1/events/"+created.Event.ID.String()+"/payload", nil, nil, &stored)
				if string(stored.Payload) != payload {
					t.Errorf("payload stored as %s, want %s", stored.Payload, payload)
				}

				// Bulk: the bad items get error records at their positions; the good ones are
				// stored, once each.
				name := "bulk." + uuid.NewString()[:8]
				item := func(payload string) string {
					return `{` + wsField + `"event":"` + name + `","payload":` + payload + `}`
				}
				body := "[" + strings.Join([]string{item(`{"i":0}`), item("{\"name\":\"caf\xc3\x28\"}"), item(`{"i":2}`),
					item(`{"k\u0000":3}`), item(`{"i":4}`)}, ",") + "]"
				code, b = s.send(t, "POST", "/api/v1/events/bulk", body, headers)
				var out struct {
					Count      int               `json:"count"`
					ErrorCount int               `json:"error_count"`
					Records    []json.RawMessage `json:"records"`
				}
				if err := json.Unmarshal(b, &out); err != nil || code != http.StatusMultiStatus || out.Count != 3 || out.ErrorCount != 2 {
					t.Fatalf("bulk with two bad items: %d %s (%v)", code, b, err)
				}
				for i, want := range map[int]string{1: "payload.name", 3: "payload"} {
					if params := errorParams(t, out.Records[i]); len(params) != 1 || params[0] != want {
						t.Errorf("record %d names %v, want [%s]", i, params, want)
					}
				}
				var accepted []uuid.UUID
				for _, i := range []int{0, 2, 4} {
					var rec idOf
					if err := json.Unmarshal(out.Records[i], &rec); err != nil || rec.ID == uuid.Nil {
						t.Fatalf("record %d: %s", i, out.Records[i])
					}
					accepted = append(accepted, rec.ID)
				}
				var stored2 page[idOf]
				s.call(t, "GET", "/api/v1/workspaces/"+ws+"/events?event="+name, nil, nil, &stored2)
				if stored2.Count != 3 {
					t.Fatalf("the workspace holds %d events named %s, want the 3 good ones", stored2.Count, name)
				}
				for _, r := range stored2.Records {
					if !containsID(accepted, r.ID) {
						t.Errorf("stored event %s is not one the bulk answer accepted", r.ID)
					}
				}
			})
		}
	})
}

// A number in connection or rule metadata that no float64 holds is refused with a 400 naming its
// key: stored, it could not be read back, and the rule or connection failed every list it was on
// and every claim that met its deliveries — on PostgreSQL the deliveries of every tenant behind
// it stopped. Numbers a float64 holds are stored as the float64 they are read back as.
func TestMetadataNumbersBeyondAFloatAreRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID.String()
		h := newHook(t, 200)
		conn := s.createConnection(t, s.creds.WorkspaceID, h.url(), nil)
		for _, c := range []struct{ path, body, param string }{
			{"/api/v1/rules", `{"workspace":"` + ws + `","connection":"` + conn.String() + `","event":"e","metadata":{"action":"send_webhook","x":1e400}}`, "metadata.x"},
			{"/api/v1/rules", `{"workspace":"` + ws + `","connection":"` + conn.String() + `","event":"e","metadata":{"action":"send_webhook","deep":{"a":[1,-1e400]}}}`, "metadata.deep"},
			{"/api/v1/connections", `{"workspace":"` + ws + `","type":"webhook","name":"N","metadata":{"url":"` + h.url() + `","skip_url_test":true,"x":1e1000000}}`, "metadata.x"},
		} {
			code, b := s.send(t, "POST", c.path, c.body, s.bearer(t))
			if code != http.StatusBadRequest {
				t.Fatalf("POST %s with %s: %d %s, want 400", c.path, c.body, code, b)
			}
			if params := errorParams(t, b); len(params) != 1 || params[0] != c.param {
				t.Errorf("POST %s: error names %v, want [%s]", c.path, params, c.param)
			}
		}
		// In range: accepted, and read back as it was answered.
		code, b := s.send(t, "POST", "/api/v1/rules", `{"workspace":"`+ws+`","connection":"`+conn.String()+
			`","event":"big","metadata":{"action":"send_webhook","x":1.5e300,"id":12345678901234567890}}`, s.bearer(t))
		var created struct {
			Rule struct {
				ID       uuid.UUID       `json:"id"`
				Metadata json.RawMessage `json:"metadata"`
			} `json:"rule"`
		}
		if err := json.Unmarshal(b, &created); err != nil || code != http.StatusCreated {
			t.Fatalf("a rule with large numbers in range: %d %s", code, b)
		}
		var read struct {
			Metadata json.RawMessage `json:"metadata"`
		}
		if code := s.call(t, "GET", "/api/v1/rules/"+created.Rule.ID.String(), nil, nil, &read); code != http.StatusOK ||
			string(read.Metadata) != string(created.Rule.Metadata) {
			t.Fatalf("rule read back (%d) as %s, created as %s", code, read.Metadata, created.Rule.Metadata)
		}
		for _, path := range []string{"/api/v1/rules", "/api/v1/connections"} {
			if code, b := s.send(t, "GET", path, "", s.bearer(t)); code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, code, b)
			}
		}
		s.emit(t, s.creds.WorkspaceID, "big", nil)
		h.waitRequest(t)
	})
}

// A credential that cannot be one — a publishable key with bytes that are not UTF-8 (net/http
// passes them; it refuses control characters itself), a JWT whose kid holds a NUL — is refused with a 401 before the store sees
// it: on PostgreSQL the lookup itself failed and answered 500, to anyone, unauthenticated.
func TestHostileCredentialsAreRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		jwtWithKid := func(kid string) string {
			return b64(`{"alg":"HS256","typ":"JWT","kid":"`+kid+`"}`) + "." + b64(`{"iat":1,"exp":2}`) + "." + b64("signature")
		}
		for _, c := range []struct {
			name    string
			path    string
			headers map[string]string
		}{
			{"a publishable key with a byte that is not UTF-8", "/api/v1/events", map[string]string{"X-Meshes-Publishable-Key": "mesh_pub_a_b_c\xff"}},
			{"a JWT whose kid is a NUL", "/api/v1/workspaces", map[string]string{"Authorization": "Bearer " + jwtWithKid(`\u0000`)}},
			{"a JWT whose kid holds a NUL", "/api/v1/workspaces", map[string]string{"Authorization": "Bearer " + jwtWithKid(`mk_\u0000abcdefghijklmnopqrstuvwxyz`)}},
		} {
			method, body := "GET", ""
			if c.path == "/api/v1/events" {
				method, body = "POST", `{"event":"e","payload":{}}`
			}
			code, b := s.send(t, method, c.path, body, c.headers)
			if code != http.StatusUnauthorized {
				t.Errorf("%s: %d %s, want 401", c.name, code, b)
			}
		}
	})
}

func containsID(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// No error leaves the API port without the JSON error shape and an X-Request-Id: not even the
// ones net/http writes itself, in its handlers (404, 405) or before any handler runs (431, 400,
// 501).
func TestEveryErrorIsJSON(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	addr := strings.TrimPrefix(s.url, "http://")
	for _, c := range []struct {
		name string
		raw  string // the request exactly as sent
		code int
	}{
		{"404 outside /api", "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"404 inside /api", "GET /api/v2/nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"405 for POST /healthz", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
		{"405 for DELETE on an API route", "DELETE /api/v1/workspaces HTTP/1.1\r\nHost: x\r\n\r\n", 405},
		{"431 for headers over the limit", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", 431},
		{"400 for a malformed header value", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", 400},
		{"400 for a malformed header line", "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400},
		{"400 for a malformed request line", "NONSENSE\r\n\r\n", 400},
		{"400 for a missing Host", "GET /healthz HTTP/1.1\r\n\r\n", 400},
		{"501 for an unknown transfer encoding", "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			// The server may answer (and close) before it has read a large request whole.
			go func() { _, _ = io.WriteString(conn, c.raw) }()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, b, c.code)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			var e apiError
			if err := json.Unmarshal(b, &e); err != nil || e.Message != http.StatusText(c.code) || e.Error.Message == "" ||
				e.Error.Name != strings.ReplaceAll(http.StatusText(c.code), " ", "") {
				t.Errorf("body %s is not the Meshes error shape of %d (%v)", b, c.code, err)
			}
			if c.code == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

// Metrics are served on their own listener, not on the API port (they name every tenant's
// connection ids).
func TestMetricsAreNotOnTheAPIPort(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	code, b := s.send(t, "GET", "/metrics", "", nil)
	if code != http.StatusNotFound || strings.Contains(string(b), "switchyard_") {
		t.Fatalf("GET /metrics on the API port: %d %.200s, want a 404", code, b)
	}
	resp, err := http.Get(s.metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "switchyard_events_accepted_total") {
		t.Fatalf("GET /metrics on the metrics listener: %d %.200s", resp.StatusCode, b)
	}
}

// The API holds at most --max-connections connections open: one more waits to be accepted
// until another closes.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0], func(c *config.Config) { c.MaxConnections = 3 })
	addr := strings.TrimPrefix(s.url, "http://")
	get := func(conn net.Conn) error {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	var held []net.Conn
	for range 3 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := get(conn); err != nil {
			t.Fatalf("connection %d: %v", len(held), err)
		}
		held = append(held, conn)
	}
	// The fourth connects (the kernel queues it) but is not served while three are open.
	fourth, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	served := make(chan error, 1)
	go func() { served <- get(fourth) }()
	select {
	case err := <-served:
		t.Fatalf("a fourth connection was served while three were open (%v)", err)
	case <-time.After(300 * time.Millisecond):
		// Not served within 300 ms; its turn comes when a connection closes (below). A slow
		// machine only makes this wait longer, never the test wrong.
	}
	held[0].Close()
	if err := <-served; err != nil {
		t.Fatalf("the fourth connection once one closed: %v", err)
	}
}
