package hubspot_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
	"github.com/switchyardhq/switchyard/internal/destination/hubspot"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/switchyard"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// The list-membership changes of concurrent attempts of one connection go together: those that
// arrive while a call for the list is under way share the next call, and each attempt gets its
// own contact's outcome.
func TestMembershipsAreBatched(t *testing.T) {
	t.Parallel()
	srv := newFake(t, fake.Options{})
	list := srv.AddList("Customers", fake.ListManual)
	faults, proxy := destinationtest.Serve(t, destinationtest.Proxy(t, srv.URL()))
	faults.Match = func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/memberships/") }
	opts := options(srv)
	app := opts.Apps[hubspot.Type]
	app.APIBase = proxy.URL
	opts.Apps = map[string]destination.OAuthApp{hubspot.Type: app}
	sender := destinationtest.Provision(t, hubspot.Integration(), opts, destination.Provision{
		Connection: &switchyard.Connection{Type: hubspot.Type, Name: "batch", Active: true, Metadata: map[string]any{}},
		Tokens:     newOAuthTokens(srv), Account: portal(srv)}).(*hubspot.Sender)

	faults.Hang() // the first memberships call waits until released
	results := make([]destination.Result, 10)
	var wg sync.WaitGroup
	deliver := func(i int) {
		wg.Go(func() {
			results[i] = sender.Deliver(t.Context(), listRequest(hubspot.ActionAddToList, list, fmt.Sprintf("p%d@example.com", i)))
		})
	}
	deliver(0)
	waitFor(t, "the first memberships call", func() bool { return faults.Requests() == 1 })
	for i := 1; i < 10; i++ {
		deliver(i)
	}
	waitFor(t, "nine contacts waiting for the next call", func() bool { return hubspot.PendingMemberships(sender) == 9 })
	faults.Release()
	wg.Wait()
	for i, res := range results {
		expect(t, res, switchyard.OutcomeDelivered)
		if !strings.Contains(res.Message, "added to list") {
			t.Errorf("attempt %d: %q", i, res.Message)
		}
	}
	if n := faults.Requests(); n != 2 {
		t.Fatalf("%d memberships calls for 10 concurrent attempts, want 2 (one, then the nine that waited)", n)
	}
	members := srv.ListMembers(list)
	for i := range 10 {
		c, ok := srv.Contact(fmt.Sprintf("p%d@example.com", i))
		if !ok || !slices.Contains(members, c.ID) {
			t.Fatalf("contact %d is not in the list", i)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, what, cond)
}
