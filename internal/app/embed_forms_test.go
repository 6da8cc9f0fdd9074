package app_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyardhq/switchyard/internal/browsertest"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// update rewrites the screenshots of docs/ui (like golden files): go test ./internal/app/ -run
// TestEmbedFormsInABrowser -update.
var update = flag.Bool("update", false, "write the embed UI screenshots to docs/ui")

// clickFrame clicks the first element matching sel inside the embed frame.
func clickFrame(t *testing.T, b *browsertest.Browser, sel string) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.Click(chromedp.CSS(sel), chromedp.FromNode(frameNode(t, b)))); err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
}

// setFrame sets the value of the input sel inside the embed frame.
func setFrame(t *testing.T, b *browsertest.Browser, sel, value string) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.SetValue(chromedp.CSS(sel), value, chromedp.FromNode(frameNode(t, b)))); err != nil {
		t.Fatalf("setting %s: %v", sel, err)
	}
}

// openPage clicks a nav link of the frame and waits for the page's heading.
func openPage(t *testing.T, b *browsertest.Browser, page, heading string) {
	t.Helper()
	clickFrame(t, b, `nav a[data-page="`+page+`"]`)
	waitFrame(t, b, frameNode(t, b), "the "+page+" page", `document.querySelector("#main h2") !== null && document.querySelector("#main h2").textContent.startsWith(`+jsString(heading)+`)`)
}

func jsString(s string) string { return `"` + s + `"` }

