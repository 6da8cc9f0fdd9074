package docs

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/switchyardhq/switchyard/internal/testutil"
)

// The deployment files at the repository's root, which deploy.md describes, are tested here:
// compose.yaml must name only settings the binary has, and the Docker image must build and
// become ready. They live beside the docs rather than in cmd/switchyard, whose test binary would
// link the whole server only to read these files.

var envTag = regexp.MustCompile(`env:"([A-Z0-9_,]+)"`)

// knownEnv is every SWITCHYARD_* variable a command reads, from the struct tags of the CLI and
// of the configuration.
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	var files []string
	for _, dir := range []string{"cli", "config"} {
		fs, err := filepath.Glob("../internal/" + dir + "/*.go")
		if err != nil || len(fs) == 0 {
			t.Fatalf("%s sources: %v", dir, err)
		}
		files = append(files, fs...)
	}
	known := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range envTag.FindAllStringSubmatch(string(b), -1) {
			for _, name := range strings.Split(m[1], ",") {
				known[name] = true
			}
		}
	}
	return known
}

// perIntegration matches the SWITCHYARD_<TYPE>_<KEY> variables of OAuth apps, which have no tag.
var perIntegration = regexp.MustCompile(`^SWITCHYARD_(HUBSPOT|SALESFORCE|INTERCOM|ZOOM)_[A-Z_]+$`)

func TestComposeNamesOnlyKnownSettings(t *testing.T) {
	b, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	known := knownEnv(t)
	nodes := 0
	for name, svc := range compose.Services {
		if svc.Build == nil {
			continue // postgres
		}
		nodes++
		for k := range svc.Environment {
			if strings.HasPrefix(k, "SWITCHYARD_") && !known[k] && !perIntegration.MatchString(k) {
				t.Errorf("service %s sets %s, which no switchyard command reads", name, k)
			}
		}
		if svc.Environment["SWITCHYARD_ENCRYPTION_KEY"] == "" {
			t.Errorf("service %s has no encryption key: nodes must share one", name)
		}
	}
	if nodes < 2 {
		t.Errorf("compose.yaml runs %d switchyard nodes, want at least 2", nodes)
	}
	d, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(SWITCHYARD_[A-Z_]+)=`).FindAllStringSubmatch(string(d), -1) {
		if !known[m[1]] {
			t.Errorf("Dockerfile sets %s, which no switchyard command reads", m[1])
		}
	}

	// Where Docker Compose exists, it validates the file too.
	if exec.Command("docker", "compose", "version").Run() != nil {
		t.Log("docker compose is not installed: compose.yaml checked by this test only")
		return
	}
	cmd := exec.Command("docker", "compose", "-f", "../compose.yaml", "config", "--quiet")
	cmd.Env = append(os.Environ(), "SWITCHYARD_ENCRYPTION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
}

// TestDockerImage builds the image and checks that a container answers /readyz and that
// Docker's own health check (the image's HEALTHCHECK) reports it healthy. It runs only where a
// Docker daemon answers.
func TestDockerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Docker image")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not installed")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("no Docker daemon answers (%v): %.200s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tag := "switchyard-test:" + time.Now().Format("20060102150405")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("build", "-t", tag, "..")
	t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", tag).Run() })
	id := run("run", "-d", "-p", "127.0.0.1::8080", tag)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
	addr := run("port", id, "8080/tcp")
	addr = strings.Split(addr, "\n")[0]

	testutil.Eventually(t, 60*time.Second, "the container to answer /readyz", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	testutil.Eventually(t, 90*time.Second, "Docker to report the container healthy", func() bool {
		return run("inspect", "--format", "{{.State.Health.Status}}", id) == "healthy"
	})
}
