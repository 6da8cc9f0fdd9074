package destinationtest

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
)

// Provision does for a test what the engine does before an attempt: it normalises
// p.Connection's metadata with the integration's schema as the registry publishes it
// (ValidateMetadata; a field error fails t), builds the integration's provisioner with opts and
// provisions a sender for the normalised connection value, with p's managed credential. The
// caller's connection is not changed. The sender and the provisioner are cleaned up when t
// ends.
func Provision(t testing.TB, in *destination.Integration, opts destination.Options, p destination.Provision) destination.Sender {
	t.Helper()
	if p.Connection == nil {
		t.Fatal("destinationtest.Provision: no connection")
	}
	registered, _ := destination.NewRegistry(in).Get(in.Type)
	norm, errs := registered.ValidateMetadata(p.Connection.Metadata, opts)
	if len(errs) > 0 {
		t.Fatalf("destinationtest.Provision: the %s schema refuses the connection's metadata: %v", in.Type, errs)
	}
	conn := *p.Connection
	conn.Metadata = norm
	p.Connection = &conn

	prov := in.New(opts)
	if c, ok := prov.(destination.Cleaner); ok {
		t.Cleanup(c.Cleanup)
	}
	s, err := prov.Provision(t.Context(), p)
	if err != nil {
		t.Fatalf("destinationtest.Provision: %s refuses normalised metadata %v: %v", in.Type, in.Mask(norm), err)
	}
	if c, ok := s.(destination.Cleaner); ok {
		t.Cleanup(c.Cleanup)
	}
	return s
}
