package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AccessKeyPrefix starts every machine access key, as in Meshes.
const AccessKeyPrefix = "mk_"

// PublishableKeyPrefix starts every publishable key; the events client refuses keys without it.
const PublishableKeyPrefix = "mesh_pub_"

// MaxPublishableKeyLen bounds the publishable keys ValidPublishableKey accepts. Generated keys
// are 67 characters; the bound only stops absurd header values before any lookup.
const MaxPublishableKeyLen = 200

// GenerateMachineKey returns a new machine key pair in the formats the @mesheshq/api client
// validates. The access key is "mk_" and 24 base64url characters (18 random bytes), matching
// ^mk_[A-Za-z0-9_-]{22,}$; it is public, an identifier rather than a credential. The secret is
// 43 base64url characters (32 random bytes, 256 bits), matching ^[A-Za-z0-9_-]{43,}$. The secret
// is used as text: its UTF-8 bytes are the HS256 key, so it is never base64-decoded. It never
// begins with '-': one in 64 would, and a command line given `--secret-key <secret>` takes such a
// secret for a flag (the CLI then refuses it, asking for `--secret-key=<secret>`).
func GenerateMachineKey() (accessKey, secret string, err error) {
	id, err := randomBytes(18)
	if err != nil {
		return "", "", err
	}
	for secret == "" || secret[0] == '-' {
		sec, err := randomBytes(32)
		if err != nil {
			return "", "", err
		}
		secret = base64.RawURLEncoding.EncodeToString(sec)
	}
	return AccessKeyPrefix + base64.RawURLEncoding.EncodeToString(id), secret, nil
}

// GeneratePublishableKey returns a new publishable key of the form
// mesh_pub_<8 hex>_<16 hex>_<32 base62>: 67 characters carrying about 286 random bits. The
// segments use only [0-9A-Za-z] so that the key matches the events client's pattern (which gives
// '_' a meaning and allows '-' and '.' only in the first two segments) and survives being copied
// from a terminal or pasted into a URL. The segments carry no meaning; the split exists only to
// satisfy that pattern.
func GeneratePublishableKey() (string, error) {
	head, err := randomBytes(4 + 8)
	if err != nil {
		return "", err
	}
	tail, err := randomBase62(32)
	if err != nil {
		return "", err
	}
	return PublishableKeyPrefix + hex.EncodeToString(head[:4]) + "_" + hex.EncodeToString(head[4:]) + "_" + tail, nil
}

// ValidPublishableKey reports whether s has the shape of a publishable key: the @mesheshq/events
// constructor's pattern, ^mesh_pub_([A-Za-z0-9\-.]+)_([A-Za-z0-9\-.]+)_([^_]+)$, so that every key
// this server accepts is one that client would also accept, and at most MaxPublishableKeyLen
// characters. It says nothing about whether the key exists; it lets the ingestion path reject
// garbage before touching the store. (Checked by hand on every ingest request: the regular
// expression was 1.4 % of single-event ingest's CPU. FuzzValidPublishableKey holds the two equal.)
func ValidPublishableKey(s string) bool {
	rest, ok := strings.CutPrefix(s, PublishableKeyPrefix)
	if !ok || len(s) > MaxPublishableKeyLen {
		return false
	}
	// The first two segments cannot hold '_', so each ends at the next one; the last is the rest.
	a, rest, ok := strings.Cut(rest, "_")
	if !ok || !publishableSegment(a) {
		return false
	}
	b, c, ok := strings.Cut(rest, "_")
	return ok && publishableSegment(b) && c != "" && !strings.Contains(c, "_") && printable(c)
}

// printable reports whether s is valid UTF-8 without control characters. The events client's
// pattern lets the last segment of a publishable key hold anything but '_'; net/http passes a
// header's bytes that are not UTF-8, and PostgreSQL refused them in the key's lookup (a 500 to
// anyone). No generated key holds them, so no key the client would send is lost.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// ValidAccessKey reports whether s has the shape of a machine access key, which the JWT's kid
// names: AccessKeyPrefix and base64url characters, at most maxKeyIDLen in all (generated ones are
// 27). Every generated key has it (GenerateMachineKey); a kid without it is refused before any
// store lookup.
func ValidAccessKey(s string) bool {
	rest, ok := strings.CutPrefix(s, AccessKeyPrefix)
	return ok && len(s) <= maxKeyIDLen && alnumAnd(rest, '-', '_')
}

// publishableSegment reports whether s is one of the first two segments of a publishable key:
// one or more of [A-Za-z0-9.-].
func publishableSegment(s string) bool { return alnumAnd(s, '-', '.') }

// alnumAnd reports whether s is one or more ASCII letters, digits and the two extra bytes.
func alnumAnd(s string, x, y byte) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == x, c == y:
		default:
			return false
		}
	}
	return true
}

// randomBytes returns n bytes from crypto/rand.
func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("auth: reading random bytes: %w", err)
	}
	return b, nil
}

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n uniformly random characters of base62Alphabet. Bytes of 248 and above
// are discarded, because 256 is not a multiple of 62 and taking them modulo 62 would make the
// first eight characters more likely than the rest.
func randomBase62(n int) (string, error) {
	const limit = 256 - 256%len(base62Alphabet) // 248
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("auth: reading random bytes: %w", err)
		}
		for _, c := range buf {
			if int(c) < limit && len(out) < n {
				out = append(out, base62Alphabet[int(c)%len(base62Alphabet)])
			}
		}
	}
	return string(out), nil
}
