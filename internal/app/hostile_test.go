package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// hostileValues are what a leaf of a request body is replaced with, one at a time: text the
// stores cannot hold (a NUL, bytes that are not UTF-8, a lone surrogate), numbers beyond a
// float64 and beyond what PostgreSQL's numeric holds, and every other JSON type.
var hostileValues = []string{
	`"\u0000"`, "\"caf\xc3\x28\"", `"\ud800"`, `""`, `"  "`, `"` + strings.Repeat("x", 70_000) + `"`,
	`1e400`, `-1e400`, `1e-400`, `1e1000000`, `-1`, `0`, `9223372036854775808`, `2.5`,
	`null`, `true`, `[]`, `{}`, `[{"a":1e400}]`, `{"k\u0000":"v"}`,
}

// hostileQueries are query strings added to every route, reads and writes alike.
var hostileQueries = []string{
	"limit=%00", "limit=1e400", "cursor=%00", "cursor=%FF", "event=%00", "event=%FF", "status=%00",
	"resource=%FF", "resource_id=%00", "force_delete=%00", "refresh=%FF",
}

// hostileHeaders are headers added, one at a time, to every route's valid request.
var hostileHeaders = []map[string]string{
	{"Idempotency-Key": "k\xff"}, {"Idempotency-Key": strings.Repeat("k", 300)}, {"Idempotency-Key": " "},
	{"X-Request-Id": "r\xff"}, {"X-Request-Id": strings.Repeat("r", 10_000)},
	{"Content-Type": "text/plain\xff"}, {"Origin": "https://\xff.example"},
	{"X-Meshes-Publishable-Key": "mesh_pub_a_b_\xff"},
}

// TestNoRouteAnswers500ToHostileInput sends every route of the route table its request with one
// part made hostile at a time — each leaf of the body replaced by each of hostileValues, then
// each of hostileQueries and hostileHeaders — as the owner of the records, so that the request
// gets as far into validation and the store as it can; then the embed UI's pages. No answer may
// be a 5xx: bad input is the caller's error (400, 401, 404, 409, 413, 422), never the server's.
// On PostgreSQL, which refuses what SQLite stores, several routes answered 500 before (NUL and
// bad bytes in credentials and filters), and metadata numbers beyond a float64 were stored and
// then made every read of them fail.
func TestNoRouteAnswers500ToHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("a few thousand requests per store; not in -short")
	}
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d, func(c *config.Config) { c.RateLimitMachine, c.RateLimitAuthFailures = 0, 0 })
		h := newHook(t, http.StatusOK)
		f := newFixture(t, s, s.creds.WorkspaceID, h)
		// The deletes take a fixture of their own, so that f's connection and rule stay for
		// the creates that name them and for the delivery at the end.
		doomed := newFixture(t, s, s.creds.WorkspaceID, h)
		sent := 0
		// The owner's machine key, then an admin session bound to one resource: the embed UI's
		// principal, whose requests take the resource checks and forced filters as well.
		res := s.embedSession(t, map[string]any{"role": "admin", "session_type": "resource", "resource": "user", "resource_id": "usr_1"})
		for _, as := range []string{"owner", "resource session"} {
			for _, rc := range routeTable() {
				if rc.path == nil || rc.auth == authNone {
					continue
				}
				method, _, _ := strings.Cut(rc.route, " ")
				path := rc.path(f)
				if method == "DELETE" {
					path = rc.path(doomed)
				}
				headers := map[string]string{"Authorization": "Bearer " + res.AccessToken}
				if as == "owner" {
					headers = s.bearer(t)
				}
				base := bodyText(t, rc, f) // the route's valid body ("" without one)
				check := func(what, path, body string, extra ...map[string]string) {
					t.Helper()
					sent++
					hs := maps.Clone(headers)
					for _, e := range extra {
						maps.Copy(hs, e)
					}
					code, b := s.send(t, method, path, body, hs)
					if code >= 500 {
						t.Errorf("%s %s with %s, as the %s: %d %.300s", method, path, what, as, code, b)
					}
				}
				for _, q := range hostileQueries {
					sep := "?"
					if strings.Contains(path, "?") {
						sep = "&"
					}
					check("the query "+q, path+sep+q, base)
				}
				// Each id in the path replaced by what is no id (path parameters reach the store).
				for _, id := range f.ids() {
					if !strings.Contains(path, id.String()) {
						continue
					}
					for _, bad := range []string{"x", "%00", "%FF", id.String() + "%00", strings.ToUpper(id.String()), "sess_%00", strings.Repeat("a", 5000)} {
						check("the id "+bad, strings.Replace(path, id.String(), bad, 1), base)
					}
				}
				for _, hh := range hostileHeaders {
					check(fmt.Sprintf("the header %.60q", hh), path, base, hh)
				}
				if rc.body == nil {
					continue
				}
				for _, doc := range mutations(t, base) {
					check("the body "+shorten(doc), path, doc)
				}
				for _, doc := range []string{`null`, `[]`, `"x"`, `{}`, `{"a":1}{}`, "\xff", ``} {
					check("the body "+doc, path, doc)
				}
			}
		}
		t.Logf("%d hostile requests", sent)
		if sent < 1000 {
			t.Fatalf("sent only %d hostile requests: has the route table lost its bodies?", sent)
		}
		// The embed UI's pages (a session's bearer token) with each hostile query, and ids and
		// filters of every kind.
		work := s.embedSession(t, map[string]any{"role": "admin", "scopes": []string{"events.payload:read"}})
		embedQueries := append(slices.Clone(hostileQueries), "id=%00", "id=%FF", "id="+f.event.String()+"%00",
			"id="+f.conn.String(), "id="+f.event.String(), "event="+strings.Repeat("e", 300))
		shown := 0
		for _, page := range []string{"dashboard", "events", "event", "connections", "rules", "mapping", "nothing%00"} {
			for _, q := range embedQueries {
				sent++
				code, b := s.send(t, "GET", "/embed/pages/"+page+"?"+q, "", map[string]string{"Authorization": "Bearer " + work.AccessToken})
				if code >= 500 {
					t.Errorf("GET /embed/pages/%s?%s: %d %.300s", page, q, code, b)
				}
				if code == http.StatusOK {
					shown++
				}
			}
		}
		if shown < 50 {
			t.Errorf("only %d embed pages were shown: is the session's token refused?", shown)
		}
		for _, q := range []string{"launch=%00", "launch=%FF", "launch=" + strings.Repeat("l", 5000)} {
			sent++
			if code, b := s.send(t, "GET", "/embed/launch?"+q, "", nil); code >= 500 {
				t.Errorf("GET /embed/launch?%s: %d %.300s", q, code, b)
			}
		}

		// What was accepted meanwhile can be read back: every read answers as a read should,
		// and the engine still delivers (an unreadable rule or connection once failed every
		// list it was on and every claim that met it).
		headers := s.bearer(t)
		for _, rc := range routeTable() {
			if method, _, _ := strings.Cut(rc.route, " "); method != "GET" || rc.path == nil || rc.auth == authNone {
				continue
			}
			if code, b := s.send(t, "GET", rc.path(f), "", headers); code >= 500 {
				t.Errorf("after the hostile requests, GET %s: %d %.300s", rc.path(f), code, b)
			}
		}
		// (A connection of its own: the sweep's updates pointed f's elsewhere.)
		h2 := newHook(t, http.StatusOK)
		s.createRule(t, s.creds.WorkspaceID, s.createConnection(t, s.creds.WorkspaceID, h2.url(), nil), "after.sweep", nil)
		s.emit(t, s.creds.WorkspaceID, "tenancy.intrusion", nil) // the event of the rules the sweep created
		s.emit(t, s.creds.WorkspaceID, "after.sweep", nil)
		h2.waitRequest(t)
	})
}

