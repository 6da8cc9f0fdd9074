package docs

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every relative link in the README and the docs leads somewhere: the file exists, and an anchor
// into a Markdown file names one of its headings, as GitHub derives their ids. The documents cite
// each other's sections by anchor, and a renamed heading would otherwise break them silently.

// mdLink is the target of an inline link or image, [text](target) — the target up to a space or
// the closing parenthesis.
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// slugDrop is what GitHub leaves out of a heading's id: everything but letters, marks, digits,
// connector punctuation (_), hyphens and spaces.
var slugDrop = regexp.MustCompile(`[^\p{L}\p{M}\p{N}\p{Pc}\- ]`)

// inlineLink is a link inside a heading: its text stays in the id, its target does not.
var inlineLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

// headingIDs returns the ids GitHub gives the headings of the Markdown file at path (a repeated
// heading gets -1, -2, … after the first).
func headingIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	ids, seen := map[string]bool{}, map[string]int{}
	forEachLine(t, path, func(line string) {
		text, ok := heading(line)
		if !ok {
			return
		}
		text = inlineLink.ReplaceAllString(strings.ReplaceAll(text, "`", ""), "$1")
		id := strings.ReplaceAll(slugDrop.ReplaceAllString(strings.ToLower(strings.TrimSpace(text)), ""), " ", "-")
		if n := seen[id]; n > 0 {
			seen[id] = n + 1
			id += "-" + strconv.Itoa(n)
		} else {
			seen[id] = 1
		}
		ids[id] = true
	})
	return ids
}

// heading returns an ATX heading's text ("## Text" → "Text").
func heading(line string) (string, bool) {
	level := len(line) - len(strings.TrimLeft(line, "#"))
	if level == 0 || level > 6 || len(line) == level || line[level] != ' ' {
		return "", false
	}
	return strings.TrimSpace(line[level:]), true
}

// forEachLine calls fn with each line of the Markdown file at path outside fenced code blocks.
func forEachLine(t *testing.T, path string, fn func(line string)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	fenced := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			fn(line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
}

func TestRelativeLinksLeadSomewhere(t *testing.T) {
	files := []string{"../README.md", "../CONTRIBUTING.md"}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]map[string]bool{}
	checked := 0
	for _, file := range files {
		forEachLine(t, file, func(line string) {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), path)
				}
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: the link %s leads to no file", file, target)
					continue
				}
				checked++
				if anchor == "" || !strings.HasSuffix(dest, ".md") {
					continue
				}
				if ids[dest] == nil {
					ids[dest] = headingIDs(t, dest)
				}
				if !ids[dest][anchor] {
					t.Errorf("%s: the link %s names no heading of %s", file, target, dest)
				}
			}
		})
	}
	if checked < 20 {
		t.Fatalf("checked only %d links; the README and docs hold over a hundred: the link pattern is broken", checked)
	}
}
