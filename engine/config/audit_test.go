package config

import (
	"strings"
	"testing"
)

func TestAuditSection(t *testing.T) {
	cases := []struct {
		name, in string
		want     *Audit // after defaults
		problem  string
	}{
		{"file only", `{"file": "audit.jsonl"}`, &Audit{File: "audit.jsonl", Arguments: AuditHash}, ""},
		{"stdout, full", `{"file": "-", "arguments": "full"}`, &Audit{File: "-", Arguments: AuditFull}, ""},
		{"none", `{"file": "a.jsonl", "arguments": "none"}`, &Audit{File: "a.jsonl", Arguments: AuditNone}, ""},
		{"no file", `{"arguments": "hash"}`, nil, `mcpscript.json:1:50: audit: missing required key "file" (where records go: a file such as "audit.jsonl", or "-" for standard output)`},
		{"empty file", `{"file": ""}`, nil, `audit.file: must not be empty`},
		{"unknown arguments", `{"file": "a", "arguments": "hashed"}`, nil, `audit.arguments: unknown value "hashed": expected "hash", "full" or "none" (did you mean "hash"?)`},
		{"unknown key", `{"file": "a", "args": "full"}`, nil, `audit.args: unknown key "args" (expected one of: file, arguments)`},
		{"not an object", `"audit.jsonl"`, nil, `audit: expected an object, found a string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"mcpServers": {"a": {"command": "x"}}, "audit": ` + tc.in + `}`
			cfg, err := ParseWithOptions([]byte(in), "mcpscript.json", Options{LookupEnv: testEnv})
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("error %v, want one containing %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *cfg.Audit != *tc.want {
				t.Errorf("audit = %+v, want %+v", cfg.Audit, tc.want)
			}
		})
	}
	if err := (&Config{Servers: map[string]*Server{"a": {Command: "x"}}, Audit: &Audit{File: "x", Arguments: "all"}}).Validate(); err == nil ||
		!strings.Contains(err.Error(), `audit.arguments: unknown value "all"`) {
		t.Errorf("Go value: %v", err)
	}
}

func TestConsoleOn(t *testing.T) {
	on, off := true, false
	cases := []struct {
		console *bool
		host    string
		want    bool
	}{
		{nil, "127.0.0.1", true},
		{nil, "::1", true},
		{nil, "localhost", true},
		{nil, "0.0.0.0", false},
		{nil, "mcp.example.com", false},
		{&off, "127.0.0.1", false},
		{&on, "0.0.0.0", true},
	}
	for _, tc := range cases {
		if got := (&Proxy{Console: tc.console}).ConsoleOn(tc.host); got != tc.want {
			t.Errorf("console %v on %s: %v, want %v", tc.console, tc.host, got, tc.want)
		}
	}
	var nilProxy *Proxy
	if !nilProxy.ConsoleOn("127.0.0.1") {
		t.Error("no sseProxy section: console off on loopback")
	}
	cfg, err := ParseWithOptions([]byte(`{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"console": false}}`), "c.json", Options{LookupEnv: testEnv})
	if err != nil || cfg.Proxy.Console == nil || *cfg.Proxy.Console {
		t.Fatalf("console false: %v %+v", err, cfg)
	}
	if _, err := ParseWithOptions([]byte(`{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"console": "yes"}}`), "c.json", Options{LookupEnv: testEnv}); err == nil ||
		!strings.Contains(err.Error(), "sseProxy.console: expected true or false") {
		t.Errorf("console \"yes\": %v", err)
	}
}
