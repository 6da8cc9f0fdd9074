package oauth

import "github.com/google/uuid"

// Forget drops connection id's token source from this node's memory. The delivery engine calls
// it when it prunes the connection's sender, so that the token sources of a day's connections do
// not all stay in memory. Nothing is lost: the next Tokens call reads the credential again.
func (s *Service) Forget(id uuid.UUID) { s.tokens.Delete(id) }
