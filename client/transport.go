package client

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
)

// HandlerTransport returns an http.RoundTripper that serves every request with h in the calling
// goroutine, with no network: a Client built WithHTTPClient(&http.Client{Transport:
// HandlerTransport(h)}) talks to an in-process server. The request's context is passed to the
// handler, so cancelling it reaches the handler as it would over a connection. The base URL
// given to New still sets the Host the handler sees. The answer is returned once the handler has
// returned (it is recorded whole), which suits every route of the API but not a handler that
// streams without end.
func HandlerTransport(h http.Handler) http.RoundTripper {
	return handlerTransport{h}
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	// The server side gets its own copy of the request, as it would from a connection: a body
	// reader of its own and a RemoteAddr on loopback.
	in := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		data, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		in.Body = io.NopCloser(bytes.NewReader(data))
		in.ContentLength = int64(len(data))
	} else {
		in.Body = http.NoBody
	}
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:1"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
