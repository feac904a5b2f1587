package scripting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

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
}

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
//	caller     {token, session, transport}, frozen: the bearer token's name (""
//	           without auth), the proxy session ("" outside the proxy), the
//	           transport ("streamable-http", "sse", "reference-sse", "go", "cli",
//	           "workflow")
//	tool       toolCall, toolResult: the tool's name as the server knows it
//	arguments  toolCall, toolResult: the tool's arguments, an object ({} when none)
//	params     request, response, list phases: the request's params
//	result     toolResult, response: the server's result (a CallToolResult for tools)
//	items      list phases: the array of tools, prompts, resources or templates
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
// (only under scripts.readDir) and store (below). There is no network, no timer and no Node module; imports
// of the script's own files and of packages in node_modules are bundled
// at load. TypeScript is stripped of its types, not type-checked.
//
// # Runtimes and state
//
// A script is compiled once and run in a pool of JavaScript runtimes
// (ScriptOptions.Pool, default GOMAXPROCS), created as calls need them;
// each call has one runtime to itself. Module-level variables therefore
// live per runtime: there are up to Pool copies of them, and a runtime is
// thrown away, with its variables, after a call that timed out, was
// cancelled or overflowed the stack. Use them for constants and caches
// that are safe to rebuild, never for state that must be shared or must
// last. The script's top-level code runs again for every new runtime,
// bounded by the load timeout (10s) rather than the call's: a call that
// cannot wait for it fails, and the runtime, once ready, serves the next.
//
// For state kept between calls, every runtime of a script sees one global
// store, held in Go and shared by all of them:
//
//	store.get(key)          the value, or undefined
//	store.set(key, value)   keeps a copy of value (JSON-serialisable; undefined deletes)
//	store.delete(key)       true if the key was there
//	store.incr(key, n = 1)  adds n to a number (absent counts as 0), atomically; returns the sum
//
// Keys are strings. Values are stored as JSON, so no JavaScript object is
// shared between runtimes: what get returns is a copy. The store lives as
// long as the loaded script (until the process ends or the config is
// reloaded) and is not bounded: keep the number of keys small.
//
// Scripts are trusted code: there is no memory limit in the JavaScript
// engine. A call is interrupted at its deadline, and recursion is bounded
// by ScriptOptions.MaxCallStackSize.
type Script struct {
	name  string
	src   *jsrt.Script
	opts  jsrt.Options
	has   uint32 // bit phaseBit(p) set when the script exports p
	root  *os.Root
	store *sharedStore

	// slots holds one token per runtime that exists (idle, in a call or
	// being built), so that there are never more than the pool's; idle
	// holds the runtimes ready for a call (a send never blocks: each
	// runtime in it holds a token).
	slots chan struct{}
	idle  chan *jsVM

	// Runtimes are built on goroutines of their own, under loadTimeout
	// and until Close (life), whatever the call that asked for one does.
	life   context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // guards adding to builds against Close
	builds sync.WaitGroup

	closed  atomic.Bool
	created atomic.Int64 // runtimes created so far
}

// jsVM is one runtime of a script, with what a call needs at hand.
type jsVM struct {
	vm        *goja.Runtime
	fns       [numPhases]goja.Callable
	this      [numPhases]goja.Value // the object the function was found on
	stringify goja.Callable         // the realm's own JSON.stringify, whatever the script does to JSON
	freeze    goja.Callable         // the realm's own Object.freeze

	// The caller object of the last call, frozen, handed again while the
	// caller is the same (a proxy session makes many calls in a row).
	lastCaller Caller
	callerObj  *goja.Object
}

const numPhases = 8

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
	s := &Script{
		name:  name,
		src:   &jsrt.Script{Name: name, Path: src.Path, Program: src.Program},
		opts:  jsrt.Options{Logger: opts.Logger, Grants: opts.Grants, MaxCallStackSize: opts.MaxCallStackSize},
		store: &sharedStore{m: map[string]string{}},
		slots: make(chan struct{}, pool),
		idle:  make(chan *jsVM, pool),
	}
	s.life, s.cancel = context.WithCancel(context.Background())
	if dir := opts.Grants.ReadDir; dir != "" {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, fmt.Errorf("script %s: scripts.readDir: %w", path, err)
		}
		s.root, s.opts.Root = root, root
	}
	s.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(s.life, loadTimeout)
	defer cancel()
	r, exports, err := s.newVM(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	for i := range Phases {
		if r.fns[i] != nil {
			s.has |= 1 << i
		}
	}
	if s.has == 0 {
		s.Close()
		return nil, noHooksError(path, exports)
	}
	s.idle <- r
	return s, nil
}

