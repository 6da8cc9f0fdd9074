package app_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/cli"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// keyJSON is a machine key as the API shows it.
type keyJSON struct {
	ID          uuid.UUID   `json:"id"`
	Name        string      `json:"name"`
	AccessKey   string      `json:"access_key"`
	SecretKey   string      `json:"secret_key"`
	Workspaces  []uuid.UUID `json:"workspaces"`
	Permissions []string    `json:"permissions"`
	CreatedAt   time.Time   `json:"created_at"`
	RevokedAt   *time.Time  `json:"revoked_at"`
}

// createKey creates a machine key of s's organization through the API, with s's key, and
// returns a handle that calls the server as the new key.
func (s *server) createKey(t *testing.T, name string, workspaces []uuid.UUID, permissions ...string) (*server, keyJSON) {
	t.Helper()
	body := map[string]any{"name": name}
	if workspaces != nil {
		body["workspaces"] = workspaces
	}
	if permissions != nil {
		body["permissions"] = permissions
	}
	var out struct {
		MachineKey keyJSON `json:"machine_key"`
	}
	if code := s.call(t, "POST", "/api/v1/machine-keys", body, nil, &out); code != 201 {
		t.Fatalf("create key %q: %d", name, code)
	}
	return s.as(out.MachineKey.AccessKey, out.MachineKey.SecretKey), out.MachineKey
}

// as returns a handle calling s's server as another machine key of the same organization.
func (s *server) as(accessKey, secretKey string) *server {
	creds := *s.creds
	creds.AccessKey, creds.SecretKey = accessKey, secretKey
	return &server{url: s.url, creds: &creds, app: s.app}
}

