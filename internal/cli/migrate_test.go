package cli

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMigrateShowsEachStep checks that `switchyard migrate` reports every migration it applies
// as it goes (progress on a large store), and nothing when the store is current.
func TestMigrateShowsEachStep(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(os.DirFS("../store/sqlstore/migrations/sqlite"), "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	url := "sqlite://" + filepath.Join(t.TempDir(), "m.db")
	var out, errs bytes.Buffer
	if code := Main([]string{"migrate", "--database-url", url}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	step := regexp.MustCompile(`(?m)^applied (\d{5}_\w+\.sql) \(\d+(\.\d+)?[mµn]?s\)$`)
	got := step.FindAllStringSubmatch(errs.String(), -1)
	if len(got) != len(files) {
		t.Fatalf("%d progress lines for %d migrations:\n%s", len(got), len(files), errs.String())
	}
	for i, m := range got {
		if m[1] != files[i] {
			t.Errorf("step %d is %s, want %s (in order)", i, m[1], files[i])
		}
	}
	if !strings.Contains(out.String(), "Applied ") {
		t.Errorf("stdout %q has no summary", out.String())
	}

	out.Reset()
	errs.Reset()
	if code := Main([]string{"migrate", "--database-url", url}, &out, &errs); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errs.String())
	}
	if errs.Len() != 0 || !strings.Contains(out.String(), "Applied 0 migration(s)") {
		t.Errorf("second run: stdout %q, stderr %q; want nothing applied", out.String(), errs.String())
	}
}
