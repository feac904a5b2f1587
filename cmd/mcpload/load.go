package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// protocolVersion is the MCP revision every session asks for: the newest one
// that mcpscript and all the peers speak, so that no target pays for a
// different handshake or framing.
const protocolVersion = "2025-11-25"

// Bounds that keep a misbehaving target from hanging a run.
const (
	connectTimeout = 30 * time.Second
	callTimeout    = 60 * time.Second
	openParallel   = 16                    // sessions opened at once
	errorBackoff   = 10 * time.Millisecond // pause after a failed call, so a dead target is not spun on
	maxWarmup      = 60 * time.Second      // longest wait for every caller's first call
)

// sessionModel says whether the callers of a cell share one MCP session or
// each open their own.
type sessionModel int

const (
	// perCaller gives each caller its own session, as independent clients
	// of a proxy would have.
	perCaller sessionModel = iota
	// shared has every caller issue concurrent requests on one session: the
	// model of a direct stdio connection, one child process for everybody.
	shared
)

func (m sessionModel) String() string {
	if m == shared {
		return "shared"
	}
	return "per-caller"
}

// endpoint is what a load runs against: how to connect one session and which
// tool to call.
type endpoint struct {
	// connect returns a fresh transport for one session.
	connect  func() (mcp.Transport, error)
	tool     string
	sessions sessionModel
}

// loadSpec is one cell of the matrix: so many callers sending so large a
// payload for so long.
type loadSpec struct {
	callers  int
	payload  int
	warmup   time.Duration
	duration time.Duration
}

// window is what the measuring window of a load saw.
type window struct {
	calls     int64           // calls that succeeded and ended inside the window
	errors    int64           // calls that failed and ended inside the window
	warmup    time.Duration   // how long the warmup took
	elapsed   time.Duration   // length of the window
	latencies []time.Duration // of the successful calls, sorted
	firstErr  error           // the first failure, if any
}

func (w window) rate() float64 {
	if w.elapsed <= 0 {
		return 0
	}
	return float64(w.calls) / w.elapsed.Seconds()
}

func (w window) percentile(p int) time.Duration {
	if len(w.latencies) == 0 {
		return 0
	}
	return w.latencies[min(len(w.latencies)-1, len(w.latencies)*p/100)]
}

// echoCaller calls an echo tool and checks that its own text comes back.
type echoCaller struct {
	tool string
	args map[string]any
	want string
}

// echoCallers returns n callers, each with a text of its own: a proxy that
// hands one session's answer to another (say, by broadcasting a shared
// child's output) fails the check instead of passing unnoticed.
func echoCallers(tool string, payload, n int) []echoCaller {
	out := make([]echoCaller, n)
	for i := range out {
		text := payloadText(payload, i)
		out[i] = echoCaller{tool: tool, args: map[string]any{"text": text}, want: text}
	}
	return out
}

// checkPayload is the size of the echo each session makes when it opens: a
// session is known to reach the server, and to get its own answers, before
// the load starts. Whether the payload itself gets through shows in the load.
const checkPayload = 100

// echoCheck returns a check for openSessions of up to n sessions: session i
// echoes a short text of its own.
func echoCheck(tool string, n int) func(context.Context, int, *mcp.ClientSession) error {
	callers := echoCallers(tool, checkPayload, n)
	return func(ctx context.Context, i int, s *mcp.ClientSession) error {
		return callers[i].call(ctx, s)
	}
}

// call makes one tools/call; a tool error or a wrong echo is an error.
func (e echoCaller) call(ctx context.Context, s *mcp.ClientSession) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: e.tool, Arguments: e.args})
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("tool %q reported an error: %s", e.tool, firstText(res))
	}
	if got := firstText(res); got != e.want {
		return fmt.Errorf("echo mismatch: got %d bytes (%.40q), want %d", len(got), got, len(e.want))
	}
	return nil
}

func firstText(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			return t.Text
		}
	}
	return ""
}

// payloadText is plain ASCII text of exactly n bytes, starting with the
// caller's number, that needs no JSON escaping and matches none of the redact
// filter's secret patterns, so every target carries the same bytes and sends
// them back unchanged.
func payloadText(n, caller int) string {
	const phrase = "the quick brown fox jumps over the lazy dog "
	text := fmt.Sprintf("caller %d: ", caller) + strings.Repeat(phrase, n/len(phrase)+1)
	return text[:n]
}

