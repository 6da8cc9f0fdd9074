package webhook

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// addressPattern finds IPv4 and bracketed IPv6 addresses, with or without a port, in a message.
// It is written independently of the adapter's own scrubbing, as the oracle.
var addressPattern = regexp.MustCompile(`\d{1,3}(\.\d{1,3}){3}(:\d+)?|\[[0-9A-Fa-f:.%a-z]+\](:\d+)?`)

// onlyDestination fails t if msg names any IP address other than allowed (the host:port the
// tenant configured), or any of ours.
func onlyDestination(t *testing.T, msg, allowed string, ours ...string) {
	t.Helper()
	for _, a := range addressPattern.FindAllString(msg, -1) {
		if a != allowed {
			t.Errorf("message %q names the address %s; only the destination %q may appear", msg, a, allowed)
		}
	}
	for _, a := range ours {
		if a != "" && strings.Contains(msg, a) {
			t.Errorf("message %q contains our address %s", msg, a)
		}
	}
}

// fakeResolver is a Go resolver whose DNS "server" is answer, run in-process over net.Pipe: no
// packet leaves the machine and no real resolver is asked. It records the server addresses
// the resolver meant to query (from resolv.conf), which must not reach any message.
type fakeResolver struct {
	mu      sync.Mutex
	servers []string
	wg      sync.WaitGroup
}

func (f *fakeResolver) resolver(answer func(query []byte) []byte, dialErr error) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		f.mu.Lock()
		f.servers = append(f.servers, address)
		f.mu.Unlock()
		if dialErr != nil {
			return nil, dialErr
		}
		client, server := net.Pipe()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer server.Close()
			// A net.Pipe is not a PacketConn, so the resolver speaks DNS over TCP framing:
			// a two-byte length, then the message.
			var n [2]byte
			if _, err := io.ReadFull(server, n[:]); err != nil {
				return
			}
			q := make([]byte, binary.BigEndian.Uint16(n[:]))
			if _, err := io.ReadFull(server, q); err != nil {
				return
			}
			r := answer(q)
			out := binary.BigEndian.AppendUint16(nil, uint16(len(r)))
			_, _ = server.Write(append(out, r...))
		}()
		return client, nil
	}}
}

func (f *fakeResolver) queried() []string {
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.servers...)
}

// nxdomain answers a query with "no such name": the query itself (question and EDNS record)
// with the response bit, recursion available and RCODE 3.
func nxdomain(q []byte) []byte {
	r := append([]byte(nil), q...)
	if len(r) >= 4 {
		r[2] = 0x80 | (q[2] & 0x01) // QR, keep RD
		r[3] = 0x80 | 3             // RA, NXDOMAIN
	}
	return r
}

// timeoutError is what a resolver's dial reports when the server does not answer in time.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestDNSFailureMessages(t *testing.T) {
	t.Parallel()

	// The address of a resolver a deployment might have; its dial failing is how Go reports
	// a resolver it cannot reach, with that address in the text.
	unreachable := &net.OpError{Op: "dial", Net: "udp", Addr: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 53},
		Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}
	tests := []struct {
		name    string
		answer  func([]byte) []byte
		dialErr error
		outcome switchyard.Outcome
		message string
	}{
		{"no such host", nxdomain, nil, switchyard.OutcomeNetworkError,
			"network error: DNS lookup failed for host example.invalid: no such host"},
		{"a resolver that does not answer", nil, timeoutError{}, switchyard.OutcomeTimeout,
			"DNS lookup failed for host example.invalid: timeout"},
		{"a resolver that cannot be reached", nil, unreachable, switchyard.OutcomeNetworkError,
			"network error: DNS lookup failed for host example.invalid: network is unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeResolver{}
			a := New(local())
			t.Cleanup(a.CloseIdleConnections)
			a.dialer.Resolver = fake.resolver(tt.answer, tt.dialErr)

			res := deliverOnce(t.Context(), a, testRequest(map[string]any{KeyURL: "http://example.invalid:8080/hook?token=query-secret"}))
			servers := fake.queried()
			if len(servers) == 0 {
				t.Fatal("the fake resolver was never asked; the test proves nothing")
			}
			if res.Outcome != tt.outcome || res.HTTPStatus != 0 {
				t.Errorf("result = %s %d, want %s", res.Outcome, res.HTTPStatus, tt.outcome)
			}
			if res.Message != tt.message {
				t.Errorf("message = %q, want %q", res.Message, tt.message)
			}
			onlyDestination(t, res.Message, "", append(servers, "10.0.0.2")...)
			if strings.Contains(res.Message, "query-secret") || res.Response != "" {
				t.Errorf("result leaks the URL or has an excerpt: %+v", res)
			}
		})
	}
}

