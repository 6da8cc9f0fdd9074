package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listener wraps the API's listener so that the few errors net/http writes straight to the
// connection, before any handler runs — 431 for headers over the limit, 400 for a malformed
// request line or header, 501 for an unknown transfer encoding — leave in the API's JSON error
// shape with an X-Request-Id, like every other error. net/http offers no hook for them, so the
// connection recognises their exact form: one write of a status line, net/http's fixed
// plain-text error headers and a one-line text body. A handler's response can never take that
// form (net/http writes headers sorted, so Connection never follows Content-Type, and handler
// bodies go out after their own headers).
func Listener(ln net.Listener) net.Listener { return protocolErrorListener{ln} }

type protocolErrorListener struct{ net.Listener }

func (l protocolErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &protocolErrorConn{Conn: c}, nil
}

// protocolErrorConn rewrites net/http's own plain-text error responses.
type protocolErrorConn struct{ net.Conn }

var (
	plainErrorPrefix  = []byte("HTTP/1.1 ")
	plainErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
)

func (c *protocolErrorConn) Write(b []byte) (int, error) {
	if !bytes.HasPrefix(b, plainErrorPrefix) || len(b) > 4096 {
		return c.Conn.Write(b)
	}
	i := bytes.Index(b, plainErrorHeaders)
	if i < 0 {
		return c.Conn.Write(b)
	}
	statusLine, text := string(b[len(plainErrorPrefix):i]), b[i+len(plainErrorHeaders):]
	code, err := strconv.Atoi(statusLine[:min(3, len(statusLine))])
	if err != nil || code < 400 || code > 599 || bytes.ContainsAny(text, "\r\n") {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(protocolErrorResponse(code, statusLine)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// protocolErrorResponse is a whole HTTP/1.1 response in the JSON error shape for one of
// net/http's own errors ("400 Bad Request: malformed MIME header line").
func protocolErrorResponse(code int, statusLine string) []byte {
	msg := "The request could not be read."
	switch _, detail, _ := strings.Cut(statusLine, ": "); {
	case code == 431:
		msg = "Request header fields are too large."
	case code == 501:
		msg = "Unsupported transfer encoding."
	case detail != "":
		msg = "The request could not be read: " + detail + "."
	}
	body, _ := json.Marshal(statusErrorBody(code, msg))
	reason, _, _ := strings.Cut(statusLine[min(4, len(statusLine)):], ":")
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nX-Request-Id: %s\r\n"+
		"Content-Length: %d\r\nConnection: close\r\n\r\n%s", code, reason, newRequestID(), len(body), body)
}
