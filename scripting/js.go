package scripting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/mcpscript/mcpscript/internal/hostproc"
	"github.com/mcpscript/mcpscript/internal/jsrt"
	"github.com/mcpscript/mcpscript/internal/suggest"
)

// ScriptOptions configure LoadScript. The zero value works.
type ScriptOptions struct {
	// Name identifies the script in errors and logs; default the file's
	// base name.
	Name string
	// Grants are what the script may reach beyond its code: environment
	// variables (process.env) and one folder to read (fs.readFile).
	Grants Grants
	// Pool bounds the runtimes kept for concurrent calls; default
	// GOMAXPROCS. Calls beyond it wait for a free runtime.
	Pool int
	// MaxCallStackSize bounds recursion; default 1024 frames.
	MaxCallStackSize int
	// Logger receives console output, with script=Name; default
	// slog.Default().
	Logger *slog.Logger
	// Isolation says where the runtimes run: in host processes
	// (IsolationProcess), in this process (IsolationNone), or by default
	// (IsolationAuto) in host processes when the program called
	// RunHostIfRequested and in this process otherwise, with a warning.
	Isolation Isolation
	// MemoryLimit bounds the memory of each host process, in bytes;
	// default DefaultMemoryLimit. A call that goes over it fails and its
	// host process is killed. Without isolation there is no limit.
	MemoryLimit int64
	// Backends are where the script's store and limits.take keep their
	// values and counters; the zero value keeps them in memory, the
	// script's own.
	Backends Backends
}

// Isolation is where a script's runtimes run.
type Isolation string

const (
	// IsolationAuto is IsolationProcess when the program called
	// RunHostIfRequested, else IsolationNone (logged once, as a warning).
	IsolationAuto Isolation = ""
	// IsolationProcess runs each runtime in a host process of its own
	// (the running executable, started again): a call that goes over the
	// memory limit, or runs past its deadline in a built-in function that
	// does not see the interrupt, is stopped by killing its host, and
	// nothing else is affected. LoadScript fails with ErrNoHost when the
	// program did not call RunHostIfRequested.
	IsolationProcess Isolation = "process"
	// IsolationNone runs the runtimes in this process: the cheapest calls,
	// but no memory limit, and a built-in function (new Array(1e8).fill(0),
	// "x".repeat(2**30)) runs to its end past the deadline. For scripts
	// you trust with the whole process.
	IsolationNone Isolation = "none"
)

// DefaultMemoryLimit bounds a host process's memory when
// ScriptOptions.MemoryLimit is zero.
const DefaultMemoryLimit = 256 << 20

// ErrNoHost means a script must run isolated (IsolationProcess) but the
// program cannot start host processes: it did not call RunHostIfRequested
// first thing in main.
var ErrNoHost = errors.New("hook host processes are not available: call scripting.RunHostIfRequested() first thing in main")

// ErrMemoryLimit matches a *MemoryLimitError.
var ErrMemoryLimit = errors.New("memory limit exceeded")

// MemoryLimitError is a call (or a runtime's start) that went over its
// host's memory limit: the host was killed and the runtime discarded.
type MemoryLimitError struct {
	Limit int64 // bytes
}

func (e *MemoryLimitError) Error() string {
	return fmt.Sprintf("exceeded its memory limit of %d MiB and was stopped", e.Limit>>20)
}

// Is makes errors.Is(err, ErrMemoryLimit) true.
func (e *MemoryLimitError) Is(target error) bool { return target == ErrMemoryLimit }

