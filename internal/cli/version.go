package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/switchyardhq/switchyard/internal/app"
)

// VersionCmd prints the build: the version (set at link time, else the module's), the VCS
// commit and its date, and the Go version, from the binary's build information.
type VersionCmd struct {
	JSON bool `name:"json" help:"Print the build as one JSON object."`
}

// Build is what `switchyard version` reports.
type Build struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// ReadBuild reads the running binary's build information.
func ReadBuild() Build {
	b := Build{Version: app.Version}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = info.GoVersion
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.Date = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// Run prints the build.
func (c *VersionCmd) Run(e *env) error {
	b := ReadBuild()
	if c.JSON {
		return json.NewEncoder(e.stdout).Encode(b)
	}
	fmt.Fprintf(e.stdout, "switchyard %s", b.Version)
	if b.Commit != "" {
		commit := b.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		fmt.Fprintf(e.stdout, " (commit %s", commit)
		if b.Modified {
			fmt.Fprint(e.stdout, ", modified")
		}
		if b.Date != "" {
			fmt.Fprintf(e.stdout, ", %s", b.Date)
		}
		fmt.Fprint(e.stdout, ")")
	}
	fmt.Fprintf(e.stdout, " %s\n", b.GoVersion)
	return nil
}

// HealthcheckCmd asks a server's readiness endpoint: the container image's HEALTHCHECK (the
// image has no shell or curl).
type HealthcheckCmd struct {
	URL     string        `name:"url" default:"http://127.0.0.1:8080/readyz" help:"Readiness URL to ask."`
	Timeout time.Duration `name:"timeout" default:"3s" help:"How long to wait for the answer."`
}

// Run exits 0 when the server answers 200.
func (c *HealthcheckCmd) Run(e *env) error {
	ctx, cancel := context.WithTimeout(e.ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not healthy: %s answered %d", c.URL, resp.StatusCode)
	}
	return nil
}
