package browsertest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyardhq/switchyard/internal/browsertest"
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
	deadline := time.Now().Add(10 * time.Second)
	for !b.ExpectErrors("broken page") {
		if time.Now().After(deadline) {
			t.Fatal("the console error was not caught")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
