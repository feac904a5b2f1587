package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error is an *Error
// of kind ErrParse or ErrInvalid listing positioned problems, and that
// every accepted config is valid, complete and survives a JSON round trip.
func FuzzParse(f *testing.F) {
	for _, tc := range badConfigs {
		f.Add([]byte(tc.in))
	}
	for _, s := range []string{
		runnerReadmeConfig,
		runnerReadmeString,
		`{"mcpServers": {"a": {"command": "x", "restart": "always", "roots": ["file:///x"], "env": {"A": "${HOME:-/}"}}}, "sseProxy": {"port": 0}}`,
		`{"mcpServers": {"a": {"command": "x", "disabled": true, "args": ["${X"]}}, "globalShortcut": "", "preferences": {}}`,
		"\xEF\xBB\xBF{\"mcpServers\": {\"\\u0061\": {\"command\": \"\\u0024$\"}}}",
		`{"mcpServers": {"a": {"command": "x", "maxFrameBytes": 1e300}}}`,
		`{"mcpServers": {"a": {"command": "x"}}, "scripts": {"hooks": ["p.ts", {"path": "q.js", "timeout": "5ms", "onError": "open"}], "env": ["A"], "pool": 2},
		  "filters": [{"wasm": "f.wasm", "config": {"k": ["<&>", 1.5e3, "\u2028"]}, "hooks": ["toolCall"], "memoryLimitMiB": 16}]}`,
		`{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"authenticate": {"oauth": {"issuer": "https://as", "audiences": ["x"], "jwksUrl": "https://as/j",
		  "algorithms": ["ES256"], "clockSkew": "1s", "requiredScopes": ["mcp"]}, "tokenlessStreams": true}},
		  "redis": {"url": "redis://h:1/0"}, "state": {"maxKeys": 3}, "limits": {"onError": "open", "rules": [{"per": ["claim:t", "tool"], "tools": ["s*"], "rate": "1/s", "burst": 2, "quota": "9/month"}]}}`,
		`{"inputs": [{"id": "k", "default": "d"}], "servers": {"r": {"type": "streamable-http", "url": "http://h/${input:k}", "headers": {"A": "${env:HOME}"}}}}`,
		`{"mcpServers": {"r": {"url": "https://h/mcp", "oauth": {"tokenUrl": "https://a/t", "clientId": "c", "scopes": ["s"]},
		  "tools": {"include": ["a*"], "override": {"ab": {"name": "x", "pin": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}}}}}}`,
		`[[[[[[[[[[]]]]]]]]]]`,
		`"\ud800"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseWithOptions(data, "fuzz.json", Options{LookupEnv: testEnv})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if !errors.Is(err, ErrParse) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error kind is %v", e.Kind)
			}
			if len(e.Problems) == 0 {
				t.Fatalf("error without problems")
			}
			for _, p := range e.Problems {
				if p.Line < 1 || p.Col < 1 || p.Message == "" {
					t.Fatalf("problem without position or message: %+v", p)
				}
			}
			if c != nil {
				t.Fatalf("config returned with an error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
		withoutOrigin(c)
		if d := c.WithDefaults(); !reflect.DeepEqual(c, d) {
			t.Fatalf("parsed config lacks defaults")
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if bytes.Contains(out, []byte("$")) {
			return // expanding again would change it
		}
		c2, err := ParseWithOptions(out, "fuzz.json", Options{LookupEnv: testEnv})
		if err != nil {
			t.Fatalf("round trip of %s: %v", out, err)
		}
		withoutOrigin(c2)
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the config: %s", out)
		}
	})
}
