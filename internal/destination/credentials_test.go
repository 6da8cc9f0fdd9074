package destination_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestBearerCredentials(t *testing.T) {
	conn := func(token any) *switchyard.Connection {
		c := &switchyard.Connection{ID: uuid.New(), Metadata: map[string]any{}}
		if token != nil {
			c.Metadata["token"] = token
		}
		return c
	}
	managed := destination.StaticTokens{AccessToken: "managed"}

	t.Run("managed tokens with a known account", func(t *testing.T) {
		c := destination.BearerCredentials(destination.Provision{Connection: conn("pasted-too"), Tokens: managed, Account: "x:acct:1"}, "x", "token")
		if c.Tokens != managed || c.Pasted != "" || c.Scope != "x:acct:1" {
			t.Fatalf("credentials = %+v, want the managed tokens in the account's scope", c)
		}
	})
	t.Run("managed tokens without an account", func(t *testing.T) {
		pv := destination.Provision{Connection: conn(nil), Tokens: managed}
		c := destination.BearerCredentials(pv, "x", "token")
		if c.Tokens != managed || c.Pasted != "" || c.Scope != "x:connection:"+pv.Connection.ID.String() {
			t.Fatalf("credentials = %+v, want the managed tokens in the connection's own scope", c)
		}
	})
	t.Run("a pasted token", func(t *testing.T) {
		a := destination.BearerCredentials(destination.Provision{Connection: conn("  secret-token \n")}, "x", "token")
		b := destination.BearerCredentials(destination.Provision{Connection: conn("secret-token")}, "x", "token")
		if a.Pasted != "secret-token" {
			t.Fatalf("pasted = %q, want the token without its surrounding space", a.Pasted)
		}
		tok, err := a.Tokens.Token(context.Background())
		if err != nil || tok.AccessToken != "secret-token" {
			t.Fatalf("token = %+v, %v; want the pasted one", tok, err)
		}
		if a.Scope != b.Scope || !strings.HasPrefix(a.Scope, "x:token:") || strings.Contains(a.Scope, "secret") {
			t.Fatalf("scopes %q and %q: want one shared scope of the token that does not show it", a.Scope, b.Scope)
		}
		other := destination.BearerCredentials(destination.Provision{Connection: conn("another-token")}, "x", "token")
		if other.Scope == a.Scope {
			t.Fatalf("two tokens share the scope %q", a.Scope)
		}
	})
	for name, token := range map[string]any{"nothing": nil, "blank": "   ", "not a string": 42} {
		t.Run("no credential: "+name, func(t *testing.T) {
			pv := destination.Provision{Connection: conn(token)}
			c := destination.BearerCredentials(pv, "x", "token")
			if _, ok := c.Tokens.(destination.NoCredentials); !ok || c.Pasted != "" || c.Scope != "x:connection:"+pv.Connection.ID.String() {
				t.Fatalf("credentials = %+v, want none in the connection's own scope", c)
			}
		})
	}
}
