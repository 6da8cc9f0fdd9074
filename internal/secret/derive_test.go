package secret_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/switchyardhq/switchyard/internal/secret"
)

func TestDeriveKey(t *testing.T) {
	t.Parallel()
	key, _ := hex.DecodeString(fuzzKeyHex)
	a, err := secret.DeriveKey(key, "switchyard/test/a")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := secret.DeriveKey(key, "switchyard/test/a")
	b, _ := secret.DeriveKey(key, "switchyard/test/b")
	other, _ := secret.DeriveKey(secret.GenerateKey(), "switchyard/test/a")
	switch {
	case len(a) != secret.KeySize:
		t.Fatalf("derived %d bytes, want %d", len(a), secret.KeySize)
	case !bytes.Equal(a, again):
		t.Fatal("the same key and label derived two keys: nodes sharing a key would disagree")
	case bytes.Equal(a, b):
		t.Fatal("two labels derived the same key")
	case bytes.Equal(a, other):
		t.Fatal("two encryption keys derived the same key")
	case bytes.Equal(a, key):
		t.Fatal("the derived key is the encryption key")
	}
	// RFC 5869 HKDF-SHA256 with no salt, pinned so that a change of construction (which would
	// invalidate every token signed with a derived key) cannot go unnoticed.
	if got := hex.EncodeToString(a); got != pinnedDerivation {
		t.Fatalf("derivation changed: %s, want %s", got, pinnedDerivation)
	}
	if _, err := secret.DeriveKey(key[:16], "x"); err == nil {
		t.Fatal("a short key was accepted")
	}
	if _, err := secret.DeriveKey(key, ""); err == nil {
		t.Fatal("an empty label was accepted")
	}
}

// pinnedDerivation is HKDF-SHA256(fuzzKeyHex, salt none, info "switchyard/test/a"), computed
// apart from Go (HMAC by hand: PRK = HMAC(zeros, key), OKM = HMAC(PRK, info || 0x01)).
const pinnedDerivation = "76cdb039b0b2636ff22ae5b000a1281d15edbb92fa3e524720e4a5368a026520"
