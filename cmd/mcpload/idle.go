package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const idleUsage = `usage: mcpload idle [flags]

For each selected target (a fresh proxy each), opens one session and calls
echo, then opens -n more sessions that stay idle, and reports how much the
proxy's resident memory (VmRSS of its processes, not its echo children) grew,
per session, and what is left once they are closed. The sessions are go-sdk
clients, so each Streamable HTTP session also holds its GET stream open, as
such clients do (-standalone-sse=false leaves it out).

flags:
`

// idleOptions are the flags of `mcpload idle`.
type idleOptions struct {
	env        benchEnv
	targets    string
	sessions   int
	settle     time.Duration
	limitMiB   float64
	standalone bool
	out        string
}

func parseIdleFlags(args []string, stderr io.Writer) (*idleOptions, error) {
	o := &idleOptions{}
	fs := flag.NewFlagSet("mcpload idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, idleUsage)
		fs.PrintDefaults()
	}
	o.env.addFlags(fs)
	fs.StringVar(&o.targets, "targets", "mcpscript-http,mcpscript-http-agg", "HTTP targets, comma-separated (see mcpload bench -list)")
	fs.IntVar(&o.sessions, "n", 1000, "idle sessions to open")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "wait before each memory reading")
	fs.Float64Var(&o.limitMiB, "limit", 50, "growth in MiB the report checks the sessions against")
	fs.BoolVar(&o.standalone, "standalone-sse", true, "let each Streamable HTTP session open its GET stream")
	fs.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (targets are chosen with -targets)", fs.Args())
	}
	if o.sessions <= 0 {
		return nil, fmt.Errorf("-n must be positive")
	}
	return o, o.env.absolute()
}

// idleResult is the memory of one target's proxy around N idle sessions.
type idleResult struct {
	target            target
	before, with, end uint64 // proxy VmRSS: one session, N more, after closing them
	peak              uint64 // proxy VmHWM at the end
	open              time.Duration
	fail              string
}

func idleMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseIdleFlags(args, stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcpload idle:", err)
		return 2
	}
	targets, err := selectTargets(catalog(), o.targets)
	if err != nil {
		fmt.Fprintln(stderr, "mcpload idle:", err)
		return 2
	}
	work, err := os.MkdirTemp("", "mcpload-")
	if err != nil {
		fmt.Fprintln(stderr, "mcpload idle:", err)
		return 1
	}
	defer os.RemoveAll(work)
	o.env.workDir = work
	m := readMachine(&o.env)

	var results []idleResult
	for _, t := range targets {
		if t.start == nil {
			fmt.Fprintf(stderr, "skip %s: idle sessions need a proxy\n", t.name)
			continue
		}
		if why := t.missing(&o.env); why != "" {
			fmt.Fprintf(stderr, "skip %s: %s\n", t.name, why)
			continue
		}
		r := runIdle(ctx, o, t)
		if r.fail != "" {
			fmt.Fprintf(stderr, "%s: FAIL %s\n", t.name, r.fail)
		} else {
			fmt.Fprintf(stderr, "%s: %s -> %s with %d idle sessions (opened in %s), %s after closing\n", t.name,
				formatMiBPrecise(r.before), formatMiBPrecise(r.with), o.sessions, r.open.Round(time.Millisecond), formatMiBPrecise(r.end))
		}
		results = append(results, r)
	}
	m.loadAfter = readLoad()

	var md strings.Builder
	fmt.Fprintf(&md, "## mcpload idle, %s\n\nMachine: %s\n\n", m.date.Format("2006-01-02 15:04 MST"), m.line())
	stream := "each holding its GET stream open"
	if !o.standalone {
		stream = "without GET streams"
	}
	fmt.Fprintf(&md, "%d idle Streamable HTTP sessions (go-sdk clients, %s); proxy resident memory (VmRSS), echo children excluded, read %s after each step.\n\n",
		o.sessions, stream, o.settle)
	fmt.Fprintf(&md, "| target | 1 session | +%d idle | growth | per session | after closing | peak | ≤ %g MiB |\n|---|---|---|---|---|---|---|---|\n",
		o.sessions, o.limitMiB)
	failed := 0
	for _, r := range results {
		if r.fail != "" {
			failed++
			fmt.Fprintf(&md, "| %s | fail: %s |||||||\n", r.target.label, escapeCell(r.fail))
			continue
		}
		growth := float64(r.with) - float64(r.before)
		verdict := "yes"
		if growth > o.limitMiB*(1<<20) {
			verdict = "no"
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %.1f MiB | %.1f KiB | %s | %s | %s |\n", r.target.label,
			formatMiBPrecise(r.before), formatMiBPrecise(r.with), growth/(1<<20), growth/1024/float64(o.sessions),
			formatMiBPrecise(r.end), formatMiBPrecise(r.peak), verdict)
	}
	fmt.Fprint(stdout, md.String())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md.String()), 0o644); err != nil {
			fmt.Fprintln(stderr, "mcpload idle:", err)
			return 1
		}
	}
	if failed > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}

// runIdle measures one target: a fresh proxy, one busy session, then
// o.sessions idle ones.
func runIdle(ctx context.Context, o *idleOptions, t target) idleResult {
	r := idleResult{target: t}
	ctx, cancel := context.WithCancel(ctx) // ends the sessions' streams with the run
	defer cancel()
	fail := func(format string, args ...any) idleResult {
		r.fail = fmt.Sprintf(format, args...)
		return r
	}
	port, err := freePort()
	if err != nil {
		return fail("no free port: %v", err)
	}
	cmd, err := t.start(&o.env, port)
	if err != nil {
		return fail("%v", err)
	}
	proc, err := startProxy(cmd)
	if err != nil {
		return fail("%v", err)
	}
	defer proc.stop()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + t.path
	if err := proc.waitReady(ctx, url); err != nil {
		return fail("%v", err)
	}
	tree, err := newProcTree(proc.pid())
	if err != nil {
		return fail("%v", err)
	}
	hc := newHTTPClient(o.sessions, "")
	defer closeIdle(hc)
	connect := httpTransport(t.kind, url, hc)
	if !o.standalone && t.kind == kindStreamable {
		connect = func() (mcp.Transport, error) {
			return &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, DisableStandaloneSSE: true}, nil
		}
	}
	ep := endpoint{connect: connect, tool: t.tool, sessions: perCaller}

	busy, err := openSessions(ctx, ep, 1, echoCheck(t.tool, 1))
	if err != nil {
		return fail("%v", err)
	}
	defer closeSessions(busy)
	rss := func() (treeUsage, error) {
		sleep(ctx, o.settle)
		return tree.read()
	}
	u, err := rss()
	if err != nil {
		return fail("%v", err)
	}
	r.before = u.proxyRSS

	start := time.Now()
	idle, err := openSessions(ctx, ep, o.sessions, nil)
	r.open = time.Since(start)
	if err != nil {
		return fail("%v", err)
	}
	u, err = rss()
	if err != nil {
		closeSessions(idle)
		return fail("%v", err)
	}
	r.with = u.proxyRSS
	closeSessions(idle)
	if u, err = rss(); err != nil {
		return fail("%v", err)
	}
	r.end, r.peak = u.proxyRSS, u.proxyHWM
	return r
}

// formatMiBPrecise prints bytes in MiB with one decimal.
func formatMiBPrecise(b uint64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
