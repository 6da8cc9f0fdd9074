package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/switchyardhq/switchyard/client"
)

// host is what a command may know of the process around it: standard input, the environment,
// whether the standard streams are terminals, and where the user's configuration lives. Main
// fills it from the process; tests pass their own, so that they never set environment
// variables or need a terminal.
type host struct {
	// base is the context commands run under (canceled also on SIGINT/SIGTERM); nil is
	// context.Background. Tests cancel it to stop a command that follows a stream.
	base  context.Context
	stdin io.Reader
	// stdinTTY says whether standard input is a terminal (then no payload is read from it).
	stdinTTY bool
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
	return host{stdin: os.Stdin, stdinTTY: isatty.IsTerminal(os.Stdin.Fd()), getenv: os.Getenv,
		stdoutTTY: isTerminal(stdout), stderrTTY: isTerminal(stderr), configDir: os.UserConfigDir}
}

// baseContext is base, or context.Background.
func (h host) baseContext() context.Context {
	if h.base == nil {
		return context.Background()
	}
	return h.base
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

// table is an aligned table with a header row. Its last column may be coloured.
type table struct {
	header []string
	rows   [][]string
	colors []string // per row: the ANSI colour of the last cell, or ""
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) { t.addColored("", cells...) }

// addColored adds a row whose last cell gets color on a colour terminal (only the last: tabwriter
// would count the escape bytes as width).
func (t *table) addColored(color string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.colors = append(t.colors, color)
}

// write prints the table with two spaces between columns, colouring when color is set. Cells
// never hold tabs, newlines or escapes (clean removes them), so that a name can neither break
// the alignment nor write to the terminal.
func (t *table) write(w io.Writer, color bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for i, r := range t.rows {
		cells := make([]string, len(r))
		for j, c := range r {
			cells[j] = clean(c)
		}
		if n := len(cells); n > 0 {
			cells[n-1] = paint(color, t.colors[i], cells[n-1])
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

// statusColor is the colour of a delivery or event status (green delivered, red failed,
// yellow retrying, blue in flight, gray canceled) or of a connection's or rule's state.
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
	case "active":
		return ansiGreen
	}
	if strings.HasPrefix(status, "inactive") {
		return ansiRed
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

// listFlags page a list.
type listFlags struct {
	Limit  int    `name:"limit" default:"50" help:"Records per page, 1 to 200."`
	Cursor string `name:"cursor" placeholder:"CURSOR" help:"Start at this page: a previous page's next_cursor."`
	All    bool   `name:"all" help:"Fetch every page (JSON output: one envelope holding all records)."`
}

// fetchList gets one page, or with --all every page gathered into one envelope.
func fetchList[T any](lf listFlags, fetch func(client.ListOptions) (*client.Page[T], error)) (*client.Page[T], error) {
	if lf.Limit < 1 || lf.Limit > 200 {
		return nil, usagef("--limit must be from 1 to 200")
	}
	p, err := fetch(client.ListOptions{Limit: lf.Limit, Cursor: lf.Cursor})
	if err != nil || !lf.All {
		return p, err
	}
	for p.NextCursor != nil && *p.NextCursor != "" {
		next, err := fetch(client.ListOptions{Limit: lf.Limit, Cursor: *p.NextCursor})
		if err != nil {
			return nil, err
		}
		if next.NextCursor != nil && *next.NextCursor == *p.NextCursor {
			return nil, fmt.Errorf("the server returned the same cursor twice")
		}
		p.Records = append(p.Records, next.Records...)
		p.NextCursor = next.NextCursor
	}
	p.Count = len(p.Records)
	return p, nil
}

// printList prints a page: the envelope (json), one record a line (jsonl), or a table whose
// rows row makes, with a hint on stderr when more pages follow.
func printList[T any](e *env, o outputFlags, p *client.Page[T], t *table, row func(T) []string) error {
	pr := e.printer(o)
	switch o.Output {
	case "json":
		if p.Records == nil {
			p.Records = []T{}
		}
		return pr.json(p)
	case "jsonl":
		for _, r := range p.Records {
			if err := pr.json(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range p.Records {
		cells := row(r)
		t.addColored(statusColor(cells[len(cells)-1]), cells...)
	}
	if err := t.write(e.stdout, pr.color); err != nil {
		return err
	}
	if p.NextCursor != nil && *p.NextCursor != "" {
		fmt.Fprintf(e.stderr, "More records follow: add --cursor %s (or --all).\n", *p.NextCursor)
	}
	return nil
}

// printObject prints one record: JSON (indented or on one line), or for people the fields
// two columns, name and value.
func printObject(e *env, o outputFlags, v any, fields [][2]string) error {
	if o.Output != "table" {
		return e.printer(o).json(v)
	}
	return writeFields(e.stdout, fields)
}

// writeFields writes "NAME  value" lines, aligned.
func writeFields(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s\t%s\n", f[0], clean(f[1]))
	}
	return tw.Flush()
}
