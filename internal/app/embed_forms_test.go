package app_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

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

// jsString is s as a JavaScript string literal.
func jsString(s string) string { return strconv.Quote(s) }

// connectionCount is how many connections the API lists.
func connectionCount(t *testing.T, s *server) int {
	t.Helper()
	var out struct {
		Count int `json:"count"`
	}
	if code := s.call(t, "GET", "/api/v1/connections?limit=100", nil, nil, &out); code != 200 {
		t.Fatalf("listing connections: %d", code)
	}
	return out.Count
}

// doFrame runs js, a script ending in a true expression, inside the embed frame.
func doFrame(t *testing.T, b *browsertest.Browser, what, js string) {
	t.Helper()
	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool]("(function () { "+js+" })()", chromedp.WithPollingInFrame(frameNode(t, b)),
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// choose picks value in the select sel of the frame, as a person does (a change event follows).
func choose(t *testing.T, b *browsertest.Browser, sel, value string) {
	t.Helper()
	doFrame(t, b, "choosing "+value+" in "+sel, `var s = document.querySelector(`+jsString(sel)+`); s.value = `+jsString(value)+`;
		s.dispatchEvent(new Event("change", {bubbles: true})); return s.value === `+jsString(value)+`;`)
}

// typeFrame types text into the input sel of the frame with key events; "\r" (kb.Enter) at the
// end submits its form from the keyboard.
func typeFrame(t *testing.T, b *browsertest.Browser, sel, text string) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.FromNode(frameNode(t, b)))); err != nil {
		t.Fatalf("typing into %s: %v", sel, err)
	}
}

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

	t.Run("the connection form shows each auth scheme's own fields and tests the URL on save", func(t *testing.T) {
		openPage(t, b, "connections", "Connections")
		clickFrame(t, b, `details[data-form="webhook"] summary`)
		waitFrame(t, b, frameNode(t, b), "every input labelled, the credential fields hidden and disabled under the default scheme", labelled+` &&
			document.querySelector("#conn-webhook-basic_username").closest(".field").hidden && document.querySelector("#conn-webhook-basic_username").disabled &&
			document.querySelector("#conn-webhook-bearer_token").closest(".field").hidden && document.querySelector("#conn-webhook-signing_secret").disabled`)
		audit(t, b, "the connections page with the webhook form open")
		choose(t, b, "#conn-webhook-auth_scheme", "bearer")
		waitFrame(t, b, frameNode(t, b), "the bearer token field, and only it", `!document.querySelector("#conn-webhook-bearer_token").closest(".field").hidden &&
			!document.querySelector("#conn-webhook-bearer_token").disabled && document.querySelector("#conn-webhook-basic_password").disabled &&
			document.querySelector("#conn-webhook-auth_header_name").closest(".field").hidden`)
		choose(t, b, "#conn-webhook-signing_scheme", "hmac_sha256")
		waitFrame(t, b, frameNode(t, b), "the signing secret and header fields", `!document.querySelector("#conn-webhook-signing_secret").disabled &&
			!document.querySelector("#conn-webhook-signature_header").closest(".field").hidden`)
		choose(t, b, "#conn-webhook-signing_scheme", "standard_webhooks")
		waitFrame(t, b, frameNode(t, b), "the secret without the header field (Standard Webhooks names its own headers)",
			`!document.querySelector("#conn-webhook-signing_secret").disabled && document.querySelector("#conn-webhook-signature_header").disabled`)
		choose(t, b, "#conn-webhook-signing_scheme", "none")
		audit(t, b, "the webhook form with the bearer scheme")
		setFrame(t, b, "#conn-webhook-url", hook.url())
		setFrame(t, b, "#conn-webhook-bearer_token", "tok_from_the_form")

		// The receiver refuses the test request: the URL field says why, nothing is saved.
		hook.status.Store(500)
		before := hook.requests()
		typeFrame(t, b, "#conn-webhook-name", "Receiver"+kb.Enter) // submitted from the keyboard
		waitFrame(t, b, frameNode(t, b), "the failed test under the URL", `document.querySelector("#conn-webhook-url").getAttribute("aria-invalid") === "true" &&
			document.querySelector("#conn-webhook-url-error") !== null && document.querySelector("#conn-webhook-url-error").textContent.includes("test request failed")`)
		b.WaitForError(t, "status of 422") // the browser logs the refused request
		if hook.requests() != before+1 || hook.lastAuth() != "Bearer tok_from_the_form" {
			t.Fatalf("the test request: %d requests, Authorization %q", hook.requests()-before, hook.lastAuth())
		}
		if n := connectionCount(t, s); n != 0 {
			t.Fatalf("a connection whose test failed was saved (%d)", n)
		}
		screenshot(t, b, "connections")

		// It answers: the connection is saved.
		hook.status.Store(200)
		clickFrame(t, b, `form[data-connection-form="webhook"] button[type="submit"]`)
		waitFrame(t, b, frameNode(t, b), "the new connection listed", `Array.from(document.querySelectorAll("#main td")).some(function (td) { return td.textContent === "Receiver"; })`)
		if hook.requests() != before+2 {
			t.Fatalf("saving sent %d test requests, want 1", hook.requests()-before-1)
		}
	})

	t.Run("and a rule, from the keyboard", func(t *testing.T) {
		openPage(t, b, "rules", "Rules")
		waitFrame(t, b, frameNode(t, b), "the rule form with the webhook action", `document.querySelector("#rule-action").value === "send_webhook" && `+labelled)
		audit(t, b, "the rules page")
		typeFrame(t, b, "#rule-event", "order.paid"+kb.Enter)
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
		waitFrame(t, b, frameNode(t, b), "the event's status by rule", `document.querySelector('tr[data-event="`+delivered+`"] [data-rule-status]').textContent === "Receiver: completed"`)
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
		waitFrame(t, b, frameNode(t, b), "the event failed by its rule", `document.querySelector('tr[data-event="`+failed+`"] [data-rule-status]').textContent === "Receiver: failed"`)
		clickFrame(t, b, `a[data-query="id=`+failed+`"]`)
		waitFrame(t, b, frameNode(t, b), "the delivery failed, with Retry, and the attempt's response", `document.querySelector('#main section [data-status="failed"]') !== null &&
			document.querySelector('#main button[data-action="retry"]') !== null && document.querySelector('li[data-attempt="1"]').textContent.includes("HTTP 400") &&
			document.querySelector('li[data-attempt="1"] pre.response').textContent.includes("answered by the test")`)
		audit(t, b, "the event page with Retry")
		screenshot(t, b, "event")
		hook.status.Store(200)
		clickFrame(t, b, `#main button[data-action="retry"]`)
		eventually(t, "the retried delivery", func() bool { return s.event(t, ev).Status == "completed" })
		openPage(t, b, "events", "Events")
		clickFrame(t, b, `a[data-query="id=`+failed+`"]`)
		waitFrame(t, b, frameNode(t, b), "the delivery completed after the retry, its second attempt delivered", `document.querySelector('#main section [data-status="completed"]') !== null &&
			document.querySelector('li[data-attempt="2"] strong').textContent === "delivered" && document.querySelector('li[data-attempt="1"] strong').textContent !== "delivered"`)
	})

	t.Run("the dashboard counts them", func(t *testing.T) {
		openPage(t, b, "dashboard", "Dashboard")
		waitFrame(t, b, frameNode(t, b), "two completed", `document.querySelector('[data-status="completed"]').textContent === "2"`)
		screenshot(t, b, "dashboard")
	})

	t.Run("a delivery in flight is canceled from the UI", func(t *testing.T) {
		hook.hold()
		ev := s.emit(t, s.creds.WorkspaceID, "order.paid", nil)
		hook.waitRequest(t) // the delivery is processing, its request held by the receiver
		openPage(t, b, "events", "Events")
		clickFrame(t, b, `a[data-query="id=`+ev.String()+`"]`)
		waitFrame(t, b, frameNode(t, b), "the delivery processing, with Cancel", `document.querySelector('#main section [data-status="processing"]') !== null &&
			document.querySelector('#main button[data-action="cancel"]') !== null && document.querySelector('#main button[data-action="retry"]') === null`)
		audit(t, b, "the event page with Cancel")
		clickFrame(t, b, `#main button[data-action="cancel"]`)
		waitFrame(t, b, frameNode(t, b), "the delivery canceled, and said so", `document.querySelector('#main section [data-status="canceled"]') !== null &&
			document.querySelector("#status").textContent === "Delivery canceled." && document.querySelector('#main button[data-action="retry"]') !== null`)
		hook.open()
		eventually(t, "the event canceled", func() bool { return s.event(t, ev).Status == "canceled" })
	})

	t.Run("an admin deletes a rule, then a connection with its rules, each after confirming", func(t *testing.T) {
		ws := s.creds.WorkspaceID
		spare := s.createConnection(t, ws, hook.url(), nil) // named Hook
		rule := s.createRule(t, ws, spare, "spare.event", nil)
		openPage(t, b, "rules", "Rules")
		confirm := `tr[data-rule="` + rule.String() + `"] + tr.sub details.confirm`
		waitFrame(t, b, frameNode(t, b), "the delete button behind its confirmation", `document.querySelector(`+jsString(confirm)+`) !== null &&
			!document.querySelector(`+jsString(confirm)+`).open`)
		clickFrame(t, b, confirm+" summary")
		waitFrame(t, b, frameNode(t, b), "the confirmation open", `document.querySelector(`+jsString(confirm+` button[data-action="delete"]`)+`).checkVisibility()`)
		audit(t, b, "the rules page with a delete confirmation open")
		clickFrame(t, b, confirm+` button[data-action="delete"]`)
		waitFrame(t, b, frameNode(t, b), "the rule gone, and said so", `document.querySelector('tr[data-rule="`+rule.String()+`"]') === null &&
			document.querySelector("#status").textContent === "Rule for spare.event deleted."`)
		if code := s.call(t, "GET", "/api/v1/rules/"+rule.String(), nil, nil, nil); code != 404 {
			t.Fatalf("the deleted rule: %d, want 404", code)
		}

		// A connection that a rule uses is deleted only with "Delete its rules too".
		busy := s.createRule(t, ws, spare, "busy.event", nil)
		openPage(t, b, "connections", "Connections")
		confirm = `tr[data-connection="` + spare.String() + `"] + tr.sub details.confirm`
		clickFrame(t, b, confirm+" summary")
		clickFrame(t, b, confirm+` button[data-action="delete"]`)
		waitFrame(t, b, frameNode(t, b), "the refusal: it has rules", `!document.querySelector(`+jsString(confirm+" .form-error")+`).hidden &&
			document.querySelector(`+jsString(confirm+" .form-error")+`).textContent.includes("active rules")`)
		b.WaitForError(t, "status of 409")
		clickFrame(t, b, "#del-conn-"+spare.String()+"-rules")
		clickFrame(t, b, confirm+` button[data-action="delete"]`)
		waitFrame(t, b, frameNode(t, b), "the connection gone, and said so", `document.querySelector('tr[data-connection="`+spare.String()+`"]') === null &&
			document.querySelector("#status").textContent === "Connection Hook deleted."`)
		for _, path := range []string{"/api/v1/connections/" + spare.String(), "/api/v1/rules/" + busy.String()} {
			if code := s.call(t, "GET", path, nil, nil, nil); code != 404 {
				t.Fatalf("GET %s after the delete: %d, want 404", path, code)
			}
		}
	})

	t.Run("the mapping page saves, and says when someone saved a newer version", func(t *testing.T) {
		conn := s.createConnection(t, s.creds.WorkspaceID, hook.url(), nil)
		path := "/api/v1/connections/" + conn.String() + "/mappings/default"
		schema := func(field string) map[string]any {
			return map[string]any{"schema": map[string]any{"schema_version": 1, "fields": []any{
				map[string]any{"dest": field, "source": map[string]any{"type": "path", "value": "email"}}}}}
		}
		if code := s.call(t, "PUT", path, schema("email"), nil, nil); code != 200 {
			t.Fatalf("saving version 1: %d", code)
		}
		// Webhooks send the payload as it is, so the connections page has no mapping link for
		// them: follow one like those of mapped integrations.
		doFrame(t, b, "a link to the mapping page", `var a = document.createElement("a"); a.href = "#"; a.id = "to-mapping";
			a.setAttribute("data-page", "mapping"); a.setAttribute("data-query", "id=`+conn.String()+`"); a.textContent = "Mapping";
			document.querySelector("#main").appendChild(a); return true;`)
		clickFrame(t, b, "#to-mapping")
		waitFrame(t, b, frameNode(t, b), "version 1", `document.querySelector('[data-mapping-status="stored"]') !== null &&
			document.querySelector('[data-mapping-status="stored"]').textContent.includes("version 1")`)
		audit(t, b, "the mapping page")

		// Someone else saves version 2 while the page shows version 1.
		other := schema("work_email")
		other["expected_version"] = 1
		if code := s.call(t, "PUT", path, other, nil, nil); code != 200 {
			t.Fatalf("saving version 2: %d", code)
		}
		clickFrame(t, b, `form[data-conflict] button[type="submit"]`)
		waitFrame(t, b, frameNode(t, b), "the conflict, with the saved version offered", `!document.querySelector("form[data-conflict] .form-error").hidden &&
			document.querySelector("form[data-conflict] .form-error").textContent.includes("changed since you read it") &&
			document.querySelector("a[data-conflict-reload]") !== null`)
		b.WaitForError(t, "status of 409")
		clickFrame(t, b, "a[data-conflict-reload]")
		waitFrame(t, b, frameNode(t, b), "version 2, with its field", `document.querySelector('[data-mapping-status="stored"]').textContent.includes("version 2") &&
			document.querySelector("#mapping-schema").value.includes("work_email")`)
		clickFrame(t, b, `form[data-conflict] button[type="submit"]`)
		waitFrame(t, b, frameNode(t, b), "version 3, saved from the page", `document.querySelector('[data-mapping-status="stored"]').textContent.includes("version 3") &&
			document.querySelector("#status").textContent === "Mapping saved."`)
	})

	t.Run("the pages fit 360 px", func(t *testing.T) {
		if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(360, 800)); err != nil {
			t.Fatal(err)
		}
		for _, p := range [][2]string{{"dashboard", "Dashboard"}, {"connections", "Connections"}, {"rules", "Rules"}, {"events", "Events"}} {
			openPage(t, b, p[0], p[1])
			waitFrame(t, b, frameNode(t, b), p[0]+" without horizontal scrolling", `document.documentElement.scrollWidth <= document.documentElement.clientWidth`)
		}
		audit(t, b, "the events page at 360 px")
		clickFrame(t, b, `a[data-query="id=`+failed+`"]`)
		waitFrame(t, b, frameNode(t, b), "an event at 360 px without horizontal scrolling", `document.querySelector("#main section") !== null &&
			document.documentElement.scrollWidth <= document.documentElement.clientWidth`)
		audit(t, b, "the event page at 360 px")
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
		waitFrame(t, b, frameNode(t, b), "no connection forms, no delete", `document.querySelector("#main form") === null && document.querySelector("#main td") !== null`)
		audit(t, b, "a member's connections page")
		var e apiError
		openPage(t, b, "rules", "Rules")
		waitFrame(t, b, frameNode(t, b), "no rule form and no delete, but the test form", `document.querySelector("form[data-rule-form]") === null &&
			document.querySelector("details.confirm") === null && document.querySelector("tr.sub form") !== null`)
		audit(t, b, "a member's rules page")
		rule, err := chromedp.Run(b.Ctx, chromedp.Poll[string](`document.querySelector("tr[data-rule]").getAttribute("data-rule")`,
			chromedp.WithPollingInFrame(frameNode(t, b))))
		if err != nil {
			t.Fatal(err)
		}
		if code := s.call(t, "DELETE", "/api/v1/rules/"+rule, nil, withToken(member.AccessToken), &e); code != 403 {
			t.Fatalf("a member deleting a rule: %d %+v, want 403", code, e)
		}
		if code := s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "Sneaky",
			"metadata": map[string]any{"url": hook.url(), "skip_url_test": true}}, withToken(member.AccessToken), &e); code != 403 {
			t.Fatalf("a member creating a connection: %d %+v, want 403", code, e)
		}
		openPage(t, b, "events", "Events")
		clickFrame(t, b, `a[data-query="id=`+delivered+`"]`)
		waitFrame(t, b, frameNode(t, b), "the event without its payload", `document.querySelector('#main section') !== null && document.querySelector("#main pre.payload") === null`)
	})

	t.Run("a dashboard session sees the dashboard only", func(t *testing.T) {
		h := s.host(t, func(origin string) *createdSessionJSON {
			return s.embedSession(t, map[string]any{"session_type": "dashboard", "allowed_origins": []string{origin}})
		})
		if err := chromedp.Do(b.Ctx, chromedp.Navigate(h.URL+"/app")); err != nil {
			t.Fatal(err)
		}
		waitHost(t, b, "the dashboard session's handshake", `window.__messages.includes("meshes:navigate:dashboard")`)
		waitFrame(t, b, frameNode(t, b), "the dashboard, one link in the nav", `document.querySelector("#main h2") !== null &&
			document.querySelector("#main h2").textContent === "Dashboard" && document.querySelectorAll("nav a").length === 1`)
		audit(t, b, "a dashboard session's page")
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
		audit(t, b, "a resource session's rules page")
		openPage(t, b, "events", "Events")
		audit(t, b, "a resource session's events page")
		var e apiError
		if code := s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "Sneaky",
			"metadata": map[string]any{"url": hook.url(), "skip_url_test": true}}, withToken(res.AccessToken), &e); code != 403 {
			t.Fatalf("a resource session creating a connection: %d %+v, want 403", code, e)
		}
	})
}

