package app

import (
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/destination/builtin"
)

func TestOAuthApps(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"SWITCHYARD_HUBSPOT_CLIENT_ID":     "from-env",
		"SWITCHYARD_HUBSPOT_CLIENT_SECRET": "env-secret",
		"SWITCHYARD_HUBSPOT_SCOPES":        "oauth, crm.lists.read",
		"SWITCHYARD_WEBHOOK_CLIENT_ID":     "ignored: webhook is not an OAuth integration",
	}
	cfg := config.Default()
	cfg.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg.OAuthApps = []string{"hubspot.client_id=from-flag", "zoom.api_base=http://127.0.0.1:1/v2", "hubspot.rate_limit=0"}
	apps, err := oauthApps(&cfg, builtin.Registry())
	if err != nil {
		t.Fatal(err)
	}
	h := apps["hubspot"]
	if h.ClientID != "from-flag" || h.ClientSecret != "env-secret" || strings.Join(h.Scopes, " ") != "oauth crm.lists.read" ||
		h.RateLimit == nil || *h.RateLimit != 0 {
		t.Fatalf("hubspot app %+v: the flag wins over its twin, the twins fill the rest", h)
	}
	if apps["zoom"].APIBase != "http://127.0.0.1:1/v2" || apps["zoom"].Configured() {
		t.Fatalf("zoom app %+v", apps["zoom"])
	}
	if _, ok := apps["webhook"]; ok {
		t.Fatal("an app for webhook, which has no OAuth")
	}
	for _, bad := range []string{"hubspot.client_id", "webhook.client_id=x", "hubspot.colour=blue", "hubspot.rate_limit=-1", "nodot=x"} {
		cfg.OAuthApps = []string{bad}
		if _, err := oauthApps(&cfg, builtin.Registry()); err == nil {
			t.Errorf("--oauth-app %s was accepted", bad)
		}
	}
}
