// Package secret encrypts the credentials Switchyard must keep but must be able to read back:
// machine-key secrets (HS256 verification needs the secret itself, so it cannot be hashed) and
// the secret fields of connection configurations. A Box seals values with AES-256-GCM under the
// server's encryption key into a self-describing text form that fits in any string column.
//
// The sealed form is "v1:" followed by unpadded base64url of nonce||ciphertext||tag, where the
// nonce is 12 random bytes drawn afresh for every Seal. The version prefix lets a later format
// (or a rotated key) live beside v1 values without guessing.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length in bytes of an encryption key: AES-256.
const KeySize = 32

// prefix marks values sealed in the v1 format.
const prefix = "v1:"

// additionalData is authenticated with every v1 value but not stored in it. Binding the format
// version into the tag means a v1 ciphertext can never be accepted by a future format that
// reuses the same key, even if that format's layout happens to parse it.
var additionalData = []byte("switchyard/secret/v1")

// minSealedLen is the shortest decoded v1 value: a 12-byte nonce and a 16-byte tag around an
// empty plaintext.
const minSealedLen = 12 + 16

// Errors Open returns, so callers can tell a damaged value from a wrong key. None of them carries
// any part of the input, which may be secret.
var (
	// ErrUnknownFormat means the value does not start with a version prefix this package knows.
	ErrUnknownFormat = errors.New("secret: unknown sealed format (want a \"v1:\" prefix)")
	// ErrMalformed means the value has the v1 prefix but its body is not valid base64url or is
	// too short to hold a nonce and a tag.
	ErrMalformed = errors.New("secret: malformed sealed value")
	// ErrDecrypt means authentication failed: the value was sealed under another key, or it was
	// altered after sealing.
	ErrDecrypt = errors.New("secret: cannot decrypt (wrong key or tampered value)")
)

// encoding is unpadded base64url in strict mode, so each ciphertext has exactly one text form.
var encoding = base64.RawURLEncoding.Strict()

// Box seals and opens values under one AES-256 key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for key, which must be KeySize (32) bytes. The key is not retained beyond
// the cipher's own expanded schedule, so the caller may wipe its copy.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: creating cipher: %w", err)
	}
	// NewGCMWithRandomNonce draws the 12-byte nonce from crypto/rand and prepends it, which is
	// exactly the v1 layout, and leaves no nonce handling for this package to get wrong.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("secret: creating GCM: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext and returns it in the v1 text form. Sealing the same plaintext twice
// gives different results because each call uses a fresh random nonce. With random 96-bit
// nonces one key should seal fewer than 2^32 values, far beyond what a credential store holds.
// The error is always nil today; it is part of the signature so that a key held elsewhere (a KMS,
// say) can fail without changing every caller.
func (b *Box) Seal(plaintext []byte) (string, error) {
	sealed := b.aead.Seal(nil, nil, plaintext, additionalData)
	return prefix + encoding.EncodeToString(sealed), nil
}

// Open decrypts a value produced by Seal under the same key. It returns an error wrapping
// ErrUnknownFormat, ErrMalformed or ErrDecrypt for anything else, and never panics, whatever
// the input.
func (b *Box) Open(sealed string) ([]byte, error) {
	body, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, ErrUnknownFormat
	}
	// The base64 decoder skips CR and LF; refusing them keeps one text form per value.
	raw, err := encoding.DecodeString(body)
	if err != nil || strings.ContainsAny(body, "\r\n") {
		// The decoder's error quotes an offset, not the input, but keep the message fixed anyway.
		return nil, fmt.Errorf("%w: invalid base64url", ErrMalformed)
	}
	if len(raw) < minSealedLen {
		return nil, fmt.Errorf("%w: too short", ErrMalformed)
	}
	plaintext, err := b.aead.Open(nil, nil, raw, additionalData)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// ParseKey decodes an encryption key given as text: 32 bytes as base64 (standard or URL
// alphabet, padded or not) or as 64 hexadecimal characters. Surrounding whitespace is ignored,
// since keys usually come from files and environment variables with a trailing newline. The
// error never repeats the input, which may be a real key with a typo in it.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("secret: key is empty")
	}
	// 64 characters cannot be the base64 form of 32 bytes (that is 43 or 44), so hex is tried
	// first without ambiguity.
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("secret: key decodes to %d bytes, want %d", len(key), KeySize)
		}
		return key, nil
	}
	return nil, fmt.Errorf("secret: key (%d characters) is neither base64 nor 64 hex characters encoding %d bytes",
		len(s), KeySize)
}

// GenerateKey returns a new random encryption key.
func GenerateKey() []byte {
	// rand.Read never fails on supported platforms (it crashes the program instead), so there is
	// no error to return.
	key := make([]byte, KeySize)
	_, _ = rand.Read(key)
	return key
}

// LoadOrCreateKeyFile reads the encryption key from the file at path, or creates that file with
// a new random key when it does not exist; created reports which happened. The file holds the
// key in ParseKey's format (a new one is written as standard base64 and a newline). The parent
// directory must already exist: creating directories is left to the operator, so a mistyped path
// fails loudly instead of scattering keys.
//
// A new file gets mode 0600. An existing file is accepted whatever its permissions: mounted
// secrets (a Kubernetes secret volume defaults to 0644, for example) are commonly readable by
// group or others inside a container whose only user is Switchyard, and refusing them would push
// operators to weaker workarounds. Callers that want to warn can stat the file themselves.
//
// The file appears at path complete or not at all, so several processes starting at once on a
// shared volume never read a half-written key, and they all end up with the one key that won.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	key, err = readKeyFile(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	key = GenerateKey()
	err = publishKeyFile(path, key)
	if errors.Is(err, fs.ErrExist) {
		// Another process won the race; use its key, or nothing sealed by one could be opened
		// by the other.
		key, err = readKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("secret: creating key file %s: %w", path, err)
	}
	return key, true, nil
}

// publishKeyFile writes key to a temporary file beside path and hard-links it into place. A link,
// unlike a rename, fails when path already exists, so an existing key is never replaced, and
// readers see either no file or the whole key. It returns an error wrapping fs.ErrExist when
// path already exists.
func publishKeyFile(path string, key []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".switchyard-key-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := writeKeyFile(tmp, key); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// Some filesystems (FAT, some network mounts) have no hard links. Exclusive creation
		// keeps the never-replace guarantee there, at the cost of a brief window in which a
		// racing reader could see the file empty and fail to start.
		return createKeyFileExclusive(path, key)
	}
	if err == nil {
		syncDir(dir)
	}
	return err
}

// createKeyFileExclusive creates path with mode 0600 and writes key to it, failing with an error
// wrapping fs.ErrExist if path exists. A partial file is removed on failure so that the next
// start creates a good one instead of failing to parse it.
func createKeyFileExclusive(path string, key []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := writeKeyFile(f, key); err != nil {
		_ = os.Remove(path)
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir flushes a directory's entries so that a newly created key file survives a crash. It is
// best effort: not every platform can sync a directory (Windows cannot open one for writing), and
// the key is already safely in its file.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// readKeyFile reads and parses a key file. A missing file yields an error wrapping
// fs.ErrNotExist.
func readKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret: reading key file %s: %w", path, err)
	}
	key, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("secret: key file %s: %w", path, err)
	}
	return key, nil
}

// writeKeyFile writes key to f, flushes it to stable storage and closes f. The sync matters: a
// key lost in a crash after first start would make every value sealed under it unreadable.
func writeKeyFile(f *os.File, key []byte) error {
	_, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
