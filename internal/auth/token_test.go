package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Fixed credentials, so that tokens (and the fuzz corpus in testdata) are reproducible. The
// secret is valid base64url of 32 bytes, which is what makes the "secret used base64-decoded"
// case meaningful.
const (
	testAccessKey    = "mk_yMnKy8zNzs_Q0dLT1NXW19jZ"
	testSecret       = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	revokedAccessKey = "mk_PD0-P0BBQkNERUZHSElKS0xN"
	unknownAccessKey = "mk_lpeYmZqbnJ2en6ChoqOkpaan"
)

var (
	testOrg  = uuid.MustParse("0b6f3c2e-8d4a-4f1b-9c7e-2a5d6e8f1a3b")
	otherOrg = uuid.MustParse("5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
	// testNow is a whole second, as every iat is.
	testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
)

// keyEntry is one machine key in a mapKeys.
type keyEntry struct {
	key    *switchyard.MachineKey
	secret []byte
}

// mapKeys is a KeySource backed by a map; err, when set, is returned for every lookup.
type mapKeys struct {
	keys map[string]keyEntry
	err  error
}

func (m *mapKeys) MachineKeySecret(_ context.Context, accessKey string) (*switchyard.MachineKey, []byte, error) {
	if m.err != nil {
		return nil, nil, m.err
	}
	e, ok := m.keys[accessKey]
	if !ok {
		return nil, nil, fmt.Errorf("looking up %q: %w", accessKey, auth.ErrKeyNotFound)
	}
	return e.key, e.secret, nil
}

// newKeys returns a KeySource holding the test key (in testOrg) and a revoked key.
func newKeys() *mapKeys {
	revokedAt := testNow.Add(-time.Hour)
	return &mapKeys{keys: map[string]keyEntry{
		testAccessKey: {
			key: &switchyard.MachineKey{
				ID: uuid.MustParse("11111111-2222-4333-8444-555555555555"), OrganizationID: testOrg,
				Name: "test", AccessKey: testAccessKey, SecretSealed: "v1:not-used-here",
			},
			secret: []byte(testSecret),
		},
		revokedAccessKey: {
			key: &switchyard.MachineKey{
				ID: uuid.MustParse("66666666-7777-4888-9999-aaaaaaaaaaaa"), OrganizationID: testOrg,
				Name: "revoked", AccessKey: revokedAccessKey, RevokedAt: &revokedAt,
			},
			secret: []byte(testSecret),
		},
	}}
}

// newVerifier returns a Verifier over newKeys whose clock reads testNow.
func newVerifier(t testing.TB) *auth.Verifier {
	t.Helper()
	return &auth.Verifier{Keys: newKeys(), Now: func() time.Time { return testNow }}
}

// goSDKHeader is the header the Go SDK sends (map order: alg, kid, typ).
func goSDKHeader(kid string) string {
	return `{"alg":"HS256","kid":"` + kid + `","typ":"JWT"}`
}

// joseHeader is the header jose (the Node clients) sends: alg, typ, kid.
func joseHeader(kid string) string {
	return `{"alg":"HS256","typ":"JWT","kid":"` + kid + `"}`
}

// claimsAt returns valid claims for the test key issued at iat with a 30-second lifetime; edit
// the map to make a bad token.
func claimsAt(iat time.Time) map[string]any {
	return map[string]any{
		"iss": auth.IssuerPrefix + testAccessKey,
		"aud": auth.Audience,
		"org": testOrg.String(),
		"iat": iat.Unix(),
		"exp": iat.Unix() + 30,
	}
}

// with returns a copy of claims with the given changes; a nil value deletes the claim.
func with(claims map[string]any, changes map[string]any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// marshal encodes claims (in alphabetical key order, as the Go SDK does).
func marshal(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("encoding claims: %v", err)
	}
	return string(b)
}

// sign assembles a token from raw header and payload JSON, signed with HMAC-SHA256 under key.
func sign(header, payload string, key []byte) string {
	input := b64(header) + "." + b64(payload)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// validToken is a token the Go SDK would send for the test key at testNow.
func validToken(t testing.TB) string {
	t.Helper()
	return sign(goSDKHeader(testAccessKey), marshal(t, claimsAt(testNow)), []byte(testSecret))
}

// assertUnauthorized fails t unless err is a 401 *switchyard.Error with exactly message, and
// that message leaks neither the secret nor the token.
func assertUnauthorized(t *testing.T, claims *auth.Claims, err error, token, message string) {
	t.Helper()
	if claims != nil {
		t.Errorf("Verify returned claims %+v alongside an error", claims)
	}
	var e *switchyard.Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify error = %v (%T), want a *switchyard.Error", err, err)
	}
	if e.Code != switchyard.EUNAUTHORIZED {
		t.Errorf("error code = %q, want %q", e.Code, switchyard.EUNAUTHORIZED)
	}
	if e.Message != message {
		t.Errorf("error message = %q, want %q", e.Message, message)
	}
	if strings.Contains(e.Error(), testSecret) {
		t.Errorf("error %q contains the secret", e)
	}
	if len(token) > 20 && strings.Contains(e.Error(), token) {
		t.Errorf("error %q contains the token", e)
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()

	sixtySeconds := with(claimsAt(testNow.Add(-10*time.Second)), map[string]any{"exp": testNow.Unix() + 50})
	tests := []struct {
		name  string
		token string
		iat   time.Time
	}{
		{"a token with the Go SDK's header key order",
			sign(goSDKHeader(testAccessKey), marshal(t, claimsAt(testNow)), []byte(testSecret)), testNow},
		{"a token with jose's header key order and claims in jose's order",
			sign(joseHeader(testAccessKey),
				`{"iss":"urn:meshes:m2m:`+testAccessKey+`","aud":"meshes-api","org":"`+testOrg.String()+`","iat":`+
					fmt.Sprint(testNow.Unix())+`,"exp":`+fmt.Sprint(testNow.Unix()+30)+`}`,
				[]byte(testSecret)), testNow},
		{"a token minted by Mint", mint(t, testNow, auth.DefaultTokenTTL), testNow},
		{"a token whose aud is an array containing meshes-api",
			sign(joseHeader(testAccessKey), marshal(t, with(claimsAt(testNow), map[string]any{
				"aud": []string{"something-else", auth.Audience}})), []byte(testSecret)), testNow},
		{"a token whose lifetime is exactly 60 seconds",
			sign(goSDKHeader(testAccessKey), marshal(t, sixtySeconds), []byte(testSecret)), testNow.Add(-10 * time.Second)},
		{"a token that expired within the leeway",
			sign(goSDKHeader(testAccessKey), marshal(t, claimsAt(testNow.Add(-33*time.Second))), []byte(testSecret)),
			testNow.Add(-33 * time.Second)},
		{"a token issued in the future within the leeway",
			sign(goSDKHeader(testAccessKey), marshal(t, claimsAt(testNow.Add(4*time.Second))), []byte(testSecret)),
			testNow.Add(4 * time.Second)},
		{"a token whose org is in upper case",
			sign(goSDKHeader(testAccessKey), marshal(t, with(claimsAt(testNow), map[string]any{
				"org": strings.ToUpper(testOrg.String())})), []byte(testSecret)), testNow},
		{"a token with extra header fields and claims",
			sign(`{"typ":"JWT","x5u":"ignored","kid":"`+testAccessKey+`","alg":"HS256"}`,
				marshal(t, with(claimsAt(testNow), map[string]any{"jti": "abc", "sub": "someone"})), []byte(testSecret)),
			testNow},
	}
	for _, tt := range tests {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t)
			claims, err := v.Verify(t.Context(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if claims.Key == nil || claims.Key.AccessKey != testAccessKey {
				t.Fatalf("claims.Key = %+v, want the test key", claims.Key)
			}
			if claims.OrganizationID != testOrg {
				t.Errorf("OrganizationID = %s, want %s", claims.OrganizationID, testOrg)
			}
			if !claims.IssuedAt.Equal(tt.iat) || claims.IssuedAt.Location() != time.UTC {
				t.Errorf("IssuedAt = %v, want %v in UTC", claims.IssuedAt, tt.iat)
			}
			if claims.ExpiresAt.Sub(claims.IssuedAt) > auth.MaxTokenLifetime || !claims.ExpiresAt.After(claims.IssuedAt) {
				t.Errorf("ExpiresAt = %v, not within 60 s after IssuedAt %v", claims.ExpiresAt, claims.IssuedAt)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()

	secret := []byte(testSecret)
	valid := validToken(t)
	claims := claimsAt(testNow)
	header := goSDKHeader(testAccessKey)
	signed := func(c map[string]any) string { return sign(header, marshal(t, c), secret) }
	decodedSecret, err := base64.RawURLEncoding.DecodeString(testSecret)
	if err != nil {
		t.Fatalf("decoding the test secret: %v", err)
	}
	parts := strings.Split(valid, ".")

	tests := []struct {
		name    string
		token   string
		message string
	}{
		// Structure.
		{"an empty token", "", "Invalid token: malformed"},
		{"a single segment", "abc", "Invalid token: malformed"},
		{"two segments", parts[0] + "." + parts[1], "Invalid token: malformed"},
		{"four segments", valid + ".abc", "Invalid token: malformed"},
		{"three empty segments", "..", "Invalid token: malformed"},
		{"a header that is not base64url", "!!!." + parts[1] + "." + parts[2], "Invalid token: malformed"},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], "Invalid token: malformed"},
		{"a header that is not JSON", b64("not json") + "." + parts[1] + "." + parts[2], "Invalid token: malformed"},
		{"a header that is a JSON array", b64(`["alg","HS256"]`) + "." + parts[1] + "." + parts[2], "Invalid token: malformed"},
		{"claims that are not a JSON object", sign(header, `"claims"`, secret), "Invalid token: malformed"},
		{"a token over 8 KiB", sign(header, marshal(t, with(claims, map[string]any{"pad": strings.Repeat("x", 8<<10)})), secret),
			"Invalid token: malformed"},
		{"a signature that is not base64url", parts[0] + "." + parts[1] + ".***", "Invalid token: malformed"},

		// Algorithm.
		{"alg none with an empty signature", b64(`{"alg":"none","typ":"JWT","kid":"`+testAccessKey+`"}`) + "." + parts[1] + ".",
			"Invalid token: algorithm must be HS256"},
		{"alg none carrying the real signature", b64(`{"alg":"none","typ":"JWT","kid":"`+testAccessKey+`"}`) + "." + parts[1] + "." + parts[2],
			"Invalid token: algorithm must be HS256"},
		{"alg HS512 signed with the right secret", hs512(t, claims), "Invalid token: algorithm must be HS256"},
		{"alg RS256 signed with a real RSA key", rs256(t, claims), "Invalid token: algorithm must be HS256"},
		{"alg RS256 HMAC-signed with an RSA public key", rs256Confused(t, claims), "Invalid token: algorithm must be HS256"},
		{"a lower-case alg", sign(`{"alg":"hs256","typ":"JWT","kid":"`+testAccessKey+`"}`, marshal(t, claims), secret),
			"Invalid token: algorithm must be HS256"},
		{"a missing alg", sign(`{"typ":"JWT","kid":"`+testAccessKey+`"}`, marshal(t, claims), secret),
			"Invalid token: algorithm must be HS256"},

		// Critical header extensions (RFC 7515 §4.1.11): we understand none, so every crit is
		// refused, correctly signed or not.
		{"a crit naming an extension", sign(`{"alg":"HS256","typ":"JWT","kid":"`+testAccessKey+`","crit":["exp"],"exp":1}`,
			marshal(t, claims), secret), "Invalid token: unsupported critical header extension"},
		{"a crit naming the b64 extension", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","typ":"JWT","crit":["b64"],"b64":false}`,
			marshal(t, claims), secret), "Invalid token: unsupported critical header extension"},
		{"a crit naming an extension the header lacks", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":["x-unknown"]}`,
			marshal(t, claims), secret), "Invalid token: unsupported critical header extension"},
		{"a crit listing several extensions", sign(`{"crit":["a","b"],"alg":"HS256","kid":"`+testAccessKey+`"}`,
			marshal(t, claims), secret), "Invalid token: unsupported critical header extension"},
		{"a crit with a wrong signature", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":["x"]}`,
			marshal(t, claims), []byte("wrong")), "Invalid token: unsupported critical header extension"},
		{"a crit with an unknown kid", sign(`{"alg":"HS256","kid":"`+unknownAccessKey+`","crit":["x"]}`,
			marshal(t, claims), secret), "Invalid token: unsupported critical header extension"},
		{"an empty crit array", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":[]}`, marshal(t, claims), secret),
			"Invalid token: crit header must be a non-empty array of strings"},
		{"a crit that is a string", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":"exp"}`, marshal(t, claims), secret),
			"Invalid token: crit header must be a non-empty array of strings"},
		{"a crit that is null", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":null}`, marshal(t, claims), secret),
			"Invalid token: crit header must be a non-empty array of strings"},
		{"a crit that is an object", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":{"x":1}}`, marshal(t, claims), secret),
			"Invalid token: crit header must be a non-empty array of strings"},
		{"a crit that is false", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":false}`, marshal(t, claims), secret),
			"Invalid token: crit header must be a non-empty array of strings"},
		{"a crit array holding a number", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":["x",1]}`, marshal(t, claims), secret),
			"Invalid token: crit header must be a non-empty array of strings"},
		{"a crit array holding null", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":[null]}`, marshal(t, claims), secret),
			"Invalid token: crit header must be a non-empty array of strings"},
		{"a crit hidden behind a duplicate key", sign(`{"alg":"HS256","kid":"`+testAccessKey+`","crit":null,"crit":["x"]}`,
			marshal(t, claims), secret), "Invalid token: unsupported critical header extension"},

		// Key.
		{"a missing kid", sign(`{"alg":"HS256","typ":"JWT"}`, marshal(t, claims), secret), "Invalid token: missing kid header"},
		{"an empty kid", sign(joseHeader(""), marshal(t, claims), secret), "Invalid token: missing kid header"},
		{"a numeric kid", sign(`{"alg":"HS256","typ":"JWT","kid":42}`, marshal(t, claims), secret), "Invalid token: missing kid header"},
		{"an over-long kid", sign(joseHeader("mk_"+strings.Repeat("a", 300)), marshal(t, claims), secret),
			"Invalid token: missing kid header"},
		{"a kid that is no access key", sign(joseHeader("key-1"), marshal(t, claims), secret),
			"Invalid token: unknown or revoked machine key"},
		{"a kid holding a NUL", sign(joseHeader(`mk_abc\u0000def`), marshal(t, claims), secret),
			"Invalid token: unknown or revoked machine key"},
		{"an unknown key", sign(joseHeader(unknownAccessKey), marshal(t, with(claims, map[string]any{
			"iss": auth.IssuerPrefix + unknownAccessKey})), secret), "Invalid token: unknown or revoked machine key"},
		{"a kid in another case than the key's", sign(joseHeader(strings.ToUpper(testAccessKey)), marshal(t, claims), secret),
			"Invalid token: unknown or revoked machine key"},
		{"a revoked key", sign(joseHeader(revokedAccessKey), marshal(t, with(claims, map[string]any{
			"iss": auth.IssuerPrefix + revokedAccessKey})), secret), "Invalid token: unknown or revoked machine key"},

		// Signature.
		{"a wrong secret", sign(header, marshal(t, claims), []byte(testSecret+"x")), "Invalid token: signature is invalid"},
		{"the secret base64-decoded instead of used as text", sign(header, marshal(t, claims), decodedSecret),
			"Invalid token: signature is invalid"},
		{"an empty signature", parts[0] + "." + parts[1] + ".", "Invalid token: signature is invalid"},
		{"a truncated signature", valid[:len(valid)-3], "Invalid token: signature is invalid"},
		{"claims altered after signing", parts[0] + "." + b64(marshal(t, with(claims, map[string]any{"org": otherOrg.String()}))) +
			"." + parts[2], "Invalid token: signature is invalid"},
		{"a kid swapped after signing", b64(goSDKHeader(revokedAccessKey)) + "." + parts[1] + "." + parts[2],
			"Invalid token: unknown or revoked machine key"},

		// Time.
		{"a missing exp", signed(with(claims, map[string]any{"exp": nil})), "Invalid token: missing exp claim"},
		{"an exp of zero", signed(with(claims, map[string]any{"exp": 0})), "Invalid token: missing exp claim"},
		{"an exp that is a string", signed(with(claims, map[string]any{"exp": fmt.Sprint(testNow.Unix() + 30)})),
			"Invalid token: a time or audience claim has the wrong type"},
		{"an expired token", signed(claimsAt(testNow.Add(-36 * time.Second))), "Invalid token: expired"},
		{"a missing iat", signed(with(claims, map[string]any{"iat": nil})), "Invalid token: missing iat claim"},
		{"an iat in the future", signed(claimsAt(testNow.Add(10 * time.Second))), "Invalid token: issued in the future"},
		{"a lifetime of 61 seconds", signed(with(claims, map[string]any{"exp": testNow.Unix() + 61})),
			"Invalid token: lifetime exceeds 60 seconds"},
		{"a lifetime of a day", signed(with(claims, map[string]any{"exp": testNow.Unix() + 86400})),
			"Invalid token: lifetime exceeds 60 seconds"},
		{"an exp before its iat", signed(with(claims, map[string]any{"iat": testNow.Unix() + 4, "exp": testNow.Unix() + 2})),
			"Invalid token: exp is before iat"},
		{"an nbf in the future", signed(with(claims, map[string]any{"nbf": testNow.Unix() + 20})), "Invalid token: not valid yet"},

		// Issuer.
		{"a missing iss", signed(with(claims, map[string]any{"iss": nil})), "Invalid token: missing iss claim"},
		{"an iss naming another key", signed(with(claims, map[string]any{"iss": auth.IssuerPrefix + revokedAccessKey})),
			"Invalid token: iss does not match kid"},
		{"an iss without the urn prefix", signed(with(claims, map[string]any{"iss": testAccessKey})),
			"Invalid token: iss does not match kid"},
		{"a numeric iss", signed(with(claims, map[string]any{"iss": 7})), "Invalid token: iss must be a string"},

		// Audience.
		{"a missing aud", signed(with(claims, map[string]any{"aud": nil})), "Invalid token: missing aud claim"},
		{"an empty aud", signed(with(claims, map[string]any{"aud": ""})), "Invalid token: missing aud claim"},
		{"a wrong aud", signed(with(claims, map[string]any{"aud": "meshes"})), "Invalid token: aud must be meshes-api"},
		{"an aud array without meshes-api", signed(with(claims, map[string]any{"aud": []string{"a", "b"}})),
			"Invalid token: aud must be meshes-api"},
		{"an aud array with a number in it", signed(with(claims, map[string]any{"aud": []any{"meshes-api", 1}})),
			"Invalid token: a time or audience claim has the wrong type"},

		// Organization.
		{"a missing org", signed(with(claims, map[string]any{"org": nil})), "Invalid token: missing org claim"},
		{"an org that is not a UUID", signed(with(claims, map[string]any{"org": "acme"})), "Invalid token: org must be a UUID"},
		{"an org that is a number", signed(with(claims, map[string]any{"org": 12})), "Invalid token: org must be a UUID"},
		{"an org in braces", signed(with(claims, map[string]any{"org": "{" + testOrg.String() + "}"})),
			"Invalid token: org must be a UUID"},
		{"an org without hyphens", signed(with(claims, map[string]any{"org": strings.ReplaceAll(testOrg.String(), "-", "")})),
			"Invalid token: org must be a UUID"},
		{"an org the key does not belong to", signed(with(claims, map[string]any{"org": otherOrg.String()})),
			"Invalid token: organization does not match the machine key"},
	}
	for _, tt := range tests {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t)
			got, err := v.Verify(t.Context(), tt.token)
			assertUnauthorized(t, got, err, tt.token, tt.message)
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	t.Parallel()

	expiredBy := func(d time.Duration) string {
		iat := testNow.Add(-30*time.Second - d)
		return sign(goSDKHeader(testAccessKey), marshal(t, claimsAt(iat)), []byte(testSecret))
	}

	t.Run("defaults to five seconds", func(t *testing.T) {
		t.Parallel()
		v := newVerifier(t)
		if _, err := v.Verify(t.Context(), expiredBy(4*time.Second)); err != nil {
			t.Errorf("token expired 4 s ago: %v, want accepted", err)
		}
		_, err := v.Verify(t.Context(), expiredBy(5*time.Second))
		assertUnauthorized(t, nil, err, "", "Invalid token: expired")
	})

	t.Run("widens when set", func(t *testing.T) {
		t.Parallel()
		v := newVerifier(t)
		v.Leeway = 20 * time.Second
		if _, err := v.Verify(t.Context(), expiredBy(15*time.Second)); err != nil {
			t.Errorf("token expired 15 s ago with 20 s leeway: %v, want accepted", err)
		}
	})

	t.Run("is off when negative", func(t *testing.T) {
		t.Parallel()
		v := newVerifier(t)
		v.Leeway = -1
		_, err := v.Verify(t.Context(), expiredBy(0))
		assertUnauthorized(t, nil, err, "", "Invalid token: expired")
		future := sign(goSDKHeader(testAccessKey), marshal(t, claimsAt(testNow.Add(time.Second))), []byte(testSecret))
		_, err = v.Verify(t.Context(), future)
		assertUnauthorized(t, nil, err, "", "Invalid token: issued in the future")
	})

	t.Run("never stretches the lifetime limit", func(t *testing.T) {
		t.Parallel()
		v := newVerifier(t)
		v.Leeway = time.Minute
		long := sign(goSDKHeader(testAccessKey), marshal(t, with(claimsAt(testNow), map[string]any{"exp": testNow.Unix() + 61})),
			[]byte(testSecret))
		_, err := v.Verify(t.Context(), long)
		assertUnauthorized(t, nil, err, "", "Invalid token: lifetime exceeds 60 seconds")
	})

	t.Run("uses the real clock when Now is nil", func(t *testing.T) {
		t.Parallel()
		v := &auth.Verifier{Keys: newKeys()}
		if _, err := v.Verify(t.Context(), mint(t, time.Now(), auth.DefaultTokenTTL)); err != nil {
			t.Errorf("fresh token: %v, want accepted", err)
		}
		_, err := v.Verify(t.Context(), validToken(t)) // issued at testNow, long past or far ahead
		if switchyard.ErrorCode(err) != switchyard.EUNAUTHORIZED {
			t.Errorf("token from testNow: %v, want 401", err)
		}
	})
}

