package app_test

import (
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchyardhq/switchyard/internal/browsertest"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// embedSession creates a session of the first workspace (mintSession with its workspace_id).
func (s *server) embedSession(t *testing.T, body map[string]any) *createdSessionJSON {
	t.Helper()
	body["workspace_id"] = s.creds.WorkspaceID
	return s.mintSession(t, body)
}

// hostPage is the page of a SaaS product that embeds Switchyard: it frames the launch URL, answers
// meshes:ready with meshes:auth, gets a new token from its backend on meshes:token-refresh (unless
// a test sets window.__ignoreRefresh), and records every message it gets.
var hostPage = template.Must(template.New("host").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host app</title></head><body>
<h1>Acme</h1>
<iframe id="embed" title="Switchyard" src="{{.Launch}}" style="width:100%;border:0;height:480px"></iframe>
<script>
window.__messages = [];
window.__at = {}; // when each message type first came (performance.now())
window.__refreshed = 0;
var embedOrigin = {{.Origin}};
var token = {{.Token}};
var frame = document.getElementById("embed");
function auth() { frame.contentWindow.postMessage({type: "meshes:auth", token: token}, embedOrigin); }
window.addEventListener("message", function (e) {
  if (e.origin !== embedOrigin) return;
  var m = e.data;
  window.__messages.push(m.type + (m.page ? ":" + m.page : ""));
  if (!(m.type in window.__at)) window.__at[m.type] = performance.now();
  if (m.type === "meshes:ready") auth();
  if (m.type === "meshes:token-refresh" && !window.__ignoreRefresh) {
    fetch("/refresh").then(function (r) { return r.text(); }).then(function (t) { token = t; window.__refreshed++; auth(); });
  }
  if (m.type === "meshes:resize") frame.style.height = Math.max(480, m.height) + "px";
});
</script></body></html>`))

// host serves the host page (on its own origin: another port) and its backend's token refresh,
// for the session mint creates once the host's origin is known.
func (s *server) host(t *testing.T, mint func(origin string) *createdSessionJSON) *httptest.Server {
	t.Helper()
	var sess *createdSessionJSON
	h := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = hostPage.Execute(w, map[string]any{"Launch": template.URL(s.url + "/embed/launch?launch=" + sess.LaunchToken),
				"Origin": s.url, "Token": sess.AccessToken})
		case "/refresh":
			var out struct {
				AccessToken string `json:"access_token"`
			}
			if code := s.call(t, "POST", "/api/v1/sessions/"+sess.SessionID+"/refresh", nil, nil, &out); code != 200 {
				http.Error(w, "refresh failed", http.StatusBadGateway)
				return
			}
			_, _ = io.WriteString(w, out.AccessToken)
		case "/favicon.ico":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	h.Start()
	t.Cleanup(h.Close)
	sess = mint(h.URL)
	return h
}

// frameNode returns the embed iframe's node, for queries inside it.
func frameNode(t *testing.T, b *browsertest.Browser) *chromedp.Node {
	t.Helper()
	nodes, err := chromedp.Run(b.Ctx, chromedp.Nodes(chromedp.CSS("#embed")))
	if err != nil || len(nodes) != 1 {
		t.Fatalf("the iframe: %v (%d nodes)", err, len(nodes))
	}
	return nodes[0]
}

// waitHost polls the host page until expr is true.
func waitHost(t *testing.T, b *browsertest.Browser, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		msgs, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string]("window.__messages"))
		t.Fatalf("waiting for %s: %v (host got %v)", what, err, msgs)
	}
}

// waitFrame polls inside the iframe until expr is true.
func waitFrame(t *testing.T, b *browsertest.Browser, frame *chromedp.Node, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInFrame(frame),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		text, _ := chromedp.Run(b.Ctx, chromedp.Poll[string](`(Array.from(document.querySelectorAll(".form-error:not([hidden]), .field-error, #status")).map(function (e) { return "[" + e.id + "] " + e.textContent; }).join("\n") +
			"\n" + (document.body ? document.body.innerText.slice(0, 1500) : "")) || "(empty)"`,
			chromedp.WithPollingInFrame(frame), chromedp.WithPollingTimeout(5*time.Second)))
		t.Fatalf("waiting in the frame for %s: %v\nthe frame shows:\n%s", what, err, text)
	}
}

// The embed handshake in a real browser: a host page on another origin frames a workspace
// session, completes the postMessage exchange, and the customer moves between pages; a token
// replaced behind the frame's back is renewed through the host; a reload finds the launch link
// spent; an origin the session does not allow is refused.
func TestEmbedInABrowser(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	hook := newHook(t, http.StatusOK)
	conn := s.createConnection(t, s.creds.WorkspaceID, hook.url(), nil)
	s.createRule(t, s.creds.WorkspaceID, conn, "user.signup", nil)
	ev := s.emit(t, s.creds.WorkspaceID, "user.signup", nil)
	eventually(t, "the event to be delivered", func() bool { return s.event(t, ev).Status == "completed" })

	b := browsertest.New(t, 2*time.Minute)
	var sess *createdSessionJSON
	host := s.host(t, func(origin string) *createdSessionJSON {
		sess = s.embedSession(t, map[string]any{"ttl_seconds": 300, "allowed_origins": []string{origin}})
		return sess
	})

	t.Run("the host and the frame complete the handshake and the dashboard shows", func(t *testing.T) {
		if err := chromedp.Do(b.Ctx, chromedp.Navigate(host.URL+"/app")); err != nil {
			t.Fatal(err)
		}
		waitHost(t, b, "ready, navigate and resize", `window.__messages.includes("meshes:ready") &&
			window.__messages.includes("meshes:navigate:dashboard") && window.__messages.includes("meshes:resize")`)
		frame := frameNode(t, b)
		waitFrame(t, b, frame, "the dashboard", `document.querySelector("#main h2") && document.querySelector("#main h2").textContent === "Dashboard" &&
			document.querySelector('[data-status="completed"]').textContent === "1" &&
			document.querySelector('[data-metric="success"]').textContent === "100.0 %" &&
			document.querySelectorAll("#main svg.chart rect.all").length === 24`)
	})

	t.Run("the customer opens events and an event's delivery history", func(t *testing.T) {
		frame := frameNode(t, b)
		if err := chromedp.Do(b.Ctx, chromedp.Click(chromedp.CSS(`nav a[data-page="events"]`), chromedp.FromNode(frame))); err != nil {
			t.Fatal(err)
		}
		waitHost(t, b, "navigate to events", `window.__messages.includes("meshes:navigate:events")`)
		waitFrame(t, b, frame, "the event listed", `document.querySelector('#main td a[data-page="event"]') !== null`)
		if err := chromedp.Do(b.Ctx, chromedp.Click(chromedp.CSS(`#main td a[data-page="event"]`), chromedp.FromNode(frame))); err != nil {
			t.Fatal(err)
		}
		waitFrame(t, b, frame, "the delivery, completed, with its attempt", `document.querySelector('#main section [data-status="completed"]') !== null &&
			document.querySelector("#main section ol li strong").textContent === "delivered" && document.querySelector("#main pre.payload") === null`)
	})

	t.Run("a token replaced behind the frame's back is renewed through the host", func(t *testing.T) {
		// The host's backend refreshes the session: the frame's token stops working.
		var out createdSessionJSON
		if code := s.call(t, "POST", "/api/v1/sessions/"+sess.SessionID+"/refresh", nil, nil, &out); code != 200 {
			t.Fatalf("refresh: %d", code)
		}
		frame := frameNode(t, b)
		if err := chromedp.Do(b.Ctx, chromedp.Click(chromedp.CSS(`nav a[data-page="rules"]`), chromedp.FromNode(frame))); err != nil {
			t.Fatal(err)
		}
		waitHost(t, b, "a token refresh through the host", `window.__messages.includes("meshes:token-refresh") && window.__refreshed === 1`)
		waitFrame(t, b, frame, "the rules page with the new token", `document.querySelector("#main h2") && document.querySelector("#main h2").textContent === "Rules"`)
	})

	t.Run("a reload finds the launch link spent", func(t *testing.T) {
		if err := chromedp.Do(b.Ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		frame := frameNode(t, b)
		waitFrame(t, b, frame, "the invalid launch state", `document.body && document.body.textContent.includes("Invalid or expired embed launch token")`)
		b.WaitForError(t, "401") // the browser logs the frame's 401
		b.Audit(t, frame, "the invalid launch page")
	})

	t.Run("an origin the session does not allow is refused", func(t *testing.T) {
		h := s.host(t, func(string) *createdSessionJSON {
			return s.embedSession(t, map[string]any{"allowed_origins": []string{"https://app.example.com"}})
		})
		if err := chromedp.Do(b.Ctx, chromedp.Navigate(h.URL+"/app")); err != nil {
			t.Fatal(err)
		}
		frame := frameNode(t, b)
		waitFrame(t, b, frame, "the refusal", `document.body && document.body.textContent.includes("cannot be embedded here")`)
		if msgs, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string]("window.__messages")); len(msgs) != 0 {
			t.Fatalf("a refused frame talked to the host: %v", msgs)
		}
		b.WaitForError(t, "403")
		b.Audit(t, frame, "the refusal page")
	})
}