// A connection whose test request fails on save is not stored, and the 422 names the field to
// fix (metadata.url, as the webhook adapter reports it), so that a form shows the error beside
// that input; a passing test stores it.
func TestConnectionTestOnSaveNamesTheField(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		hook := newHook(t, 503)
		body := map[string]any{"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "Down", "metadata": map[string]any{"url": hook.url()}}
		var e apiError
		if code := s.call(t, "POST", "/api/v1/connections", body, nil, &e); code != 422 || len(e.Error.Data) != 1 ||
			e.Error.Data[0].Param != "metadata.url" || !strings.Contains(e.Error.Data[0].Msg, "HTTP 503") ||
			!strings.HasPrefix(e.Error.Message, "The connection test failed: The test request to the webhook URL failed") {
			t.Fatalf("a failing test: %d %+v", code, e)
		}
		if hook.requests() != 1 || connectionCount(t, s) != 0 {
			t.Fatalf("%d test requests, %d connections: want 1 and 0", hook.requests(), connectionCount(t, s))
		}
		hook.status.Store(200)
		if code := s.call(t, "POST", "/api/v1/connections", body, nil, nil); code != 201 || connectionCount(t, s) != 1 {
			t.Fatalf("a passing test: %d, %d connections", code, connectionCount(t, s))
		}
	})
}

