package switchyard

import (
	"time"

	"github.com/google/uuid"
)

// Credential is a connection's managed OAuth credential: the token the OAuth flow obtained (and
// later refreshes), sealed with the server's encryption key. Version moves on at every write, so
// that a refresh can compare-and-swap and two nodes never both spend one refresh token.
type Credential struct {
	ConnectionID   uuid.UUID
	OrganizationID uuid.UUID
	// Sealed is the token as JSON (access and refresh token, type, expiry, and the token
	// response's other fields), sealed.
	Sealed string
	// Account names the provider account the token belongs to ("hubspot:portal:123"), as the
	// integration identified it; it scopes rate limits shared by the account's connections.
	Account   string
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// OAuthState is an OAuth flow started and not yet completed: what the callback needs to finish
// it. Only the state's hash is stored.
type OAuthState struct {
	StateHash       string
	OrganizationID  uuid.UUID
	WorkspaceID     uuid.UUID
	IntegrationType string
	// Name is the connection's name (a new connection), or the existing one's.
	Name        string
	RedirectURL string
	// VerifierSealed is the PKCE code verifier, sealed ("" when the provider takes no PKCE).
	VerifierSealed string
	// ConnectionID is set when the flow re-authorizes an existing connection.
	ConnectionID *uuid.UUID
	CreatedBy    string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       *time.Time
}
