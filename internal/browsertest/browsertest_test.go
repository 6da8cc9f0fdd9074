package browsertest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyardhq/switchyard/internal/browsertest"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// The harness loads a page, reads it, and catches what a page logs as an error.
func TestBrowser(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/fine":
			_, _ = io.WriteString(w, `<!doctype html><title>t</title><p id="p">hello</p>`)
		default:
			_, _ = io.WriteString(w, `<!doctype html><title>t</title><script>console.error("broken page")</script>`)
		}
	}))
	t.Cleanup(srv.Close)
	b := browsertest.New(t, time.Minute)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL+"/fine")); err != nil {
		t.Fatal(err)
	}
	if text, err := chromedp.Run(b.Ctx, chromedp.Text("#p")); err != nil || text != "hello" {
		t.Fatalf("text %q, %v", text, err)
	}
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL+"/broken")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the console error to be caught", func() bool { return b.ExpectErrors("broken page") })
}

// goodPage passes every check: labelled controls, dark text, a visible focus ring.
const goodPage = `<!doctype html><html lang="en"><title>good</title>
<style>body{color:#1d2330;background:#fff} a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #1d2330}
.big{font-size:24px;color:#767676}</style>
<h1>Settings</h1><p class="big">Large grey text needs only 3:1.</p>
<form><label for="n">Name</label><input id="n" name="n"><button type="submit">Save</button></form>
<p><a href="/elsewhere">Elsewhere</a></p>`

// badPage fails each check once: an unlabelled input, light grey text, a button without a
// focus ring, a link taken out of the tab order, and a pale focus outline.
const badPage = `<!doctype html><html lang="en"><title>bad</title>
<style>body{color:#1d2330;background:#fff} .faint{color:#aaaaaa}
button:focus{outline:none} a:focus-visible{outline:3px solid #f5e9a0}</style>
<p class="faint">Hard to read</p>
<input id="q" name="q">
<button type="button">Go</button>
<a href="/x" tabindex="-1">Hidden from the keyboard</a>
<a href="/y">Pale ring</a>`

// Accessibility passes a good page and names every problem of a bad one.
func TestAccessibility(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/good" {
			_, _ = io.WriteString(w, goodPage)
			return
		}
		_, _ = io.WriteString(w, badPage)
	}))
	t.Cleanup(srv.Close)
	b := browsertest.New(t, time.Minute)

	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Accessibility(nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Problems(); len(p) > 0 || rep.Tabbed != 3 || rep.ControlsChecked != 3 || rep.TextsChecked < 5 {
		t.Fatalf("the good page: problems %q, tabbed %d, controls %d, texts %d", p, rep.Tabbed, rep.ControlsChecked, rep.TextsChecked)
	}

	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatal(err)
	}
	rep, err = b.Accessibility(nil)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Problems(), "\n")
	for _, want := range []string{
		"no accessible name: input#q",
		`low contrast: p.faint "Hard to read": #aaaaaa on #ffffff is 2.32:1, needs 4.5:1`,
		`not reachable by Tab (tabindex -1): a[href="/x"]`,
		`button[type="button"]: no visible focus style`,
		`a[href="/y"]: focus outline #f5e9a0 has`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the bad page's report lacks %q:\n%s", want, all)
		}
	}
	if len(rep.Problems()) != 5 {
		t.Errorf("the bad page has 5 problems, the report %d:\n%s", len(rep.Problems()), all)
	}
}
