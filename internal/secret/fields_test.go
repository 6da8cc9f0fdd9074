package secret_test

import (
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/secret"
)

func TestSealFields(t *testing.T) {
	t.Parallel()
	box := newBox(t)
	meta := map[string]any{"url": "https://example.com", "signing_secret": "whsec_abc", "bearer_token": "", "n": 3.0}
	sealed, err := secret.SealFields(box, meta, []string{"signing_secret", "bearer_token", "absent"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := sealed["signing_secret"].(string); !strings.HasPrefix(s, "v1:") || strings.Contains(s, "whsec_abc") {
		t.Fatalf("signing_secret not sealed: %q", s)
	}
	if sealed["url"] != "https://example.com" || sealed["n"] != 3.0 || sealed["bearer_token"] != "" {
		t.Fatalf("other fields changed: %v", sealed)
	}
	if _, ok := sealed["absent"]; ok {
		t.Fatal("absent key was added")
	}
	if meta["signing_secret"] != "whsec_abc" {
		t.Fatal("SealFields modified its input")
	}
	opened, err := secret.OpenFields(box, sealed, []string{"signing_secret", "bearer_token"})
	if err != nil {
		t.Fatal(err)
	}
	if opened["signing_secret"] != "whsec_abc" {
		t.Fatalf("round trip gave %v", opened["signing_secret"])
	}
	if _, err := secret.OpenFields(box, map[string]any{"signing_secret": "not sealed"}, []string{"signing_secret"}); err == nil {
		t.Fatal("opened a value that was never sealed")
	}
}
