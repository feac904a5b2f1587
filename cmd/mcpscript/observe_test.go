package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
)

// serve reopens the audit trail's file on SIGHUP, so that log rotation
// (rename, then signal) gets a fresh file.
func TestReopenOnHangup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	trail, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	var logs bytes.Buffer
	a := &app{logger: slog.New(slog.NewTextHandler(&logs, nil))}
	stop := onHangup(func() { a.reopenTrail(trail) })
	defer stop()
	h := trail.Observer()(func(context.Context, *engine.Request) (json.RawMessage, error) { return json.RawMessage(`{}`), nil })
	record := func(method string, n uint64) {
		t.Helper()
		if _, err := h(context.Background(), &engine.Request{Server: "demo", Method: method}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for trail.Written() < n {
			if time.Now().After(deadline) {
				t.Fatalf("record %d not written", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	record("before", 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new file after SIGHUP; log: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	record("after", 2)
	trail.Close()
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !bytes.Contains(old, []byte(`"method":"before"`)) || bytes.Contains(old, []byte(`"after"`)) || !bytes.Contains(cur, []byte(`"method":"after"`)) {
		t.Errorf("rotated file:\n%s\nnew file:\n%s", old, cur)
	}
}