// Script is a loaded JavaScript hook script: a Hook whose phases are the
// functions the script exports. It is safe for concurrent use.
//
// A hook script exports functions named after the phases it handles
// (toolCall, toolResult, listTools, listPrompts, listResources,
// listResourceTemplates, request, response), as named exports or as
// members of its default export, in ES module, CommonJS or TypeScript
// syntax:
//
//	const DENY = new Set(["delete_file", "move_file"]);
//
//	export function toolCall(call) {
//	  if (DENY.has(call.tool)) return { deny: `${call.tool} is not allowed` };
//	  if (!String(call.arguments.path ?? "/srv/data/").startsWith("/srv/data/")) {
//	    return { deny: "outside /srv/data" };
//	  }
//	}
//
// Each function gets one object, the call, with the fields of Input:
//
//	hook       the phase: "toolCall", "listTools", ...
//	server     the server the request goes to (its configured name)
//	method     the MCP method: "tools/call", "tools/list", "resources/read", ...
//	caller     who asks, frozen (the fields of Caller): auth ("jwt", "bearer",
//	           "none"), token (a static token's name), subject, clientId,
//	           scopes, claims (a JWT's, verified), client {name, version},
//	           protocol, session ("" outside the proxy), transport
//	           ("streamable-http", "sse", "reference-sse", "go", "cli",
//	           "workflow"); never a credential
//	tool       toolCall, toolResult: the tool's name as the server knows it
//	arguments  toolCall, toolResult: the tool's arguments, an object ({} when none)
//	params     request, response, list phases: the request's params
//	result     toolResult, response: the server's result (a CallToolResult for tools)
//	items      list phases: the array of tools, prompts, resources or templates
//	state      toolCall, request: an empty object the function may fill;
//	           toolResult, response: what the same script's toolCall
//	           (request) left there for this request
//
// It returns nothing (undefined or null) to let the request through
// unchanged, or an object with some of these fields:
//
//	deny       a string (the reason, shown to the caller) or true: refuse the
//	           request (before phases) or the result (after phases); every phase
//	result     toolCall, request: answer without calling any server;
//	           toolResult, response: replace the server's result
//	arguments  toolCall: replace the tool's arguments
//	tool       toolCall: call this tool instead
//	server     toolCall, request: send the request to this server instead
//	params     request: replace the params
//	items      list phases: replace the list (filter, edit, rename)
//
// A field the phase does not take, or any other field, is an error (so
// that a typo such as {denied: "..."} cannot let a request through). A
// function may be async: its promise must settle without waiting for I/O
// (there is none to wait for), else the call fails. A list phase runs once
// per page of the list. The request and response phases run for every
// method other than tools/call and the lists (resources/read, prompts/get,
// completion/complete, ...). Through the proxy's aggregate view, hooks see
// the servers' own names (echo, not a__echo).
//
// Beside the language's own globals, a script sees console (into the log,
// with script=<name>), process.env (only the variables scripts.env grants),
// fs.readFile (regular files of up to 16 MiB), fs.readdir and fs.exists
// (only under scripts.readDir), store, limits and audit (below) and
// redact(result, fn), which applies fn to every text of a result (content,
// embedded resources, structured content, resources/read contents,
// prompts/get messages) and is the way to redact secrets. There is no
// network, no timer and no Node module; imports of the script's own files
// and of packages in node_modules are bundled at load. TypeScript is
// stripped of its types, not type-checked.
//
// # Runtimes and state
//
// A script is compiled once and run in a pool of JavaScript runtimes
// (ScriptOptions.Pool, default GOMAXPROCS), created as calls need them;
// each call has one runtime to itself. Module-level variables therefore
// live per runtime: there are up to Pool copies of them, and a runtime is
// thrown away, with its variables, after a call that timed out, was
// cancelled, overflowed the stack or went over the memory limit (see
// Limits). Use them for constants and caches
// that are safe to rebuild, never for state that must be shared or must
// last. The script's top-level code runs again for every new runtime,
// bounded by the load timeout (10s) rather than the call's: a call that
// cannot wait for it fails, and the runtime, once ready, serves the next.
//
// State that lasts lives outside the runtimes, in ScriptOptions.Backends
// (the config's state store and limiter in the mcpscript command; by
// default a memory store and limiter of the script's own), under the
// script's own keys ("hook:" and its Name):
//
//	store.get(key)                   the value, or undefined (absent or expired)
//	store.set(key, value, {ttl})     keeps a copy of value (JSON; undefined deletes)
//	store.delete(key)                true if the key was there
//	store.incr(key, by = 1, {ttl})   adds a whole number, atomically; returns the sum
//	limits.take(key, {rate, burst, quota, name})
//	                                 takes one event: returns how many more the
//	                                 limits allow, or throws a RateLimitError that,
//	                                 uncaught, refuses the request (-32005, retryAfter)
//	audit.add(key, value)            adds a field to the request's audit record
//
// ttl is seconds or a duration ("10m", "24h", "7d"). Keys are non-empty
// strings; values are stored as JSON, so no JavaScript object is shared
// between runtimes: what get returns is a copy. When the store or limiter
// cannot be reached, Backends.FailOpen decides: the call fails and the
// request is refused, or the script carries on without them.
//
// # Limits
//
// A call is interrupted at its deadline, and recursion is bounded by
// ScriptOptions.MaxCallStackSize. With isolation (the default in the
// mcpscript command), each runtime lives in a host process of its own,
// which the call's memory (ScriptOptions.MemoryLimit) bounds and which is
// killed when a call runs on past its deadline (a built-in function such
// as Array.prototype.fill does not see the interrupt): the call fails
// with an error saying which limit it hit, the runtime is discarded, and
// nothing else notices. Up to Pool host processes run per script. A store
// or limits operation from a host process is a round trip to this one
// (tens of microseconds).
type Script struct {
	name    string
	src     *jsrt.Script
	opts    jsrt.Options
	logger  *slog.Logger
	has     uint32 // bit phaseBit(p) set when the script exports p
	root    *os.Root
	back    *backends
	hosted  bool  // runtimes live in host processes
	memory  int64 // the memory limit of a host process
	readDir string

	// slots holds one token per runtime that exists (idle, in a call or
	// being built), so that there are never more than the pool's; idle
	// holds the runtimes ready for a call (a send never blocks: each
	// runtime in it holds a token). spare holds host processes whose
	// runtime was discarded, alive and ready to build another.
	slots chan struct{}
	idle  chan jsRuntime
	spare chan *hostVM

	// Runtimes are built on goroutines of their own, under loadTimeout
	// and until Close (life), whatever the call that asked for one does.
	life   context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // guards adding to builds against Close
	builds sync.WaitGroup

	closed  atomic.Bool
	created atomic.Int64 // runtimes created so far
	hosts   atomic.Int64 // host processes started so far
}

