package auth_test

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/auth"
)

// The @mesheshq/api constructor's checks (docs/meshes-compat.md §2) and the @mesheshq/events one
// (§10.1), copied from the clients rather than from package auth, so a change there cannot make
// these tests pass by accident.
var (
	clientAccessKeyPattern      = regexp.MustCompile(`^mk_[A-Za-z0-9_-]{22,}$`)
	clientSecretPattern         = regexp.MustCompile(`^[A-Za-z0-9_-]{43,}$`)
	clientPublishableKeyPattern = regexp.MustCompile(`^mesh_pub_([A-Za-z0-9\-.]+)_([A-Za-z0-9\-.]+)_([^_]+)$`)
	generatedPublishableKey     = regexp.MustCompile(`^mesh_pub_[0-9a-f]{8}_[0-9a-f]{16}_[0-9A-Za-z]{32}$`)
)

func TestGenerateMachineKey(t *testing.T) {
	t.Parallel()

	t.Run("produces credentials the official clients accept", func(t *testing.T) {
		t.Parallel()
		for range 200 {
			access, secret, err := auth.GenerateMachineKey()
			if err != nil {
				t.Fatalf("GenerateMachineKey: %v", err)
			}
			if !clientAccessKeyPattern.MatchString(access) || len(access) != 27 {
				t.Fatalf("access key %q does not match %s with 24 characters after mk_", access, clientAccessKeyPattern)
			}
			if !clientSecretPattern.MatchString(secret) || len(secret) != 43 {
				t.Fatalf("secret of length %d does not match %s with exactly 43 characters", len(secret), clientSecretPattern)
			}
			raw, err := base64.RawURLEncoding.DecodeString(secret)
			if err != nil || len(raw) != 32 {
				t.Fatalf("secret is not base64url of 32 bytes: %d bytes, %v", len(raw), err)
			}
		}
	})

	t.Run("never repeats a key or a secret", func(t *testing.T) {
		t.Parallel()
		seen := map[string]bool{}
		for range 1000 {
			access, secret, err := auth.GenerateMachineKey()
			if err != nil {
				t.Fatalf("GenerateMachineKey: %v", err)
			}
			if seen[access] || seen[secret] {
				t.Fatalf("a generated value repeated")
			}
			seen[access], seen[secret] = true, true
		}
	})

	t.Run("never begins a secret with a dash, which a command line would take for a flag", func(t *testing.T) {
		t.Parallel()
		// One random secret in 64 would begin with '-': in 2,000, about 31 would.
		for range 2000 {
			_, secret, err := auth.GenerateMachineKey()
			if err != nil {
				t.Fatalf("GenerateMachineKey: %v", err)
			}
			if secret[0] == '-' {
				t.Fatalf("secret %q… begins with a dash", secret[:4])
			}
		}
	})

	t.Run("mints tokens that verify", func(t *testing.T) {
		t.Parallel()
		access, secret, err := auth.GenerateMachineKey()
		if err != nil {
			t.Fatalf("GenerateMachineKey: %v", err)
		}
		keys := newKeys()
		entry := keys.keys[testAccessKey]
		key := *entry.key
		key.AccessKey = access
		keys.keys[access] = keyEntry{key: &key, secret: []byte(secret)}
		token, err := auth.Mint(access, secret, testOrg, testNow, auth.DefaultTokenTTL)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		v := &auth.Verifier{Keys: keys, Now: newVerifier(t).Now}
		if _, err := v.Verify(t.Context(), token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

func TestGeneratePublishableKey(t *testing.T) {
	t.Parallel()

	seen := map[string]bool{}
	chars := map[rune]bool{}
	for range 300 {
		key, err := auth.GeneratePublishableKey()
		if err != nil {
			t.Fatalf("GeneratePublishableKey: %v", err)
		}
		if !clientPublishableKeyPattern.MatchString(key) {
			t.Fatalf("key %q does not match the events client's pattern", key)
		}
		if !generatedPublishableKey.MatchString(key) || len(key) != 67 {
			t.Fatalf("key %q does not have the documented shape", key)
		}
		if !auth.ValidPublishableKey(key) {
			t.Fatalf("ValidPublishableKey(%q) = false for a generated key", key)
		}
		if seen[key] {
			t.Fatalf("key %q repeated", key)
		}
		seen[key] = true
		for _, c := range key[strings.LastIndexByte(key, '_')+1:] {
			chars[c] = true
		}
	}
	// 9,600 draws from 62 characters: a generator that skipped some (a wrong alphabet, or a
	// modulo over too few values) would leave gaps; a uniform one misses none with overwhelming
	// probability.
	if len(chars) != 62 {
		t.Fatalf("the last segment used %d distinct characters over 300 keys, want all 62", len(chars))
	}
}

func TestValidPublishableKey(t *testing.T) {
	t.Parallel()

	tests := []struct {
		key  string
		want bool
	}{
		{"mesh_pub_abc.def_ghi-jkl_asdf123", true}, // the events client's own example
		{"mesh_pub_0a1b2c3d_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz012345", true},
		{"mesh_pub_a_b_c", true},
		{"mesh_pub_a_b_" + strings.Repeat("c", auth.MaxPublishableKeyLen-len("mesh_pub_a_b_")), true},
		{"mesh_pub_a_b_" + strings.Repeat("c", auth.MaxPublishableKeyLen-len("mesh_pub_a_b_")+1), false},
		{"", false},
		{"pk_live_abc", false},
		{"pub_abc_def_ghi", false},
		{"mesh_pub_a_b", false},
		{"mesh_pub_a_b_c_d", false},
		{"mesh_pub_a_b_", false},
		{"mesh_pub__b_c", false},
		{"mesh_pub_a b_c_d", false},
		{"mesh_pub_a!_b_c", false},
		{"MESH_PUB_a_b_c", false},
		{" mesh_pub_a_b_c", false},
	}
	for _, tt := range tests {
		name := "rejects"
		if tt.want {
			name = "accepts"
		}
		t.Run(name+" "+strings.TrimSpace(tt.key[:min(len(tt.key), 40)]), func(t *testing.T) {
			t.Parallel()
			if got := auth.ValidPublishableKey(tt.key); got != tt.want {
				t.Fatalf("ValidPublishableKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

// ValidPublishableKey is the events client's pattern, the length bound and printable text (valid
// UTF-8, no control characters), whatever the input.
func FuzzValidPublishableKey(f *testing.F) {
	for _, s := range []string{"mesh_pub_abc.def_ghi-jkl_asdf123", "mesh_pub_a_b_c", "mesh_pub_a_b_c_d", "mesh_pub__b_c",
		"mesh_pub_a_b_", "mesh_pub_a_b_c\n", "mesh_pub_a_b_\xff", "mesh_pub_\xff_b_c", "mesh_pub_a.-_B9_\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) <= auth.MaxPublishableKeyLen && clientPublishableKeyPattern.MatchString(s) &&
			utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
		if got := auth.ValidPublishableKey(s); got != want {
			t.Fatalf("ValidPublishableKey(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

func TestBearerToken(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		values []string
		want   string
		wantOK bool
	}{
		{"reads a canonical Bearer header", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", true},
		{"matches the scheme in lower case", []string{"bearer abc.def.ghi"}, "abc.def.ghi", true},
		{"matches the scheme in upper case", []string{"BEARER abc.def.ghi"}, "abc.def.ghi", true},
		{"tolerates extra spaces around the token", []string{"  Bearer   abc.def.ghi  "}, "abc.def.ghi", true},
		{"reports a missing header", nil, "", false},
		{"reports an empty header", []string{""}, "", false},
		{"reports another scheme", []string{"Basic dXNlcjpwYXNz"}, "", false},
		{"reports a scheme without a token", []string{"Bearer"}, "", false},
		{"reports a scheme followed only by spaces", []string{"Bearer   "}, "", false},
		{"reports a token containing a space", []string{"Bearer abc def"}, "", false},
		{"reports a token containing a tab", []string{"Bearer abc\tdef"}, "", false},
		{"reports a scheme run into the token", []string{"Bearerabc.def.ghi"}, "", false},
		{"reports two Authorization headers", []string{"Bearer one", "Bearer two"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Authorization", v)
			}
			got, ok := auth.BearerToken(h)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("BearerToken(%q) = %q, %v; want %q, %v", tt.values, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestValidAccessKey(t *testing.T) {
	t.Parallel()
	for range 20 {
		access, _, err := auth.GenerateMachineKey()
		if err != nil {
			t.Fatal(err)
		}
		if !auth.ValidAccessKey(access) {
			t.Fatalf("the generated access key %q is not valid", access)
		}
	}
	for key, want := range map[string]bool{
		"mk_yMnKy8zNzs_Q0dLT1NXW19jZ":    true,
		"mk_x":                           true,
		"mk_":                            false,
		"MK_abc":                         false,
		"key-1":                          false,
		"mk_abc\x00def":                  false,
		"mk_abc\xffdef":                  false,
		"mk_caf\u00e9":                   false,
		"mk_a b":                         false,
		"mk_" + strings.Repeat("a", 253): true,
		"mk_" + strings.Repeat("a", 254): false,
	} {
		if got := auth.ValidAccessKey(key); got != want {
			t.Errorf("ValidAccessKey(%q) = %v, want %v", key, got, want)
		}
	}
}
