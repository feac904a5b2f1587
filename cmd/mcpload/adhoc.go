package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

const adhocUsage = `usage: mcpload [flags] TARGET...

Calls the echo tool (any "text" echo tool) of each target in turn with the same
load, and prints calls/s, p50/p99 latency and mcpload's own CPU per call, with
each target's throughput relative to the first. Targets:

  stdio:COMMAND ARGS...   a server started as a child process (the baseline)
  http:URL or a URL       MCP Streamable HTTP (e.g. http://127.0.0.1:3000/mcp)
  sse:URL                 legacy HTTP+SSE (e.g. http://127.0.0.1:3000/sse)

Over HTTP each caller opens its own session; over stdio all callers share the
one child (-sessions changes both). For the whole matrix against managed
proxies, see "mcpload bench -h"; for idle-session memory, "mcpload idle -h".

flags:
`

// adhocMain runs mcpload against targets given on the command line.
func adhocMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mcpload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, adhocUsage)
		fs.PrintDefaults()
	}
	callers := fs.Int("c", 8, "concurrent callers per target")
	duration := fs.Duration("d", 10*time.Second, "measuring window per target")
	warmup := fs.Duration("warmup", time.Second, "load before the window, per target")
	tool := fs.String("tool", "echo", "the echo tool's name (e.g. demo__echo on an aggregate endpoint)")
	size := fs.String("s", "100", "echo payload size (B, KiB, MiB)")
	token := fs.String("token", "", "bearer token for HTTP targets")
	sessions := fs.String("sessions", "", `"per-caller" or "shared" (default: shared for stdio, per-caller for HTTP)`)
	if err := fs.Parse(args); err == flag.ErrHelp {
		return 0
	} else if err != nil {
		return 2
	}
	payload, err := parseSize(*size)
	if err != nil {
		fmt.Fprintln(stderr, "mcpload: -s:", err)
		return 2
	}
	if fs.NArg() == 0 || *callers <= 0 || *duration <= 0 {
		fs.Usage()
		return 2
	}
	if *sessions != "" && *sessions != "shared" && *sessions != "per-caller" {
		fmt.Fprintf(stderr, "mcpload: -sessions: %q: use per-caller or shared\n", *sessions)
		return 2
	}
	spec := loadSpec{callers: *callers, payload: payload, warmup: *warmup, duration: *duration}
	type row struct {
		target string
		w      window
		client time.Duration
	}
	var rows []row
	for _, target := range fs.Args() {
		kind, rest, err := parseTarget(target)
		if err != nil {
			fmt.Fprintln(stderr, "mcpload:", err)
			return 2
		}
		ep := endpoint{tool: *tool, sessions: perCaller}
		if kind == kindStdio {
			ep.connect, ep.sessions = stdioTransport(strings.Fields(rest), nil), shared
		} else {
			hc := newHTTPClient(*callers, *token)
			defer closeIdle(hc)
			ep.connect = httpTransport(kind, rest, hc)
		}
		switch *sessions {
		case "shared":
			ep.sessions = shared
		case "per-caller":
			ep.sessions = perCaller
		}
		c := echoCallers(*tool, payload, *callers)
		open, err := openSessions(ctx, ep, sessionsFor(ep, spec), echoCheck(*tool, *callers))
		if err != nil {
			fmt.Fprintf(stderr, "mcpload: %s: %v\n", target, err)
			return 1
		}
		var c0, c1 time.Duration
		w := drive(ctx, open, spec, c, func(begin bool) {
			if begin {
				c0 = selfCPU()
			} else {
				c1 = selfCPU()
			}
		})
		closeSessions(open)
		if w.calls == 0 {
			fmt.Fprintf(stderr, "mcpload: %s: no call succeeded (%d failed): %v\n", target, w.errors, w.firstErr)
			return 1
		}
		rows = append(rows, row{target, w, (c1 - c0) / time.Duration(w.calls)})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCALLS/S\tP50\tP99\tERRORS\tCLIENT CPU/CALL\tVS FIRST")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%s\t%.2fx\n", r.target, r.w.rate(),
			formatLatency(r.w.percentile(50)), formatLatency(r.w.percentile(99)), r.w.errors,
			formatCPU(r.client), r.w.rate()/rows[0].w.rate())
	}
	tw.Flush()
	return 0
}
