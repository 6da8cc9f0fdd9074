package destination_test

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/testutil"
)

// TestMain fails the package's tests if any of them leaves a goroutine running (the test servers and the senders' HTTP connections).
func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
