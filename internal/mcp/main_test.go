package mcp_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchyardhq/switchyard/internal/testutil"
)

// TestMain fails the package on a leaked goroutine and removes the binary the stdio tests
// built.
func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m, goleak.Cleanup(func(int) {
		if binary != "" {
			os.RemoveAll(filepath.Dir(binary))
		}
	}))
}
