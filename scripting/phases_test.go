package scripting

import (
	"encoding/json"
	"testing"

	"github.com/mcpscript/mcpscript/engine/config"
)

// TestConfigKnowsEveryPhase keeps the config's list of filter hook names
// (which cannot import this package) in step with Phases.
func TestConfigKnowsEveryPhase(t *testing.T) {
	for _, p := range Phases {
		hooks, _ := json.Marshal([]string{string(p)})
		src := `{"mcpServers": {"s": {"command": "x"}}, "filters": [{"wasm": "f.wasm", "hooks": ` + string(hooks) + `}]}`
		if _, err := config.Parse([]byte(src), "phases.json"); err != nil {
			t.Errorf("phase %q: %v", p, err)
		}
	}
	if _, err := config.Parse([]byte(`{"mcpServers": {"s": {"command": "x"}}, "filters": [{"wasm": "f.wasm", "hooks": ["toolcalls"]}]}`), "phases.json"); err == nil {
		t.Errorf("an unknown phase was accepted")
	}
}