var (
	accessKeyPattern = regexp.MustCompile(`^mk_[A-Za-z0-9_-]{22,}$`)
	secretKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43,}$`)
)

func TestMachineKeysAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID
		other := s.createWorkspace(t, "Other")

		var created keyJSON
		t.Run("POST creates a limited key and shows its secret once", func(t *testing.T) {
			var out struct {
				MachineKey keyJSON `json:"machine_key"`
			}
			code := s.call(t, "POST", "/api/v1/machine-keys", map[string]any{"name": "ci", "workspaces": []uuid.UUID{ws, ws},
				"permissions": []string{"events:emit", "read", "read"}}, nil, &out)
			created = out.MachineKey
			if code != 201 || created.Name != "ci" || !accessKeyPattern.MatchString(created.AccessKey) ||
				!secretKeyPattern.MatchString(created.SecretKey) || !slices.Equal(created.Workspaces, []uuid.UUID{ws}) ||
				!slices.Equal(created.Permissions, []string{"read", "events:emit"}) || created.RevokedAt != nil || created.CreatedAt.IsZero() {
				t.Fatalf("created %d %+v", code, created)
			}
		})
		t.Run("GET lists every key of the organization and never a secret", func(t *testing.T) {
			code, raw := s.callRaw(t, "GET", "/api/v1/machine-keys", "")
			var keys page[keyJSON]
			if err := json.Unmarshal([]byte(raw), &keys); code != 200 || err != nil || keys.Count != 2 {
				t.Fatalf("list %d %s", code, raw)
			}
			if strings.Contains(raw, created.SecretKey) || strings.Contains(raw, s.creds.SecretKey) || strings.Contains(raw, "secret") {
				t.Fatalf("the list shows a secret: %s", raw)
			}
			if keys.Records[0].ID != created.ID || keys.Records[1].AccessKey != s.creds.AccessKey ||
				len(keys.Records[1].Workspaces) != 0 || len(keys.Records[1].Permissions) != 0 {
				t.Fatalf("list %+v, want the new key then the unlimited owner", keys.Records)
			}
		})
		t.Run("the new key works within its limits", func(t *testing.T) {
			k := s.as(created.AccessKey, created.SecretKey)
			var wss page[idOf]
			if code := k.call(t, "GET", "/api/v1/workspaces", nil, nil, &wss); code != 200 || wss.Count != 1 || wss.Records[0].ID != ws {
				t.Fatalf("workspaces seen by the limited key: %d %+v", code, wss)
			}
			k.emit(t, ws, "key.used", nil)
			var e apiError
			if code := k.call(t, "GET", "/api/v1/workspaces/"+other.String(), nil, nil, &e); code != 403 || !strings.Contains(e.Error.Message, "limited") {
				t.Fatalf("another workspace: %d %+v", code, e)
			}
			if code := k.call(t, "POST", "/api/v1/workspaces", map[string]any{"name": "Mine"}, nil, &e); code != 403 {
				t.Fatalf("creating a workspace without write: %d %+v", code, e)
			}
		})
		t.Run("only a key without limits manages keys", func(t *testing.T) {
			k := s.as(created.AccessKey, created.SecretKey)
			if code := k.call(t, "GET", "/api/v1/machine-keys", nil, nil, nil); code != 403 {
				t.Fatalf("listing with a limited key: %d", code)
			}
			writer, _ := s.createKey(t, "writer", []uuid.UUID{ws})
			var e apiError
			if code := writer.call(t, "POST", "/api/v1/machine-keys", map[string]any{"name": "escalated"}, nil, &e); code != 403 ||
				!strings.Contains(e.Error.Message, "without workspace or permission limits") {
				t.Fatalf("a workspace-limited key minting a key: %d %+v", code, e)
			}
			if code := writer.call(t, "DELETE", "/api/v1/machine-keys/"+created.ID.String(), nil, nil, nil); code != 403 {
				t.Fatalf("a workspace-limited key revoking a key: %d", code)
			}
		})
		t.Run("listing every permission is no limit at all", func(t *testing.T) {
			full, k := s.createKey(t, "full", nil, "read", "write", "events:emit")
			if len(k.Permissions) != 0 || len(k.Workspaces) != 0 {
				t.Fatalf("key %+v, want no limits", k)
			}
			if code := full.call(t, "GET", "/api/v1/machine-keys", nil, nil, nil); code != 200 {
				t.Fatalf("an unlimited key listing keys: %d", code)
			}
		})
		t.Run("POST names each invalid field", func(t *testing.T) {
			b := s.otherTenant(t)
			for _, c := range []struct {
				body  map[string]any
				param string
			}{
				{map[string]any{}, "name"},
				{map[string]any{"name": ""}, "name"},
				{map[string]any{"name": strings.Repeat("n", 101)}, "name"},
				{map[string]any{"name": "x", "permissions": []string{"read", "admin"}}, "permissions[1]"},
				{map[string]any{"name": "x", "workspaces": []string{"nope"}}, "workspaces[0]"},
				{map[string]any{"name": "x", "workspaces": []uuid.UUID{uuid.New()}}, "workspaces[0]"},
				{map[string]any{"name": "x", "workspaces": []uuid.UUID{ws, b.creds.WorkspaceID}}, "workspaces[1]"},
				{map[string]any{"name": "x", "workspaces": "all"}, "workspaces"},
			} {
				var e apiError
				if code := s.call(t, "POST", "/api/v1/machine-keys", c.body, nil, &e); code != 400 || len(e.params()) == 0 || e.params()[0] != c.param {
					t.Errorf("%v: %d %+v, want 400 naming %s", c.body, code, e, c.param)
				}
			}
		})
		t.Run("DELETE revokes a key, which stops working at once", func(t *testing.T) {
			victim, k := s.createKey(t, "victim", nil)
			if code := victim.call(t, "GET", "/api/v1/workspaces", nil, nil, nil); code != 200 {
				t.Fatalf("before the revocation: %d", code) // and now the key is in the credential cache
			}
			var revoked keyJSON
			if code := s.call(t, "DELETE", "/api/v1/machine-keys/"+k.ID.String(), nil, nil, &revoked); code != 200 ||
				revoked.ID != k.ID || revoked.RevokedAt == nil || revoked.SecretKey != "" {
				t.Fatalf("revoked %d %+v", code, revoked)
			}
			var e apiError
			if code := victim.call(t, "GET", "/api/v1/workspaces", nil, nil, &e); code != 401 {
				t.Fatalf("the revoked key right after its revocation: %d %+v, want 401", code, e)
			}
			var again keyJSON
			if code := s.call(t, "DELETE", "/api/v1/machine-keys/"+k.ID.String(), nil, nil, &again); code != 200 ||
				again.RevokedAt == nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
				t.Fatalf("revoking again: %d %+v, want the first revocation", code, again)
			}
			if code := s.call(t, "DELETE", "/api/v1/machine-keys/"+uuid.NewString(), nil, nil, &e); code != 404 {
				t.Fatalf("an unknown key: %d", code)
			}
			if code := s.call(t, "DELETE", "/api/v1/machine-keys/"+k.AccessKey, nil, nil, &e); code != 400 || e.params()[0] != "key_id" {
				t.Fatalf("an access key in place of the id: %d %+v", code, e)
			}
		})
	})
}

func TestRevocationReachesOtherNodesWithinTheCacheWindow(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out the 5-second key cache window")
	}
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		var dbURL, encKey string
		first := startApp(t, d, func(c *config.Config) { dbURL, encKey = c.DatabaseURL, c.EncryptionKey })
		second := startNode(t, dbURL, encKey, first.creds)
		victim, k := first.createKey(t, "victim", nil)
		onSecond := second.as(k.AccessKey, k.SecretKey)
		if code := onSecond.call(t, "GET", "/api/v1/workspaces", nil, nil, nil); code != 200 {
			t.Fatalf("the second node before the revocation: %d", code)
		}
		if code := first.call(t, "DELETE", "/api/v1/machine-keys/"+k.ID.String(), nil, nil, nil); code != 200 {
			t.Fatalf("revoking: %d", code)
		}
		revoked := time.Now()
		if code := victim.call(t, "GET", "/api/v1/workspaces", nil, nil, nil); code != 401 {
			t.Fatalf("the revoking node still accepts the key: %d", code)
		}
		eventually(t, "the second node to refuse the revoked key", func() bool {
			return onSecond.call(t, "GET", "/api/v1/workspaces", nil, nil, nil) == 401
		})
		if took := time.Since(revoked); took > 7*time.Second {
			t.Fatalf("the second node accepted the revoked key for %s, beyond the 5-second cache window", took)
		}
	})
}

// startNode runs another node on an initialized store and returns a handle calling it with creds.
func startNode(t *testing.T, dbURL, encKey string, creds *app.Credentials) *server {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL, cfg.EncryptionKey, cfg.AllowPrivateDestinations = dbURL, encKey, true
	a, url, _ := runApp(t, cfg)
	return &server{url: url, creds: creds, app: a}
}

func TestPublishableKeyRotation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID
		old := s.creds.PublishableKey
		emitWith := func(key string) int {
			return s.call(t, "POST", "/api/v1/events", map[string]any{"event": "rotation.check", "payload": map[string]any{"x": 1}},
				map[string]string{"X-Meshes-Publishable-Key": key}, nil)
		}
		if code := emitWith(old); code != 201 {
			t.Fatalf("the key before rotation: %d", code) // and now it is in the credential cache
		}

		var rotated struct {
			ID             uuid.UUID `json:"id"`
			Name           string    `json:"name"`
			PublishableKey struct {
				PublicKey string `json:"public_key"`
				Name      string `json:"name"`
			} `json:"publishable_key"`
		}
		t.Run("POST rotate answers the workspace with its new key", func(t *testing.T) {
			code := s.call(t, "POST", "/api/v1/workspaces/"+ws.String()+"/publishable-key/rotate", nil, nil, &rotated)
			if code != 200 || rotated.ID != ws || rotated.Name != "Default" || rotated.PublishableKey.PublicKey == old ||
				!strings.HasPrefix(rotated.PublishableKey.PublicKey, "mesh_pub_") || rotated.PublishableKey.Name != "Default" {
				t.Fatalf("rotated %d %+v", code, rotated)
			}
			var got struct {
				PublishableKey struct {
					PublicKey string `json:"public_key"`
				} `json:"publishable_key"`
			}
			s.call(t, "GET", "/api/v1/workspaces/"+ws.String(), nil, nil, &got)
			if got.PublishableKey.PublicKey != rotated.PublishableKey.PublicKey {
				t.Fatalf("GET shows %q, want the new key", got.PublishableKey.PublicKey)
			}
		})
		t.Run("the old key stops working at once and the new one works", func(t *testing.T) {
			if code := emitWith(old); code != 401 {
				t.Fatalf("the old key after rotation: %d, want 401", code)
			}
			if code := emitWith(rotated.PublishableKey.PublicKey); code != 201 {
				t.Fatalf("the new key: %d", code)
			}
		})
		t.Run("rotation needs write on the workspace", func(t *testing.T) {
			reader, _ := s.createKey(t, "reader", nil, "read")
			if code := reader.call(t, "POST", "/api/v1/workspaces/"+ws.String()+"/publishable-key/rotate", nil, nil, nil); code != 403 {
				t.Fatalf("a read-only key: %d", code)
			}
			elsewhere, _ := s.createKey(t, "elsewhere", []uuid.UUID{s.createWorkspace(t, "Elsewhere")})
			if code := elsewhere.call(t, "POST", "/api/v1/workspaces/"+ws.String()+"/publishable-key/rotate", nil, nil, nil); code != 403 {
				t.Fatalf("a key limited to another workspace: %d", code)
			}
			if code := s.otherTenant(t).call(t, "POST", "/api/v1/workspaces/"+ws.String()+"/publishable-key/rotate", nil, nil, nil); code != 404 {
				t.Fatalf("another organization: %d", code)
			}
		})
	})
}

// runCLI runs the switchyard command line in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// cliKey is a machine key as `switchyard keys … --json` prints it.
type cliKey struct {
	keyJSON
	OrganizationID uuid.UUID `json:"organization_id"`
}

func TestKeysCommands(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		var dbURL, encKey string
		s := startApp(t, d, func(c *config.Config) { dbURL, encKey = c.DatabaseURL, c.EncryptionKey })
		store := []string{"--database-url", dbURL, "--encryption-key", encKey}
		keys := func(t *testing.T, args ...string) (int, string, string) {
			t.Helper()
			return runCLI(t, append(append([]string{"keys"}, args...), store...)...)
		}
		other := s.createWorkspace(t, "Other")

		var created cliKey
		t.Run("keys create makes a limited key that the running server accepts", func(t *testing.T) {
			code, out, errOut := keys(t, "create", "--name", "deploy", "--workspace", s.creds.WorkspaceID.String(),
				"--permission", "read", "--permission", "events:emit", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if err := json.Unmarshal([]byte(out), &created); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			if created.OrganizationID != s.creds.OrganizationID || created.Name != "deploy" || !secretKeyPattern.MatchString(created.SecretKey) ||
				!slices.Equal(created.Workspaces, []uuid.UUID{s.creds.WorkspaceID}) || !slices.Equal(created.Permissions, []string{"read", "events:emit"}) {
				t.Fatalf("created %+v", created)
			}
			k := s.as(created.AccessKey, created.SecretKey)
			var wss page[idOf]
			if code := k.call(t, "GET", "/api/v1/workspaces", nil, nil, &wss); code != 200 || wss.Count != 1 {
				t.Fatalf("the CLI's key on the server: %d %+v", code, wss)
			}
			if code := k.call(t, "GET", "/api/v1/workspaces/"+other.String(), nil, nil, nil); code != 403 {
				t.Fatalf("outside its workspace: %d", code)
			}
			if code := k.call(t, "PUT", "/api/v1/workspaces/"+s.creds.WorkspaceID.String(), map[string]any{"name": "Renamed"}, nil, nil); code != 403 {
				t.Fatalf("without write: %d", code)
			}
		})
		t.Run("keys create prints the secret once in text too", func(t *testing.T) {
			code, out, errOut := keys(t, "create")
			if code != 0 || !strings.Contains(out, "secret key") || !strings.Contains(out, `"cli"`) || !strings.Contains(out, "workspaces        all") {
				t.Fatalf("exit %d: %s %s", code, out, errOut)
			}
		})
		t.Run("keys create refuses bad limits and touches nothing with --help", func(t *testing.T) {
			if code, _, errOut := keys(t, "create", "--permission", "admin"); code != 1 || !strings.Contains(errOut, "read, write, events:emit") {
				t.Fatalf("a bad permission: exit %d %s", code, errOut)
			}
			if code, _, errOut := keys(t, "create", "--workspace", uuid.NewString()); code != 1 || !strings.Contains(errOut, "not a workspace") {
				t.Fatalf("an unknown workspace: exit %d %s", code, errOut)
			}
			if code, _, errOut := keys(t, "create", "--workspace", "nope"); code != 1 || !strings.Contains(errOut, "not a UUID") {
				t.Fatalf("a malformed workspace: exit %d %s", code, errOut)
			}
			if code, out, _ := keys(t, "create", "--help"); code != 0 || !strings.Contains(out, "--permission") {
				t.Fatalf("--help: exit %d %s", code, out)
			}
			wrongKey := append([]string{"keys", "create"}, store...)
			wrongKey[len(wrongKey)-1] = strings.Repeat("ab", 32) // another 32-byte key, in hex
			if code, _, errOut := runCLI(t, wrongKey...); code != 1 || !strings.Contains(errOut, "does not open this store's secrets") {
				t.Fatalf("another encryption key: exit %d %s", code, errOut)
			}
		})
		t.Run("keys list shows every key without secrets", func(t *testing.T) {
			code, out, errOut := keys(t, "list", "--json")
			var list []cliKey
			if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
				t.Fatalf("exit %d %q %s", code, out, errOut)
			}
			if len(list) != 3 || list[1].AccessKey != created.AccessKey || list[2].AccessKey != s.creds.AccessKey || strings.Contains(out, "secret") {
				t.Fatalf("listed %s, want the two CLI keys and the owner, no secrets", out)
			}
			code, out, _ = keys(t, "list")
			if code != 0 || !strings.HasPrefix(out, "ACCESS KEY") || !strings.Contains(out, created.AccessKey) || strings.Contains(out, created.SecretKey) {
				t.Fatalf("text list: exit %d %s", code, out)
			}
		})
		t.Run("keys act on the organization --org names", func(t *testing.T) {
			b := s.otherTenant(t)
			code, out, errOut := keys(t, "list", "--json", "--org", b.creds.OrganizationID.String())
			var list []cliKey
			if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0].AccessKey != b.creds.AccessKey {
				t.Fatalf("exit %d %s %s", code, out, errOut)
			}
			if code, _, errOut := keys(t, "revoke", created.AccessKey, "--org", b.creds.OrganizationID.String()); code != 1 || !strings.Contains(errOut, "has no machine key") {
				t.Fatalf("revoking another organization's key: exit %d %s", code, errOut)
			}
			if code, _, errOut := keys(t, "list", "--org", uuid.NewString()); code != 1 || !strings.Contains(errOut, "does not exist") {
				t.Fatalf("an unknown organization: exit %d %s", code, errOut)
			}
		})
		t.Run("keys revoke stops the key on the running server within the cache window", func(t *testing.T) {
			if testing.Short() {
				t.Skip("waits out the 5-second key cache window")
			}
			k := s.as(created.AccessKey, created.SecretKey)
			code, out, errOut := keys(t, "revoke", created.AccessKey)
			if code != 0 || !strings.Contains(out, "Revoked machine key "+created.AccessKey) {
				t.Fatalf("exit %d %s %s", code, out, errOut)
			}
			eventually(t, "the server to refuse the revoked key", func() bool {
				return k.call(t, "GET", "/api/v1/workspaces", nil, nil, nil) == 401
			})
			if code, out, _ := keys(t, "revoke", created.ID.String()); code != 0 || !strings.Contains(out, "already revoked") {
				t.Fatalf("revoking by id again: exit %d %s", code, out)
			}
			if code, _, errOut := keys(t, "revoke", "mk_unknownunknownunknown00"); code != 1 || !strings.Contains(errOut, "has no machine key") {
				t.Fatalf("an unknown key: exit %d %s", code, errOut)
			}
		})
	})
}

func TestKeysCommandsNeedAnInitializedStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, _, errOut := runCLI(t, "keys", "list", "--database-url", "sqlite://"+dir+"/empty.db")
	if code != 1 || !strings.Contains(errOut, "switchyard init") {
		t.Fatalf("exit %d %s", code, errOut)
	}
}
