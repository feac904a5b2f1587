package limits

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/internal/redistest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		count   int64
		per     time.Duration
		monthly bool
		err     string // substring; "" means valid
	}{
		{in: "10/s", count: 10, per: time.Second},
		{in: " 600 / min ", count: 600, per: time.Minute},
		{in: "5/500ms", count: 5, per: 500 * time.Millisecond},
		{in: "1000/720h", count: 1000, per: 720 * time.Hour},
		{in: "100/day", count: 100, per: 24 * time.Hour},
		{in: "7/week", count: 7, per: 7 * 24 * time.Hour},
		{in: "1000/month", count: 1000, monthly: true},
		{in: "10", err: "not COUNT/UNIT"},
		{in: "0/s", err: "whole number"},
		{in: "-1/s", err: "whole number"},
		{in: "1.5/s", err: "whole number"},
		{in: "10/fortnight", err: `unit "fortnight"`},
		{in: "10/0s", err: "period must be"},
		{in: "10/1us", err: "period must be"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			l, err := ParseQuota(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseQuota(%q) error %v, want one containing %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Count != tt.count || l.Monthly != tt.monthly || (!tt.monthly && l.Period != tt.per) {
				t.Fatalf("ParseQuota(%q) = %+v", tt.in, l)
			}
			c, p, err := ParseRate(tt.in)
			if tt.monthly {
				if err == nil || !strings.Contains(err.Error(), "quota") {
					t.Fatalf("ParseRate(%q) should refuse a month: %v", tt.in, err)
				}
				return
			}
			if err != nil || c != tt.count || p != tt.per {
				t.Fatalf("ParseRate(%q) = %d, %v, %v", tt.in, c, p, err)
			}
		})
	}
}

func FuzzParseQuota(f *testing.F) {
	for _, s := range []string{"10/s", "1000/month", "5/500ms", "1/9999999h", "x/y", "/", "1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseQuota(s)
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("ParseQuota(%q) returned an invalid limit %+v: %v", s, l, err)
		}
		if !l.Monthly {
			start, end := l.window(time.Unix(1e9, 0))
			if !end.After(start) {
				t.Fatalf("window of %+v is empty", l)
			}
		}
	})
}

func TestRuleErrors(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		err   string
	}{
		{"no limit", []Rule{{Name: "x"}}, `limits.rules[0] ("x"): sets neither rate`},
		{"default name", []Rule{{Rate: "1/s"}, {}}, `limits.rules[1] ("rule 2")`},
		{"bad per", []Rule{{Rate: "1/s", Per: []string{"user"}}}, `per "user" is not one of`},
		{"empty claim", []Rule{{Rate: "1/s", Per: []string{"claim:"}}}, "names no claim"},
		{"twice", []Rule{{Rate: "1/s", Per: []string{"subject", "subject"}}}, "listed twice"},
		{"bad glob", []Rule{{Rate: "1/s", Tools: []string{"[a-"}}}, `tools pattern "[a-"`},
		{"burst alone", []Rule{{Quota: "1/month", Burst: 3}}, "burst is set without a rate"},
		{"bad rate", []Rule{{Rate: "ten/s"}}, "whole number"},
		{"month rate", []Rule{{Rate: "10/month"}}, "a month is a quota window"},
		{"bad quota", []Rule{{Quota: "1/lightyear"}}, `unit "lightyear"`},
		{"dup name", []Rule{{Name: "a", Rate: "1/s"}, {Name: "a", Quota: "1/day"}}, `name "a" is already used`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPolicy(PolicyOptions{Rules: tt.rules, Limiter: NewMemory(MemoryOptions{})})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an error containing %q", err, tt.err)
			}
		})
	}
	if _, err := NewPolicy(PolicyOptions{Limiter: NewMemory(MemoryOptions{}), OnError: "maybe"}); err == nil {
		t.Fatal(`onError "maybe" accepted`)
	}
	if _, err := NewPolicy(PolicyOptions{}); err == nil {
		t.Fatal("a policy without a limiter was accepted")
	}
}

