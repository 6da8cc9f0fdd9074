package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testServer is the real app on a temporary SQLite file, serving on 127.0.0.1.
type testServer struct {
	url   string
	creds *app.Credentials
	app   *app.App
}

// startServer runs Switchyard in-process until the test ends, bootstrapped.
func startServer(t *testing.T) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "switchyard.db")
	cfg.AllowPrivateDestinations = true
	cfg.EncryptionKey = base64.StdEncoding.EncodeToString(secret.GenerateKey())
	cfg.PollInterval = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var ls app.Listeners
	for _, l := range []*net.Listener{&ls.API, &ls.Metrics} {
		if *l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			cancel()
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		a.Close()
	})
	creds, err := a.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{url: "http://" + ls.API.Addr().String(), creds: creds, app: a}
}

// shell is a user's environment: variables, a configuration directory, standard input.
type shell struct {
	t         *testing.T
	vars      map[string]string
	configDir string
	stdin     string // "" with stdinTTY: a terminal
	tty       bool   // stdout and stderr are terminals
}

// newShell is an environment with no variables and an empty configuration directory.
func newShell(t *testing.T) *shell {
	t.Helper()
	return &shell{t: t, vars: map[string]string{}, configDir: filepath.Join(t.TempDir(), "config")}
}

// loggedIn is a shell whose SWITCHYARD_* variables reach s with its first machine key.
func (s *testServer) shell(t *testing.T) *shell {
	t.Helper()
	sh := newShell(t)
	sh.vars["SWITCHYARD_SERVER"] = s.url
	sh.vars["SWITCHYARD_ACCESS_KEY"] = s.creds.AccessKey
	sh.vars["SWITCHYARD_SECRET_KEY"] = s.creds.SecretKey
	sh.vars["SWITCHYARD_ORG_ID"] = s.creds.OrganizationID.String()
	sh.vars["SWITCHYARD_WORKSPACE"] = s.creds.WorkspaceID.String()
	return sh
}

func (sh *shell) host(ctx context.Context) host {
	return host{base: ctx, stdin: strings.NewReader(sh.stdin), stdinTTY: sh.stdin == "",
		getenv:    func(k string) string { return sh.vars[k] },
		stdoutTTY: sh.tty, stderrTTY: sh.tty,
		configDir: func() (string, error) { return sh.configDir, nil }}
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the command line and returns its exit code and output.
func (sh *shell) run(args ...string) result {
	sh.t.Helper()
	var out, errs bytes.Buffer
	code := run(args, &out, &errs, sh.host(context.Background()))
	return result{code: code, stdout: out.String(), stderr: errs.String()}
}

// ok runs a command that must succeed and returns its stdout.
func (sh *shell) ok(args ...string) string {
	sh.t.Helper()
	r := sh.run(args...)
	if r.code != 0 {
		sh.t.Fatalf("switchyard %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// start runs a command that follows a stream in the background; stop cancels it and returns
// its exit code.
func (sh *shell) start(args ...string) (stdout, stderr *testutil.SyncBuffer, stop func() int) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(args, stdout, stderr, sh.host(ctx)) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	sh.t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

// normalizer replaces what differs between runs — ids, times, keys, addresses, durations — with
// stable placeholders. The same id gets the same placeholder throughout one output, so the
// golden files still show which record refers to which.
type normalizer struct {
	ids map[string]string
	// pad keeps the placeholders as wide as what they replace (tables, whose alignment
	// depends on it); JSON goldens read better without.
	pad bool
}

var (
	uuidRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE    = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
	keyRE     = regexp.MustCompile(`\b(mk|mesh_pub)_[A-Za-z0-9_-]+`)
	addrRE    = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	cursorRE  = regexp.MustCompile(`"next_cursor": "[^"]+"`)
	requestRE = regexp.MustCompile(`request id [A-Za-z0-9-]+`)
	pathRE    = regexp.MustCompile(`/tmp/[^\s"]+`)
)

func (n *normalizer) normalize(s string) string {
	if n.ids == nil {
		n.ids = map[string]string{}
	}
	s = uuidRE.ReplaceAllStringFunc(s, func(id string) string {
		if p, ok := n.ids[id]; ok {
			return p
		}
		p := fmt.Sprintf("<ID-%d>", len(n.ids)+1)
		// Keep the width of a UUID so that table columns stay as aligned as they were.
		if n.pad {
			p += strings.Repeat(".", max(0, 36-len(p)))
		}
		n.ids[id] = p
		return p
	})
	if n.pad {
		s = timeRE.ReplaceAllString(s, "<TIME>..............")
	} else {
		s = timeRE.ReplaceAllString(s, "<TIME>")
	}
	s = keyRE.ReplaceAllStringFunc(s, func(k string) string {
		if strings.HasPrefix(k, "mk_") {
			return "<ACCESS_KEY>"
		}
		return "<PUBLISHABLE_KEY>"
	})
	s = addrRE.ReplaceAllString(s, "<ADDR>")
	s = cursorRE.ReplaceAllString(s, `"next_cursor": "<CURSOR>"`)
	s = requestRE.ReplaceAllString(s, "request id <REQUEST_ID>")
	s = pathRE.ReplaceAllString(s, "<TMP>")
	return s
}

// golden compares got (normalised) with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, n *normalizer, name, got string) {
	t.Helper()
	n.pad = !strings.Contains(name, "json")
	got = n.normalize(got)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// hook is a webhook receiver on 127.0.0.1 whose status the test sets.
type hook struct {
	srv      *httptest.Server
	status   atomic.Int32
	requests atomic.Int32
}

func newHook(t *testing.T, status int) *hook {
	t.Helper()
	h := &hook{}
	h.status.Store(int32(status))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.requests.Add(1)
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(h.srv.Close)
	return h
}
