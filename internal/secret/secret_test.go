package secret_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/switchyardhq/switchyard/internal/secret"
)

// fuzzKeyHex is the key FuzzOpen uses; the sealed seeds in testdata/fuzz/FuzzOpen were made with
// it, so they exercise the successful path as well as the failures.
const fuzzKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// newBox returns a Box under a fresh random key.
func newBox(t testing.TB) *secret.Box {
	t.Helper()
	box, err := secret.New(secret.GenerateKey())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return box
}

// mustKey decodes a hex key for tests.
func mustKey(t testing.TB, h string) []byte {
	t.Helper()
	key, err := hex.DecodeString(h)
	if err != nil {
		t.Fatalf("decoding test key: %v", err)
	}
	return key
}

var sealedPattern = regexp.MustCompile(`^v1:[A-Za-z0-9_-]+$`)

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("accepts a 32-byte key", func(t *testing.T) {
		t.Parallel()
		if _, err := secret.New(make([]byte, 32)); err != nil {
			t.Fatalf("New(32 bytes) = %v, want nil", err)
		}
	})

	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		t.Run("rejects a key of "+strconv.Itoa(n)+" bytes", func(t *testing.T) {
			t.Parallel()
			box, err := secret.New(make([]byte, n))
			if err == nil || box != nil {
				t.Fatalf("New(%d bytes) = %v, %v; want nil box and an error", n, box, err)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()

	t.Run("round-trips plaintexts of every size", func(t *testing.T) {
		t.Parallel()
		box := newBox(t)
		for _, plain := range [][]byte{
			{}, []byte("x"), []byte("a machine key secret, 43 characters long...."),
			bytes.Repeat([]byte{0, 0xff}, 4096),
		} {
			sealed, err := box.Seal(plain)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			got, err := box.Open(sealed)
			if err != nil {
				t.Fatalf("Open(Seal(%d bytes)): %v", len(plain), err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("Open(Seal(p)) = %q, want %q", got, plain)
			}
		}
	})

	t.Run("produces the documented v1 layout", func(t *testing.T) {
		t.Parallel()
		box := newBox(t)
		plain := []byte("hello")
		sealed, err := box.Seal(plain)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if !sealedPattern.MatchString(sealed) {
			t.Fatalf("Seal = %q, want it to match %s", sealed, sealedPattern)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
		if err != nil {
			t.Fatalf("body is not unpadded base64url: %v", err)
		}
		if want := 12 + len(plain) + 16; len(raw) != want {
			t.Fatalf("decoded length = %d, want nonce(12)+plaintext(%d)+tag(16) = %d", len(raw), len(plain), want)
		}
		if bytes.Contains(raw, plain) {
			t.Fatalf("sealed value contains the plaintext")
		}
	})

	t.Run("uses a fresh nonce every time", func(t *testing.T) {
		t.Parallel()
		box := newBox(t)
		seen := map[string]bool{}
		for range 100 {
			sealed, err := box.Seal([]byte("same plaintext"))
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
			nonce := string(raw[:12])
			if seen[nonce] {
				t.Fatalf("nonce %x repeated", nonce)
			}
			seen[nonce] = true
		}
	})

	t.Run("opens a value sealed by another Box with the same key", func(t *testing.T) {
		t.Parallel()
		key := secret.GenerateKey()
		a, _ := secret.New(key)
		b, _ := secret.New(key)
		sealed, _ := a.Seal([]byte("shared"))
		got, err := b.Open(sealed)
		if err != nil || string(got) != "shared" {
			t.Fatalf("Open = %q, %v; want \"shared\", nil", got, err)
		}
	})

	t.Run("opens a value sealed earlier with a known key", func(t *testing.T) {
		t.Parallel()
		// Guards the format itself: a change to the layout or the additional data would make
		// every stored secret unreadable, and this fixed value would stop opening.
		box, err := secret.New(mustKey(t, fuzzKeyHex))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		got, err := box.Open(knownSealed)
		if err != nil || string(got) != "switchyard" {
			t.Fatalf("Open(known) = %q, %v; want \"switchyard\", nil", got, err)
		}
	})
}

// knownSealed is "switchyard" sealed under fuzzKeyHex.
const knownSealed = "v1:kXVLgbMIYv7Y-5AevCebtz7gzFYgFPVgnCHeo-xwTCAa2amf4D0"

func TestOpenRejects(t *testing.T) {
	t.Parallel()

	box := newBox(t)
	valid, err := box.Seal([]byte("top secret value"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	body := strings.TrimPrefix(valid, "v1:")
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	flip := func(i int) string {
		c := bytes.Clone(raw)
		c[i] ^= 1
		return "v1:" + base64.RawURLEncoding.EncodeToString(c)
	}
	otherBox := newBox(t)
	otherSealed, _ := otherBox.Seal([]byte("top secret value"))

	tests := []struct {
		name  string
		input string
		want  error
	}{
		{"an empty string", "", secret.ErrUnknownFormat},
		{"a value without a prefix", body, secret.ErrUnknownFormat},
		{"an unknown version", "v2:" + body, secret.ErrUnknownFormat},
		{"an upper-case prefix", "V1:" + body, secret.ErrUnknownFormat},
		{"the bare prefix", "v1:", secret.ErrMalformed},
		{"invalid base64 characters", "v1:" + body[:10] + "!!" + body[12:], secret.ErrMalformed},
		{"a line break inside the body", "v1:" + body[:8] + "\n" + body[8:], secret.ErrMalformed},
		{"standard-alphabet base64", "v1:" + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 40)), secret.ErrMalformed},
		{"padded base64", "v1:" + base64.URLEncoding.EncodeToString(raw[:len(raw)-1]), secret.ErrMalformed},
		{"a body shorter than nonce and tag", "v1:" + base64.RawURLEncoding.EncodeToString(raw[:27]), secret.ErrMalformed},
		{"a truncated value", "v1:" + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), secret.ErrDecrypt},
		{"a flipped nonce bit", flip(0), secret.ErrDecrypt},
		{"a flipped ciphertext bit", flip(14), secret.ErrDecrypt},
		{"a flipped tag bit", flip(len(raw) - 1), secret.ErrDecrypt},
		{"a value sealed under another key", otherSealed, secret.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := box.Open(tt.input)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Fatalf("Open returned plaintext %q alongside an error", got)
			}
			if len(tt.input) > 8 && strings.Contains(err.Error(), tt.input[3:]) {
				t.Fatalf("error %q repeats the input", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()

	// 0xfb bytes encode to '+' and '/' in standard base64 and '-' and '_' in base64url, so each
	// alphabet is really exercised.
	key := bytes.Repeat([]byte{0xfb, 0xef, 0xbe}, 11)[:32]

	accepted := []struct{ name, input string }{
		{"standard base64 with padding", base64.StdEncoding.EncodeToString(key)},
		{"standard base64 without padding", base64.RawStdEncoding.EncodeToString(key)},
		{"base64url with padding", base64.URLEncoding.EncodeToString(key)},
		{"base64url without padding", base64.RawURLEncoding.EncodeToString(key)},
		{"lower-case hex", hex.EncodeToString(key)},
		{"upper-case hex", strings.ToUpper(hex.EncodeToString(key))},
		{"base64 with surrounding whitespace", "  " + base64.StdEncoding.EncodeToString(key) + "\n"},
	}
	for _, tt := range accepted {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := secret.ParseKey(tt.input)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if !bytes.Equal(got, key) {
				t.Fatalf("ParseKey = %x, want %x", got, key)
			}
		})
	}

	rejected := []struct{ name, input string }{
		{"an empty string", ""},
		{"only whitespace", " \n\t"},
		{"31 bytes of base64", base64.StdEncoding.EncodeToString(key[:31])},
		{"33 bytes of base64", base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 1))},
		{"63 hex characters", hex.EncodeToString(key)[:63]},
		{"66 hex characters", hex.EncodeToString(append(bytes.Clone(key), 1))},
		{"64 characters that are not hex", strings.Repeat("zq", 32)},
		{"a passphrase", "correct horse battery staple"},
		{"base64 with an inner space", base64.StdEncoding.EncodeToString(key)[:20] + " " + base64.StdEncoding.EncodeToString(key)[20:]},
	}
	for _, tt := range rejected {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := secret.ParseKey(tt.input)
			if err == nil {
				t.Fatalf("ParseKey = %x, want an error", got)
			}
			if trimmed := strings.TrimSpace(tt.input); len(trimmed) >= 8 && strings.Contains(err.Error(), trimmed[:8]) {
				t.Fatalf("error %q repeats the input", err)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()

	a, b := secret.GenerateKey(), secret.GenerateKey()
	if len(a) != secret.KeySize || len(b) != secret.KeySize {
		t.Fatalf("GenerateKey lengths = %d, %d; want %d", len(a), len(b), secret.KeySize)
	}
	if bytes.Equal(a, b) {
		t.Fatalf("two generated keys are equal")
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	t.Parallel()

	t.Run("creates a private key file when none exists", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "key")
		key, created, err := secret.LoadOrCreateKeyFile(path)
		if err != nil || !created {
			t.Fatalf("LoadOrCreateKeyFile = created %v, %v; want true, nil", created, err)
		}
		if len(key) != secret.KeySize {
			t.Fatalf("key length = %d, want %d", len(key), secret.KeySize)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading key file: %v", err)
		}
		if want := base64.StdEncoding.EncodeToString(key) + "\n"; string(data) != want {
			t.Fatalf("file holds %q, want standard base64 of the key and a newline", data)
		}
		if runtime.GOOS != "windows" {
			fi, _ := os.Stat(path)
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Fatalf("file mode = %o, want 600", mode)
			}
		}
	})

	t.Run("leaves no temporary files behind", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if _, _, err := secret.LoadOrCreateKeyFile(filepath.Join(dir, "key")); err != nil {
			t.Fatalf("LoadOrCreateKeyFile: %v", err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != "key" {
			t.Fatalf("directory holds %v, want only the key file", entries)
		}
	})

	t.Run("loads the same key on the next call", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "key")
		first, _, err := secret.LoadOrCreateKeyFile(path)
		if err != nil {
			t.Fatalf("first call: %v", err)
		}
		second, created, err := secret.LoadOrCreateKeyFile(path)
		if err != nil || created {
			t.Fatalf("second call = created %v, %v; want false, nil", created, err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("second call returned a different key")
		}
	})

	t.Run("reads an operator-written hex key", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(path, []byte(fuzzKeyHex+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		key, created, err := secret.LoadOrCreateKeyFile(path)
		if err != nil || created || !bytes.Equal(key, mustKey(t, fuzzKeyHex)) {
			t.Fatalf("LoadOrCreateKeyFile = %x, %v, %v; want the file's key, false, nil", key, created, err)
		}
	})

	t.Run("accepts an existing file readable by others", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(path, []byte(fuzzKeyHex), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := secret.LoadOrCreateKeyFile(path); err != nil {
			t.Fatalf("LoadOrCreateKeyFile(0644 file) = %v, want nil (documented choice)", err)
		}
	})

	t.Run("rejects an existing file that holds no valid key without overwriting it", func(t *testing.T) {
		t.Parallel()
		for _, content := range []string{"", "\n", "not-a-key-but-secret-looking-text"} {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			key, _, err := secret.LoadOrCreateKeyFile(path)
			if err == nil {
				t.Fatalf("LoadOrCreateKeyFile(%q) = %x, want an error", content, key)
			}
			if trimmed := strings.TrimSpace(content); trimmed != "" && strings.Contains(err.Error(), trimmed) {
				t.Fatalf("error %q repeats the file's content", err)
			}
			if data, _ := os.ReadFile(path); string(data) != content {
				t.Fatalf("file content changed to %q", data)
			}
		}
	})

	t.Run("fails when the parent directory does not exist", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "missing")
		_, _, err := secret.LoadOrCreateKeyFile(filepath.Join(dir, "key"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("LoadOrCreateKeyFile error = %v, want one wrapping fs.ErrNotExist", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the missing directory was created")
		}
	})

	t.Run("gives racing callers one key", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "key")
		const n = 16
		var (
			wg      sync.WaitGroup
			keys    [n][]byte
			errs    [n]error
			created [n]bool
		)
		for i := range n {
			wg.Go(func() { keys[i], created[i], errs[i] = secret.LoadOrCreateKeyFile(path) })
		}
		wg.Wait()
		creators := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("caller %d got a different key", i)
			}
			if created[i] {
				creators++
			}
		}
		if creators != 1 {
			t.Fatalf("%d callers report creating the file, want exactly 1", creators)
		}
	})
}

