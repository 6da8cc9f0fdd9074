package delivery

import (
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Opened secrets are reused only for the very connection value they were opened from: a
// changed connection (a new value from the store) is opened again.
func TestOpenMetadataFollowsTheConnection(t *testing.T) {
	t.Parallel()
	box, err := secret.New(secret.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{cfg: Config{Box: box}}
	sealed := func(v string) map[string]any {
		m, err := secret.SealFields(box, map[string]any{"url": "https://example.com", "secret": v}, []string{"secret"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	id := uuid.New()
	first := &switchyard.Connection{ID: id, Metadata: sealed("one")}
	m1, err := e.openMetadata(first, []string{"secret"})
	if err != nil || m1["secret"] != "one" {
		t.Fatalf("opened %v, err %v", m1, err)
	}
	if m2, _ := e.openMetadata(first, []string{"secret"}); reflect.ValueOf(m2).UnsafePointer() != reflect.ValueOf(m1).UnsafePointer() {
		t.Fatal("the same connection value was opened again instead of reusing what was opened")
	}
	changed := &switchyard.Connection{ID: id, Metadata: sealed("two")}
	if m3, err := e.openMetadata(changed, []string{"secret"}); err != nil || m3["secret"] != "two" {
		t.Fatalf("after the connection changed: %v, err %v; want the new secret", m3, err)
	}
	if first.Metadata["secret"] == "one" {
		t.Fatal("the stored (sealed) metadata was modified")
	}
}