// jsRuntime is one runtime of a script: in this process (*jsVM) or in a
// host process (*hostVM).
type jsRuntime interface {
	// run calls phase i, stopped when ctx ends; broken says the runtime
	// must not be used again. env is the call as its store, limits and
	// audit operations see it.
	run(ctx context.Context, i int, in *Input, env *callEnv) (d *Decision, broken bool, err error)
	// phases returns the bits (phaseBit) of the phases the script exports.
	phases() uint32
	// discard drops the runtime (broken, or after Close).
	discard()
}

// noHostWarning is logged once per process, for the first script loaded
// in-process by default.
var noHostWarning sync.Once

// loadTimeout bounds a script's top-level code, for every runtime (at
// load and for calls alike: a call's deadline does not stop a runtime
// being built, which is kept for the next call); a variable for tests.
var loadTimeout = 10 * time.Second

// ErrScriptClosed is returned by calls of a Script after Close.
var ErrScriptClosed = errors.New("script closed")

// LoadScript loads the hook script at path (.js, .mjs, .cjs, .ts, ...,
// with its relative imports) and runs its top-level code once, so that a
// syntax error, a failing import or a top-level exception is reported now,
// with file:line. It fails if the script exports no hook function.
func LoadScript(path string, opts ScriptOptions) (*Script, error) {
	src, err := jsrt.Load(path)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = filepath.Base(path)
	}
	pool := opts.Pool
	if pool <= 0 {
		pool = goruntime.GOMAXPROCS(0)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var hosted bool
	switch opts.Isolation {
	case IsolationProcess:
		if !hostproc.Enabled() {
			return nil, fmt.Errorf("script %s: %w", path, ErrNoHost)
		}
		hosted = true
	case IsolationNone:
	case IsolationAuto:
		hosted = hostproc.Enabled()
		if !hosted {
			noHostWarning.Do(func() {
				logger.Warn("hooks run inside this process, without a memory limit, and a built-in function can outrun their timeout; call scripting.RunHostIfRequested() first thing in main to run them isolated", "script", name)
			})
		}
	default:
		return nil, fmt.Errorf("script %s: unknown isolation %q (want %q or %q)", path, opts.Isolation, IsolationProcess, IsolationNone)
	}
	memory := opts.MemoryLimit
	if memory <= 0 {
		memory = DefaultMemoryLimit
	}
	s := &Script{
		name:   name,
		src:    &jsrt.Script{Name: name, Path: src.Path, Program: src.Program, Source: src.Source},
		opts:   jsrt.Options{Logger: logger, Grants: opts.Grants, MaxCallStackSize: opts.MaxCallStackSize},
		logger: logger,
		back:   newBackends(opts.Backends, name, logger),
		hosted: hosted,
		memory: memory,
		slots:  make(chan struct{}, pool),
		idle:   make(chan jsRuntime, pool),
		spare:  make(chan *hostVM, pool),
	}
	s.life, s.cancel = context.WithCancel(context.Background())
	if dir := opts.Grants.ReadDir; dir != "" {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, fmt.Errorf("script %s: scripts.readDir: %w", path, err)
		}
		s.root, s.opts.Root = root, root
		if s.readDir, err = filepath.Abs(dir); err != nil {
			return nil, fmt.Errorf("script %s: scripts.readDir: %w", path, err)
		}
	}
	s.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(s.life, loadTimeout)
	defer cancel()
	r, err := s.newRuntime(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.has = r.phases()
	s.idle <- r
	return s, nil
}