func TestVerifyKeySourceFailures(t *testing.T) {
	t.Parallel()

	t.Run("returns store errors wrapped, not as 401", func(t *testing.T) {
		t.Parallel()
		down := errors.New("database is down")
		v := &auth.Verifier{Keys: &mapKeys{err: down}, Now: func() time.Time { return testNow }}
		claims, err := v.Verify(t.Context(), validToken(t))
		if !errors.Is(err, down) {
			t.Fatalf("Verify error = %v, want one wrapping the store error", err)
		}
		if code := switchyard.ErrorCode(err); code != switchyard.EINTERNAL || claims != nil {
			t.Fatalf("Verify = %v, code %q; want nil claims, code %q", claims, code, switchyard.EINTERNAL)
		}
	})

	t.Run("returns context errors wrapped", func(t *testing.T) {
		t.Parallel()
		v := &auth.Verifier{Keys: &mapKeys{err: context.Canceled}, Now: func() time.Time { return testNow }}
		if _, err := v.Verify(t.Context(), validToken(t)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Verify error = %v, want one wrapping context.Canceled", err)
		}
	})

	t.Run("does not consult the store for tokens refused before the lookup", func(t *testing.T) {
		t.Parallel()
		v := &auth.Verifier{Keys: &mapKeys{err: errors.New("must not be called")}, Now: func() time.Time { return testNow }}
		_, err := v.Verify(t.Context(), hs512(t, claimsAt(testNow)))
		assertUnauthorized(t, nil, err, "", "Invalid token: algorithm must be HS256")
	})

	t.Run("does not consult the store for a token with a crit header", func(t *testing.T) {
		t.Parallel()
		v := &auth.Verifier{Keys: &mapKeys{err: errors.New("must not be called")}, Now: func() time.Time { return testNow }}
		token := sign(`{"alg":"HS256","kid":"`+testAccessKey+`","typ":"JWT","crit":["x"]}`, marshal(t, claimsAt(testNow)),
			[]byte(testSecret))
		claims, err := v.Verify(t.Context(), token)
		assertUnauthorized(t, claims, err, token, "Invalid token: unsupported critical header extension")
	})

	t.Run("treats a key without a secret as a server fault", func(t *testing.T) {
		t.Parallel()
		keys := newKeys()
		e := keys.keys[testAccessKey]
		e.secret = nil
		keys.keys[testAccessKey] = e
		v := &auth.Verifier{Keys: keys, Now: func() time.Time { return testNow }}
		// A token "signed" with an empty key must not pass.
		forged := sign(goSDKHeader(testAccessKey), marshal(t, claimsAt(testNow)), nil)
		claims, err := v.Verify(t.Context(), forged)
		if err == nil || claims != nil || switchyard.ErrorCode(err) != switchyard.EINTERNAL {
			t.Fatalf("Verify = %v, %v; want nil claims and an internal error", claims, err)
		}
	})

	t.Run("refuses a key whose access key differs from the kid", func(t *testing.T) {
		t.Parallel()
		// A store with a case-insensitive lookup would return the test key for an upper-cased
		// kid; the verifier must not accept the token on the strength of that match.
		keys := newKeys()
		upper := strings.ToUpper(testAccessKey)
		keys.keys[upper] = keys.keys[testAccessKey]
		v := &auth.Verifier{Keys: keys, Now: func() time.Time { return testNow }}
		token := sign(joseHeader(upper), marshal(t, with(claimsAt(testNow), map[string]any{"iss": auth.IssuerPrefix + upper})),
			[]byte(testSecret))
		claims, err := v.Verify(t.Context(), token)
		assertUnauthorized(t, claims, err, token, "Invalid token: unknown or revoked machine key")
	})

	t.Run("treats a nil key without an error as a server fault", func(t *testing.T) {
		t.Parallel()
		keys := newKeys()
		keys.keys[testAccessKey] = keyEntry{secret: []byte(testSecret)}
		v := &auth.Verifier{Keys: keys, Now: func() time.Time { return testNow }}
		if _, err := v.Verify(t.Context(), validToken(t)); switchyard.ErrorCode(err) != switchyard.EINTERNAL {
			t.Fatalf("Verify error = %v, want an internal error", err)
		}
	})

	t.Run("refuses to run without a KeySource", func(t *testing.T) {
		t.Parallel()
		v := &auth.Verifier{}
		if _, err := v.Verify(t.Context(), validToken(t)); err == nil {
			t.Fatalf("Verify without Keys succeeded")
		}
	})
}

