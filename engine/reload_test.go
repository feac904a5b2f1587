package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

func parseServers(t *testing.T, servers map[string]string) *config.Config {
	t.Helper()
	var parts []string
	for name, s := range servers {
		parts = append(parts, fmt.Sprintf("%q: %s", name, s))
	}
	cfg, err := config.Parse([]byte(`{"mcpServers": {`+strings.Join(parts, ",")+`}}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReconfigure adds, removes and changes servers of a running Runner:
// the unchanged one keeps its process (same pid), the changed one gets a
// new process, the removed one's client fails with ErrNotRunning.
func TestReconfigure(t *testing.T) {
	keep := testenv.ServerJSON(t, testserver.ModeNormal, "")
	first := map[string]string{
		"keep":   keep,
		"change": testenv.ServerJSON(t, testserver.ModeNormal, ""),
		"drop":   testenv.ServerJSON(t, testserver.ModeNormal, ""),
	}
	r := testenv.NewRunner(t, first, nil)
	ctx := testenv.Ctx(t)
	if err := r.StartAll(ctx); err != nil {
		t.Fatal(err)
	}
	pid := func(name string) int {
		st, err := r.Status(name)
		if err != nil {
			t.Fatal(err)
		}
		return st.PID
	}
	keepPID, changePID := pid("keep"), pid("change")
	dropClient, _ := r.Client("drop")

	ch, err := r.Reconfigure(ctx, parseServers(t, map[string]string{
		"keep":   keep,
		"change": testenv.ServerJSON(t, testserver.ModeNormal, `"args": ["reloaded"]`),
		"add":    testenv.ServerJSON(t, testserver.ModeNormal, ""),
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Changes{Added: []string{"add"}, Removed: []string{"drop"}, Changed: []string{"change"}, Unchanged: []string{"keep"}}
	if !slices.Equal(ch.Added, want.Added) || !slices.Equal(ch.Removed, want.Removed) ||
		!slices.Equal(ch.Changed, want.Changed) || !slices.Equal(ch.Unchanged, want.Unchanged) {
		t.Errorf("changes = %+v, want %+v", ch, want)
	}
	if got := pid("keep"); got != keepPID {
		t.Errorf("the unchanged server was restarted: pid %d, was %d", got, keepPID)
	}
	if got := pid("change"); got == changePID || got == 0 {
		t.Errorf("the changed server runs pid %d (was %d)", got, changePID)
	}
	if !slices.Equal(r.Servers(), []string{"add", "change", "keep"}) {
		t.Errorf("servers after reload: %v", r.Servers())
	}
	for _, name := range []string{"add", "change", "keep"} {
		c, err := r.Client(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CallTool(ctx, "echo", map[string]any{"text": "x"}); err != nil {
			t.Errorf("%s after reload: %v", name, err)
		}
	}
	if _, err := dropClient.CallTool(ctx, "echo", nil); !errors.Is(err, engine.ErrNotRunning) {
		t.Errorf("the removed server's client: %v", err)
	}
	if _, err := r.Client("drop"); err == nil {
		t.Error("the removed server is still there")
	}
	if ch, err := r.Reconfigure(ctx, r.Config()); err != nil || !ch.Empty() {
		t.Errorf("reapplying the same config: %+v %v", ch, err)
	}
}

// TestReconfigureRefusesInvalid: an invalid config changes nothing.
func TestReconfigureRefusesInvalid(t *testing.T) {
	r := testenv.NewRunner(t, map[string]string{"a": testenv.ServerJSON(t, testserver.ModeNormal, "")}, nil)
	bad := &config.Config{Servers: map[string]*config.Server{"b": {}}}
	if _, err := r.Reconfigure(testenv.Ctx(t), bad); !errors.Is(err, engine.ErrConfigInvalid) {
		t.Errorf("an invalid config: %v", err)
	}
	if !slices.Equal(r.Servers(), []string{"a"}) {
		t.Errorf("servers: %v", r.Servers())
	}
}
