package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	if code := Main([]string{"version", "--json"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	var b Build
	if err := json.Unmarshal(out.Bytes(), &b); err != nil || b.Version == "" || !strings.HasPrefix(b.GoVersion, "go") {
		t.Fatalf("version --json: %s (%v)", out.String(), err)
	}
	out.Reset()
	if code := Main([]string{"version"}, &out, &errs); code != 0 || !strings.HasPrefix(out.String(), "switchyard "+b.Version) {
		t.Fatalf("version: exit %d, %q", code, out.String())
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	t.Cleanup(srv.Close)
	var out, errs bytes.Buffer
	if code := Main([]string{"healthcheck", "--url", srv.URL + "/readyz"}, &out, &errs); code != 0 {
		t.Fatalf("a ready server: exit %d: %s", code, errs.String())
	}
	srv.Close()
	if code := Main([]string{"healthcheck", "--url", srv.URL + "/readyz", "--timeout", "1s"}, &out, &errs); code == 0 {
		t.Fatal("a server that is gone passed the health check")
	}
}