func TestMatch(t *testing.T) {
	rules := []Rule{
		{Name: "global", Rate: "100/s"},
		{Name: "per-user", Per: []string{"subject"}, Rate: "10/s", Burst: 20, Quota: "1000/month"},
		{Name: "tenant", Per: []string{"claim:tenant"}, Quota: "5000/720h"},
		{Name: "search", Per: []string{"token", "tool"}, Servers: []string{"search*"}, Tools: []string{"web_*"}, Rate: "1/s"},
		{Name: "lists", Methods: []string{"*/list"}, Rate: "5/s"},
	}
	p, err := NewPolicy(PolicyOptions{Rules: rules, Limiter: NewMemory(MemoryOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  Request
		want []string // "rule key kind"
	}{
		{
			name: "tool call on a search server",
			req:  Request{Token: "ci", Subject: "alice", Claims: map[string]any{"tenant": "acme"}, Server: "search-1", Method: "tools/call", Tool: "web_fetch"},
			want: []string{
				"global global bucket",
				"per-user per-user|subject=alice bucket",
				"search search|token=ci|tool=web_fetch bucket",
				"per-user per-user|subject=alice window",
				"tenant tenant|claim:tenant=acme window",
			},
		},
		{
			name: "other tool, anonymous, numeric tenant",
			req:  Request{Claims: map[string]any{"tenant": 42}, Server: "search-1", Method: "tools/call", Tool: "local_grep"},
			want: []string{
				"global global bucket",
				"per-user per-user|subject= bucket",
				"per-user per-user|subject= window",
				"tenant tenant|claim:tenant=42 window",
			},
		},
		{
			name: "a list on another server; separators in values are escaped",
			req:  Request{Subject: "a|b=c", Server: "files", Method: "tools/list"},
			want: []string{
				"global global bucket",
				"per-user per-user|subject=a%7Cb%3Dc bucket",
				"lists lists bucket",
				"per-user per-user|subject=a%7Cb%3Dc window",
				"tenant tenant|claim:tenant= window",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, m := range p.Match(tt.req) {
				got = append(got, m.Rule+" "+m.Key+" "+m.Limit.Kind.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("Match:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	long := strings.Repeat("x", 500)
	ms := p.Match(Request{Subject: long})
	if k := ms[1].Key; len(k) > 200 || !strings.Contains(k, "sha256:") {
		t.Fatalf("a 500-byte subject gave key %q, want a hash", k)
	}
}

func TestPolicyCheck(t *testing.T) {
	clock := newFakeClock(time.Unix(1e9, 0))
	rules := []Rule{
		{Name: "burst", Per: []string{"subject"}, Rate: "1/min", Burst: 2},
		{Name: "daily", Per: []string{"subject"}, Quota: "3/day"},
	}
	p, err := NewPolicy(PolicyOptions{Rules: rules, Limiter: NewMemory(MemoryOptions{Now: clock.now})})
	if err != nil {
		t.Fatal(err)
	}
	alice := Request{Subject: "alice", Method: "tools/call", Tool: "t"}
	for i := range 2 {
		if err := p.Check(ctx, alice); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	err = p.Check(ctx, alice)
	var le *LimitedError
	if !errors.As(err, &le) || le.Rule != "burst" || le.RetryAfter != time.Minute || le.Key != "burst|subject=alice" {
		t.Fatalf("third call: %v (%+v), want burst refusal with retry after 1m", err, le)
	}
	if msg := err.Error(); msg != `rate limit "burst" (1/1m0s burst 2) exceeded; retry after 60s` || strings.Contains(msg, "alice") {
		t.Fatalf("message %q", msg)
	}
	clock.advance(time.Minute)
	if err := p.Check(ctx, alice); err != nil {
		t.Fatalf("after a minute: %v", err)
	}
	clock.advance(time.Minute)
	err = p.Check(ctx, alice)
	if !errors.As(err, &le) || le.Rule != "daily" || le.Limit.Kind != Window {
		t.Fatalf("fourth call of the day: %v, want the daily quota", err)
	}
	if err := p.Check(ctx, Request{Subject: "bob"}); err != nil {
		t.Fatalf("bob has his own counters: %v", err)
	}
	if RetryAfterSeconds(1500*time.Millisecond) != 2 || RetryAfterSeconds(0) != 1 {
		t.Fatal("RetryAfterSeconds must round up to at least 1")
	}
}

func TestPolicyOnError(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, redisClient(t, srv), nil)
	rules := []Rule{{Name: "r", Rate: "1/s"}}
	closed, err := NewPolicy(PolicyOptions{Rules: rules, Limiter: r})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	open, err := NewPolicy(PolicyOptions{Rules: rules, Limiter: r, OnError: FailOpen, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := closed.Check(ctx, Request{}); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `rule "r"`) {
		t.Fatalf("fail closed with Redis down: %v", err)
	}
	if err := open.Check(ctx, Request{}); err != nil {
		t.Fatalf("fail open with Redis down: %v", err)
	}
	if !strings.Contains(logs.String(), "rule=r") || !strings.Contains(logs.String(), "unavailable") {
		t.Fatalf("fail open did not log the failure: %q", logs.String())
	}
}
