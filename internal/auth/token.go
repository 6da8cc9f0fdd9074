package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Machine JWT constants from docs/meshes-compat.md §2.
const (
	// Audience is the only audience a machine JWT may carry.
	Audience = "meshes-api"
	// IssuerPrefix followed by the access key is the issuer a machine JWT must carry.
	IssuerPrefix = "urn:meshes:m2m:"
	// MaxTokenLifetime is the longest exp−iat span accepted. Meshes documents it as the
	// maximum expiration time; official clients use 30 seconds.
	MaxTokenLifetime = 60 * time.Second
	// DefaultTokenTTL is the lifetime every official client gives its tokens.
	DefaultTokenTTL = 30 * time.Second
	// DefaultLeeway is the clock skew allowed between client and server when Verifier.Leeway
	// is zero. Tokens live for at most a minute, so the allowance must stay small: 5 seconds
	// absorbs ordinary NTP drift without stretching a token's life noticeably.
	DefaultLeeway = 5 * time.Second
)

// Size limits applied before any parsing or store lookup. Real tokens are around 400 bytes and
// real access keys 27; the limits only keep hostile input cheap to refuse.
const (
	maxTokenLen = 8 << 10
	maxKeyIDLen = 256
)

// Mint returns a machine JWT for the given key and organization, byte for byte what the Go SDK
// sends: header {"alg":"HS256","kid":…,"typ":"JWT"} and claims aud, exp, iat, iss, org in that
// (alphabetical) order, signed with HMAC-SHA256 keyed by the secret's UTF-8 bytes — the secret
// is not base64-decoded, although it looks like base64. iat is now in whole seconds and exp is
// iat+ttl; ttl must be a whole number of seconds from 1 to 60 (DefaultTokenTTL is what the
// clients use), since a longer token would be refused by every Meshes-compatible server.
func Mint(accessKey, secret string, orgID uuid.UUID, now time.Time, ttl time.Duration) (string, error) {
	switch {
	case accessKey == "":
		return "", errors.New("auth: minting a token: access key is empty")
	case secret == "":
		return "", errors.New("auth: minting a token: secret is empty")
	case orgID == uuid.Nil:
		return "", errors.New("auth: minting a token: organization ID is the nil UUID")
	case ttl < time.Second || ttl > MaxTokenLifetime || ttl%time.Second != 0:
		return "", fmt.Errorf("auth: minting a token: lifetime %s is not a whole number of seconds from 1s to %s",
			ttl, MaxTokenLifetime)
	}
	iat := now.Unix()
	// Maps marshal with sorted keys, which is how the Go SDK gets its key order; building the
	// token by hand rather than through jwt.Token keeps "aud" a string, as every client sends it.
	header, err := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": accessKey})
	if err != nil {
		return "", fmt.Errorf("auth: encoding token header: %w", err)
	}
	payload, err := json.Marshal(map[string]any{
		"iss": IssuerPrefix + accessKey,
		"aud": Audience,
		"org": orgID.String(),
		"iat": iat,
		"exp": iat + int64(ttl/time.Second),
	})
	if err != nil {
		return "", fmt.Errorf("auth: encoding token claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// ErrKeyNotFound is the error (possibly wrapped) a KeySource returns when no machine key has
// the requested access key.
var ErrKeyNotFound = errors.New("machine key not found")

// KeySource finds a machine key by its access key and returns it with its secret opened.
// It returns an error wrapping ErrKeyNotFound when there is no such key. It returns revoked keys
// like any other; the Verifier refuses them. Verify neither modifies nor retains the returned
// secret, so a KeySource may hand out a cached slice.
type KeySource interface {
	MachineKeySecret(ctx context.Context, accessKey string) (*switchyard.MachineKey, []byte, error)
}

// Verifier checks machine JWTs against the machine keys of a KeySource. The zero value of every
// field except Keys is usable, and a Verifier is safe for concurrent use as long as its fields
// are not changed while it verifies.
type Verifier struct {
	// Keys supplies the machine keys tokens are checked against. It is required.
	Keys KeySource
	// Now returns the current time; nil means time.Now. Tests set it to control expiry.
	Now func() time.Time
	// Leeway is the clock skew allowed when checking exp and iat against the current time.
	// Zero means DefaultLeeway; a negative value allows no skew at all. It never extends the
	// 60-second lifetime limit, which compares two claims and needs no clock.
	Leeway time.Duration
}

// Claims is what a verified token says.
type Claims struct {
	// Key is the machine key that signed the token; it is not revoked.
	Key *switchyard.MachineKey
	// OrganizationID is the token's "org" claim, equal to Key.OrganizationID.
	OrganizationID uuid.UUID
	// IssuedAt and ExpiresAt are the token's "iat" and "exp" claims, in UTC.
	IssuedAt, ExpiresAt time.Time
}

// Verify checks a machine JWT as docs/meshes-compat.md §2 describes and returns its claims. Every way
// a token can fail yields a *switchyard.Error with code EUNAUTHORIZED and a short reason that
// never repeats the token or the secret. An error from the KeySource other than ErrKeyNotFound
// is returned wrapped, not turned into a 401, since a database outage is not the caller's fault.
//
// The checks: size; structure and base64; alg is HS256 (none, RS256, HS512 and the rest are
// refused before any key is looked up, which rules out algorithm confusion); the kid header names
// a known, unrevoked key; the signature; then, only for a correctly signed token, the claims: exp
// present and not past; iat present and not in the future; nbf (if present) reached; aud is or
// contains "meshes-api"; exp−iat at most 60 s; iss is IssuerPrefix+kid; org is a UUID equal to
// the key's organization. A crit header is refused whatever it lists (RFC 7515 §4.1.11: we
// understand no extension), before the key lookup. The typ header is not checked: the clients
// all send "JWT" and it proves nothing.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if v.Keys == nil {
		return nil, errors.New("auth: Verifier has no KeySource")
	}
	if token == "" || len(token) > maxTokenLen {
		return nil, invalid("malformed")
	}
	// One reading of the clock for every check, so they cannot disagree about "now".
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}

	var (
		key       *switchyard.MachineKey
		keyFailed *switchyard.Error // the kid is missing or names no usable key
		storeErr  error             // the KeySource itself failed
		lookedUp  bool              // parsing got as far as the key lookup
	)
	claims := jwt.MapClaims{} // a map, so claim names match exactly, never case-insensitively
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(v.leeway()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithAudience(Audience),
	)
	_, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		lookedUp = true
		// Checked before the key lookup, so a token we must refuse costs no store read.
		if reason := critReason(t.Header); reason != "" {
			keyFailed = invalid(reason)
			return nil, keyFailed
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" || len(kid) > maxKeyIDLen {
			keyFailed = invalid("missing kid header")
			return nil, keyFailed
		}
		if !ValidAccessKey(kid) {
			// No key has such an access key, and the store need not be asked: on PostgreSQL a
			// kid holding a NUL failed the lookup itself.
			keyFailed = invalid("unknown or revoked machine key")
			return nil, keyFailed
		}
		k, secret, err := v.Keys.MachineKeySecret(ctx, kid)
		switch {
		case errors.Is(err, ErrKeyNotFound):
			keyFailed = invalid("unknown or revoked machine key")
		case err != nil:
			storeErr = fmt.Errorf("auth: looking up machine key: %w", err)
		case k == nil:
			storeErr = errors.New("auth: KeySource returned neither a machine key nor an error")
		// Revoked keys share the unknown-key message so the reply does not confirm that a
		// leaked access key once existed. The AccessKey comparison guards against a store
		// whose lookup is looser than equality (a case-insensitive collation, say).
		case k.RevokedAt != nil || k.AccessKey != kid:
			keyFailed = invalid("unknown or revoked machine key")
		case len(secret) == 0:
			// An empty HMAC key would make signatures forgeable by anyone; treat it as the
			// store fault it is rather than verify against it.
			storeErr = fmt.Errorf("auth: machine key %s has an empty secret", k.ID)
		default:
			key = k
			return secret, nil
		}
		if storeErr != nil {
			return nil, storeErr
		}
		return nil, keyFailed
	})
	switch {
	case storeErr != nil:
		return nil, storeErr
	case keyFailed != nil:
		return nil, keyFailed
	case err != nil && !lookedUp:
		// Before the key lookup, jwt only decodes the token and checks its alg.
		if errors.Is(err, jwt.ErrTokenMalformed) {
			return nil, invalid("malformed")
		}
		return nil, invalid("algorithm must be HS256")
	case err != nil:
		return nil, invalid(validationReason(err, claims))
	}
	return checkClaims(claims, key)
}