func TestMint(t *testing.T) {
	t.Parallel()

	t.Run("produces exactly the Go SDK's bytes", func(t *testing.T) {
		t.Parallel()
		got := mint(t, testNow, 30*time.Second)
		wantHeader := goSDKHeader(testAccessKey)
		wantPayload := fmt.Sprintf(`{"aud":"meshes-api","exp":%d,"iat":%d,"iss":"urn:meshes:m2m:%s","org":"%s"}`,
			testNow.Unix()+30, testNow.Unix(), testAccessKey, testOrg)
		if want := sign(wantHeader, wantPayload, []byte(testSecret)); got != want {
			t.Fatalf("Mint =\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("truncates now to whole seconds", func(t *testing.T) {
		t.Parallel()
		if a, b := mint(t, testNow, 30*time.Second), mint(t, testNow.Add(999*time.Millisecond), 30*time.Second); a != b {
			t.Fatalf("tokens minted within one second differ")
		}
	})

	t.Run("round-trips through Verify at the longest lifetime", func(t *testing.T) {
		t.Parallel()
		claims, err := newVerifier(t).Verify(t.Context(), mint(t, testNow, auth.MaxTokenLifetime))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if want := testNow.Add(auth.MaxTokenLifetime); !claims.ExpiresAt.Equal(want) {
			t.Fatalf("ExpiresAt = %v, want %v", claims.ExpiresAt, want)
		}
	})

	for _, tt := range []struct {
		name              string
		accessKey, secret string
		org               uuid.UUID
		ttl               time.Duration
	}{
		{"an empty access key", "", testSecret, testOrg, 30 * time.Second},
		{"an empty secret", testAccessKey, "", testOrg, 30 * time.Second},
		{"the nil organization", testAccessKey, testSecret, uuid.Nil, 30 * time.Second},
		{"a zero lifetime", testAccessKey, testSecret, testOrg, 0},
		{"a negative lifetime", testAccessKey, testSecret, testOrg, -time.Second},
		{"a lifetime over 60 seconds", testAccessKey, testSecret, testOrg, 61 * time.Second},
		{"a fractional lifetime", testAccessKey, testSecret, testOrg, 1500 * time.Millisecond},
	} {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			t.Parallel()
			token, err := auth.Mint(tt.accessKey, tt.secret, tt.org, testNow, tt.ttl)
			if err == nil || token != "" {
				t.Fatalf("Mint = %q, %v; want an error", token, err)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("error %q contains the secret", err)
			}
		})
	}
}

