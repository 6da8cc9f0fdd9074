package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// saasServer is a Switchyard whose HubSpot app points at an in-process HubSpot fake.
type saasServer struct {
	*server
	fake *hubspot.Server
}

func startSaaS(t *testing.T, d storetest.Dialect) *saasServer {
	t.Helper()
	fake := hubspot.New(t, hubspot.Options{ClientID: "switchyard-test", ClientSecret: "hs-client-secret", RateLimitMax: -1, SearchPerSecond: -1})
	s := startApp(t, d, func(c *config.Config) {
		c.OAuthApps = []string{"hubspot.client_id=switchyard-test", "hubspot.client_secret=hs-client-secret",
			"hubspot.auth_url=" + fake.AuthorizeURL(), "hubspot.token_url=" + fake.TokenURL(), "hubspot.api_base=" + fake.URL()}
		c.PollInterval = 20 * time.Millisecond
	})
	return &saasServer{server: s, fake: fake}
}

// authorize runs the OAuth flow through the public API: start, the customer's consent at the
// provider, the provider's redirect to the callback. It returns where the callback sends the
// customer.
func (s *saasServer) authorize(t *testing.T, body map[string]any) *url.URL {
	t.Helper()
	var started struct {
		AuthorizationURL string    `json:"authorization_url"`
		State            string    `json:"state"`
		ExpiresAt        time.Time `json:"expires_at"`
	}
	if code := s.call(t, "POST", "/api/v1/connections/oauth/start", body, nil, &started); code != 201 {
		t.Fatalf("oauth start: %d", code)
	}
	noRedirect := s.fake.HTTPClient()
	resp, err := noRedirect.Get(started.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || back.Query().Get("state") != started.State {
		t.Fatalf("consent: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The provider sends the browser to the callback: here, the same request to this server.
	resp, err = noRedirect.Get(s.url + "/api/v1/oauth/callback?" + back.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	done, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// waitCompleted polls an event until it is completed.
func (s *saasServer) waitStatus(t *testing.T, id uuid.UUID, want string) *eventJSON {
	t.Helper()
	var ev *eventJSON
	eventually(t, "event "+id.String()+" to be "+want, func() bool {
		ev = s.event(t, id)
		return ev.Status == want
	})
	return ev
}

// The seed's SaaS path end to end, through the public API: connect HubSpot with OAuth, pick a
// list from the live action data, emit, and find the contact in the list; an expired token is
// refreshed once for all deliveries without using up an attempt; a revoked grant deactivates the
// connection and deliveries stop; running the flow again reactivates it.
func TestHubSpotEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("OAuth, token expiry and revocation against the fake take seconds")
	}
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startSaaS(t, d)
		ws := s.creds.WorkspaceID
		list := s.fake.AddList("Trial users", hubspot.ListManual)
		s.fake.AddList("Smart list", hubspot.ListDynamic)

		done := s.authorize(t, map[string]any{"workspace": ws, "type": "hubspot", "name": "Our HubSpot",
			"redirect_url": "https://app.example.com/integrations?tab=crm"})
		connID, err := uuid.Parse(done.Query().Get("connection_id"))
		if err != nil || done.Host != "app.example.com" || done.Query().Get("status") != "connected" || done.Query().Get("tab") != "crm" {
			t.Fatalf("the callback sent the customer to %s", done)
		}
		var conn struct {
			Type   string `json:"type"`
			Name   string `json:"name"`
			Active bool   `json:"active"`
		}
		if code := s.call(t, "GET", "/api/v1/connections/"+connID.String(), nil, nil, &conn); code != 200 ||
			conn.Type != "hubspot" || conn.Name != "Our HubSpot" || !conn.Active {
			t.Fatalf("connection %d %+v", code, conn)
		}

		// Live action data offers the static list, not the dynamic one.
		var actions struct {
			AddToList struct {
				Lists []struct{ ID, Name string } `json:"lists"`
			} `json:"add_to_list"`
		}
		if code := s.call(t, "GET", "/api/v1/connections/"+connID.String()+"/actions", nil, nil, &actions); code != 200 {
			t.Fatalf("actions: %d", code)
		}
		if len(actions.AddToList.Lists) != 1 || actions.AddToList.Lists[0].ID != list {
			t.Fatalf("action data lists %+v, want only the manual list %s", actions.AddToList.Lists, list)
		}
		var catalog struct {
			Fields []struct{ Key, Type string } `json:"fields"`
		}
		s.call(t, "GET", "/api/v1/connections/"+connID.String()+"/fields", nil, nil, &catalog)
		if !slices.ContainsFunc(catalog.Fields, func(f struct{ Key, Type string }) bool { return f.Key == "firstname" }) {
			t.Fatalf("the field catalog lacks firstname: %+v", catalog.Fields)
		}
		s.createRule(t, ws, connID, "user.signup", map[string]any{"metadata": map[string]any{"action": "add_to_list",
			"id": actions.AddToList.Lists[0].ID}})

		emit := func(email string) uuid.UUID {
			return s.emit(t, ws, "user.signup", map[string]any{"payload": map[string]any{"email": email, "first_name": "Ada"}})
		}
		id := emit("ada@example.com")
		s.waitStatus(t, id, "completed")
		contact, ok := s.fake.Contact("ada@example.com")
		if !ok || contact.Properties["firstname"] != "Ada" || !slices.Contains(s.fake.ListMembers(list), contact.ID) {
			t.Fatalf("the fake holds %+v (found %v), list members %v", contact, ok, s.fake.ListMembers(list))
		}
		ev := s.event(t, id)
		attempts := s.attempts(t, id, ev.RuleEvents[0].Rule)
		if len(attempts) != 1 || attempts[0].OutcomeCode != "delivered" {
			t.Fatalf("attempts %+v", attempts)
		}

		// The token expires mid-load: one refresh for every delivery, no attempt used up.
		refreshes := s.fake.RefreshCount()
		s.fake.ExpireAccessTokens()
		var ids []uuid.UUID
		for i := range 20 {
			ids = append(ids, emit(fmt.Sprintf("user%d@example.com", i)))
		}
		for _, id := range ids {
			ev := s.waitStatus(t, id, "completed")
			if ev.RuleEvents[0].AttemptCount != 1 {
				t.Fatalf("event %s took %d attempts, want 1: a refresh must not use one up", id, ev.RuleEvents[0].AttemptCount)
			}
		}
		if n := s.fake.RefreshCount() - refreshes; n != 1 {
			t.Fatalf("%d refreshes for 20 deliveries after the token expired, want 1", n)
		}
		if got := len(s.fake.ListMembers(list)); got != 21 {
			t.Fatalf("the list has %d members, want 21", got)
		}

		// The customer revokes the app: the refresh is refused, the connection deactivates with
		// oauth_authorization_revoked, and the next events have nothing to deliver.
		s.fake.RevokeGrant()
		s.fake.ExpireAccessTokens()
		id = emit("late@example.com")
		s.waitStatus(t, id, "failed")
		var inactive struct {
			Active         bool   `json:"active"`
			InactiveReason string `json:"inactive_reason"`
		}
		eventually(t, "the connection to deactivate", func() bool {
			s.call(t, "GET", "/api/v1/connections/"+connID.String(), nil, nil, &inactive)
			return !inactive.Active
		})
		if inactive.InactiveReason != "oauth_authorization_revoked" {
			t.Fatalf("inactive_reason %q", inactive.InactiveReason)
		}
		if ev := s.event(t, emit("after@example.com")); ev.TotalRules != 0 {
			t.Fatalf("an event after the deactivation has %d deliveries, want none", ev.TotalRules)
		}

		// Connecting again re-authorizes the same connection and reactivates it.
		done = s.authorize(t, map[string]any{"workspace": ws, "type": "hubspot", "connection_id": connID.String(),
			"redirect_url": "https://app.example.com/back"})
		if done.Query().Get("connection_id") != connID.String() {
			t.Fatalf("re-authorizing went to %s", done)
		}
		var again struct {
			Active         bool    `json:"active"`
			InactiveReason *string `json:"inactive_reason"`
		}
		s.call(t, "GET", "/api/v1/connections/"+connID.String(), nil, nil, &again)
		if !again.Active || (again.InactiveReason != nil && *again.InactiveReason != "") {
			t.Fatalf("after re-authorizing: %+v", again)
		}
		s.waitStatus(t, emit("again@example.com"), "completed")
	})
}

// OAuth flows are refused with a clear 400 when the app is not configured, for non-OAuth types
// and for bad redirect URLs; the callback refuses unknown states.
func TestOAuthStartValidation(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	ws := s.creds.WorkspaceID
	for _, c := range []struct {
		body  map[string]any
		param string
		text  string
	}{
		{map[string]any{"workspace": ws, "type": "hubspot", "name": "x", "redirect_url": "https://app.example.com"}, "type", "SWITCHYARD_HUBSPOT_CLIENT_ID"},
		{map[string]any{"workspace": ws, "type": "webhook", "name": "x", "redirect_url": "https://app.example.com"}, "type", "does not use OAuth"},
		{map[string]any{"workspace": ws, "type": "nope", "name": "x", "redirect_url": "https://app.example.com"}, "type", "not an integration"},
		{map[string]any{"workspace": ws, "type": "hubspot", "name": "x", "redirect_url": "javascript:alert(1)"}, "redirect_url", "absolute"},
		{map[string]any{"workspace": ws, "type": "hubspot", "redirect_url": "https://app.example.com"}, "name", "required"},
	} {
		var e apiError
		if code := s.call(t, "POST", "/api/v1/connections/oauth/start", c.body, nil, &e); code != 400 ||
			!slices.Contains(e.params(), c.param) || !strings.Contains(e.Error.Message+fmt.Sprint(e.Error.Data), c.text) {
			t.Errorf("%v: %d %+v, want 400 on %s saying %q", c.body, code, e, c.param, c.text)
		}
	}
	resp, err := http.Get(s.url + "/api/v1/oauth/callback?state=forged&code=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("callback with an unknown state: %d", resp.StatusCode)
	}
}
