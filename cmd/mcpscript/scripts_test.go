package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/redistest"
)

// A retired script set is released only once the requests that started
// with it are done: a call in flight at a reload finishes on its hooks.
func TestGenerationDrainsBeforeRelease(t *testing.T) {
	g := newGeneration()
	entered, release := make(chan struct{}), make(chan struct{})
	h := g.middleware(func(context.Context, *engine.Request) (json.RawMessage, error) {
		close(entered)
		<-release
		return json.RawMessage(`{}`), nil
	})
	done := make(chan error, 1)
	go func() {
		_, err := h(context.Background(), &engine.Request{Method: "tools/call"})
		done <- err
	}()
	<-entered
	drained := g.retire()
	select {
	case <-drained:
		t.Fatal("the set was released while a request was inside it")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("the set was not released after its last request")
	}
	// A request that took the old chain just before the swap still runs.
	if _, err := g.middleware(func(context.Context, *engine.Request) (json.RawMessage, error) { return nil, nil })(context.Background(), &engine.Request{}); err != nil {
		t.Fatal(err)
	}
}

// An idle set is released at once.
func TestGenerationIdleRetires(t *testing.T) {
	select {
	case <-newGeneration().retire():
	case <-time.After(10 * time.Second):
		t.Fatal("an idle set was not released")
	}
}

// A policy that a reload keeps is shared by the sets that use it and
// closed by the last one to go: a retired set's calls still in flight use
// it after the next reload replaced it.
func TestSharedPolicyOutlivesItsLastSet(t *testing.T) {
	rs := redistest.Start(t)
	parse := func(rate string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(fmt.Sprintf(`{"mcpServers": {"x": {"command": "x"}},
		  "redis": {"url": %q, "prefix": "shared%d:"}, "state": {"store": "redis"},
		  "limits": {"rules": [{"name": "r", "per": ["token"], "rate": %q}]}}`, rs.URL, time.Now().UnixNano(), rate)), "c.json")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := &app{logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	first := parse("10/s")
	set1, err := a.buildScripts(ctx, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	same := *first // a reload that changes nothing of the policy
	set2, err := a.buildScripts(ctx, &same, set1)
	if err != nil {
		t.Fatal(err)
	}
	if set2.pol != set1.pol {
		t.Fatal("a reload with the same limits built a new policy")
	}
	set3, err := a.buildScripts(ctx, parse("20/s"), set2)
	if err != nil {
		t.Fatal(err)
	}
	if set3.pol == set2.pol {
		t.Fatal("a reload with other limits kept the old policy")
	}
	store := set1.pol.Store()
	use := func() error { return store.Set(ctx, "k", []byte("v"), time.Minute) }
	if err := set2.close(); err != nil {
		t.Fatal(err)
	}
	if err := use(); err != nil {
		t.Fatalf("the policy was closed while set 1 still holds it: %v", err)
	}
	if err := set1.close(); err != nil {
		t.Fatal(err)
	}
	if err := use(); err == nil {
		t.Fatal("the policy is still open after its last set released it")
	}
	if err := set3.close(); err != nil {
		t.Fatal(err)
	}
}
