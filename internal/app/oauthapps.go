package app

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/destination"
)

// oauthApps builds the provider apps of every OAuth integration in reg from the configuration:
// the environment twins SWITCHYARD_<TYPE>_<KEY>, then the --oauth-app TYPE.KEY=VALUE settings,
// which win. Keys: client_id, client_secret, client_secret_file, scopes (comma- or
// space-separated), auth_url, token_url, api_base. Adding an integration adds its settings: no
// configuration code names one.
func oauthApps(cfg *config.Config, reg *destination.Registry) (map[string]destination.OAuthApp, error) {
	lookup := cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	settings := map[string]map[string]string{}
	set := func(typ, key, value string) { // typ and key lower-case
		if settings[typ] == nil {
			settings[typ] = map[string]string{}
		}
		settings[typ][key] = value
	}
	keys := []string{"client_id", "client_secret", "client_secret_file", "scopes", "auth_url", "token_url", "api_base", "rate_limit"}
	oauthTypes := map[string]bool{}
	for _, in := range reg.List() {
		if in.AuthType != destination.AuthOAuth {
			continue
		}
		oauthTypes[in.Type] = true
		for _, k := range keys {
			if v, ok := lookup("SWITCHYARD_" + strings.ToUpper(in.Type+"_"+k)); ok && v != "" {
				set(in.Type, k, v)
			}
		}
	}
	for _, s := range cfg.OAuthApps {
		name, value, ok := strings.Cut(s, "=")
		typ, key, ok2 := strings.Cut(strings.ToLower(strings.TrimSpace(name)), ".")
		switch {
		case !ok || !ok2:
			return nil, fmt.Errorf("--oauth-app %q: want TYPE.KEY=VALUE, e.g. hubspot.client_id=…", strings.SplitN(s, "=", 2)[0])
		case !oauthTypes[typ]:
			return nil, fmt.Errorf("--oauth-app %s: %q is not an OAuth integration of this server", name, typ)
		case !contains(keys, key):
			return nil, fmt.Errorf("--oauth-app %s: unknown key %q (one of %s)", name, key, strings.Join(keys, ", "))
		}
		set(typ, key, strings.TrimSpace(value))
	}
	apps := map[string]destination.OAuthApp{}
	for typ, kv := range settings {
		app := destination.OAuthApp{ClientID: kv["client_id"], ClientSecret: kv["client_secret"], AuthURL: kv["auth_url"],
			TokenURL: kv["token_url"], APIBase: kv["api_base"], Scopes: strings.Fields(strings.ReplaceAll(kv["scopes"], ",", " "))}
		if v, ok := kv["rate_limit"]; ok {
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 {
				return nil, fmt.Errorf("%s rate_limit %q: want attempts per second per account (0: no spacing)", typ, v)
			}
			app.RateLimit = &r
		}
		if f := kv["client_secret_file"]; f != "" && app.ClientSecret == "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("%s client secret file: %w", typ, err)
			}
			app.ClientSecret = strings.TrimSpace(string(b))
		}
		apps[typ] = app
	}
	return apps, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