// mint returns a token for the test key and organization.
func mint(t testing.TB, now time.Time, ttl time.Duration) string {
	t.Helper()
	token, err := auth.Mint(testAccessKey, testSecret, testOrg, now, ttl)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return token
}

// hs512 signs claims with HS512 under the right secret.
func hs512(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(claims))
	tok.Header["kid"] = testAccessKey
	s, err := tok.SignedString([]byte(testSecret))
	if err != nil {
		t.Fatalf("signing HS512: %v", err)
	}
	return s
}

// rsaKey is generated once: RSA key generation is slow enough to matter across many subtests.
var rsaKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

// rs256 signs claims with a real RSA key.
func rs256(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	tok.Header["kid"] = testAccessKey
	s, err := tok.SignedString(rsaKey)
	if err != nil {
		t.Fatalf("signing RS256: %v", err)
	}
	return s
}

// rs256Confused is the classic algorithm-confusion forgery: alg RS256 in the header, but an
// HMAC signature keyed with the (public) RSA key, hoping the server verifies HMAC with it.
func rs256Confused(t testing.TB, claims map[string]any) string {
	t.Helper()
	pub := x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)
	return sign(`{"alg":"RS256","typ":"JWT","kid":"`+testAccessKey+`"}`, marshal(t, claims), pub)
}

