package cli

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyardhq/switchyard/client"
)

// LoginCmd saves a server URL and a machine key as a profile of the configuration file, after
// checking them against the server.
type LoginCmd struct {
	apiFlags       `embed:""`
	Workspace      string `name:"workspace" placeholder:"UUID" help:"Default workspace of the commands that need one (events send, connections create, rules create). Default: the only workspace, when the key sees exactly one."`
	PublishableKey string `name:"publishable-key" placeholder:"mesh_pub_…" help:"A workspace's publishable key, for 'events send --publishable-key' without the flag's value."`
	SecretKeyStdin bool   `name:"secret-key-stdin" help:"Read the secret key from the first line of standard input (keeps it out of shell history)."`
	NoVerify       bool   `name:"no-verify" help:"Save without asking the server whether the key works."`
	List           bool   `name:"list" help:"List the saved profiles (never their secret keys) instead of logging in."`
	outputFlags    `embed:""`
}

// Help is the detailed help of login.
func (c *LoginCmd) Help() string {
	return `Values come from the flags, else SWITCHYARD_SERVER, SWITCHYARD_ACCESS_KEY, SWITCHYARD_SECRET_KEY and
SWITCHYARD_ORG_ID, else the profile's saved values (so that one value can be changed alone). The file
is written with mode 0600; the profile becomes the current one.

Examples:
  # The credentials 'switchyard serve' printed on its first start:
  switchyard login --server http://127.0.0.1:8080 --access-key mk_… --org 0190… --secret-key-stdin <<< "$SECRET"

  # A second server, used with --profile staging (or SWITCHYARD_PROFILE=staging):
  SWITCHYARD_SECRET_KEY=… switchyard login --profile staging --server https://staging.example.com --access-key mk_… --org 0190…

  switchyard login --list`
}

// Run saves the profile, or lists the profiles.
func (c *LoginCmd) Run(e *env) error {
	path, err := e.configPath(c.Config)
	if err != nil {
		return err
	}
	cf, err := loadConfig(path, e.stderr)
	if err != nil {
		return err
	}
	if c.List {
		return c.list(e, cf)
	}
	name := e.lookup(c.Profile, []string{"SWITCHYARD_PROFILE"}, cf.Current)
	if name == "" {
		name = defaultProfile
	}
	if err := checkProfileName(name); err != nil {
		return err
	}
	old := cf.Profiles[name]
	if old == nil {
		old = &profile{}
	}
	if c.SecretKeyStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		line = strings.TrimSpace(line)
		if line == "" {
			return usagef("--secret-key-stdin: standard input has no secret key (%v)", err)
		}
		c.SecretKey = line
	}
	s := &settings{profileName: name}
	s.Server = strings.TrimRight(e.lookup(c.Server, []string{"SWITCHYARD_SERVER"}, old.Server), "/")
	s.AccessKey = e.lookup(c.AccessKey, []string{"SWITCHYARD_ACCESS_KEY", "MESHES_ACCESS_KEY"}, old.AccessKey)
	s.SecretKey = e.lookup(c.SecretKey, []string{"SWITCHYARD_SECRET_KEY", "MESHES_SECRET_KEY"}, old.SecretKey)
	s.OrgID = e.lookup(c.Org, []string{"SWITCHYARD_ORG_ID", "MESHES_ORG_ID"}, old.OrgID)
	s.Workspace = e.lookup(c.Workspace, nil, old.Workspace)
	s.PublishableKey = e.lookup(c.PublishableKey, nil, old.PublishableKey)
	if err := s.checkServer(); err != nil {
		return err
	}
	key, err := s.machineKey()
	if err != nil {
		return err
	}
	if s.Workspace != "" {
		if _, err := parseID("--workspace", s.Workspace); err != nil {
			return err
		}
	}
	note := ""
	if !c.NoVerify {
		cl, err := e.newClient(s.Server, client.WithMachineKey(key), client.WithRetries(c.Retries))
		if err != nil {
			return err
		}
		var page struct {
			Records []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"records"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := cl.Do(e.ctx, http.MethodGet, "/workspaces", url.Values{"limit": {"2"}}, nil, &page); err != nil {
			return fmt.Errorf("checking the key against %s: %w", s.Server, err)
		}
		switch {
		case s.Workspace == "" && len(page.Records) == 1:
			s.Workspace = page.Records[0].ID
			note = fmt.Sprintf(" Default workspace: %s (%s), the only one the key sees.", page.Records[0].Name, s.Workspace)
		case len(page.Records) == 0:
			note = " The key sees no workspace yet: create one with 'switchyard workspaces create NAME'."
		}
	}
	cf.Profiles[name] = &s.profile
	cf.Current = name
	if err := cf.save(path); err != nil {
		return err
	}
	if c.Output != "table" {
		return e.printer(c.outputFlags).json(profileWire(name, &s.profile, true, path))
	}
	if !c.NoVerify {
		fmt.Fprintf(e.stdout, "Logged in to %s with access key %s.\n", s.Server, s.AccessKey)
	}
	fmt.Fprintf(e.stdout, "Saved profile %q in %s.%s\n", name, path, note)
	return nil
}

