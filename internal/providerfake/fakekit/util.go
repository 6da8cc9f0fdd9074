package fakekit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RandHex returns n random bytes, hex encoded.
func RandHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// UUID returns a random (version 4) UUID.
func UUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Alphanumeric is the alphabet of RandToken.
const Alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandToken returns n random characters of Alphanumeric.
func RandToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = Alphanumeric[int(b[i])%len(Alphanumeric)]
	}
	return string(b)
}

// WriteJSON answers status with v marshalled as JSON (no trailing newline)
// and the given Content-Type.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Window is a fixed rate-limit window: it opens with the first request
// after the previous window ended and counts the requests in it.
type Window struct {
	Start time.Time
	Count int
}

// Windows are rate-limit windows by key (an app, a token). It is not locked;
// the fake guards it with its own lock.
type Windows struct{ m map[string]*Window }

// Hit counts a request for key at now in windows of length d and returns
// the key's current window.
func (ws *Windows) Hit(key string, now time.Time, d time.Duration) Window {
	if ws.m == nil {
		ws.m = map[string]*Window{}
	}
	win := ws.m[key]
	if win == nil || !now.Before(win.Start.Add(d)) {
		win = &Window{Start: now}
		ws.m[key] = win
	}
	win.Count++
	return *win
}

// Lookup finds the route for method and escapedPath among routes, whose
// method and pattern key gives; patterns are slash-separated with "{name}"
// segments matching any one non-empty segment, and a route with fewer
// parameters wins. It returns the route, its parameters and 0, or
// http.StatusMethodNotAllowed when only the method differs, or
// http.StatusNotFound.
func Lookup[R any](routes []R, key func(R) (method, pattern string), method, escapedPath string) (R, map[string]string, int) {
	segs := splitPath(escapedPath)
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = u
		}
	}
	var best R
	var bestParams map[string]string
	found, methodMismatch := false, false
	for _, rt := range routes {
		m, pattern := key(rt)
		params, ok := matchPath(splitPath(pattern), segs)
		if !ok {
			continue
		}
		if m != method {
			methodMismatch = true
			continue
		}
		// Prefer literal matches over parameter matches (e.g. /lists/search).
		if !found || len(params) < len(bestParams) {
			best, bestParams, found = rt, params, true
		}
	}
	switch {
	case found:
		return best, bestParams, 0
	case methodMismatch:
		return best, nil, http.StatusMethodNotAllowed
	}
	return best, nil, http.StatusNotFound
}

func splitPath(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

func matchPath(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}
