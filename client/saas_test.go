package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
)

// TestOAuthConnection connects a HubSpot account (the in-process fake) through StartOAuth and
// reads what only a SaaS connection has: live action data, a field catalog, a generated mapping.
func TestOAuthConnection(t *testing.T) {
	t.Parallel()
	fake := hubspot.New(t, hubspot.Options{ClientID: "switchyard-test", ClientSecret: "hs-client-secret", RateLimitMax: -1, SearchPerSecond: -1})
	s := startServer(t, func(cfg *config.Config) {
		cfg.OAuthApps = []string{"hubspot.client_id=switchyard-test", "hubspot.client_secret=hs-client-secret",
			"hubspot.auth_url=" + fake.AuthorizeURL(), "hubspot.token_url=" + fake.TokenURL(), "hubspot.api_base=" + fake.URL()}
	})
	c := s.client(t)
	ctx := context.Background()
	ws := s.creds.WorkspaceID
	list := fake.AddList("Trial users", hubspot.ListManual)

	started, err := c.StartOAuth(ctx, client.OAuthStart{Workspace: ws, Type: "hubspot", Name: "Our HubSpot",
		RedirectURL: "https://app.example.com/integrations"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(started.AuthorizationURL, fake.AuthorizeURL()) || started.State == "" || !started.ExpiresAt.After(time.Now()) {
		t.Fatalf("started %+v", started)
	}
	// The customer's browser: consent at the provider, then the provider's redirect to the callback.
	browser := fake.HTTPClient()
	resp, err := browser.Get(started.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("consent: %d %v", resp.StatusCode, err)
	}
	if resp, err = browser.Get(s.url + "/api/v1/oauth/callback?" + back.RawQuery); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	done, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	connID, err := uuid.Parse(done.Query().Get("connection_id"))
	if err != nil {
		t.Fatalf("the callback sent the customer to %s", done)
	}

	t.Run("the connection is active and healthy", func(t *testing.T) {
		conn, err := c.GetConnection(ctx, connID)
		if err != nil || conn.Type != "hubspot" || !conn.Active || conn.InactiveReason != "" {
			t.Fatalf("connection %+v %v", conn, err)
		}
		h, err := c.GetConnectionHealth(ctx, connID)
		if err != nil || h.ConnectionID != connID || !h.Active || h.Circuit != "closed" || h.AsOf.IsZero() {
			t.Fatalf("health %+v %v", h, err)
		}
		b, err := c.GetWorkspaceBacklog(ctx, ws)
		if err != nil || b.WorkspaceID != ws || b.Due != 0 || b.Processing != 0 {
			t.Fatalf("backlog %+v %v", b, err)
		}
		if _, err := c.GetConnectionHealth(ctx, uuid.New()); !client.IsNotFound(err) {
			t.Fatalf("health of an unknown connection: %v", err)
		}
	})

	t.Run("GetConnectionActions returns the provider's lists", func(t *testing.T) {
		actions, err := c.GetConnectionActions(ctx, connID)
		if err != nil {
			t.Fatal(err)
		}
		var addToList struct {
			Lists []struct{ ID, Name string } `json:"lists"`
		}
		if err := json.Unmarshal(actions["add_to_list"], &addToList); err != nil || len(addToList.Lists) != 1 || addToList.Lists[0].ID != list {
			t.Fatalf("add_to_list %s (%v)", actions["add_to_list"], err)
		}
	})

	t.Run("GetConnectionFields returns the catalog and GetDefaultMapping one generated from it", func(t *testing.T) {
		cat, err := c.GetConnectionFields(ctx, connID, false)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(cat.Fields, func(f client.CatalogField) bool { return f.Key == "email" })
		if i < 0 || cat.IntegrationType != "hubspot" || cat.RefreshedAt.IsZero() || cat.Fields[i].Type == "" {
			t.Fatalf("catalog %+v", cat)
		}
		m, err := c.GetDefaultMapping(ctx, connID)
		if err != nil || m.Status != "generated" || m.Mapping.IntegrationType != "hubspot" || !strings.Contains(string(m.Mapping.Schema), `"email"`) {
			t.Fatalf("mapping %+v %v", m, err)
		}
	})
}