// FuzzOpen checks that Open never panics, whatever it is given, and that anything it opens
// (and any input used as a plaintext) survives a Seal→Open round trip.
func FuzzOpen(f *testing.F) {
	box, err := secret.New(mustKey(f, fuzzKeyHex))
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	sealed, _ := box.Seal([]byte("seed plaintext"))
	for _, seed := range []string{
		"", "v1:", "v1:A", "v1:AAAA", "v2:AAAA", "v1:====", "v1:\n\r", sealed, knownSealed,
		"v1:" + strings.Repeat("A", 37), "v1:" + strings.Repeat("_", 38), sealed[:len(sealed)-1],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		got, err := box.Open(input)
		switch {
		case err == nil:
			if !strings.HasPrefix(input, "v1:") {
				t.Fatalf("Open accepted %q without the v1 prefix", input)
			}
			roundTrip(t, box, got)
		case got != nil:
			t.Fatalf("Open returned plaintext alongside error %v", err)
		case !errors.Is(err, secret.ErrUnknownFormat) && !errors.Is(err, secret.ErrMalformed) &&
			!errors.Is(err, secret.ErrDecrypt):
			t.Fatalf("Open error %v wraps none of the documented sentinels", err)
		}
		roundTrip(t, box, []byte(input))
	})
}

// roundTrip fails t unless plain survives Seal then Open.
func roundTrip(t *testing.T, box *secret.Box, plain []byte) {
	t.Helper()
	sealed, err := box.Seal(plain)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	got, err := box.Open(sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open(Seal(%q)) = %q, %v", plain, got, err)
	}
}