// An admin connects HubSpot from the embedded connections page: "Connect HubSpot" opens the
// provider's consent in a new tab, which ends on /embed/connected; the connection is then
// listed, with a link to its field mapping, whose page shows HubSpot's field catalog.
func TestEmbedOAuthConnectInABrowser(t *testing.T) {
	t.Parallel()
	s := startSaaS(t, storetest.Dialects(t)[0])
	b := browsertest.New(t, 2*time.Minute)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1024, 900)); err != nil {
		t.Fatal(err)
	}
	host := s.host(t, func(origin string) *createdSessionJSON {
		return s.embedSession(t, map[string]any{"role": "admin", "allowed_origins": []string{origin}, "launch_page": "connections"})
	})
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(host.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	waitHost(t, b, "the handshake", `window.__messages.includes("meshes:navigate:connections")`)
	waitFrame(t, b, frameNode(t, b), "the connect button", `document.querySelector('form[data-oauth] input[name="type"][value="hubspot"]') !== null`)
	clickFrame(t, b, `form[aria-label="Connect HubSpot"] button[type="submit"]`)

	// The consent tab: the fake HubSpot consents at once and sends it to the callback at the
	// public URL, which the test's server does not know (its port is chosen later): the tab is
	// sent to the same callback on this server, which ends on the embed UI's "connected" page.
	var tab target.ID
	var callback string
	deadline := time.Now().Add(20 * time.Second)
	for tab == "" {
		infos, err := chromedp.Targets(b.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		var urls []string
		for _, in := range infos {
			urls = append(urls, in.Type+" "+in.URL)
			if _, q, ok := strings.Cut(in.URL, "/api/v1/oauth/callback?"); ok && in.Type == "page" {
				tab, callback = in.TargetID, s.url+"/api/v1/oauth/callback?"+q
			}
		}
		if tab == "" && time.Now().After(deadline) {
			t.Fatalf("no tab reached the OAuth callback: %q", urls)
		}
	}
	tabCtx, cancel := chromedp.NewContext(b.Ctx, chromedp.WithTargetID(tab))
	defer cancel()
	// First let the tab's own navigation to the unreachable public URL end on the browser's
	// error page: navigated while that was still under way, the tab's new navigation was
	// aborted by the error page's (net::ERR_ABORTED, seen once in CI).
	if _, err := chromedp.Run(tabCtx, chromedp.Poll[bool](`location.protocol === "chrome-error:"`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the consent tab's failed load of the public callback: %v", err)
	}
	if err := chromedp.Do(tabCtx, chromedp.Navigate(callback)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tabCtx, chromedp.Poll[bool](`location.pathname === "/embed/connected" && document.body !== null &&
		document.body.innerText.includes("The connection is ready")`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the connected page: %v", err)
	}
	b.Tab(tabCtx).Audit(t, nil, "the connected page")
	// Close the tab, as the page tells the customer to, and come back: a background tab gets
	// no animation frames, which the frame's polls wait on.
	if _, err := chromedp.CallBrowser(b.Ctx, target.CloseTarget, target.CloseTargetParams{TargetID: tab}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.Ctx, cdppage.BringToFront, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if n := connectionCount(t, s.server); n != 1 {
		t.Fatalf("%d connections after the OAuth flow, want 1", n)
	}

	// Back in the frame: the page said to reload; the connection is listed with its mapping.
	waitFrame(t, b, frameNode(t, b), "the hint to come back", `document.querySelector("#status").textContent.includes("Finish connecting in the new tab")`)
	openPage(t, b, "connections", "Connections")
	waitFrame(t, b, frameNode(t, b), "the HubSpot connection with a mapping link", `document.querySelector('#main a[data-page="mapping"]') !== null`)
	audit(t, b, "the connections page with an OAuth connection")
	clickFrame(t, b, `#main a[data-page="mapping"]`)
	waitFrame(t, b, frameNode(t, b), "the mapping page with HubSpot's fields", `document.querySelector('[data-mapping-status="generated"]') !== null &&
		Array.from(document.querySelectorAll("#main td")).some(function (td) { return td.textContent.startsWith("email"); })`)
	audit(t, b, "the mapping page of a HubSpot connection")
	screenshot(t, b, "mapping")

	// A rule for it: the list picker is fed by HubSpot's lists, live.
	list := s.fake.AddList("Newsletter", "MANUAL")
	var conns struct {
		Records []struct {
			ID string `json:"id"`
		} `json:"records"`
	}
	if code := s.call(t, "GET", "/api/v1/connections", nil, nil, &conns); code != 200 || len(conns.Records) != 1 {
		t.Fatalf("listing connections: %d %+v", code, conns)
	}
	openPage(t, b, "rules", "Rules")
	choose(t, b, "#rule-connection", conns.Records[0].ID)
	picker := `document.querySelector('fieldset[data-action="hubspot:add_to_list"]:not([hidden]) select[data-source="lists"]')`
	waitFrame(t, b, frameNode(t, b), "the list picker with HubSpot's list", picker+` !== null && document.querySelector("#rule-action").value === "add_to_list" &&
		Array.from(`+picker+`.options).some(function (o) { return o.value === `+jsString(list)+` && o.textContent === "Newsletter"; })`)
	audit(t, b, "the rule form with HubSpot's list picker")
	typeFrame(t, b, "#rule-event", "user.signup"+kb.Enter)
	waitFrame(t, b, frameNode(t, b), "the new rule listed", `document.querySelector("tr[data-rule]") !== null`)
	var rules struct {
		Records []struct {
			Metadata map[string]any `json:"metadata"`
		} `json:"records"`
	}
	if code := s.call(t, "GET", "/api/v1/rules", nil, nil, &rules); code != 200 || len(rules.Records) != 1 ||
		rules.Records[0].Metadata["action"] != "add_to_list" || rules.Records[0].Metadata["id"] != list {
		t.Fatalf("the rule made from the form: %d %+v, want add_to_list of list %s", code, rules, list)
	}
}