// critReason returns why a token whose JOSE header is header must be refused for its "crit"
// parameter, or "" if it has none. RFC 7515 §4.1.11: crit lists header extensions the
// recipient must understand and process, and a token naming one it does not understand is
// invalid. Switchyard understands no extension, so every crit is refused; the reasons only
// tell a well-formed list (an unsupported extension) from a malformed one (not a non-empty
// array of strings, null included). The extension names are not repeated: they are the
// caller's input.
func critReason(header map[string]any) string {
	raw, present := header["crit"]
	if !present {
		return ""
	}
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return "crit header must be a non-empty array of strings"
	}
	for _, name := range list {
		if _, ok := name.(string); !ok {
			return "crit header must be a non-empty array of strings"
		}
	}
	return "unsupported critical header extension"
}

// leeway returns the effective clock-skew allowance.
func (v *Verifier) leeway() time.Duration {
	switch {
	case v.Leeway == 0:
		return DefaultLeeway
	case v.Leeway < 0:
		return 0
	}
	return v.Leeway
}

// validationReason names what jwt's signature and standard-claim checks found wrong. Several
// claims can fail at once; the reason reports the first in a fixed order, so callers see the
// same message for the same token.
func validationReason(err error, claims jwt.MapClaims) string {
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature is invalid"
	case errors.Is(err, jwt.ErrInvalidType):
		return "a time or audience claim has the wrong type"
	case !hasClaim(claims, "exp"):
		return "missing exp claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "aud must be " + Audience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// exp is handled above, so the missing claim jwt requires is aud.
		return "missing aud claim"
	}
	return "invalid claims"
}

