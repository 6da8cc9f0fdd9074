package cli

import (
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
)

// apiFlags are how a command reaches a server: a profile of the configuration file, and flags
// overriding it. They carry no kong env tags on purpose: each value is looked up as flag, then
// SWITCHYARD_* variable (read through host.getenv, so that tests inject it), then the profile,
// which kong's env tags (applied before the profile is read) could not express.
type apiFlags struct {
	Profile   string `name:"profile" placeholder:"NAME" group:"Server and credentials" help:"Profile of the configuration file (default: $SWITCHYARD_PROFILE, else the one 'switchyard login' used last, else \"default\")."`
	Config    string `name:"config" placeholder:"FILE" group:"Server and credentials" help:"Configuration file (default: $SWITCHYARD_CONFIG, else <user config dir>/switchyard/config.json)."`
	Server    string `name:"server" placeholder:"URL" group:"Server and credentials" help:"Server URL, e.g. http://127.0.0.1:8080 ($SWITCHYARD_SERVER)."`
	AccessKey string `name:"access-key" placeholder:"mk_…" group:"Server and credentials" help:"Machine access key ($SWITCHYARD_ACCESS_KEY)."`
	SecretKey string `name:"secret-key" placeholder:"SECRET" group:"Server and credentials" help:"Machine secret key ($SWITCHYARD_SECRET_KEY). Prefer the variable or 'switchyard login': flags end up in shell history."`
	Org       string `name:"org" placeholder:"UUID" group:"Server and credentials" help:"Organization id ($SWITCHYARD_ORG_ID)."`
	Retries   int    `name:"retries" default:"3" group:"Server and credentials" help:"Retries of a request that met a network error, a 429 or a 5xx (honouring Retry-After; a POST only when the server cannot have acted on it)."`
}

// settings are the resolved values and where each came from.
type settings struct {
	profileName string
	profile
}

// lookup returns the first non-empty of a flag, environment variables and a profile value.
func (e *env) lookup(flag string, vars []string, fromFile string) string {
	if flag != "" {
		return flag
	}
	for _, v := range vars {
		if s := e.getenv(v); s != "" {
			return s
		}
	}
	return fromFile
}

// resolve merges flags, environment and the profile. A profile named explicitly (flag or
// variable) must exist; the implicit one may be missing (then flags and variables must say
// everything).
func (f *apiFlags) resolve(e *env) (*settings, error) {
	path, err := e.configPath(f.Config)
	if err != nil {
		return nil, err
	}
	cf, err := loadConfig(path, e.stderr)
	if err != nil {
		return nil, err
	}
	name := e.lookup(f.Profile, []string{"SWITCHYARD_PROFILE"}, cf.Current)
	explicit := f.Profile != "" || e.getenv("SWITCHYARD_PROFILE") != ""
	if name == "" {
		name = defaultProfile
	}
	p, ok := cf.Profiles[name]
	if !ok {
		if explicit && name != defaultProfile {
			return nil, usagef("no profile %q in %s (run 'switchyard login --profile %s')", name, path, name)
		}
		p = &profile{}
	}
	s := &settings{profileName: name}
	s.Server = strings.TrimRight(e.lookup(f.Server, []string{"SWITCHYARD_SERVER"}, p.Server), "/")
	s.AccessKey = e.lookup(f.AccessKey, []string{"SWITCHYARD_ACCESS_KEY", "MESHES_ACCESS_KEY"}, p.AccessKey)
	s.SecretKey = e.lookup(f.SecretKey, []string{"SWITCHYARD_SECRET_KEY", "MESHES_SECRET_KEY"}, p.SecretKey)
	s.OrgID = e.lookup(f.Org, []string{"SWITCHYARD_ORG_ID", "MESHES_ORG_ID"}, p.OrgID)
	s.Workspace = e.lookup("", []string{"SWITCHYARD_WORKSPACE"}, p.Workspace)
	s.PublishableKey = e.lookup("", []string{"SWITCHYARD_PUBLISHABLE_KEY"}, p.PublishableKey)
	return s, nil
}

// checkServer validates the server URL.
func (s *settings) checkServer() error {
	if s.Server == "" {
		return usagef("no server: run 'switchyard login', or set --server or SWITCHYARD_SERVER")
	}
	u, err := url.Parse(s.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("server %q is not an http:// or https:// URL", s.Server)
	}
	return nil
}

// machineKey returns the machine key, or a usage error naming what is missing.
func (s *settings) machineKey() (client.MachineKey, error) {
	var missing []string
	if s.AccessKey == "" {
		missing = append(missing, "access key (--access-key, SWITCHYARD_ACCESS_KEY)")
	}
	if s.SecretKey == "" {
		missing = append(missing, "secret key (--secret-key, SWITCHYARD_SECRET_KEY)")
	}
	if s.OrgID == "" {
		missing = append(missing, "organization id (--org, SWITCHYARD_ORG_ID)")
	}
	if len(missing) > 0 {
		return client.MachineKey{}, usagef("no machine key: run 'switchyard login', or give the %s", strings.Join(missing, ", "))
	}
	org, err := uuid.Parse(s.OrgID)
	if err != nil {
		return client.MachineKey{}, usagef("organization id %q is not a UUID", s.OrgID)
	}
	return client.MachineKey{AccessKey: s.AccessKey, SecretKey: s.SecretKey, OrgID: org}, nil
}

// hasMachineKey reports whether any part of a machine key is configured.
func (s *settings) hasMachineKey() bool {
	return s.AccessKey != "" || s.SecretKey != "" || s.OrgID != ""
}

// client builds an API client with the machine key.
func (f *apiFlags) client(e *env) (*client.Client, *settings, error) {
	s, err := f.resolve(e)
	if err != nil {
		return nil, nil, err
	}
	if err := s.checkServer(); err != nil {
		return nil, nil, err
	}
	key, err := s.machineKey()
	if err != nil {
		return nil, nil, err
	}
	c, err := e.newClient(s.Server, client.WithMachineKey(key), client.WithRetries(f.Retries))
	return c, s, err
}

// newClient builds a client with the command line's user agent.
func (e *env) newClient(server string, opts ...client.Option) (*client.Client, error) {
	opts = append([]client.Option{client.WithUserAgent("switchyard-cli/" + ReadBuild().Version)}, opts...)
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, usagef("server %q: %v", server, err)
	}
	return c, nil
}

// parseID parses a UUID argument or flag, as a usage error when it is not one.
func parseID(what, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return uuid.Nil, usagef("%s %q is not a UUID", what, s)
	}
	return id, nil
}

// clientFor is the start of a command about one resource: the id it was given, parsed (what
// names it in the error), then a client. A malformed id is refused before any profile or server
// is consulted.
func (f *apiFlags) clientFor(e *env, what, raw string) (*client.Client, uuid.UUID, error) {
	id, err := parseID(what, raw)
	if err != nil {
		return nil, uuid.Nil, err
	}
	cl, _, err := f.client(e)
	if err != nil {
		return nil, uuid.Nil, err
	}
	return cl, id, nil
}

// workspaceID is the workspace of a command that needs one: the flag, else SWITCHYARD_WORKSPACE,
// else the profile's.
func (s *settings) workspaceID(flag string) (uuid.UUID, error) {
	v := flag
	if v == "" {
		v = s.Workspace
	}
	if v == "" {
		return uuid.Nil, usagef("no workspace: give --workspace, set SWITCHYARD_WORKSPACE, or log in with --workspace")
	}
	return parseID("workspace", v)
}
