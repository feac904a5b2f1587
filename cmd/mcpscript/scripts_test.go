package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
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