// Session types are enforced on the server: a resource session reaches no connections and no
// event outside its resource; a dashboard session only the dashboard.
func TestEmbedPagesEnforceTheSessionType(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	get := func(token, page string) (int, string) {
		req, _ := http.NewRequest("GET", s.url+"/embed/pages/"+page, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	inScope := s.emit(t, s.creds.WorkspaceID, "order.paid", map[string]any{"resource": "order", "resource_id": "o_1"})
	outside := s.emit(t, s.creds.WorkspaceID, "order.paid", map[string]any{"resource": "order", "resource_id": "o_2"})
	res := s.embedSession(t, map[string]any{"session_type": "resource", "resource": "order", "resource_id": "o_1"})
	dash := s.embedSession(t, map[string]any{"session_type": "dashboard"})
	work := s.embedSession(t, map[string]any{"role": "admin", "scopes": []string{"events.payload:read"}})
	for _, c := range []struct {
		name, token, page string
		status            int
		has               string
	}{
		{"no token", "", "dashboard", 401, ""},
		{"a forged token", "eyJhbGciOiJIUzI1NiJ9.e30.x", "dashboard", 401, ""},
		{"resource session: connections", res.AccessToken, "connections", 404, "not available"},
		{"resource session: its event", res.AccessToken, "event?id=" + inScope.String(), 200, "order.paid"},
		{"resource session: another resource's event", res.AccessToken, "event?id=" + outside.String(), 404, "not available"},
		{"resource session: events list", res.AccessToken, "events", 200, "o_1"},
		{"dashboard session: events", dash.AccessToken, "events", 404, "not available"},
		{"dashboard session: dashboard", dash.AccessToken, "dashboard", 200, "Dashboard"},
		{"admin with the payload scope sees the payload", work.AccessToken, "event?id=" + inScope.String(), 200, "ada@example.com"},
		{"events filtered by name", work.AccessToken, "events?event=order.paid", 200, "o_2"},
		{"events filtered by a status nothing has", work.AccessToken, "events?status=canceled", 200, "No events match"},
	} {
		code, body := get(c.token, c.page)
		if code != c.status || !strings.Contains(body, c.has) {
			t.Errorf("%s: %d %.120q, want %d containing %q", c.name, code, body, c.status, c.has)
		}
		if c.name == "resource session: events list" && strings.Contains(body, "o_2") {
			t.Errorf("the resource session's event list shows another resource's event")
		}
		if c.name == "resource session: its event" && strings.Contains(body, "ada@example.com") {
			t.Errorf("a member session without the payload scope sees the payload")
		}
	}

}

// An events filter the stores cannot hold — NUL, invalid UTF-8, control characters — shows as
// no filter, as any other bad value does, on both stores: on PostgreSQL it reached the query and
// answered 500. The operator dashboard's workspace page shares the filter.
func TestEmbedEventsFilterOfHostileText(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		s.emit(t, s.creds.WorkspaceID, "order.paid", nil)
		work := s.embedSession(t, map[string]any{})
		for _, filter := range []string{"%00", "order%00paid", "%FF", "caf%C3%28", "a%01b"} {
			code, b := s.send(t, "GET", "/embed/pages/events?event="+filter, "", map[string]string{"Authorization": "Bearer " + work.AccessToken})
			if code != http.StatusOK || !strings.Contains(string(b), "order.paid") {
				t.Errorf("events?event=%s: %d %.200q, want 200 listing every event", filter, code, b)
			}
		}
	})
}

