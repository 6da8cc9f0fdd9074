// Package browsertest runs pages in a real headless Chromium for tests: Debian's chromium
// package, driven with chromedp over the DevTools protocol. Each browser gets a fresh profile,
// no background networking (the machine has no network; Chromium's own connections would only
// fail), and a test fails on any console error or uncaught exception, in the page or in its
// frames. Tests that need it call New; without a Chromium it skips, unless
// SWITCHYARD_REQUIRE_BROWSER=1 (as CI sets), where it fails. With -short, browser tests skip.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is one headless Chromium with one tab.
type Browser struct {
	// Ctx drives the tab: chromedp.Run(b.Ctx, …).
	Ctx context.Context

	mu     sync.Mutex
	errors []string
}

// ExecPath finds Chromium: $CHROMIUM, else chromium or chromium-browser on PATH.
func ExecPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a browser for t, closed when t ends; t fails at the end if the page logged an
// error. The timeout bounds everything the test does with the browser.
func New(t *testing.T, timeout time.Duration) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests take seconds each: skipped with -short (the full test command runs them)")
	}
	path := ExecPath()
	if path == "" {
		if os.Getenv("SWITCHYARD_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found (install Debian's chromium package) and SWITCHYARD_REQUIRE_BROWSER=1")
		}
		t.Skip("no Chromium on this machine (Debian package chromium); .ci/run installs it")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		// Cross-origin frames in the page's process, so that their console reaches this tab
		// (the embed tests load a frame from another origin).
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("disable-features", "IsolateOrigins,site-per-process,Translate,MediaRouter,OptimizationHints"),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	b := &Browser{Ctx: tabCtx}
	// Subscribe before anything runs: Console starts the browser and the tab, and keeps every
	// message from then on.
	watchCtx, stopWatch := context.WithCancel(tabCtx)
	messages := chromedp.Console(watchCtx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.fail(string(m.Type) + ": " + m.Text + " (" + m.URL + ")")
			}
		}
	}()
	t.Cleanup(func() {
		stopWatch()
		<-watched
		cancelTab()
		cancelAlloc()
		cancel()
		for _, e := range b.Errors() {
			t.Errorf("the browser reported an error: %s", e)
		}
	})
	if err := chromedp.Do(tabCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return b
}

func (b *Browser) fail(msg string) {
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// Errors returns the console errors and exceptions so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// ExpectErrors forgets the errors logged so far that contain want, and reports whether there
// was one: for tests of failure states, where the page is expected to log an error.
func (b *Browser) ExpectErrors(want string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept, found := b.errors[:0], false
	for _, e := range b.errors {
		if strings.Contains(e, want) {
			found = true
			continue
		}
		kept = append(kept, e)
	}
	b.errors = kept
	return found
}

// WaitForError waits (up to 10 s) for an error containing want to be logged and forgets it,
// failing t if none comes: for a step the page is expected to log, such as a refused request.
func (b *Browser) WaitForError(t testing.TB, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !b.ExpectErrors(want) {
		if time.Now().After(deadline) {
			t.Fatalf("the browser did not report the expected error %q (it reported %q)", want, b.Errors())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Tab returns a Browser driving another tab of the same browser — ctx from
// chromedp.NewContext(b.Ctx, chromedp.WithTargetID(id)), such as a tab the page opened — for
// Accessibility and Audit. That tab's console is not watched.
func (b *Browser) Tab(ctx context.Context) *Browser { return &Browser{Ctx: ctx} }