// FuzzVerify checks that Verify never panics on arbitrary tokens and accepts only tokens that an
// independent reference check also accepts.
func FuzzVerify(f *testing.F) {
	valid := validToken(f)
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		sign(joseHeader(testAccessKey), marshal(f, claimsAt(testNow)), []byte(testSecret)),
		valid[:len(valid)/2],
		valid[:len(valid)-1],
		valid + ".",
		"." + valid,
		parts[0] + "." + parts[1],
		parts[0] + ".." + parts[2],
		"a.b.c", "..", "...", "", "Bearer " + valid,
		b64(`{"alg":"none","kid":"`+testAccessKey+`"}`) + "." + parts[1] + ".",
		sign(`{"alg":"HS256","kid":"`+testAccessKey+`","typ":"JWT","crit":["x"]}`, marshal(f, claimsAt(testNow)), []byte(testSecret)),
	} {
		f.Add(seed)
	}
	v := newVerifier(f)
	if _, err := v.Verify(f.Context(), valid); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(t.Context(), token)
		checkOutcome(t, token, claims, err)
	})
}

// FuzzSignedClaims signs arbitrary header and claims JSON with the real secret, so that the
// fuzzer gets past the signature and exercises every claim check, and verifies the result with
// the same oracle as FuzzVerify.
func FuzzSignedClaims(f *testing.F) {
	valid := marshal(f, claimsAt(testNow))
	for _, seed := range [][2]string{
		{goSDKHeader(testAccessKey), valid},
		{joseHeader(testAccessKey), valid},
		{goSDKHeader(testAccessKey), marshal(f, with(claimsAt(testNow), map[string]any{"aud": []string{"x", "meshes-api"}}))},
		{goSDKHeader(testAccessKey), marshal(f, with(claimsAt(testNow), map[string]any{"exp": testNow.Unix() + 60}))},
		{goSDKHeader(testAccessKey), marshal(f, with(claimsAt(testNow), map[string]any{"iat": 1.5e300, "exp": 1e300}))},
		{goSDKHeader(testAccessKey), marshal(f, with(claimsAt(testNow), map[string]any{"nbf": testNow.Unix()}))},
		{goSDKHeader(revokedAccessKey), valid},
		{`{"alg":"HS256","kid":"` + testAccessKey + `","kid":""}`, valid},
		{goSDKHeader(testAccessKey), `{"exp":1,"exp":` + fmt.Sprint(testNow.Unix()+30) + `}`},
		{`{"alg":"HS256","kid":"` + testAccessKey + `","typ":"JWT","crit":["exp"]}`, valid},
		{`{"alg":"HS256","kid":"` + testAccessKey + `","crit":[]}`, valid},
		{`{"alg":"HS256","kid":"` + testAccessKey + `","crit":null}`, valid},
		{`null`, `null`},
	} {
		f.Add(seed[0], seed[1])
	}
	v := newVerifier(f)
	f.Fuzz(func(t *testing.T, header, payload string) {
		token := sign(header, payload, []byte(testSecret))
		claims, err := v.Verify(t.Context(), token)
		checkOutcome(t, token, claims, err)
	})
}

