package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/scripting/wasm/guest"
)

// benchConfig is the load harness's (testdata/bench/mcpscript-wasm.json).
const benchConfig = `{"folder": "/srv/bench", "patterns": ["(?i)password\\s*[:=]\\s*\\S+"]}`

func mustSetup(t testing.TB, raw string) {
	t.Helper()
	if err := setup([]byte(raw)); err != nil {
		t.Fatal(err)
	}
}

// echoInputs are what an echo of text gives the filter: the toolCall and
// the toolResult.
func echoInputs(text string) (call, result *guest.Input) {
	args, _ := json.Marshal(map[string]any{"text": text})
	res, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}})
	call = &guest.Input{Hook: guest.ToolCall, Server: "demo", Method: "tools/call", Tool: "echo", Arguments: args}
	r := *call
	r.Hook, r.Result = guest.ToolResult, res
	return call, &r
}

// The filter's logic, natively: a profile of it shows where a call's time
// goes without wasm in the way (wasm multiplies it, see docs/wasm-abi.md).
//
//	go test -run '^$' -bench . -cpuprofile cpu.out ./examples/filters/redact/
func BenchmarkHandle(b *testing.B) {
	mustSetup(b, benchConfig)
	const phrase = "the quick brown fox jumps over the lazy dog "
	for _, n := range []int{100, 64 << 10, 1 << 20} {
		text := strings.Repeat(phrase, n/len(phrase)+1)[:n]
		call, result := echoInputs(text)
		for _, in := range []*guest.Input{call, result} {
			b.Run(fmt.Sprintf("%s/%d", in.Hook, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					d, err := handle(in)
					if err != nil || d.Result != nil || d.Deny != nil {
						b.Fatalf("%+v, %v", d, err)
					}
				}
			})
		}
	}
}

// The scanner answers as running every pattern would.
func FuzzScanner(f *testing.F) {
	mustSetup(f, `{"patterns": ["(?i)password\\s*[:=]\\s*\\S+", "(?i)tok\\d+", "\\bword\\b", "x|y?z", "(?i)ÉTÉ"]}`)
	for _, s := range []string{
		"", "the key is sk-live-0123456789abcdefghijklmn!", "AKIAIOSFODNN7EXAMPLE", "ghp_" + strings.Repeat("a1B2", 9),
		"github_pat_" + strings.Repeat("x", 22), "xoxb-1234567890-abc", "-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----",
		"PASSWORD = hunter2", "paſſword: x", "paSSword=", "TOK12", "tOK", "\u212aey", "a word.", "swordfish", "été ÉTÉ",
		"sk-short", "-----BEGIN", "zz", "yz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := secrets.MatchString(s)
		if got := scan.match(s); got != want {
			t.Errorf("match(%q) = %v, want %v", s, got, want)
		}
		if want && !scan.mayMatch([]byte(s)) {
			t.Errorf("mayMatch(%q) = false, but a pattern matches", s)
		}
	})
}

func TestPrefixes(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string // the literals, "fold:" when case-insensitive; nil: none
	}{
		{`sk-[A-Za-z0-9_-]{20,}`, []string{"sk-"}},
		{`(?i)password\s*[:=]\s*\S+`, []string{"fold:password"}},
		{`gh[pousr]_[A-Za-z0-9]{36,}`, []string{"gho_", "ghp_", "ghr_", "ghs_", "ghu_"}},
		{`xox[abprs]-[A-Za-z0-9-]{10,}`, []string{"xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"}},
		{`a[0-9]`, []string{"a"}}, // ten would be more than maxLiterals
		{`ab?c`, []string{"a"}},
		{`(?:AKIA|ASIA)[0-9A-Z]{16}`, []string{"A"}}, // the parser factors the common prefix out
		{`(foo|bar)+x`, []string{"foo", "bar"}},
		{`\bword`, nil},
		{`^word`, nil},
		{`a*b`, nil},
		{`(?i)secret`, nil}, // starts with s, which folds with ſ
		{`(?i)été`, nil},
		{`"quoted"`, nil},
		{`été`, []string{"été"}},
	} {
		p, err := compilePattern(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range p.literals {
			s := l.text
			if l.fold {
				s = "fold:" + s
			}
			got = append(got, s)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("%s: literals %q, want %q", c.expr, got, c.want)
		}
	}
}

func TestHandle(t *testing.T) {
	mustSetup(t, `{"folder": "/srv/data", "patterns": ["(?i)password\\s*[:=]\\s*\\S+"]}`)
	for _, c := range []struct {
		name, text, want string // want "": continue
	}{
		{"clean", "nothing to see here", ""},
		{"key", "key sk-live-0123456789abcdefghijklmn end", "key [REDACTED] end"},
		{"password", "PassWord = hunter2 and more", "[REDACTED] and more"},
		{"long s", "paſſword=x", "[REDACTED]"},
		{"mention only", "enter your password below", ""},
		{"escaped", "sk\u002dlive-0123456789abcdefghijklmn", "[REDACTED]"},
		{"big clean", strings.Repeat("the quick brown fox jumps over the lazy dog ", 2000), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, in := echoInputs(c.text)
			d, err := handle(in)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if d.Result != nil || d.Deny != nil {
					t.Errorf("decision %+v, want continue", d)
				}
				return
			}
			var r struct {
				Content []struct{ Text string } `json:"content"`
			}
			if err := json.Unmarshal(d.Result, &r); err != nil || len(r.Content) != 1 || r.Content[0].Text != c.want {
				t.Errorf("result %s (%v), want the text %q", d.Result, err, c.want)
			}
		})
	}
	for _, c := range []struct {
		args string
		deny bool
	}{
		{`{"path": "/srv/data/a"}`, false},
		{`{"path": "/etc/passwd"}`, true},
		{`{"p\u0061th": "/etc/passwd"}`, true},
		{`{"paths": ["/srv/data/a", "../../etc"]}`, true},
		{`{"text": "a \"path\": \"/etc\" in a string"}`, false},
		{`{"path": 5}`, true},
		{`{}`, false},
		{`{"path": null, "text": "x"}`, false},
		{`{"path": "/srv/data/a", "path": "/etc"}`, true},
	} {
		in := &guest.Input{Hook: guest.ToolCall, Tool: "t", Arguments: json.RawMessage(c.args)}
		d, err := handle(in)
		if err != nil || (d.Deny != nil) != c.deny {
			t.Errorf("%s: %+v, %v; want deny %v", c.args, d, err, c.deny)
		}
	}
}