// The mapping page shows what a connection maps with — generated until saved, then the saved
// version — with a save form for admins only; resource sessions have none.
func TestEmbedMappingPage(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	hook := newHook(t, http.StatusOK)
	conn := s.createConnection(t, s.creds.WorkspaceID, hook.url(), nil)
	get := func(token string) (int, string) {
		req, _ := http.NewRequest("GET", s.url+"/embed/pages/mapping?id="+conn.String(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	admin := s.embedSession(t, map[string]any{"role": "admin"})
	member := s.embedSession(t, map[string]any{})
	res := s.embedSession(t, map[string]any{"session_type": "resource", "resource": "order", "resource_id": "o_1"})

	code, body := get(admin.AccessToken)
	if code != 200 || !strings.Contains(body, `data-mapping-status="generated"`) || !strings.Contains(body, "Save mapping") {
		t.Fatalf("admin before a save: %d %.300s", code, body)
	}
	schema := map[string]any{"schema_version": 1, "fields": []any{map[string]any{"dest": "email", "source": map[string]any{"type": "path", "value": "email"}}}}
	if c := s.call(t, "PUT", "/api/v1/connections/"+conn.String()+"/mappings/default", map[string]any{"schema": schema}, nil, nil); c != 200 {
		t.Fatalf("saving the mapping: %d", c)
	}
	code, body = get(admin.AccessToken)
	if code != 200 || !strings.Contains(body, `data-mapping-status="stored"`) || !strings.Contains(body, "version 1") ||
		!strings.Contains(body, `name="expected_version" value="1"`) {
		t.Fatalf("admin after a save: %d %.400s", code, body)
	}
	if code, body = get(member.AccessToken); code != 200 || strings.Contains(body, "Save mapping") {
		t.Fatalf("member: %d, save form shown: %v", code, strings.Contains(body, "Save mapping"))
	}
	if code, _ = get(res.AccessToken); code != 404 {
		t.Fatalf("resource session: %d, want 404", code)
	}
}

// fastTimers makes the embed frame's long timers (a minute or more: the token's refresh and
// expiry) run a hundred times sooner, in every document the tab loads from now on; the host
// page and the test's polls keep real time. It also sets the frame's clock 250 s ahead of the
// server's, which a frame reading exp against its own clock would take for a token with under
// a minute left, and renew at once, again and again.
const fastTimers = `(function () {
  if (location.pathname.indexOf("/embed/") !== 0) return;
  var now = Date.now;
  Date.now = function () { return now() + 250000; };
  var real = window.setTimeout;
  window.setTimeout = function (f, ms) {
    var args = Array.prototype.slice.call(arguments, 2);
    return real.apply(window, [f, ms >= 60000 ? ms / 100 : ms].concat(args));
  };
})();`

// The frame renews its token before it expires: it asks the host (meshes:token-refresh) a
// minute before the end of the token's lifetime, and keeps working with each new token; when
// the host does not answer, it posts meshes:token-expired when the token runs out and says so.
// Timers are sped up a hundredfold (a 300 s token: asked after 2.4 s, expired after 3 s), and the
// frame's clock is 250 s ahead of the server's.
func TestEmbedTokenRenewalInABrowser(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	b := browsertest.New(t, 2*time.Minute)
	if _, err := chromedp.Call(b.Ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: fastTimers}); err != nil {
		t.Fatal(err)
	}
	host := s.host(t, func(origin string) *createdSessionJSON {
		return s.embedSession(t, map[string]any{"ttl_seconds": 300, "allowed_origins": []string{origin}})
	})
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(host.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	waitHost(t, b, "two renewals through the host, before expiry", `window.__refreshed >= 2 &&
		window.__messages.filter(function (m) { return m === "meshes:token-refresh"; }).length >= 2`)
	if msgs, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string]("window.__messages")); slices.Contains(msgs, "meshes:token-expired") {
		t.Fatalf("the frame said its token expired though the host renewed it: %v", msgs)
	}
	// Asked after most of the lifetime (2.4 s here), not at once for want of a right clock.
	if after, err := chromedp.Run(b.Ctx, chromedp.Evaluate[float64](`window.__at["meshes:token-refresh"] - window.__at["meshes:ready"]`)); err != nil || after < 1500 {
		t.Fatalf("the first renewal came %.0f ms after meshes:ready (%v), want about 2400", after, err)
	}
	clickFrame(t, b, `nav a[data-page="events"]`)
	waitFrame(t, b, frameNode(t, b), "the events page with a renewed token", `document.querySelector("#main h2") !== null && document.querySelector("#main h2").textContent === "Events"`)

	// The host stops answering: the frame gives up when its token runs out.
	if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool]("window.__ignoreRefresh = true")); err != nil {
		t.Fatal(err)
	}
	waitHost(t, b, "meshes:token-expired", `window.__messages.includes("meshes:token-expired")`)
	waitFrame(t, b, frameNode(t, b), "the expiry said", `document.querySelector("#status").textContent === "Your session has expired."`)
}