// checkOutcome is the fuzz oracle. A failure must be a clean 401 that does not leak the secret;
// a success must pass referenceVerify, an independent reading of docs/meshes-compat.md §2 written
// with encoding/json and crypto/hmac only, and agree with it on the claims.
func checkOutcome(t *testing.T, token string, claims *auth.Claims, err error) {
	t.Helper()
	if err != nil {
		var e *switchyard.Error
		if !errors.As(err, &e) || e.Code != switchyard.EUNAUTHORIZED {
			t.Fatalf("Verify error = %v, want a 401 *switchyard.Error (the key source never fails here)", err)
		}
		if claims != nil {
			t.Fatalf("Verify returned claims alongside an error")
		}
		if strings.Contains(e.Message, testSecret) || !strings.HasPrefix(e.Message, "Invalid token: ") {
			t.Fatalf("unexpected error message %q", e.Message)
		}
		return
	}
	iat, exp, reason := referenceVerify(token)
	if reason != "" {
		t.Fatalf("Verify accepted a token the reference check rejects (%s): %q", reason, token)
	}
	if claims.Key.AccessKey != testAccessKey || claims.OrganizationID != testOrg ||
		claims.IssuedAt.Unix() != iat || claims.ExpiresAt.Unix() != exp {
		t.Fatalf("claims %+v disagree with the reference (iat %d, exp %d)", claims, iat, exp)
	}
}