// openSessions connects n sessions (for no longer than ctx lives), at most openParallel at a time, and runs
// check (if not nil) once on each, so that a target is known to answer end to
// end before it is measured. On failure it closes what it opened.
func openSessions(ctx context.Context, ep endpoint, n int, check func(context.Context, int, *mcp.ClientSession) error) ([]*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpload", Version: "1"}, nil)
	sessions := make([]*mcp.ClientSession, n)
	errs := make([]error, n)
	sem := make(chan struct{}, openParallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sessions[i], errs[i] = openOne(ctx, client, ep, i, check)
		})
	}
	wg.Wait()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("session %d: %v", i+1, err))
		}
	}
	if len(failed) == 0 {
		return sessions, nil
	}
	closeSessions(sessions)
	msg := failed[0]
	if len(failed) > 1 {
		msg += fmt.Sprintf(" (%d of %d sessions failed)", len(failed), n)
	}
	return nil, errors.New(msg)
}

// sessionsFor is how many sessions a load of spec needs on ep.
func sessionsFor(ep endpoint, spec loadSpec) int {
	if ep.sessions == shared {
		return 1
	}
	return spec.callers
}

func openOne(ctx context.Context, client *mcp.Client, ep endpoint, i int, check func(context.Context, int, *mcp.ClientSession) error) (*mcp.ClientSession, error) {
	tr, err := ep.connect()
	if err != nil {
		return nil, err
	}
	// The legacy SSE client reads its stream under the context given to
	// Connect, so that context must outlive the handshake: it is cancelled
	// only when the handshake overruns (or when ctx ends).
	cctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(connectTimeout, cancel)
	s, err := client.Connect(cctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if !timer.Stop() && err != nil {
		err = fmt.Errorf("no answer within %s: %w", connectTimeout, err)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if check != nil {
		if err := check(ctx, i, s); err != nil {
			s.Close()
			return nil, fmt.Errorf("first call: %w", err)
		}
	}
	return s, nil
}

// closeSessions closes sessions (nil ones are skipped), openParallel at a time.
func closeSessions(sessions []*mcp.ClientSession) {
	sem := make(chan struct{}, openParallel)
	var wg sync.WaitGroup
	for _, s := range sessions {
		if s == nil {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s.Close()
		})
	}
	wg.Wait()
}

// Phases of a load, read by every caller after each call.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseDone
)

// drive keeps the callers (one per spec.callers) busy on the sessions
// (caller i on sessions[i], or all on sessions[0] when there is one), first
// for the warmup, then for the measuring window. The warmup lasts at least
// spec.warmup and until every caller has finished a call (at most
// maxWarmup): the callers all start at once, and with large payloads the
// first round can take longer than the window itself; a window that opens
// before it drains would see a burst, not the steady state. It calls mark(true) just
// before the window opens and mark(false) just after it closes, so that
// resource readings bracket the calls counted: those that end inside the
// window. The callers never pause between the phases, so the window sees a
// steady load, not a ramp. Calls still in flight when the window closes are
// cancelled rather than waited for: at 1 MiB and 128 callers one can take
// seconds.
func drive(ctx context.Context, sessions []*mcp.ClientSession, spec loadSpec, callers []echoCaller, mark func(begin bool)) window {
	var (
		phase  atomic.Int32
		wg     sync.WaitGroup
		mu     sync.Mutex
		w      window
		errsIn atomic.Int64
		warmed atomic.Int64 // callers that have finished a call
	)
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range spec.callers {
		s, c := sessions[min(i, len(sessions)-1)], callers[i]
		wg.Go(func() {
			var lat []time.Duration
			var firstErr error
			first := true
			defer func() {
				mu.Lock()
				w.latencies = append(w.latencies, lat...)
				if w.firstErr == nil {
					w.firstErr = firstErr
				}
				mu.Unlock()
			}()
			for loadCtx.Err() == nil {
				start := time.Now()
				err := c.call(loadCtx, s)
				took := time.Since(start)
				if first {
					first = false
					warmed.Add(1)
				}
				switch phase.Load() {
				case phaseMeasure:
					if err == nil {
						lat = append(lat, took)
						continue
					}
					errsIn.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				case phaseDone:
					return
				}
				if err != nil {
					sleep(loadCtx, errorBackoff)
				}
			}
		})
	}
	warmupEnd := time.Now().Add(maxWarmup)
	sleep(ctx, spec.warmup)
	for warmed.Load() < int64(spec.callers) && time.Now().Before(warmupEnd) && ctx.Err() == nil {
		sleep(ctx, 10*time.Millisecond)
	}
	w.warmup = time.Since(warmupEnd.Add(-maxWarmup))
	mark(true)
	begin := time.Now()
	phase.Store(phaseMeasure)
	sleep(ctx, spec.duration)
	phase.Store(phaseDone)
	w.elapsed = time.Since(begin)
	mark(false)
	cancel()
	wg.Wait()
	w.calls = int64(len(w.latencies))
	w.errors = errsIn.Load()
	slices.Sort(w.latencies)
	return w
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