// profileJSON is a profile as login prints it: never its secret key.
type profileJSON struct {
	Name           string `json:"name"`
	Current        bool   `json:"current"`
	Server         string `json:"server"`
	AccessKey      string `json:"access_key,omitempty"`
	OrgID          string `json:"org_id,omitempty"`
	Workspace      string `json:"workspace,omitempty"`
	PublishableKey string `json:"publishable_key,omitempty"`
	HasSecretKey   bool   `json:"has_secret_key"`
	File           string `json:"file,omitempty"`
}

func profileWire(name string, p *profile, current bool, file string) *profileJSON {
	return &profileJSON{Name: name, Current: current, Server: p.Server, AccessKey: p.AccessKey, OrgID: p.OrgID,
		Workspace: p.Workspace, PublishableKey: p.PublishableKey, HasSecretKey: p.SecretKey != "", File: file}
}

func (c *LoginCmd) list(e *env, cf *configFile) error {
	pr := e.printer(c.outputFlags)
	out := make([]*profileJSON, 0, len(cf.Profiles))
	for _, n := range cf.names() {
		out = append(out, profileWire(n, cf.Profiles[n], n == cf.Current, ""))
	}
	switch c.Output {
	case "json":
		return pr.json(out)
	case "jsonl":
		for _, p := range out {
			if err := pr.json(p); err != nil {
				return err
			}
		}
		return nil
	}
	t := newTable("CURRENT", "PROFILE", "SERVER", "ACCESS KEY", "ORGANIZATION", "WORKSPACE")
	for _, p := range out {
		cur := ""
		if p.Current {
			cur = "*"
		}
		t.add(cur, p.Name, p.Server, p.AccessKey, p.OrgID, p.Workspace)
	}
	return t.write(e.stdout, false)
}

// LogoutCmd removes a profile.
type LogoutCmd struct {
	Profile string `name:"profile" placeholder:"NAME" help:"Profile to remove (default: $SWITCHYARD_PROFILE, else the current one)."`
	Config  string `name:"config" placeholder:"FILE" help:"Configuration file (default: $SWITCHYARD_CONFIG, else <user config dir>/switchyard/config.json)."`
}

// Help is the detailed help of logout.
func (c *LogoutCmd) Help() string {
	return `The machine key itself stays valid: revoke it with 'switchyard keys revoke' or the API.

Examples:
  switchyard logout
  switchyard logout --profile staging`
}

// Run removes the profile from the file.
func (c *LogoutCmd) Run(e *env) error {
	path, err := e.configPath(c.Config)
	if err != nil {
		return err
	}
	cf, err := loadConfig(path, e.stderr)
	if err != nil {
		return err
	}
	name := e.lookup(c.Profile, []string{"SWITCHYARD_PROFILE"}, cf.Current)
	if name == "" {
		name = defaultProfile
	}
	if _, ok := cf.Profiles[name]; !ok {
		return usagef("no profile %q in %s", name, path)
	}
	delete(cf.Profiles, name)
	if cf.Current == name {
		cf.Current = ""
	}
	if err := cf.save(path); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Removed profile %q from %s.\n", name, path)
	return nil
}
