//go:build wasip1

// Command guest is the test filter of package wasm: one module whose
// behaviour is chosen per call by the tool name (toolCall, toolResult) and
// per instance by its config {"mode": ...}. The tests build it once.
//
// Config modes: "refuse" (Init fails), "initpanic" (Init panics),
// "initloop" (Init loops forever), "" (fine).
//
// Tools (any phase with that tool name):
//
//	panic      panics ("boom")
//	loop       loops forever
//	oom        allocates until the memory limit is hit
//	bigslice   makes a slice of 3e8 int64s and fills it (2.4 GB)
//	midslice   makes a slice of 2e7 int64s and fills it (160 MB)
//	repeat     makes a 1 GiB string
//	pushloop   appends to a slice of pointers forever
//	recursion  recurses without end
//	marshal    encodes 2000 copies of a 1 MiB string as JSON
//	sleep      sleeps for arguments.ms milliseconds, then continues
//	error      returns an error ("guest says no")
//	exit       calls os.Exit(3)
//	malformed  writes "not json{" as its output
//	unknown    writes {"denied": "x"}
//	empty      writes nothing and returns 0
//	badptr     calls input_read with a pointer outside its memory
//	deny       denies with the reason "tool deny is denied"
//	modify     adds "filtered": true to the arguments
//	answer     answers with the text "answered by the filter"
//	count      answers with the instance's call count (1 on a fresh instance)
//	config     answers with the config as text
//	input      answers with the input's JSON as text
//	log        logs through guest.Log, stdout and stderr, then continues
//	nil        returns a nil Decision
//	sandbox    answers with {"file": ..., "dir": ..., "env": [...], "args": [...], "time": ...} as text
//	fast       writes {} without decoding the input
//
// Any other tool continues; on toolResult, text contents have "SECRET"
// replaced by "[redacted]".
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcpscript/mcpscript/scripting/wasm/guest"
)

//go:wasmimport mcpscript input_read
func inputReadRaw(ptr, n uint32) uint32

var (
	calls int
	sink  [][]byte
	keep  any
	ptrs  []*int
)

// recurse recurses without end (each frame keeps some stack).
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}

func init() {
	guest.Init(func() error {
		var cfg struct {
			Mode string `json:"mode"`
		}
		if err := guest.Config(&cfg); err != nil {
			return err
		}
		switch cfg.Mode {
		case "refuse":
			return errors.New(`mode "refuse" refuses to start`)
		case "initpanic":
			panic("init boom")
		case "initloop":
			for {
				calls++
			}
		}
		return nil
	})
	guest.HandleRaw(handle)
}

func handle(raw []byte) ([]byte, error) {
	calls++
	if bytes.Contains(raw, []byte(`"tool":"fast"`)) {
		return []byte("{}"), nil // no JSON decoding: the SDK's own cost
	}
	var in guest.Input
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	switch in.Tool {
	case "malformed":
		return []byte("not json{"), nil
	case "unknown":
		return []byte(`{"denied": "x"}`), nil
	case "empty":
		return nil, nil
	}
	d, err := decide(&in, raw)
	if err != nil {
		return nil, err
	}
	if d == nil {
		d = guest.Continue()
	}
	return json.Marshal(d)
}

func decide(in *guest.Input, raw []byte) (*guest.Decision, error) {
	switch in.Tool {
	case "panic":
		panic("boom")
	case "loop":
		for {
			calls++
		}
	case "oom":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case "bigslice", "midslice":
		n := int(3e8)
		if in.Tool == "midslice" {
			n = 2e7
		}
		s := make([]int64, n)
		for i := range s {
			s[i] = 1
		}
		keep = s
		return guest.Continue(), nil
	case "repeat":
		keep = strings.Repeat("x", 1<<30)
		return guest.Continue(), nil
	case "pushloop":
		for {
			ptrs = append(ptrs, &calls)
		}
	case "recursion":
		keep = recurse(0)
		return guest.Continue(), nil
	case "marshal":
		s := strings.Repeat("x", 1<<20)
		a := make([]string, 2000)
		for i := range a {
			a[i] = s
		}
		b, err := json.Marshal(a)
		keep = b
		return guest.Continue(), err
	case "sleep":
		var a struct {
			Ms int `json:"ms"`
		}
		_ = in.DecodeArguments(&a)
		time.Sleep(time.Duration(a.Ms) * time.Millisecond)
		return guest.Continue(), nil
	case "error":
		return nil, errors.New("guest says no")
	case "exit":
		os.Exit(3)
	case "badptr":
		inputReadRaw(0xfffffff0, 64)
		return guest.Continue(), nil
	case "deny":
		return guest.Deny("tool deny is denied"), nil
	case "modify":
		args := map[string]any{}
		if err := in.DecodeArguments(&args); err != nil {
			return nil, err
		}
		args["filtered"] = true
		return guest.Arguments(args)
	case "answer":
		return guest.Result(guest.TextResult("answered by the filter", false))
	case "state": // toolCall leaves state; toolResult shows what it got
		if in.Hook == guest.ToolCall {
			return &guest.Decision{State: json.RawMessage(`{"seen":` + strconv.Quote(string(in.Arguments)) + `}`)}, nil
		}
		return guest.Result(guest.TextResult("state "+string(in.State), false))
	case "count":
		return guest.Result(guest.TextResult(strconv.Itoa(calls), false))
	case "config":
		return guest.Result(guest.TextResult(string(guest.ConfigBytes()), false))
	case "input":
		return guest.Result(guest.TextResult(string(raw), false))
	case "log":
		guest.Log(guest.LevelWarn, "hello from guest.Log")
		fmt.Println("hello from stdout")
		fmt.Fprintln(os.Stderr, "hello from stderr")
		fmt.Print("partial line")
		return guest.Continue(), nil
	case "nil":
		return nil, nil
	case "sandbox":
		_, ferr := os.ReadFile("/etc/passwd")
		_, derr := os.ReadDir("/")
		b, _ := json.Marshal(map[string]any{"file": fmt.Sprint(ferr), "dir": fmt.Sprint(derr),
			"env": os.Environ(), "args": os.Args, "time": time.Now().Year()})
		return guest.Result(guest.TextResult(string(b), false))
	}
	if in.Hook == guest.ToolResult && strings.Contains(string(in.Result), "SECRET") {
		var res map[string]any
		if err := in.DecodeResult(&res); err != nil {
			return nil, err
		}
		content, _ := res["content"].([]any)
		for _, c := range content {
			if m, ok := c.(map[string]any); ok {
				if t, ok := m["text"].(string); ok {
					m["text"] = strings.ReplaceAll(t, "SECRET", "[redacted]")
				}
			}
		}
		return guest.Result(res)
	}
	return guest.Continue(), nil
}

func main() {}
