package browsertest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// a11yScript holds the checks, run in the page (or frame) under test.
//
//go:embed a11y.js
var a11yScript string

// MinFocusRingContrast is the contrast a focus outline must have against the background
// around the element (WCAG 2.1 SC 1.4.11, non-text contrast).
const MinFocusRingContrast = 3.0

// Report is what Accessibility found in one document. Every slice lists problems; a page
// that passes has none.
type Report struct {
	// Unlabelled are form controls, buttons, links, images and labelled landmarks without an
	// accessible name.
	Unlabelled []string
	// LowContrast are visible texts under WCAG 2.1 AA contrast: 4.5:1, or 3:1 for large
	// text (24 px, or 18.66 px bold), against the background behind them.
	LowContrast []string
	// Keyboard are interactive elements that Tab does not reach in document order, or that
	// show no focus ring (a :focus-visible outline of at least 2 px, or a box shadow, with
	// MinFocusRingContrast against the background), and anything else Tab stopped on.
	Keyboard []string
	// TextsChecked, ControlsChecked and Tabbed count what was examined, so that a caller can
	// tell an empty page from a passing one.
	TextsChecked, ControlsChecked, Tabbed int
	// LowestContrast is the text closest to its minimum (the lowest ratio over the required
	// one), as "element \"text\": #fg on #bg is R:1 (needs N:1)"; "" when no text was measured.
	LowestContrast string
}

// Problems lists every problem of the report, one line each.
func (r *Report) Problems() []string {
	var out []string
	for _, s := range r.Unlabelled {
		out = append(out, "no accessible name: "+s)
	}
	for _, s := range r.LowContrast {
		out = append(out, "low contrast: "+s)
	}
	for _, s := range r.Keyboard {
		out = append(out, "keyboard: "+s)
	}
	return out
}

// eval runs one operation of a11y.js in frame (nil: the page) and decodes its JSON answer.
func (b *Browser) eval(frame *chromedp.Node, op string, out any) error {
	expr := "(function () {\n" + a11yScript + "\nreturn JSON.stringify(A11Y." + op + "());\n})()"
	opts := []chromedp.PollOption{chromedp.WithPollingTimeout(10 * time.Second)}
	if frame != nil {
		opts = append(opts, chromedp.WithPollingInFrame(frame))
	}
	// A document that has just loaded may still be reported with its predecessor's
	// execution context: ask again until the deadline.
	deadline := time.Now().Add(10 * time.Second)
	var s string
	var err error
	for {
		s, err = chromedp.Run(b.Ctx, chromedp.Poll[string](expr, opts...))
		if err == nil || !strings.Contains(err.Error(), "Cannot find context") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("accessibility check %s: %w", op, err)
	}
	return json.Unmarshal([]byte(s), out)
}