// newRuntime builds a runtime: in this process, or in a host process (a
// spare one, else a new one).
func (s *Script) newRuntime(ctx context.Context) (jsRuntime, error) {
	if !s.hosted {
		r, exports, err := buildVM(ctx, s.src, s.opts, s.back)
		if err != nil {
			return nil, err
		}
		if r.phases() == 0 {
			return nil, noHooksError(s.src.Path, exports)
		}
		s.created.Add(1)
		return r, nil
	}
	var h *hostVM
	select {
	case h = <-s.spare:
	default:
		var err error
		if h, err = s.startHost(); err != nil {
			return nil, err
		}
	}
	if err := h.build(); err != nil {
		h.discard()
		return nil, err
	}
	s.created.Add(1)
	return h, nil
}

// noHooksError explains a script that exports no hook function.
func noHooksError(path string, exports *goja.Object) error {
	names := make([]string, len(Phases))
	for i, p := range Phases {
		names[i] = string(p)
	}
	msg := fmt.Sprintf("hook script %s exports no hook functions (%s)", path, strings.Join(names, ", "))
	var got []string
	if exports != nil {
		got = exports.Keys()
		if d, ok := exports.Get("default").(*goja.Object); ok {
			if _, isFn := goja.AssertFunction(d); !isFn {
				got = append(got, d.Keys()...)
			}
		}
	}
	for _, g := range got {
		if hint := suggest.Closest(g, names); hint != "" {
			return fmt.Errorf("%s: it exports %q: did you mean %q?", msg, g, hint)
		}
	}
	if len(got) > 0 {
		return fmt.Errorf("%s; it exports %s", msg, strings.Join(got, ", "))
	}
	return errors.New(msg)
}

// Name returns the script's name (ScriptOptions.Name).
func (s *Script) Name() string { return s.name }

// Has reports whether the script exports a function for the phase.
func (s *Script) Has(p Phase) bool {
	i := phaseBit(p)
	return i < numPhases && s.has&(1<<i) != 0
}

// Close releases the script's folder grant; later calls fail with
// ErrScriptClosed. Calls in progress finish; runtimes being built are
// interrupted, and Close waits for them.
func (s *Script) Close() error {
	s.mu.Lock()
	closed := s.closed.Swap(true)
	s.mu.Unlock()
	if closed {
		return nil
	}
	s.cancel()
	s.builds.Wait()
	s.drain()
	if s.root != nil {
		return s.root.Close()
	}
	return nil
}

// drain drops the idle runtimes and spare hosts (after Close).
func (s *Script) drain() {
	for {
		select {
		case r := <-s.idle:
			r.discard()
			<-s.slots
		case h := <-s.spare:
			h.discard()
		default:
			return
		}
	}
}

// Isolated reports whether the script's runtimes run in host processes.
func (s *Script) Isolated() bool { return s.hosted }

