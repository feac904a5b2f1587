// Command mcpload measures MCP tool-call throughput and latency through one
// or more transports in the same run, so that the ratios between them mean
// something on a noisy machine. Each target is a go-sdk client:
//
//	stdio:COMMAND ARGS...        a server started directly (the baseline)
//	http:URL                     Streamable HTTP (e.g. http://127.0.0.1:3000/mcp)
//	sse:URL                      legacy HTTP+SSE (e.g. http://127.0.0.1:3000/sse)
//
// Example:
//
//	mcpload -c 8 -d 10s -tool echo -args '{"text":"hi"}' \
//	    'stdio:mcpscript demo-server' http://127.0.0.1:3000/servers/demo/mcp
//
// Targets run one after another; the report gives calls/s, p50 and p99
// latency, and each target's throughput relative to the first.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	concurrency := flag.Int("c", 8, "concurrent callers per target")
	duration := flag.Duration("d", 10*time.Second, "measuring time per target")
	warmup := flag.Duration("warmup", time.Second, "calls before measuring, per target")
	tool := flag.String("tool", "echo", "tool to call")
	argsJSON := flag.String("args", `{"text":"hello"}`, "tool arguments (JSON object)")
	token := flag.String("token", "", "bearer token for HTTP targets")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mcpload [flags] TARGET...  (stdio:CMD ARGS | http:URL | sse:URL | URL)")
		os.Exit(2)
	}
	var args map[string]any
	if err := json.Unmarshal([]byte(*argsJSON), &args); err != nil {
		fmt.Fprintln(os.Stderr, "mcpload: -args:", err)
		os.Exit(2)
	}
	var results []result
	for _, target := range flag.Args() {
		r, err := measure(target, *token, *tool, args, *concurrency, *warmup, *duration)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mcpload: %s: %v\n", target, err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCALLS/S\tP50\tP99\tERRORS\tVS FIRST")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%.2fx\n", r.target, r.rate, r.p50, r.p99, r.errors, r.rate/results[0].rate)
	}
	tw.Flush()
}

type result struct {
	target   string
	rate     float64
	p50, p99 time.Duration
	errors   int64
}

func measure(target, token, tool string, args map[string]any, conc int, warmup, dur time.Duration) (result, error) {
	ctx := context.Background()
	transport, err := transportFor(target, token)
	if err != nil {
		return result{}, err
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpload", Version: "0"}, nil)
	sess, err := client.Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		return result{}, fmt.Errorf("connect: %w", err)
	}
	defer sess.Close()
	call := func() error {
		res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err == nil && res.IsError {
			err = fmt.Errorf("tool error")
		}
		return err
	}
	if err := call(); err != nil {
		return result{}, fmt.Errorf("first call: %w", err)
	}
	run := func(d time.Duration, record bool) ([]time.Duration, int64) {
		var (
			mu     sync.Mutex
			lat    []time.Duration
			errs   atomic.Int64
			wg     sync.WaitGroup
			cutoff = time.Now().Add(d)
		)
		for range conc {
			wg.Go(func() {
				var mine []time.Duration
				for time.Now().Before(cutoff) {
					start := time.Now()
					if err := call(); err != nil {
						errs.Add(1)
						continue
					}
					if record {
						mine = append(mine, time.Since(start))
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return lat, errs.Load()
	}
	run(warmup, false)
	lat, errs := run(dur, true)
	if len(lat) == 0 {
		return result{}, fmt.Errorf("no call succeeded (%d errors)", errs)
	}
	slices.Sort(lat)
	return result{
		target: target,
		rate:   float64(len(lat)) / dur.Seconds(),
		p50:    lat[len(lat)/2].Round(time.Microsecond),
		p99:    lat[len(lat)*99/100].Round(time.Microsecond),
		errors: errs,
	}, nil
}

func transportFor(target, token string) (mcp.Transport, error) {
	kind, rest, _ := strings.Cut(target, ":")
	var hc *http.Client
	if token != "" {
		hc = &http.Client{Transport: bearer{token}}
	}
	switch kind {
	case "stdio":
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("stdio: needs a command")
		}
		return &mcp.CommandTransport{Command: exec.Command(fields[0], fields[1:]...)}, nil
	case "http", "https":
		if kind == "https" || strings.HasPrefix(rest, "//") {
			rest = target // a plain URL
		}
		return &mcp.StreamableClientTransport{Endpoint: rest, HTTPClient: hc}, nil
	case "sse":
		return &mcp.SSEClientTransport{Endpoint: rest, HTTPClient: hc}, nil
	}
	return nil, fmt.Errorf("unknown target kind %q (use stdio:, http:, sse: or a URL)", kind)
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}
