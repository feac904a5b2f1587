package main

import (
	"strings"
	"testing"
	"time"
)

// TestReport: ratios are to direct stdio at the same cell, failures become
// footnotes, and proxy-less rows show no proxy figures.
func TestReport(t *testing.T) {
	all := catalog()
	pick := func(name string) target {
		for _, tg := range all {
			if tg.name == name {
				return tg
			}
		}
		t.Fatalf("no target %s", name)
		return target{}
	}
	r := &report{
		machine: machine{cpu: "CPU", cores: 2, goVersion: "go1.26", date: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)},
		callers: []int{1, 8},
		sizes:   []int{100},
		warmup:  time.Second,
		window:  3 * time.Second,
		targets: []target{pick("direct"), pick("mcpscript-http")},
	}
	r.add(cellResult{Target: "direct", Callers: 1, Payload: 100, Calls: 3000, Rate: 1000, P50: 200 * time.Microsecond, P99: 900 * time.Microsecond, ClientCPU: 100 * time.Microsecond, ServerProcs: 1})
	r.add(cellResult{Target: "direct", Callers: 8, Payload: 100, Calls: 6000, Rate: 2000, P50: 2 * time.Millisecond, P99: 9 * time.Millisecond, ServerProcs: 1})
	r.add(cellResult{Target: "mcpscript-http", Callers: 1, Payload: 100, Calls: 1500, Rate: 500, P50: 600 * time.Microsecond, P99: 2500 * time.Microsecond,
		ProxyCPU: 250 * time.Microsecond, ProxyHWM: 40 << 20, ClientCPU: 300 * time.Microsecond, ProxyProcs: 2, Errors: 2, FirstErr: "boom"})
	r.add(cellResult{Target: "mcpscript-http", Callers: 8, Payload: 100, Fail: "session 2: connect: refused"})
	r.finish()
	if r.failures() != 2 {
		t.Errorf("failures = %d, want 2", r.failures())
	}
	var b strings.Builder
	r.write(&b)
	out := b.String()
	for _, want := range []string{
		"| target | C=1 | C=8 |",
		"| direct stdio (baseline) | 1,000/s · 1.00x · 200/900 µs · — · — · 100 µs |",
		"| mcpscript Streamable HTTP `/servers/demo/mcp` | 500/s · 0.50x · 0.60/2.5 ms · 250 µs · 40 MiB · 300 µs · 2 failed calls [1] | fail [2] |",
		"1. mcpscript-http: boom",
		"2. mcpscript-http C=8 100 B: session 2: connect: refused",
		"### payload 100 B",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