// noHooksError explains a script that exports no hook function.
func noHooksError(path string, exports *goja.Object) error {
	names := make([]string, len(Phases))
	for i, p := range Phases {
		names[i] = string(p)
	}
	msg := fmt.Sprintf("script %s exports no hook function (%s)", path, strings.Join(names, ", "))
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

// newVM creates a runtime: sandbox globals, the store, the script's
// top-level code (interrupted when ctx ends), its hook functions.
func (s *Script) newVM(ctx context.Context) (*jsVM, *goja.Object, error) {
	r := &jsVM{}
	opts := s.opts
	opts.Setup = func(vm *goja.Runtime) error {
		r.vm = vm
		j, ok := vm.Get("JSON").(*goja.Object)
		if !ok {
			return errors.New("the runtime has no JSON object")
		}
		r.stringify, _ = goja.AssertFunction(j.Get("stringify"))
		if obj, ok := vm.Get("Object").(*goja.Object); ok {
			r.freeze, _ = goja.AssertFunction(obj.Get("freeze"))
		}
		if r.stringify == nil || r.freeze == nil {
			return errors.New("the runtime lacks JSON.stringify or Object.freeze")
		}
		return s.store.install(r)
	}
	vm, exports, err := jsrt.NewContext(ctx, s.src, opts)
	if err != nil {
		if exports == nil && strings.Contains(err.Error(), "exports nothing") {
			return nil, nil, noHooksError(s.src.Path, nil)
		}
		return nil, nil, err
	}
	r.vm = vm
	def, _ := exports.Get("default").(*goja.Object)
	for i, p := range Phases {
		v := jsrt.Export(exports, string(p))
		if v == nil {
			continue
		}
		fn, ok := goja.AssertFunction(v)
		if !ok {
			return nil, nil, fmt.Errorf("script %s: it exports %s, but as %s, not a function", s.src.Path, p, jsTypeOf(v))
		}
		r.fns[i] = fn
		// Called as a method of the object it was found on, so that `this`
		// works in `module.exports = {toolCall() {this.helper()}, ...}`
		// and in a default-exported object alike.
		r.this[i] = exports
		if def != nil && !jsDefined(exports.Get(string(p))) {
			r.this[i] = def
		}
	}
	s.created.Add(1)
	return r, exports, nil
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

// drain drops the idle runtimes (after Close).
func (s *Script) drain() {
	for {
		select {
		case <-s.idle:
			<-s.slots
		default:
			return
		}
	}
}

// Call runs the script's function for in.Hook on one of its runtimes and
// returns its decision (nil: continue). It waits for a free runtime while
// ctx allows; ctx ending interrupts the function, whose runtime is then
// thrown away. Errors carry the JavaScript stack (file:line in the
// script's own source); Middleware adds the script's name and the phase.
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
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { r.vm.Interrupt(context.Cause(ctx)) })
	d, broken, err := r.call(i, in)
	if !stop() {
		// The interrupt fired or is about to: the runtime may be
		// mid-interrupt or carry the flag into its next call.
		broken = true
	}
	s.release(r, broken)
	return d, err
}

// acquire takes an idle runtime, or builds one when the pool has room;
// it waits for either while ctx allows. A runtime is built on its own
// goroutine, under loadTimeout: when ctx ends first, acquire returns and
// the runtime, once built, waits in the pool for the next call.
func (s *Script) acquire(ctx context.Context) (*jsVM, error) {
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
	r    *jsVM
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
		r, _, err := s.newVM(ctx)
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
			logger := s.opts.Logger
			if logger == nil {
				logger = slog.Default()
			}
			logger.Warn("starting a JavaScript runtime failed", "script", s.name, "err", b.err)
		}
		return
	}
	s.release(b.r, false)
}

// release returns r to the pool, or drops it when broken.
func (s *Script) release(r *jsVM, broken bool) {
	if broken || s.closed.Load() {
		<-s.slots
		return
	}
	s.idle <- r // never blocks: r holds one of the slots, so idle has room
	if s.closed.Load() {
		s.drain() // Close may have drained the pool before r went in
	}
}

// call runs phase i. broken says the runtime must not be used again.
func (r *jsVM) call(i int, in *Input) (d *Decision, broken bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			// An interrupt or a stack overflow while the decision is read
			// (a getter, a Proxy trap) comes through Try as a panic.
			if e, ok := p.(error); ok && uncatchable(e) {
				d, broken, err = nil, true, jsrt.Describe(e)
				return
			}
			d, broken, err = nil, true, fmt.Errorf("internal error in the JavaScript runtime: %v", p)
		}
	}()
	arg, err := r.input(in)
	if err != nil {
		return nil, false, err
	}
	v, err := r.fns[i](r.this[i], arg)
	if err != nil {
		return nil, uncatchable(err), jsrt.Describe(err)
	}
	// Reading the result may run the script's code (getters, toJSON).
	if ex := r.vm.Try(func() { d, err = r.decision(in.Hook, v) }); ex != nil {
		return nil, false, jsrt.Describe(ex)
	}
	return d, false, err
}

// uncatchable says err is an interrupt or a stack overflow, after which a
// runtime is not used again.
func uncatchable(err error) bool {
	var so *goja.StackOverflowError
	var ie *goja.InterruptedError
	return errors.As(err, &so) || errors.As(err, &ie)
}

// input builds the call object: plain JavaScript values throughout (real
// objects and arrays, not wrapped Go maps), the JSON members converted by
// jsonToJS.
func (r *jsVM) input(in *Input) (goja.Value, error) {
	vm := r.vm
	if r.callerObj == nil || r.lastCaller != in.Caller {
		caller := vm.NewObject()
		_ = caller.Set("token", in.Caller.Token)
		_ = caller.Set("session", in.Caller.Session)
		_ = caller.Set("transport", in.Caller.Transport)
		if _, err := r.freeze(goja.Undefined(), caller); err != nil {
			return nil, err
		}
		r.lastCaller, r.callerObj = in.Caller, caller
	}
	o := vm.NewObject()
	_ = o.Set("hook", string(in.Hook))
	_ = o.Set("server", in.Server)
	_ = o.Set("method", in.Method)
	_ = o.Set("caller", r.callerObj)
	tools := in.Hook == PhaseToolCall || in.Hook == PhaseToolResult
	var noArgs json.RawMessage
	if tools || in.Tool != "" {
		_ = o.Set("tool", in.Tool)
		noArgs = emptyObject
	}
	for _, f := range [...]struct {
		name string
		raw  json.RawMessage
		def  json.RawMessage // when absent
	}{
		{"arguments", in.Arguments, noArgs},
		{"params", in.Params, nil},
		{"result", in.Result, nil},
		{"items", in.Items, nil},
	} {
		raw := f.raw
		if len(raw) == 0 || string(raw) == "null" && f.def != nil {
			raw = f.def
		}
		if len(raw) == 0 {
			continue
		}
		v, err := jsonToJS(vm, raw)
		if err != nil {
			return nil, fmt.Errorf("the hook's %s: %w", f.name, err)
		}
		_ = o.Set(f.name, v)
	}
	return o, nil
}

// The fields of a decision, and which phases may return each.
const (
	fDeny = 1 << iota
	fResult
	fArguments
	fParams
	fServer
	fTool
	fItems
)

var decisionFields = map[string]int{"deny": fDeny, "result": fResult, "arguments": fArguments,
	"params": fParams, "server": fServer, "tool": fTool, "items": fItems}

var phaseDecisionFields = map[Phase]int{
	PhaseToolCall:              fDeny | fResult | fArguments | fServer | fTool,
	PhaseToolResult:            fDeny | fResult,
	PhaseListTools:             fDeny | fItems,
	PhaseListPrompts:           fDeny | fItems,
	PhaseListResources:         fDeny | fItems,
	PhaseListResourceTemplates: fDeny | fItems,
	PhaseRequest:               fDeny | fResult | fParams | fServer,
	PhaseResponse:              fDeny | fResult,
}

