package gateway_test

import (
	"testing"

	"github.com/mcpscript/mcpscript/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
