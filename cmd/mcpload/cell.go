package main

import (
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// cellResult is one measured cell: a target at so many callers and so large
// a payload. Durations per call are averages over the measuring window.
type cellResult struct {
	Target  string `json:"target"`
	Callers int    `json:"callers"`
	Payload int    `json:"payload_bytes"`

	Calls   int64         `json:"calls"`
	Errors  int64         `json:"errors"`
	Warmup  time.Duration `json:"warmup_ns"`
	Elapsed time.Duration `json:"window_ns"`
	Rate    float64       `json:"calls_per_s"`
	Ratio   float64       `json:"ratio_to_direct,omitempty"` // 0: no direct cell to compare with
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`

	ProxyCPU    time.Duration `json:"proxy_cpu_per_call_ns"`
	ServerCPU   time.Duration `json:"server_cpu_per_call_ns"`
	ClientCPU   time.Duration `json:"client_cpu_per_call_ns"`
	ProxyHWM    uint64        `json:"proxy_peak_rss_bytes"`
	ServerHWM   uint64        `json:"server_peak_rss_bytes"`
	ProxyProcs  int           `json:"proxy_processes"`
	ServerProcs int           `json:"server_processes"`

	// OtherCores is how many cores the rest of the machine (other
	// processes, other guests) kept busy during the window, on average.
	OtherCores float64 `json:"other_cores"`

	Fail     string `json:"fail,omitempty"`        // why the cell has no numbers
	FirstErr string `json:"first_error,omitempty"` // the first failed call in the window
}

// runCell measures one target at one concurrency and payload. It starts the
// target's proxy afresh (or, for direct stdio, a fresh echo child), opens the
// sessions and checks each with one echo call, drives the load while reading
// the processes' CPU and memory at the edges of the window, then closes the
// sessions and stops everything it started.
func runCell(ctx context.Context, env *benchEnv, t target, spec loadSpec) cellResult {
	res := cellResult{Target: t.name, Callers: spec.callers, Payload: spec.payload}
	ctx, cancel := context.WithCancel(ctx) // ends the sessions' streams with the cell
	defer cancel()
	fail := func(format string, args ...any) cellResult {
		res.Fail = fmt.Sprintf(format, args...)
		return res
	}

	var ep endpoint
	var rootPID func() int
	if t.start == nil {
		var child *exec.Cmd
		ep = endpoint{
			connect:  stdioTransport([]string{env.mcpscript, "demo-server"}, func(c *exec.Cmd) { child = c }),
			tool:     t.tool,
			sessions: shared,
		}
		rootPID = func() int { return child.Process.Pid }
	} else {
		port, err := freePort()
		if err != nil {
			return fail("no free port: %v", err)
		}
		cmd, err := t.start(env, port)
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
			return fail("%s: %v", t.name, err)
		}
		hc := newHTTPClient(spec.callers, "")
		defer closeIdle(hc)
		ep = endpoint{connect: httpTransport(t.kind, url, hc), tool: t.tool, sessions: perCaller}
		rootPID = proc.pid
	}

	callers := echoCallers(t.tool, spec.payload, spec.callers)
	sessions, err := openSessions(ctx, ep, sessionsFor(ep, spec), echoCheck(t.tool, spec.callers))
	if err != nil {
		return fail("%v", err)
	}
	defer closeSessions(sessions)

	tree, err := newProcTree(rootPID())
	if err != nil {
		return fail("%v", err)
	}
	var (
		u0, u1  treeUsage
		c0, c1  time.Duration
		b0, b1  time.Duration
		readErr error
	)
	w := drive(ctx, sessions, spec, callers, func(begin bool) {
		// The /proc walk is left outside the client's CPU window.
		var err error
		if begin {
			u0, readErr = tree.read()
			b0, err = machineBusy(tree.fs)
			readErr = cmp.Or(readErr, err)
			c0 = selfCPU()
			return
		}
		c1 = selfCPU()
		b1, err = machineBusy(tree.fs)
		readErr = cmp.Or(readErr, err)
		u1, err = tree.read()
		readErr = cmp.Or(readErr, err)
	})
	if ctx.Err() != nil {
		return fail("interrupted")
	}
	if readErr != nil {
		return fail("reading the processes: %v", readErr)
	}
	if w.firstErr != nil {
		res.FirstErr = w.firstErr.Error()
	}
	res.Calls, res.Errors, res.Warmup, res.Elapsed = w.calls, w.errors, w.warmup, w.elapsed
	if w.calls == 0 {
		return fail("no call succeeded in %s (%d failed): %s", w.elapsed.Round(time.Millisecond), w.errors, res.FirstErr)
	}
	per := func(d time.Duration) time.Duration { return d / time.Duration(w.calls) }
	res.Rate = w.rate()
	res.P50, res.P99 = w.percentile(50), w.percentile(99)
	res.ProxyCPU = per(u1.proxyCPU - u0.proxyCPU)
	res.ServerCPU = per(u1.serverCPU - u0.serverCPU)
	res.ClientCPU = per(c1 - c0)
	res.ProxyHWM, res.ServerHWM = u1.proxyHWM, u1.serverHWM
	res.ProxyProcs, res.ServerProcs = u1.proxyProcs, u1.serverProcs
	known := (u1.proxyCPU - u0.proxyCPU) + (u1.serverCPU - u0.serverCPU) + (c1 - c0)
	res.OtherCores = max(0, float64(b1-b0-known)/float64(w.elapsed))
	return res
}