// Call runs the script's function for in.Hook on one of its runtimes and
// returns its decision (nil: continue). It waits for a free runtime while
// ctx allows; ctx ending interrupts the function, whose runtime is then
// thrown away (a host process that does not stop at once is killed).
// Errors carry the JavaScript stack (file:line in the script's own
// source); a call that went over the memory limit fails with a
// *MemoryLimitError. Middleware adds the script's name and the phase.
func (s *Script) Call(ctx context.Context, in *Input) (*Decision, error) {
	i := phaseBit(in.Hook)
	if !s.Has(in.Hook) {
		return nil, nil
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("%s: %w", s.name, ErrScriptClosed)
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	r, err := s.acquire(ctx)
	if err != nil {
		return nil, &notStartedError{err}
	}
	env := &callEnv{ctx: ctx, notes: in.Notes}
	d, broken, err := r.run(ctx, i, in, env)
	s.release(r, broken)
	if env.failure != nil {
		// The store or limiter failed under fail-closed: the call fails,
		// whatever the script made of the exception, and also when the
		// wait for the backend ran into the hook's deadline: a timeout
		// would let onError "open" through what state.onError closes.
		return nil, env.failure
	}
	return d, err
}

// notStartedError is a call that failed before the script's function ran
// (waiting for a runtime, or for one to start).
type notStartedError struct{ err error }

func (e *notStartedError) Error() string { return e.err.Error() }
func (e *notStartedError) Unwrap() error { return e.err }

// acquire takes an idle runtime, or builds one when the pool has room;
// it waits for either while ctx allows. A runtime is built on its own
// goroutine, under loadTimeout: when ctx ends first, acquire returns and
// the runtime, once built, waits in the pool for the next call.
func (s *Script) acquire(ctx context.Context) (jsRuntime, error) {
	select {
	case r := <-s.idle:
		return r, nil
	default:
	}
	select {
	case r := <-s.idle:
		return r, nil
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free runtime (all %d busy; see scripts.pool): %w", cap(s.slots), context.Cause(ctx))
	case <-s.life.Done():
		return nil, fmt.Errorf("%s: %w", s.name, ErrScriptClosed)
	}
	b := s.build()
	if b == nil {
		<-s.slots
		return nil, fmt.Errorf("%s: %w", s.name, ErrScriptClosed)
	}
	select {
	case <-b.done:
		if b.err != nil {
			<-s.slots
			if s.closed.Load() {
				return nil, fmt.Errorf("%s: %w", s.name, ErrScriptClosed)
			}
			return nil, b.err
		}
		return b.r, nil
	case r := <-s.idle:
		// Another call's runtime came free first; this one goes idle
		// when built.
		s.abandon(b)
		return r, nil
	case <-ctx.Done():
		s.abandon(b)
		return nil, fmt.Errorf("starting a runtime (running the script's top-level code): %w", context.Cause(ctx))
	}
}

// building is a runtime being built for a call.
type building struct {
	done chan struct{} // closed when built; then r or err is set
	r    jsRuntime
	err  error

	mu        sync.Mutex
	abandoned bool // the call went on without it
}

// build starts building a runtime, for which the caller holds a slot; nil
// after Close.
func (s *Script) build() *building {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil
	}
	b := &building{done: make(chan struct{})}
	s.builds.Add(1)
	go func() {
		defer s.builds.Done()
		ctx, cancel := context.WithTimeout(s.life, loadTimeout)
		r, err := s.newRuntime(ctx)
		cancel()
		b.mu.Lock()
		b.r, b.err = r, err
		abandoned := b.abandoned
		close(b.done)
		b.mu.Unlock()
		if abandoned {
			s.keep(b)
		}
	}()
	return b
}

// abandon leaves b to go idle when built, or puts it there if it is.
func (s *Script) abandon(b *building) {
	b.mu.Lock()
	select {
	case <-b.done:
	default:
		b.abandoned = true
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	s.keep(b)
}

// keep puts a runtime built for a call that went on without it into the
// pool; a failure to build it is logged (the next call will see it).
func (s *Script) keep(b *building) {
	if b.err != nil {
		<-s.slots
		if !s.closed.Load() {
			s.logger.Warn("starting a JavaScript runtime failed", "script", s.name, "err", b.err)
		}
		return
	}
	s.release(b.r, false)
}

// release returns r to the pool, or drops it when broken.
func (s *Script) release(r jsRuntime, broken bool) {
	if broken || s.closed.Load() {
		r.discard()
		<-s.slots
		return
	}
	s.idle <- r // never blocks: r holds one of the slots, so idle has room
	if s.closed.Load() {
		s.drain() // Close may have drained the pool before r went in
	}
}