// Accessibility checks the document shown in frame (an iframe's node; nil: the page itself):
// accessible names, text contrast, and keyboard navigation — it presses Tab once per
// interactive element, from the top of the document, and records where focus lands and how it
// looks. Focus ends outside the document's elements.
func (b *Browser) Accessibility(frame *chromedp.Node) (*Report, error) {
	rep := &Report{}
	var labels struct {
		Checked int      `json:"checked"`
		Fails   []string `json:"fails"`
	}
	if err := b.eval(frame, "labels", &labels); err != nil {
		return nil, err
	}
	rep.Unlabelled, rep.ControlsChecked = labels.Fails, labels.Checked

	type measured struct {
		Element string  `json:"element"`
		Text    string  `json:"text"`
		Problem string  `json:"problem"`
		FG      string  `json:"fg"`
		BG      string  `json:"bg"`
		Ratio   float64 `json:"ratio"`
		Need    float64 `json:"need"`
	}
	var contrast struct {
		Checked int        `json:"checked"`
		Fails   []measured `json:"fails"`
		Lowest  *measured  `json:"lowest"`
	}
	if err := b.eval(frame, "contrast", &contrast); err != nil {
		return nil, err
	}
	rep.TextsChecked = contrast.Checked
	if l := contrast.Lowest; l != nil {
		rep.LowestContrast = fmt.Sprintf("%s %q: %s on %s is %.2f:1 (needs %.1f:1)", l.Element, l.Text, l.FG, l.BG, l.Ratio, l.Need)
	}
	for _, f := range contrast.Fails {
		if f.Problem != "" {
			rep.LowContrast = append(rep.LowContrast, fmt.Sprintf("%s %q: %s", f.Element, f.Text, f.Problem))
			continue
		}
		rep.LowContrast = append(rep.LowContrast, fmt.Sprintf("%s %q: %s on %s is %.2f:1, needs %.1f:1", f.Element, f.Text, f.FG, f.BG, f.Ratio, f.Need))
	}

	var start struct {
		Expected    []string `json:"expected"`
		Unreachable []string `json:"unreachable"`
		Focused     bool     `json:"focused"`
	}
	if err := b.eval(frame, "keyboardStart", &start); err != nil {
		return nil, err
	}
	for _, u := range start.Unreachable {
		rep.Keyboard = append(rep.Keyboard, "not reachable by Tab (tabindex -1): "+u)
	}
	var pressErr error
	if !start.Focused {
		rep.Keyboard = append(rep.Keyboard, "could not put focus at the top of the document")
	} else if len(start.Expected) > 0 {
		pressErr = chromedp.Do(b.Ctx, chromedp.KeyEvent(strings.Repeat(kb.Tab, len(start.Expected))))
	}
	var end struct {
		Seen []struct {
			N            *string `json:"n"`
			Element      string  `json:"element"`
			FocusVisible bool    `json:"focusVisible"`
			Ring         bool    `json:"ring"`
			Shadow       bool    `json:"shadow"`
			Outline      string  `json:"outline"`
			OutlineRatio float64 `json:"outlineRatio"`
		} `json:"seen"`
	}
	if err := b.eval(frame, "keyboardEnd", &end); err != nil {
		return nil, err
	}
	if pressErr != nil {
		return nil, fmt.Errorf("pressing Tab: %w", pressErr)
	}
	rep.Tabbed = len(end.Seen)
	for i, want := range start.Expected {
		if i >= len(end.Seen) {
			rep.Keyboard = append(rep.Keyboard, fmt.Sprintf("Tab %d of %d never reached %s (focus left the document or stopped)", i+1, len(start.Expected), want))
			break
		}
		got := end.Seen[i]
		if got.N == nil || *got.N != fmt.Sprint(i) {
			rep.Keyboard = append(rep.Keyboard, fmt.Sprintf("Tab %d reached %s, want %s (out of order or not focusable)", i+1, got.Element, want))
			break
		}
		switch {
		case !got.FocusVisible:
			rep.Keyboard = append(rep.Keyboard, fmt.Sprintf("%s: does not match :focus-visible after Tab", got.Element))
		case !got.Ring && !got.Shadow:
			rep.Keyboard = append(rep.Keyboard, fmt.Sprintf("%s: no visible focus style (no outline of 2 px or more, no box shadow)", got.Element))
		case got.Ring && got.OutlineRatio < MinFocusRingContrast:
			rep.Keyboard = append(rep.Keyboard, fmt.Sprintf("%s: focus outline %s has %.2f:1 against its background, needs %.0f:1", got.Element, got.Outline, got.OutlineRatio, MinFocusRingContrast))
		}
	}
	return rep, nil
}

// Audit runs Accessibility on the document in frame (nil: the page) and fails t with every
// problem, naming the page as what. It also fails when the page had nothing to check.
func (b *Browser) Audit(t testing.TB, frame *chromedp.Node, what string) {
	t.Helper()
	rep, err := b.Accessibility(frame)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %d texts, %d named elements, %d Tab stops checked; lowest contrast %s", what, rep.TextsChecked, rep.ControlsChecked, rep.Tabbed, rep.LowestContrast)
	for _, p := range rep.Problems() {
		t.Errorf("%s: %s", what, p)
	}
	if rep.TextsChecked == 0 {
		t.Errorf("%s: no text was checked for contrast: is the page shown?", what)
	}
}
