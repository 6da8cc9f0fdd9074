package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The user's configuration: named profiles, each a server URL and a machine key, written by
// `switchyard login` to <user config dir>/switchyard/config.json (mode 0600, its directory
// 0700). docs/cli.md describes the file and the order in which flags, SWITCHYARD_* variables
// and the file are consulted.

// configFileName is the file under the user's configuration directory.
const configFileName = "switchyard/config.json"

// defaultProfile is the profile used when none is named and the file names no current one.
const defaultProfile = "default"

// profile is one set of credentials. The secret key is stored as given: the file is readable
// only by its owner, as ~/.aws/credentials and gh's hosts.yml are.
type profile struct {
	Server         string `json:"server"`
	AccessKey      string `json:"access_key,omitempty"`
	SecretKey      string `json:"secret_key,omitempty"`
	OrgID          string `json:"org_id,omitempty"`
	Workspace      string `json:"workspace,omitempty"`
	PublishableKey string `json:"publishable_key,omitempty"`
}

// configFile is the whole file.
type configFile struct {
	// Current is the profile used when neither --profile nor SWITCHYARD_PROFILE names one.
	Current  string              `json:"current_profile,omitempty"`
	Profiles map[string]*profile `json:"profiles"`
}

// configPath is the configuration file: --config, else SWITCHYARD_CONFIG, else the one under
// the user's configuration directory.
func (e *env) configPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := e.getenv("SWITCHYARD_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := e.configDir()
	if err != nil {
		return "", fmt.Errorf("finding the user configuration directory (set --config or SWITCHYARD_CONFIG): %w", err)
	}
	return filepath.Join(dir, filepath.FromSlash(configFileName)), nil
}

// loadConfig reads the file; a missing file is an empty configuration. A file that others may
// read gets a warning on w, since it holds secret keys.
func loadConfig(path string, warn io.Writer) (*configFile, error) {
	cf := &configFile{Profiles: map[string]*profile{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 && warn != nil {
		fmt.Fprintf(warn, "switchyard: warning: %s is readable by others (mode %04o); it holds secret keys: chmod 600 it\n",
			path, st.Mode().Perm())
	}
	dec := json.NewDecoder(io.LimitReader(f, 1<<20))
	if err := dec.Decode(cf); err != nil {
		return nil, fmt.Errorf("reading the configuration %s: %w", path, err)
	}
	if cf.Profiles == nil {
		cf.Profiles = map[string]*profile{}
	}
	return cf, nil
}

// save writes the file atomically with mode 0600, creating its directory with mode 0700.
func (cf *configFile) save(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	data, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	// CreateTemp makes the file with mode 0600 before anything is written to it.
	tmp, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the configuration: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the configuration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	return nil
}

// names lists the profiles in order.
func (cf *configFile) names() []string {
	out := make([]string, 0, len(cf.Profiles))
	for n := range cf.Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// checkProfileName refuses names that would be awkward on a command line or in the file.
func checkProfileName(name string) error {
	if name == "" || len(name) > 64 || strings.TrimFunc(name, func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
	}) != "" {
		return usagef("profile name %q: use 1–64 letters, digits, '.', '-' or '_'", name)
	}
	return nil
}
