package app_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchyardhq/switchyard/internal/browsertest"
	"github.com/switchyardhq/switchyard/internal/dashboard"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// updating reports whether the test runs with -update (the flag is the package's, for the
// docs/ui screenshots).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// dashboardShot writes the page as it looks now to docs/ui/dashboard-<name>.png, with -update.
func dashboardShot(t *testing.T, b *browsertest.Browser, name string) {
	t.Helper()
	if !updating() {
		return
	}
	png, err := chromedp.Run(b.Ctx, chromedp.Screenshot(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "ui", "dashboard-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitPage polls the page until expr is true.
func waitPage(t *testing.T, b *browsertest.Browser, what, expr string) {
	t.Helper()
	// A poll started as a navigation ends loses its page's context: poll again until the deadline.
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for {
		_, err = chromedp.Run(b.Ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		loc, _ := chromedp.Run(b.Ctx, chromedp.Location())
		body, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText.slice(0, 600) : ''"))
		t.Fatalf("waiting for %s at %s: %v\n%s", what, loc, err, body)
	}
}

// The operator runs the login URL `switchyard dashboard` prints, lands on the dashboard, sees
// the workspace and its delivered event, creates a machine key and sees its secret once (a
// reload shows the list without it), and revokes the key.
func TestDashboardInABrowser(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	hook := newHook(t, 200)
	conn := s.createConnection(t, s.creds.WorkspaceID, hook.url(), nil)
	s.createRule(t, s.creds.WorkspaceID, conn, "user.signup", nil)
	ev := s.emit(t, s.creds.WorkspaceID, "user.signup", nil)
	eventually(t, "the event to be delivered", func() bool { return s.event(t, ev).Status == "completed" })

	link, _, err := dashboard.IssueLogin(context.Background(), s.app.Store, s.creds.OrganizationID, s.url, dashboard.LoginTTL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, 2*time.Minute)
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		// Right after a navigation chromedp may still hold the old document's node ids, and a
		// query fails before it acts ("Could not find node"): run it again until the deadline.
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := chromedp.Do(b.Ctx, actions...)
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), "Could not find node with given id") || time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
		}
	}

	do("open the login URL", chromedp.Navigate(link))
	waitPage(t, b, "the overview, the token gone from the address bar", `location.pathname === "/dashboard/" && location.search === "" &&
		document.querySelector("main h1").textContent === "Overview" && document.body.innerText.includes("Default")`)
	b.Audit(t, nil, "the overview")
	dashboardShot(t, b, "overview")

	do("open workspaces", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/workspaces"]`)))
	waitPage(t, b, "the workspace listed", `document.querySelector('main td a[href^="/dashboard/workspaces/"]') !== null`)
	b.Audit(t, nil, "the workspaces page")
	do("open the workspace", chromedp.Click(chromedp.CSS(`main td a[href^="/dashboard/workspaces/"]`)))
	waitPage(t, b, "the workspace with its connection, rule and event", `document.querySelector("main h1").textContent === "Default" &&
		document.querySelector('#events a[href*="/events/"]') !== null && document.querySelector("#connections td") !== null &&
		document.querySelector("#rules td").textContent === "user.signup"`)
	b.Audit(t, nil, "the workspace page")
	dashboardShot(t, b, "workspace")
	do("filter the events from the keyboard", chromedp.SendKeys(chromedp.CSS("#filter-event"), "nothing.here"+kb.Enter))
	waitPage(t, b, "no event matches", `location.search.includes("event=nothing.here") && document.querySelector("#events").innerText.includes("No events match")`)
	if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](`document.querySelector("#filter-event").value = ""; true`)); err != nil {
		t.Fatal(err)
	}
	do("filter by the event's name", chromedp.SendKeys(chromedp.CSS("#filter-event"), "user.signup"+kb.Enter))
	waitPage(t, b, "the event matches", `location.search.includes("event=user.signup") && document.querySelector('#events a[href*="/events/"]') !== null`)
	oldKey, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("[data-publishable-key]")))
	if err != nil {
		t.Fatal(err)
	}
	do("rotate the publishable key, confirming", chromedp.Click(chromedp.CSS(`details.confirm summary`)),
		chromedp.Click(chromedp.CSS(`form[action$="/publishable-key"] button[type="submit"]`)))
	waitPage(t, b, "a new publishable key", `document.querySelector("[data-publishable-key]") !== null &&
		document.querySelector("[data-publishable-key]").textContent !== `+strconv.Quote(oldKey)+` && document.body.innerText.includes("A new publishable key is in place")`)
	do("open the event", chromedp.Click(chromedp.CSS(`#events a[href*="/events/"]`)))
	waitPage(t, b, "the event with its delivery and attempt", `document.querySelector('main section [data-status="completed"]') !== null &&
		document.querySelector("main section ol li strong").textContent === "delivered"`)
	b.Audit(t, nil, "the event page")
	dashboardShot(t, b, "event")

	do("open machine keys", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/keys"]`)))
	waitPage(t, b, "the keys page", `document.querySelector("main h1").textContent === "Machine keys" &&
		Array.from(document.querySelectorAll('main input:not([type="hidden"])')).every(function (el) { return el.labels && el.labels.length > 0; })`)
	do("submit without a name", chromedp.Click(chromedp.CSS(`main form.card button[type="submit"]`)))
	waitPage(t, b, "the name's error", `document.querySelector("#key-name-error") !== null && document.querySelector("#key-name").getAttribute("aria-invalid") === "true"`)
	do("name the key", chromedp.SendKeys(chromedp.CSS("#key-name"), "deploy bot"),
		chromedp.Click(chromedp.CSS(`#key-perm-read`)),
		chromedp.Click(chromedp.CSS(`main form.card button[type="submit"]`)))
	waitPage(t, b, "the secret, once", `document.querySelector("[data-secret-key]") !== null &&
		document.querySelector("[data-secret-key]").textContent.length > 20 && location.pathname === "/dashboard/keys"`)
	b.Audit(t, nil, "the new key's page")
	secret, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("[data-secret-key]")))
	if err != nil {
		t.Fatal(err)
	}
	access, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("[data-access-key]")))
	if err != nil {
		t.Fatal(err)
	}
	if updating() {
		// The screenshot must not publish a real secret, even a test one: mask it first.
		if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](`document.querySelector("[data-secret-key]").textContent = "sk_••••••••••••••••"; true`)); err != nil {
			t.Fatal(err)
		}
		dashboardShot(t, b, "key-created")
	}

	do("reload", chromedp.Reload())
	waitPage(t, b, "the list, without the secret", `document.querySelector("main h1").textContent === "Machine keys" &&
		document.querySelector('tr[data-key="`+access+`"]') !== null`)
	html, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 20 || contains(html, secret) {
		t.Fatal("the keys page shows the secret after a reload")
	}
	b.Audit(t, nil, "the machine keys page")
	dashboardShot(t, b, "keys")

	do("revoke the key, confirming", chromedp.Click(chromedp.CSS(`tr[data-key="`+access+`"] details.confirm summary`)))
	b.Audit(t, nil, "the machine keys page with a revoke confirmation open")
	do("revoke now", chromedp.Click(chromedp.CSS(`tr[data-key="`+access+`"] button[type="submit"]`)))
	waitPage(t, b, "the key revoked", `document.querySelector('tr[data-key="`+access+`"]') !== null &&
		document.querySelector('tr[data-key="`+access+`"]').textContent.includes("revoked")`)

	do("narrow the window to 360 px", chromedp.EmulateViewport(360, 740), chromedp.Navigate(s.url+"/dashboard/"))
	waitPage(t, b, "the overview at 360 px without horizontal page scroll", `document.querySelector("main h1").textContent === "Overview" &&
		document.documentElement.scrollWidth <= 360`)
	b.Audit(t, nil, "the overview at 360 px")
	dashboardShot(t, b, "overview-360")

	do("sign out", chromedp.Click(chromedp.CSS(`form.logout button`)))
	waitPage(t, b, "signed out", `location.pathname === "/dashboard/signed-out" && document.body.innerText.includes("Signed out")`)
	b.Audit(t, nil, "the signed-out page")
	do("the login URL again", chromedp.Navigate(link))
	waitPage(t, b, "the spent link refused", `document.body.innerText.includes("invalid, expired or already used")`)
	b.WaitForError(t, "401") // the browser logs the refused page's status
	b.Audit(t, nil, "the spent link's page")
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }
