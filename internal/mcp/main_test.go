package mcp_test

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