// fieldNames lists the fields of a mask in a fixed order, for messages.
func decisionFieldNames(mask int) string {
	var out []string
	for _, n := range []string{"deny", "result", "arguments", "params", "server", "tool", "items"} {
		if mask&decisionFields[n] != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

// decision reads what a hook function returned.
func (r *jsVM) decision(phase Phase, v goja.Value) (*Decision, error) {
	if !jsDefined(v) {
		return nil, nil
	}
	obj, ok := v.(*goja.Object)
	if ok && obj.ExportType() == promiseType {
		p, _ := obj.Export().(*goja.Promise)
		switch {
		case p == nil:
		case p.State() == goja.PromiseStatePending:
			return nil, fmt.Errorf("%s returned a promise that did not settle (hooks cannot wait for I/O)", phase)
		case p.State() == goja.PromiseStateRejected:
			return nil, fmt.Errorf("%s's promise was rejected: %s", phase, rejectionText(p.Result()))
		default:
			v = p.Result()
			if !jsDefined(v) {
				return nil, nil
			}
			obj, ok = v.(*goja.Object)
		}
	}
	if !ok || obj.ClassName() == "Array" || obj.ClassName() == "Function" {
		return nil, fmt.Errorf("%s must return an object or nothing, got %s", phase, jsTypeOf(v))
	}
	d := &Decision{}
	allowed := phaseDecisionFields[phase]
	for _, k := range obj.Keys() {
		bit, known := decisionFields[k]
		switch {
		case !known:
			msg := fmt.Sprintf("%s returned an unknown field %q (it may return %s)", phase, k, decisionFieldNames(allowed))
			if hint := suggest.Closest(k, strings.Split(decisionFieldNames(allowed), ", ")); hint != "" {
				msg += fmt.Sprintf("; did you mean %q?", hint)
			}
			return nil, errors.New(msg)
		case allowed&bit == 0:
			return nil, fmt.Errorf("%s cannot return %q (it may return %s)", phase, k, decisionFieldNames(allowed))
		}
		fv := obj.Get(k)
		if !jsDefined(fv) {
			continue
		}
		var err error
		switch bit {
		case fDeny:
			d.Deny, err = denyJSON(phase, fv)
		case fServer:
			d.Server, err = stringField(phase, k, fv)
		case fTool:
			d.Tool, err = stringField(phase, k, fv)
		case fResult:
			d.Result, err = r.toJSON(phase, k, fv)
		case fArguments:
			d.Arguments, err = r.toJSON(phase, k, fv)
		case fParams:
			d.Params, err = r.toJSON(phase, k, fv)
		case fItems:
			d.Items, err = r.toJSON(phase, k, fv)
		}
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

var promiseType = reflect.TypeFor[*goja.Promise]()

var emptyObject = json.RawMessage("{}")

var (
	jsonTrue  = json.RawMessage("true")
	jsonFalse = json.RawMessage("false")
)

func denyJSON(phase Phase, v goja.Value) (json.RawMessage, error) {
	switch v.ExportType().Kind() {
	case reflect.Bool:
		if v.ToBoolean() {
			return jsonTrue, nil
		}
		return jsonFalse, nil
	case reflect.String:
		return json.Marshal(v.String())
	}
	return nil, fmt.Errorf("%s: deny must be a string (the reason) or true, got %s", phase, jsTypeOf(v))
}

func stringField(phase Phase, name string, v goja.Value) (string, error) {
	if v.ExportType().Kind() != reflect.String {
		return "", fmt.Errorf("%s: %s must be a string, got %s", phase, name, jsTypeOf(v))
	}
	return v.String(), nil
}

// toJSON serialises a returned value with the realm's JSON.stringify (which
// honours toJSON methods and drops functions as JSON does).
func (r *jsVM) toJSON(phase Phase, name string, v goja.Value) (json.RawMessage, error) {
	s, err := r.stringify(goja.Undefined(), v)
	if err != nil {
		if uncatchable(err) {
			panic(err) // to call, which throws the runtime away
		}
		return nil, fmt.Errorf("%s: %s cannot be turned into JSON: %w", phase, name, jsrt.Describe(err))
	}
	if !jsDefined(s) {
		return nil, fmt.Errorf("%s: %s cannot be turned into JSON (got %s)", phase, name, jsTypeOf(v))
	}
	return json.RawMessage(s.String()), nil
}

func jsDefined(v goja.Value) bool {
	return v != nil && !goja.IsUndefined(v) && !goja.IsNull(v)
}

// jsTypeOf names a value's type as a script author knows it.
func jsTypeOf(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	if o, ok := v.(*goja.Object); ok {
		if _, isFn := goja.AssertFunction(o); isFn {
			return "function"
		}
		switch {
		case o.ClassName() == "Array":
			return "array"
		case o.ExportType() == promiseType:
			return "promise"
		}
		return "object"
	}
	t := v.ExportType()
	switch {
	case t == nil:
		return "a value"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() == reflect.Int64 || t.Kind() == reflect.Float64:
		return "number"
	case t == reflect.TypeFor[*big.Int]():
		return "bigint"
	case t == reflect.TypeFor[*goja.Symbol]():
		return "symbol"
	}
	return t.String()
}

// rejectionText renders a rejection reason: an Error's stack, else its text.
func rejectionText(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		if st := o.Get("stack"); jsDefined(st) {
			return st.String()
		}
	}
	if v == nil {
		return "undefined"
	}
	return v.String()
}

// sharedStore is the state a script's runtimes share: JSON text by key.
type sharedStore struct {
	mu sync.Mutex
	m  map[string]string
}

// install sets the global store object of a runtime.
func (st *sharedStore) install(r *jsVM) error {
	vm := r.vm
	key := func(fn string, c goja.FunctionCall) string {
		k := c.Argument(0)
		if k.ExportType() == nil || k.ExportType().Kind() != reflect.String {
			panic(vm.NewTypeError("store.%s: the key must be a string, got %s", fn, jsTypeOf(k)))
		}
		return k.String()
	}
	o := vm.NewObject()
	methods := map[string]func(goja.FunctionCall) goja.Value{
		"get": func(c goja.FunctionCall) goja.Value {
			k := key("get", c)
			st.mu.Lock()
			s, ok := st.m[k]
			st.mu.Unlock()
			if !ok {
				return goja.Undefined()
			}
			v, err := jsonToJS(vm, []byte(s))
			if err != nil {
				panic(vm.NewGoError(err))
			}
			return v
		},
		"set": func(c goja.FunctionCall) goja.Value {
			k := key("set", c)
			val := c.Argument(1)
			if goja.IsUndefined(val) {
				st.mu.Lock()
				delete(st.m, k)
				st.mu.Unlock()
				return goja.Undefined()
			}
			s, err := r.stringify(goja.Undefined(), val)
			if err != nil {
				panic(err)
			}
			if goja.IsUndefined(s) {
				panic(vm.NewTypeError("store.set: the value must be JSON-serialisable, got %s", jsTypeOf(val)))
			}
			st.mu.Lock()
			st.m[k] = s.String()
			st.mu.Unlock()
			return goja.Undefined()
		},
		"delete": func(c goja.FunctionCall) goja.Value {
			k := key("delete", c)
			st.mu.Lock()
			_, ok := st.m[k]
			delete(st.m, k)
			st.mu.Unlock()
			return vm.ToValue(ok)
		},
		"incr": func(c goja.FunctionCall) goja.Value {
			k := key("incr", c)
			n := 1.0
			if a := c.Argument(1); !goja.IsUndefined(a) {
				if t := a.ExportType(); t == nil || (t.Kind() != reflect.Int64 && t.Kind() != reflect.Float64) {
					panic(vm.NewTypeError("store.incr: n must be a number, got %s", jsTypeOf(a)))
				}
				n = a.ToFloat()
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			var cur float64
			if s, ok := st.m[k]; ok {
				if err := json.Unmarshal([]byte(s), &cur); err != nil {
					panic(vm.NewTypeError("store.incr: %q holds %s, not a number", k, excerpt(json.RawMessage(s))))
				}
			}
			cur += n
			b, err := json.Marshal(cur)
			if err != nil {
				panic(vm.NewTypeError("store.incr: %q: %v", k, err))
			}
			st.m[k] = string(b)
			return vm.ToValue(cur)
		},
	}
	for _, name := range slices.Sorted(maps.Keys(methods)) {
		if err := o.Set(name, methods[name]); err != nil {
			return err
		}
	}
	return vm.Set("store", o)
}