// bodyText is the route's valid body for fixture f as JSON text ("" without one).
func bodyText(t *testing.T, rc routeCase, f *fixture) string {
	t.Helper()
	if rc.body == nil {
		return ""
	}
	b, err := json.Marshal(rc.body(f))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mutations returns base with each of its values (every leaf, object and array, the whole
// document excepted) replaced by each of hostileValues, and with a hostile extra key in each
// object.
func mutations(t *testing.T, base string) []string {
	t.Helper()
	const mark = "\x01mutation\x01" // a string no body holds
	var doc any
	dec := json.NewDecoder(strings.NewReader(base))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	emit := func() {
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		// The mark as json.Marshal writes it (quoted, its control characters escaped).
		marked, _ := json.Marshal(mark)
		if !bytes.Contains(b, marked) {
			t.Fatalf("the mark is not in %s", b)
		}
		for _, v := range hostileValues {
			out = append(out, string(bytes.Replace(b, marked, []byte(v), 1)))
		}
	}
	var walk func(v any, set func(any))
	walk = func(v any, set func(any)) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				old := v[k]
				v[k] = mark
				emit()
				v[k] = old
				walk(old, func(n any) { v[k] = n })
			}
			v["extra"] = mark // a key the route does not know, holding each value
			emit()
			delete(v, "extra")
		case []any:
			for i, e := range v {
				v[i] = mark
				emit()
				v[i] = e
				walk(e, func(n any) { v[i] = n })
			}
		}
	}
	walk(doc, func(any) {})
	return out
}

// shorten is s cut for a failure message.
func shorten(s string) string {
	if len(s) > 160 {
		return url.QueryEscape(s[:160]) + "…"
	}
	return url.QueryEscape(s)
}