func TestConnectionFailureMessages(t *testing.T) {
	t.Parallel()

	t.Run("a refused loopback connection names the destination and nothing else", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		res := deliver(t, local(), map[string]any{KeyURL: "http://" + addr + "/hook"})
		if res.Outcome != switchyard.OutcomeNetworkError {
			t.Errorf("outcome = %s (%s), want network_error", res.Outcome, res.Message)
		}
		if want := "network error: could not connect to " + addr + ": connection refused"; res.Message != want {
			t.Errorf("message = %q, want %q", res.Message, want)
		}
		onlyDestination(t, res.Message, addr)
	})

	t.Run("a reset connection does not name our local address", func(t *testing.T) {
		t.Parallel()
		client := make(chan string, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case client <- r.RemoteAddr: // the adapter's end of the connection
			default:
			}
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			_ = conn.(*net.TCPConn).SetLinger(0) // close with RST
			_ = conn.Close()
		}))
		t.Cleanup(srv.Close)
		dest := strings.TrimPrefix(srv.URL, "http://")
		res := deliver(t, local(), map[string]any{KeyURL: srv.URL})
		ours := <-client
		if res.Outcome != switchyard.OutcomeNetworkError || res.HTTPStatus != 0 {
			t.Errorf("result = %s %d (%s), want network_error", res.Outcome, res.HTTPStatus, res.Message)
		}
		if !strings.HasPrefix(res.Message, "network error: ") || !strings.Contains(res.Message, dest) &&
			!strings.Contains(res.Message, "closed the connection") {
			t.Errorf("message = %q, want a network error naming %s", res.Message, dest)
		}
		_, ourPort, _ := net.SplitHostPort(ours)
		onlyDestination(t, res.Message, dest, ours, ":"+ourPort)
	})
}

// TestTransportMessage feeds the message builder the errors Go's net and net/http return, with
// addresses of ours in them, and checks that only the configured destination is named.
func TestTransportMessage(t *testing.T) {
	t.Parallel()

	dest, _ := url.Parse("https://hooks.example.com/in")
	local4 := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 51234}
	local6 := &net.TCPAddr{IP: net.ParseIP("fd00::5"), Port: 40000}
	remote := &net.TCPAddr{IP: net.IPv4(93, 184, 216, 34), Port: 443}
	resolver := "10.0.0.2:53"
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no such host", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.example.com",
			Server: resolver, IsNotFound: true}}, "DNS lookup failed for host hooks.example.com: no such host"},
		{"a DNS timeout", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "hooks.example.com",
			Server: resolver, IsTimeout: true}}, "DNS lookup failed for host hooks.example.com: timeout"},
		{"a misbehaving resolver", &net.DNSError{Err: "server misbehaving", Name: "hooks.example.com", Server: resolver, IsTemporary: true},
			"DNS lookup failed for host hooks.example.com: server misbehaving"},
		{"an unreachable resolver", &net.DNSError{Err: "dial udp " + resolver + ": connect: network is unreachable",
			Name: "hooks.example.com", Server: resolver}, "DNS lookup failed for host hooks.example.com: network is unreachable"},
		{"a refused connection from a local address", &url.Error{Op: "Post", URL: dest.String(), Err: &net.OpError{Op: "dial", Net: "tcp",
			Source: local4, Addr: remote, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}},
			"could not connect to hooks.example.com:443: connection refused"},
		{"a reset while reading, over IPv6", &net.OpError{Op: "read", Net: "tcp", Source: local6, Addr: remote,
			Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "reading from hooks.example.com:443 failed: connection reset by peer"},
		{"a broken pipe while writing", &net.OpError{Op: "write", Net: "tcp", Source: local4, Addr: remote,
			Err: os.NewSyscallError("write", syscall.EPIPE)}, "writing to hooks.example.com:443 failed: broken pipe"},
		{"a TLS alert", &net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")},
			"connection to hooks.example.com:443 failed: remote error: tls: handshake failure"},
		{"an error wrapping an OpError", errors.Join(errors.New("net/http: Transport failed to read from server"),
			&net.OpError{Op: "read", Net: "tcp", Source: local4, Addr: remote, Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
			"reading from hooks.example.com:443 failed: connection reset by peer"},
		{"an unknown error naming addresses", errors.New("odd failure between 10.1.2.3:51234 and [fd00::5]:40000 via fd00::9"),
			"odd failure between [address hidden] and [address hidden] via [address hidden]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := destination.TransportMessage(tt.err, dest)
			if got != tt.want {
				t.Errorf("transportMessage = %q, want %q", got, tt.want)
			}
			onlyDestination(t, got, "", resolver, "10.0.0.2", local4.String(), local6.String(), "fd00::", "51234", "40000", "93.184.216.34")
		})
	}

	t.Run("an http URL without a port names port 80", func(t *testing.T) {
		t.Parallel()
		u, _ := url.Parse("http://hooks.example.com/in")
		err := &net.OpError{Op: "dial", Net: "tcp", Source: local4, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		if got, want := destination.TransportMessage(err, u), "could not connect to hooks.example.com:80: connection refused"; got != want {
			t.Errorf("transportMessage = %q, want %q", got, want)
		}
	})
}