// referenceVerify returns "" and the token's iat and exp if token is a valid machine JWT for the
// test key at testNow with the default leeway, or a reason it is not.
func referenceVerify(token string) (iat, exp int64, reason string) {
	const leeway = 5
	dot := strings.LastIndexByte(token, '.')
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		return 0, 0, "segments"
	}
	sig, err := base64.RawURLEncoding.DecodeString(segs[2])
	if err != nil {
		return 0, 0, "signature encoding"
	}
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(token[:dot]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return 0, 0, "signature"
	}
	var header, claims map[string]any
	if decodeJSON(segs[0], &header) != nil || decodeJSON(segs[1], &claims) != nil {
		return 0, 0, "JSON"
	}
	if header["alg"] != "HS256" || header["kid"] != testAccessKey {
		return 0, 0, "header"
	}
	if _, present := header["crit"]; present {
		// RFC 7515 §4.1.11: no extension is understood, so any crit makes the token invalid.
		return 0, 0, "crit"
	}
	if claims["iss"] != auth.IssuerPrefix+testAccessKey {
		return 0, 0, "iss"
	}
	if org, ok := claims["org"].(string); !ok || len(org) != 36 || parseUUID(org) != testOrg {
		return 0, 0, "org"
	}
	switch aud := claims["aud"].(type) {
	case string:
		if aud != auth.Audience {
			return 0, 0, "aud"
		}
	case []any:
		found := false
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return 0, 0, "aud type"
			}
			found = found || s == auth.Audience
		}
		if !found {
			return 0, 0, "aud"
		}
	default:
		return 0, 0, "aud"
	}
	e, ok1 := claims["exp"].(float64)
	i, ok2 := claims["iat"].(float64)
	if !ok1 || !ok2 {
		return 0, 0, "exp or iat type"
	}
	ef, ifl := math.Floor(e), math.Floor(i)
	now := float64(testNow.Unix())
	switch {
	case !(now < ef+leeway):
		return 0, 0, "expired"
	case ifl > now+leeway:
		return 0, 0, "iat in the future"
	case ef < ifl || ef-ifl > 60:
		return 0, 0, "lifetime"
	}
	if nbf, present := claims["nbf"]; present {
		n, ok := nbf.(float64)
		if !ok || math.Floor(n) > now+leeway {
			return 0, 0, "nbf"
		}
	}
	return int64(ifl), int64(ef), ""
}

// decodeJSON decodes one base64url segment of JSON into v.
func decodeJSON(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// parseUUID parses s, returning the nil UUID if it is not one.
func parseUUID(s string) uuid.UUID {
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil
	}
	return u
}

// BenchmarkVerify measures verification of a typical token with an in-memory key source, the
// cost every authenticated request pays on top of its key lookup.
func BenchmarkVerify(b *testing.B) {
	v := newVerifier(b)
	token := validToken(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(b.Context(), token); err != nil {
			b.Fatal(err)
		}
	}
}