// screenshot writes the embed frame as it looks now to docs/ui/<name>.png, with -update only.
func screenshot(t *testing.T, b *browsertest.Browser, name string) {
	t.Helper()
	if !*update {
		return
	}
	png, err := chromedp.Run(b.Ctx, chromedp.Screenshot(chromedp.CSS("#embed")))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "ui", name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// audit runs the accessibility checks (names, contrast, keyboard) on the page the frame shows.
func audit(t *testing.T, b *browsertest.Browser, what string) {
	t.Helper()
	b.Audit(t, frameNode(t, b), what)
}

// labelled is true when every visible input of the frame has a label.
const labelled = `Array.from(document.querySelectorAll('#main input:not([type="hidden"]), #main select, #main textarea')).every(function (el) { return el.labels && el.labels.length > 0; })`

// The embedded pages act: an admin creates a webhook connection and a rule from the UI, sees
// an event delivered, then one rejected by the receiver, and retries it once the receiver
// recovers. A member sees no forms and its token cannot create a connection through the API;
// a resource session has no connections page.
func TestEmbedFormsInABrowser(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	hook := newHook(t, 200)
	b := browsertest.New(t, 3*time.Minute)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1024, 900)); err != nil {
		t.Fatal(err)
	}
	host := s.host(t, func(origin string) *createdSessionJSON {
		return s.embedSession(t, map[string]any{"role": "admin", "ttl_seconds": 900, "allowed_origins": []string{origin},
			"scopes": []string{"events.payload:read"}})
	})
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(host.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	waitHost(t, b, "the handshake", `window.__messages.includes("meshes:navigate:dashboard")`)
	waitFrame(t, b, frameNode(t, b), "the dashboard", `document.querySelector("#main h2") !== null`)
	audit(t, b, "the dashboard page")

	t.Run("an admin creates a webhook connection from the form", func(t *testing.T) {
		openPage(t, b, "connections", "Connections")
		clickFrame(t, b, `details[data-form="webhook"] summary`)
		waitFrame(t, b, frameNode(t, b), "every input labelled", labelled)
		audit(t, b, "the connections page with the webhook form open")
		setFrame(t, b, "#conn-webhook-name", "Receiver")
		setFrame(t, b, "#conn-webhook-url", hook.url())
		clickFrame(t, b, "#conn-webhook-skip_url_test")
		screenshot(t, b, "connections")
		clickFrame(t, b, `form[data-connection-form="webhook"] button[type="submit"]`)
		waitFrame(t, b, frameNode(t, b), "the new connection listed", `Array.from(document.querySelectorAll("#main td")).some(function (td) { return td.textContent === "Receiver"; })`)
	})

	t.Run("and a rule", func(t *testing.T) {
		openPage(t, b, "rules", "Rules")
		waitFrame(t, b, frameNode(t, b), "the rule form with the webhook action", `document.querySelector("#rule-action").value === "send_webhook" && `+labelled)
		audit(t, b, "the rules page")
		setFrame(t, b, "#rule-event", "order.paid")
		clickFrame(t, b, `form[data-rule-form] button[type="submit"]`)
		waitFrame(t, b, frameNode(t, b), "the new rule listed", `Array.from(document.querySelectorAll("#main td")).some(function (td) { return td.textContent === "order.paid"; })`)
		screenshot(t, b, "rules")
	})

	t.Run("a test event from the rules page is a dry run", func(t *testing.T) {
		before := hook.requests()
		clickFrame(t, b, `tr.sub details summary`)
		clickFrame(t, b, `tr.sub form button[type="submit"]`)
		waitFrame(t, b, frameNode(t, b), "the dry run's result", `document.querySelector("tr.sub .result") !== null && !document.querySelector("tr.sub .result").hidden &&
			document.querySelector("tr.sub .result").textContent.includes('"dry_run": true')`)
		if hook.requests() != before {
			t.Fatal("a dry run reached the receiver")
		}
	})

	var delivered, failed string
	t.Run("an emitted event shows delivered", func(t *testing.T) {
		ev := s.emit(t, s.creds.WorkspaceID, "order.paid", nil)
		delivered = ev.String()
		eventually(t, "the delivery", func() bool { return s.event(t, ev).Status == "completed" })
		openPage(t, b, "events", "Events")
		audit(t, b, "the events page")
		screenshot(t, b, "events")
		clickFrame(t, b, `a[data-query="id=`+delivered+`"]`)
		waitFrame(t, b, frameNode(t, b), "the delivery completed", `document.querySelector('#main section [data-status="completed"]') !== null &&
			document.querySelector('#main button[data-action="retry"]') === null`)
	})

	t.Run("a rejected event shows failed, and a retry from the UI delivers it", func(t *testing.T) {
		hook.status.Store(400)
		ev := s.emit(t, s.creds.WorkspaceID, "order.paid", nil)
		failed = ev.String()
		eventually(t, "the rejection", func() bool { return s.event(t, ev).Status == "failed" })
		if d := s.event(t, ev).RuleEvents[0]; d.LastError == nil {
			t.Fatalf("the failed delivery has no error: %+v", d)
		}
		openPage(t, b, "events", "Events")
		clickFrame(t, b, `a[data-query="id=`+failed+`"]`)
		waitFrame(t, b, frameNode(t, b), "the delivery failed, with Retry", `document.querySelector('#main section [data-status="failed"]') !== null &&
			document.querySelector('#main button[data-action="retry"]') !== null`)
		audit(t, b, "the event page with Retry")
		screenshot(t, b, "event")
		hook.status.Store(200)
		clickFrame(t, b, `#main button[data-action="retry"]`)
		eventually(t, "the retried delivery", func() bool { return s.event(t, ev).Status == "completed" })
		openPage(t, b, "events", "Events")
		clickFrame(t, b, `a[data-query="id=`+failed+`"]`)
		waitFrame(t, b, frameNode(t, b), "the delivery completed after the retry", `document.querySelector('#main section [data-status="completed"]') !== null`)
	})

	t.Run("the dashboard counts them", func(t *testing.T) {
		openPage(t, b, "dashboard", "Dashboard")
		waitFrame(t, b, frameNode(t, b), "two completed", `document.querySelector('[data-status="completed"]').textContent === "2"`)
		screenshot(t, b, "dashboard")
	})

	t.Run("the pages fit 360 px", func(t *testing.T) {
		if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(360, 800)); err != nil {
			t.Fatal(err)
		}
		for _, p := range [][2]string{{"connections", "Connections"}, {"rules", "Rules"}, {"events", "Events"}} {
			openPage(t, b, p[0], p[1])
			waitFrame(t, b, frameNode(t, b), p[0]+" without horizontal scrolling", `document.documentElement.scrollWidth <= document.documentElement.clientWidth`)
		}
	})

	t.Run("a member sees no forms, and its token cannot create a connection", func(t *testing.T) {
		var member *createdSessionJSON
		h := s.host(t, func(origin string) *createdSessionJSON {
			member = s.embedSession(t, map[string]any{"role": "member", "allowed_origins": []string{origin}})
			return member
		})
		if err := chromedp.Do(b.Ctx, chromedp.Navigate(h.URL+"/app")); err != nil {
			t.Fatal(err)
		}
		waitHost(t, b, "the member's handshake", `window.__messages.includes("meshes:navigate:dashboard")`)
		openPage(t, b, "connections", "Connections")
		waitFrame(t, b, frameNode(t, b), "no connection forms", `document.querySelector("#main form") === null && document.querySelector("#main td") !== null`)
		openPage(t, b, "rules", "Rules")
		waitFrame(t, b, frameNode(t, b), "no rule form, but the test form", `document.querySelector("form[data-rule-form]") === null && document.querySelector("tr.sub form") !== null`)
		var e apiError
		if code := s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "Sneaky",
			"metadata": map[string]any{"url": hook.url(), "skip_url_test": true}}, withToken(member.AccessToken), &e); code != 403 {
			t.Fatalf("a member creating a connection: %d %+v, want 403", code, e)
		}
		openPage(t, b, "events", "Events")
		clickFrame(t, b, `a[data-query="id=`+delivered+`"]`)
		waitFrame(t, b, frameNode(t, b), "the event without its payload", `document.querySelector('#main section') !== null && document.querySelector("#main pre") === null`)
	})

	t.Run("a resource session cannot reach the connections page", func(t *testing.T) {
		var res *createdSessionJSON
		h := s.host(t, func(origin string) *createdSessionJSON {
			res = s.embedSession(t, map[string]any{"role": "admin", "session_type": "resource", "resource": "order",
				"resource_id": "o_1", "allowed_origins": []string{origin}})
			return res
		})
		if err := chromedp.Do(b.Ctx, chromedp.Navigate(h.URL+"/app")); err != nil {
			t.Fatal(err)
		}
		waitHost(t, b, "the resource session's handshake", `window.__messages.includes("meshes:navigate:dashboard")`)
		openPage(t, b, "rules", "Rules")
		waitFrame(t, b, frameNode(t, b), "no connections link, the resource fixed in the rule form",
			`document.querySelector('nav a[data-page="connections"]') === null && document.querySelector('form[data-rule-form] input[name="resource_id"]').value === "o_1"`)
		var e apiError
		if code := s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "Sneaky",
			"metadata": map[string]any{"url": hook.url(), "skip_url_test": true}}, withToken(res.AccessToken), &e); code != 403 {
			t.Fatalf("a resource session creating a connection: %d %+v, want 403", code, e)
		}
	})
}
