package secret

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// DeriveKey derives a KeySize-byte key for one purpose from the server's encryption key with
// HKDF-SHA256 (RFC 5869): no salt, the label as the info string. Each label names one use
// ("switchyard/session-token/v1" signs embed session tokens), so a key derived for one use says
// nothing about the encryption key or about the keys of other uses. Every node holding the same
// encryption key derives the same key, so no extra secret has to be shared or stored.
func DeriveKey(key []byte, label string) ([]byte, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key must be %d bytes, got %d", KeySize, len(key))
	}
	if label == "" {
		return nil, errors.New("secret: a derived key needs a label")
	}
	out, err := hkdf.Key(sha256.New, key, nil, label, KeySize)
	if err != nil {
		return nil, fmt.Errorf("secret: deriving key: %w", err)
	}
	return out, nil
}
