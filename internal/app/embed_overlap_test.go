package app_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/switchyardhq/switchyard/internal/browsertest"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// gate holds the frame's requests whose URL contains one of the held strings until the test
// lets each go, through the DevTools Fetch domain (the browser's own request interception):
// the test then decides in which order answers reach the page. Every other request goes on at
// once.
type gate struct {
	t    *testing.T
	b    *browsertest.Browser
	mu   sync.Mutex
	hold []string
	// held receives each request held back, in the order the browser made them.
	held chan heldRequest
}

type heldRequest struct {
	id  fetch.RequestID
	url string
}

// newGate intercepts the tab's requests (the frame's too: it is same-site, so in the page's
// process) from now on.
func newGate(t *testing.T, b *browsertest.Browser) *gate {
	t.Helper()
	g := &gate{t: t, b: b, held: make(chan heldRequest, 16)}
	err := chromedp.Listen(b.Ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		if g.holds(e.Request.URL) {
			g.held <- heldRequest{id: e.RequestID, url: e.Request.URL}
			return
		}
		go g.let(e.RequestID) // the listener must not run commands itself
	})
	if err != nil {
		t.Fatal(err)
	}
	// The frame's page loads and its API calls; its documents and assets pass untouched.
	patterns := []*fetch.RequestPattern{{URLPattern: "*/embed/pages/*"}, {URLPattern: "*/api/v1/*"}}
	if _, err := chromedp.Call(b.Ctx, fetch.Enable, fetch.EnableParams{Patterns: patterns}); err != nil {
		t.Fatalf("enabling request interception: %v", err)
	}
	return g
}

func (g *gate) holds(url string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, h := range g.hold {
		if strings.Contains(url, h) {
			return true
		}
	}
	return false
}

// holdBack makes the gate hold the requests whose URL contains one of parts (and only those).
func (g *gate) holdBack(parts ...string) {
	g.mu.Lock()
	g.hold = parts
	g.mu.Unlock()
}

// let sends a held request on.
func (g *gate) let(id fetch.RequestID) {
	if _, err := chromedp.Call(g.b.Ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id}); err != nil && g.b.Ctx.Err() == nil {
		g.t.Errorf("letting a request go: %v", err)
	}
}

// fail makes a held request fail as a lost network would.
func (g *gate) fail(id fetch.RequestID) {
	if _, err := chromedp.Call(g.b.Ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: id, ErrorReason: network.ErrorReasonFailed}); err != nil {
		g.t.Errorf("failing a request: %v", err)
	}
}

// next waits for the next request held back, whose URL must contain part.
func (g *gate) next(part string) heldRequest {
	g.t.Helper()
	select {
	case r := <-g.held:
		if !strings.Contains(r.url, part) {
			g.t.Fatalf("held %s, want a request for %s", r.url, part)
		}
		return r
	case <-time.After(20 * time.Second):
		g.t.Fatalf("no request for %s was made", part)
	}
	return heldRequest{}
}

// heading is the condition that the frame shows the page titled title.
func heading(title string) string {
	return `document.querySelector("#main h2") !== null && document.querySelector("#main h2").textContent === ` + jsString(title)
}

// The frame's page loads and saves may be answered in any order; the customer sees the page they
// asked for last. Each case holds the requests back and lets them go in the order that used to go
// wrong.
func TestEmbedOverlappingLoadsInABrowser(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	hook := newHook(t, http.StatusOK)
	s.createConnection(t, s.creds.WorkspaceID, hook.url(), nil)
	b := browsertest.New(t, 2*time.Minute)
	host := s.host(t, func(origin string) *createdSessionJSON {
		return s.embedSession(t, map[string]any{"role": "admin", "ttl_seconds": 900, "allowed_origins": []string{origin}})
	})
	g := newGate(t, b)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(host.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	waitFrame(t, b, frameNode(t, b), "the dashboard", heading("Dashboard"))

	t.Run("an earlier page's late answer does not replace the page asked for after it", func(t *testing.T) {
		g.holdBack("/embed/pages/")
		clickFrame(t, b, `nav a[data-page="events"]`)
		events := g.next("/embed/pages/events")
		clickFrame(t, b, `nav a[data-page="rules"]`)
		rules := g.next("/embed/pages/rules")
		g.holdBack()
		// Events answers first and is ignored; by the time Rules has made its whole round trip
		// and shows, Events' answer has long been handled.
		g.let(events.id)
		waitFrame(t, b, frameNode(t, b), "the events page's answer received", `performance.getEntriesByType("resource").some(function (e) { return e.name.indexOf("/embed/pages/events") >= 0; })`)
		g.let(rules.id)
		waitFrame(t, b, frameNode(t, b), "the rules page", heading("Rules"))
		waitHost(t, b, "the host told of rules", `window.__messages.includes("meshes:navigate:rules")`)
		if msgs, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string]("window.__messages")); slices.Contains(msgs, "meshes:navigate:events") {
			t.Fatalf("the stale events page was shown: the host got %v", msgs)
		}
	})

	t.Run("a save answered after the customer moved on does not pull them back", func(t *testing.T) {
		waitFrame(t, b, frameNode(t, b), "the rule form", `document.querySelector("#rule-event") !== null && document.querySelector("#rule-connection").value !== ""`)
		setFrame(t, b, "#rule-event", "order.shipped")
		g.holdBack("/api/v1/rules", "/embed/pages/")
		clickFrame(t, b, `form[data-rule-form] button[type="submit"]`)
		save := g.next("/api/v1/rules")
		clickFrame(t, b, `nav a[data-page="events"]`)
		events := g.next("/embed/pages/events")
		// The save succeeds while Events is still on its way: the status line says so at once,
		// and the rules page is not loaded again over the page the customer went to.
		g.let(save.id)
		waitFrame(t, b, frameNode(t, b), "the save announced", `document.querySelector("#status").textContent === "Rule created."`)
		g.holdBack()
		g.let(events.id)
		waitFrame(t, b, frameNode(t, b), "the events page", heading("Events"))
		select {
		case r := <-g.held:
			t.Fatalf("a page was loaded again after the save: %s", r.url)
		default:
		}
		var rules struct {
			Count int `json:"count"`
		}
		if code := s.call(t, "GET", "/api/v1/rules?limit=100", nil, nil, &rules); code != 200 || rules.Count != 1 {
			t.Fatalf("rules: %d, %d listed, want the one saved", code, rules.Count)
		}
	})

	t.Run("an earlier page's failed load says nothing over the page asked for after it", func(t *testing.T) {
		g.holdBack("/embed/pages/rules")
		clickFrame(t, b, `nav a[data-page="rules"]`)
		rules := g.next("/embed/pages/rules")
		g.holdBack()
		openPage(t, b, "connections", "Connections")
		g.fail(rules.id)
		b.WaitForError(t, "ERR_FAILED") // the browser logs the failed request
		waitFrame(t, b, frameNode(t, b), "the connections page, its status line quiet", heading("Connections")+` && document.querySelector("#status").hidden`)
	})
}