// hasClaim reports whether claims has name with a value jwt treats as present (it reads a
// numeric 0 as absent).
func hasClaim(claims jwt.MapClaims, name string) bool {
	v, ok := claims[name]
	return ok && v != nil && v != 0.0
}

// checkClaims applies the Meshes-specific rules jwt's validator does not know, to a token whose
// signature, exp, iat, nbf and aud have already passed.
func checkClaims(claims jwt.MapClaims, key *switchyard.MachineKey) (*Claims, error) {
	// jwt has already rejected wrongly typed time claims, so these cannot fail; exp is required
	// by the parser, iat only checked if present.
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil {
		return nil, invalid("missing iat claim")
	}
	if exp.Before(iat.Time) {
		return nil, invalid("exp is before iat")
	}
	if exp.Sub(iat.Time) > MaxTokenLifetime {
		return nil, invalid("lifetime exceeds 60 seconds")
	}

	switch iss, ok := claims["iss"].(string); {
	case !ok && claims["iss"] != nil:
		return nil, invalid("iss must be a string")
	case iss == "":
		return nil, invalid("missing iss claim")
	case iss != IssuerPrefix+key.AccessKey:
		return nil, invalid("iss does not match kid")
	}

	raw, ok := claims["org"].(string)
	switch {
	case !ok && claims["org"] != nil:
		return nil, invalid("org must be a UUID")
	case raw == "":
		return nil, invalid("missing org claim")
	}
	// Only the canonical 36-character form: uuid.Parse also takes braces, "urn:uuid:" and bare
	// hex, none of which any client sends.
	org, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return nil, invalid("org must be a UUID")
	}
	if org != key.OrganizationID {
		return nil, invalid("organization does not match the machine key")
	}

	return &Claims{
		Key:            key,
		OrganizationID: org,
		IssuedAt:       iat.UTC(),
		ExpiresAt:      exp.UTC(),
	}, nil
}

// invalid returns the 401 error for a token that fails for reason. A new value every time, so
// no caller can alter another's error.
func invalid(reason string) *switchyard.Error {
	return &switchyard.Error{Code: switchyard.EUNAUTHORIZED, Message: "Invalid token: " + reason}
}
