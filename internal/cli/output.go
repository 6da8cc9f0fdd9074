package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
)

// host is what a command may know of the process around it: standard input, the environment,
// whether the standard streams are terminals, and where the user's configuration lives. Main
// fills it from the process; tests pass their own, so that they never set environment
// variables or need a terminal.
type host struct {
	stdin io.Reader
	// getenv reads an environment variable ("" when unset).
	getenv func(string) string
	// stdoutTTY and stderrTTY say whether the streams are terminals: tables get colours and
	// long work shows progress only then (and colours only when NO_COLOR is unset).
	stdoutTTY, stderrTTY bool
	// configDir is the user's configuration directory (os.UserConfigDir).
	configDir func() (string, error)
}

// osHost describes this process.
func osHost(stdout, stderr io.Writer) host {
	return host{stdin: os.Stdin, getenv: os.Getenv, stdoutTTY: isTerminal(stdout), stderrTTY: isTerminal(stderr),
		configDir: os.UserConfigDir}
}

// isTerminal reports whether w is a terminal (or a Cygwin/MSYS pseudo-terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// color reports whether stdout may carry ANSI colours: a terminal, NO_COLOR unset or empty
// (no-color.org), and not TERM=dumb.
func (h host) color() bool {
	return h.stdoutTTY && h.getenv("NO_COLOR") == "" && h.getenv("TERM") != "dumb"
}

// progress reports whether long work may draw a progress line on stderr.
func (h host) progress() bool {
	return h.stderrTTY && h.getenv("TERM") != "dumb"
}

// outputFlags selects how results are printed.
type outputFlags struct {
	Output string `name:"output" short:"o" enum:"table,json,jsonl" default:"table" help:"Output format: table (aligned columns for people), json (the API's objects), or jsonl (one JSON object per line)."`
}

// printer writes results in the chosen format.
type printer struct {
	w      io.Writer
	format string
	color  bool
}

func (e *env) printer(o outputFlags) *printer {
	return &printer{w: e.stdout, format: o.Output, color: e.color()}
}

// json writes v as indented JSON (--output json) or as one line (jsonl).
func (p *printer) json(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetEscapeHTML(false)
	if p.format != "jsonl" {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// table is an aligned table with a header row.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the table with two spaces between columns. Cells never hold tabs or newlines
// (clean removes them), so that a name cannot break the alignment.
func (t *table) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = clean(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// clean makes a value safe for one table cell: control characters (tabs, newlines, escape
// sequences a hostile name could carry) become spaces, and an empty value a dash.
func clean(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// ANSI colours for statuses, used only when host.color says so.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiGray   = "\x1b[90m"
)

// paint colours s when enabled. Coloured cells go in a table's last column only, since
// tabwriter counts the escape bytes as width.
func paint(enabled bool, code, s string) string {
	if !enabled || code == "" {
		return s
	}
	return code + s + ansiReset
}

// statusColor is the colour of a delivery or event status: green delivered, red failed,
// yellow retrying, blue in flight, gray canceled.
func statusColor(status string) string {
	switch status {
	case "completed":
		return ansiGreen
	case "failed":
		return ansiRed
	case "retrying":
		return ansiYellow
	case "pending", "processing":
		return ansiBlue
	case "canceled":
		return ansiGray
	}
	return ""
}

// timeText prints a time as RFC 3339 in UTC to the second; nil is a dash.
func timeText(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// progressLine redraws one line on a terminal: "\r…" and a final newline from done.
type progressLine struct {
	w       io.Writer
	enabled bool
	start   time.Time
	last    time.Time
	width   int
}

func newProgress(w io.Writer, enabled bool) *progressLine {
	now := time.Now()
	return &progressLine{w: w, enabled: enabled, start: now}
}

// update redraws the line at most ten times a second (always when force).
func (p *progressLine) update(force bool, format string, args ...any) {
	if !p.enabled {
		return
	}
	now := time.Now()
	if !force && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	s := fmt.Sprintf(format, args...)
	pad := ""
	if n := p.width - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(s)
	fmt.Fprint(p.w, "\r"+s+pad)
}

// done ends the line.
func (p *progressLine) done() {
	if p.enabled && p.width > 0 {
		fmt.Fprintln(p.w)
	}
}

// rate is n per second since start.
func (p *progressLine) rate(n int) float64 {
	d := time.Since(p.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(n) / d
}
