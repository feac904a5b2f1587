package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// benchUsage is the help of `mcpload bench`.
const benchUsage = `usage: mcpload bench [flags]

Measures the echo tool of mcpscript's demo server reached directly over stdio
and through mcpscript's and the peers' proxies, for every selected target,
concurrency (-c) and payload size (-s), and prints one markdown table per
payload size. Each cell starts its proxy afresh. scripts/bench.sh builds
what this needs and runs it; docs/benchmarks.md explains the method.

flags:
`

// benchOptions are the flags of `mcpload bench`.
type benchOptions struct {
	env      benchEnv
	targets  string
	callers  []int
	sizes    []int
	warmup   time.Duration
	duration time.Duration
	out      string
	jsonOut  string
	rev      string
	strict   bool
	list     bool
}

func parseBenchFlags(args []string, stderr io.Writer) (*benchOptions, error) {
	o := &benchOptions{}
	fs := flag.NewFlagSet("mcpload bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	o.env.addFlags(fs)
	fs.StringVar(&o.targets, "targets", "all", "targets, groups or globs, comma-separated (-list shows them)")
	cList := fs.String("c", "1,8,32,128", "concurrent callers, comma-separated")
	sList := fs.String("s", "100,64KiB,1MiB", "echo payload sizes, comma-separated (B, KiB, MiB)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "load before each measuring window")
	fs.DurationVar(&o.duration, "d", 3*time.Second, "measuring window of each cell")
	fs.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	fs.StringVar(&o.jsonOut, "json", "", "write every cell as a JSON line to this file")
	fs.StringVar(&o.rev, "rev", "", "what mcpscript build this is (e.g. a commit), for the report")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 if any cell fails or any call fails (for CI smoke runs)")
	fs.BoolVar(&o.list, "list", false, "list the targets and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (targets are chosen with -targets)", fs.Args())
	}
	var err error
	if o.callers, err = parseCounts(*cList); err != nil {
		return nil, fmt.Errorf("-c: %w", err)
	}
	if o.sizes, err = parseSizes(*sList); err != nil {
		return nil, fmt.Errorf("-s: %w", err)
	}
	if o.duration <= 0 || o.warmup < 0 {
		return nil, fmt.Errorf("-d must be positive and -warmup not negative")
	}
	if err := o.env.absolute(); err != nil {
		return nil, err
	}
	return o, nil
}

// benchMain runs `mcpload bench`; it returns the exit status.
func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseBenchFlags(args, stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcpload bench:", err)
		return 2
	}
	all := catalog()
	if o.list {
		for _, t := range all {
			fmt.Fprintf(stdout, "%-20s %s\n", t.name, t.label)
		}
		return 0
	}
	targets, err := selectTargets(all, o.targets)
	if err != nil {
		fmt.Fprintln(stderr, "mcpload bench:", err)
		return 2
	}
	work, err := os.MkdirTemp("", "mcpload-")
	if err != nil {
		fmt.Fprintln(stderr, "mcpload bench:", err)
		return 1
	}
	defer os.RemoveAll(work)
	o.env.workDir = work

	rep := &report{
		machine: readMachine(&o.env),
		rev:     o.rev,
		callers: o.callers,
		sizes:   o.sizes,
		warmup:  o.warmup,
		window:  o.duration,
	}
	var runnable []target
	for _, t := range targets {
		if why := t.missing(&o.env); why != "" {
			rep.skipped = append(rep.skipped, skippedTarget{t, why})
			fmt.Fprintf(stderr, "skip %s: %s\n", t.name, why)
			continue
		}
		runnable = append(runnable, t)
		rep.targets = append(rep.targets, t)
	}
	total := len(runnable) * len(o.callers) * len(o.sizes)
	fmt.Fprintf(stderr, "%d cells (%d targets x %d concurrencies x %d sizes), at least %s\n",
		total, len(runnable), len(o.callers), len(o.sizes),
		(time.Duration(total) * (o.warmup + o.duration)).Round(time.Second))

	var jsonFile *os.File
	if o.jsonOut != "" {
		if jsonFile, err = os.Create(o.jsonOut); err != nil {
			fmt.Fprintln(stderr, "mcpload bench:", err)
			return 1
		}
		defer jsonFile.Close()
	}
	start := time.Now()
	n := 0
	for _, t := range runnable {
		for _, size := range o.sizes {
			for _, c := range o.callers {
				if ctx.Err() != nil {
					break
				}
				n++
				spec := loadSpec{callers: c, payload: size, warmup: o.warmup, duration: o.duration}
				res := runCell(ctx, &o.env, t, spec)
				rep.add(res)
				fmt.Fprintf(stderr, "[%d/%d %s] %s\n", n, total, time.Since(start).Round(time.Second), progressLine(res))
			}
		}
	}
	rep.machine.loadAfter = readLoad()
	rep.finish()
	if jsonFile != nil {
		enc := json.NewEncoder(jsonFile)
		for _, r := range rep.results {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(stderr, "mcpload bench: writing", o.jsonOut+":", err)
				return 1
			}
		}
	}
	var md strings.Builder
	rep.write(&md)
	fmt.Fprint(stdout, md.String())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md.String()), 0o644); err != nil {
			fmt.Fprintln(stderr, "mcpload bench:", err)
			return 1
		}
	}
	if ctx.Err() != nil {
		return 1
	}
	if o.strict && (rep.failures() > 0 || len(rep.skipped) > 0) {
		fmt.Fprintf(stderr, "mcpload bench: %d cells failed or had failed calls, %d targets skipped\n", rep.failures(), len(rep.skipped))
		return 1
	}
	return 0
}

// progressLine is one cell, on one line, for stderr while the run goes on.
func progressLine(r cellResult) string {
	head := fmt.Sprintf("%s c=%d s=%s:", r.Target, r.Callers, formatSize(r.Payload))
	if r.Fail != "" {
		return head + " FAIL " + r.Fail
	}
	s := fmt.Sprintf("%s %.0f/s p50 %s p99 %s proxy %s/call client %s/call others %.1f cores",
		head, r.Rate, formatLatency(r.P50), formatLatency(r.P99), formatCPU(r.ProxyCPU), formatCPU(r.ClientCPU), r.OtherCores)
	if r.Errors > 0 {
		s += fmt.Sprintf(" errors %d (%s)", r.Errors, r.FirstErr)
	}
	return s
}
