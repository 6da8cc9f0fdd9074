package destination

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Credentials is how a connection of an integration that calls its provider with a bearer token
// authenticates (HubSpot, Intercom), and the rate-limit scope it shares.
type Credentials struct {
	Tokens Tokens
	// Pasted is the token pasted into the connection's metadata when the connection uses it
	// ("" for managed OAuth tokens or none): a secret to keep out of every message.
	Pasted string
	// Scope is the connection's rate-limit scope: the provider account when the OAuth flow named
	// it (Provision.Account); else, with a token in the metadata, one scope shared by every
	// connection holding the same token (a hash of it: the token is never part of a scope); else
	// the connection's own.
	Scope string
}

// BearerCredentials picks a connection's credentials: the managed OAuth tokens when it was
// made through the OAuth flow, else the token pasted under the metadata key, else
// NoCredentials (its attempts then end as unauthorized). typ, the integration's type, starts
// the scopes it makes up.
func BearerCredentials(pv Provision, typ, key string) Credentials {
	pasted, _ := pv.Connection.Metadata[key].(string)
	pasted = strings.TrimSpace(pasted)
	var c Credentials
	switch {
	case pv.Tokens != nil:
		c.Tokens = pv.Tokens
	case pasted != "":
		c.Tokens, c.Pasted = StaticTokens{AccessToken: pasted}, pasted
	default:
		c.Tokens = NoCredentials{}
	}
	switch {
	case pv.Account != "":
		c.Scope = pv.Account
	case pasted != "":
		sum := sha256.Sum256([]byte(pasted))
		c.Scope = typ + ":token:" + hex.EncodeToString(sum[:8])
	default:
		c.Scope = typ + ":connection:" + pv.Connection.ID.String()
	}
	return c
}
