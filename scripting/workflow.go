package scripting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/eventloop"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/jsrt"
)

// WorkflowOptions configure RunWorkflow. The zero value works.
type WorkflowOptions struct {
	// Args are passed to main as its first argument, an array of strings.
	Args []string
	// Grants are what the script may reach: environment variables
	// (process.env) and a folder to read (fs).
	Grants Grants
	// MaxCallStackSize bounds JavaScript recursion; default 1024 frames.
	MaxCallStackSize int
	// Logger receives console output (with script=<name>) and the
	// workflow's own warnings; default slog.Default().
	Logger *slog.Logger
	// Stdout receives print() lines, console.log, info and debug, and
	// main's result; default os.Stdout.
	Stdout io.Writer
	// Stderr receives console.warn and error; default os.Stderr.
	Stderr io.Writer
	// OnProgress, when set, is called with each progress notification of
	// a callTool in flight (server and tool name it). It runs on the
	// engine's goroutine and must not block.
	OnProgress func(server, tool string, p *mcp.ProgressNotificationParams)
	// StopTimeout bounds how long stopping the servers the workflow
	// started may take at its end; default 20s.
	StopTimeout time.Duration
	// MemoryLimit bounds the memory the Go runtime holds while the
	// workflow runs (the script's objects are most of it), in bytes;
	// default DefaultWorkflowMemoryLimit, negative for none. Over it the
	// script is interrupted and the workflow fails with a
	// *MemoryLimitError; a script that does not stop within a second (a
	// built-in function such as Array.prototype.fill does not see the
	// interrupt) has the error written to Stderr and the process exits
	// with status 1, rather than die later of the Go runtime's fatal "out
	// of memory" with every server of the program.
	MemoryLimit int64
}

// DefaultWorkflowMemoryLimit bounds a workflow's memory when
// WorkflowOptions.MemoryLimit is zero.
const DefaultWorkflowMemoryLimit = 1 << 30

// RunWorkflow loads the workflow script at path (ES module, CommonJS or
// TypeScript), calls its main function on an event loop and waits for the
// promise it returns. It returns nil when main succeeds; a load error; an
// error carrying the JavaScript stack (a *jsrt.ScriptError inside) when the
// script fails; or, when ctx ends first, an error matching ctx's cause
// (errors.Is(err, context.Canceled)) that says the workflow was
// interrupted.
//
// Calls from the script go through r's clients, so r's middleware (hooks
// and filters) sees them, with the caller's transport "workflow". A
// server is started the first time the script asks for it with
// mcp.server(name); every server the workflow started is stopped before
// RunWorkflow returns, whatever happened. Servers already running are
// used and left running.
//
// A workflow is a script that `mcpscript run` runs once: it exports a main
// function, which calls the configured MCP servers through the global mcp
// object and prints what it found.
//
//	export default async function main(args) {
//	  const demo = mcp.server("demo");
//	  const res = await demo.callTool("echo", { text: args[0] ?? "hi" });
//	  print(res.text);
//	}
//
// Globals a workflow sees, beside the language's own:
//
//	mcp                    mcp.servers(), mcp.server(name): see the README of examples/workflows
//	print(...values)       writes one line to the workflow's output (strings as they are, the rest as JSON)
//	sleep(ms)              a promise resolved after ms milliseconds
//	setTimeout, setInterval, setImmediate and their clear functions
//	console                log, info, debug, dir: to the output; warn, error, trace, assert: to stderr (formatted as Node does)
//	process.env            only the variables granted (scripts.env, --allow-env)
//	fs                     readFile, readdir, exists: only under the granted folder (scripts.readDir, --allow-read)
//
// main is called as main(args, context) where args is an array of strings
// and context is {args, name, mcp, print, sleep}. The workflow ends when
// the promise main returns settles: timers still pending are dropped, calls
// still in flight are cancelled. A value main resolves to other than
// undefined or null is printed to the output (strings as they are, anything
// else as indented JSON).
//
// The workflow fails, and RunWorkflow returns an error with the JavaScript
// stack (file:line in the user's source), when main throws or its promise
// rejects, when a timer callback throws, or when a promise is rejected and
// no handler is attached to it by the time the current task and its
// microtasks are done (Node's default, --unhandled-rejections=throw).
func RunWorkflow(ctx context.Context, r *engine.Runner, path string, opts WorkflowOptions) error {
	w, err := LoadWorkflow(path)
	if err != nil {
		return err
	}
	return w.Run(ctx, r, opts)
}

// Workflow is a workflow script loaded (bundled and compiled) once, so that
// a caller can report a load error before starting any server.
type Workflow struct{ s *jsrt.Script }

// LoadWorkflow loads the workflow script at path: ES module, CommonJS or
// TypeScript, with its relative imports. A syntax error names file:line.
func LoadWorkflow(path string) (*Workflow, error) {
	s, err := jsrt.Load(path)
	if err != nil {
		return nil, err
	}
	return &Workflow{s: s}, nil
}

// Name returns the script's file name.
func (wf *Workflow) Name() string { return wf.s.Name }

// Run runs the workflow once, as RunWorkflow does.
func (wf *Workflow) Run(ctx context.Context, r *engine.Runner, opts WorkflowOptions) error {
	s := wf.s
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 20 * time.Second
	}
	wctx, cancel := context.WithCancel(engine.WithIdentity(ctx, engine.Identity{Transport: "workflow"}))
	defer cancel()
	w := &workflow{
		ctx:       wctx,
		r:         r,
		s:         s,
		opts:      opts,
		loop:      eventloop.NewEventLoop(eventloop.EnableConsole(false)),
		done:      make(chan error, 1),
		servers:   map[string]*serverHandle{},
		unhandled: map[*goja.Promise]struct{}{},
		goErrs:    map[*goja.Object]error{},
	}
	w.loop.Start()
	vmc := make(chan *goja.Runtime, 1)
	w.loop.RunOnLoop(func(vm *goja.Runtime) {
		vmc <- vm
		w.begin(vm)
	})
	vm := <-vmc
	limit := opts.MemoryLimit
	if limit == 0 {
		limit = DefaultWorkflowMemoryLimit
	}
	if limit > 0 {
		defer w.watchMemory(vm, limit)()
	}

	var err error
	select {
	case err = <-w.done:
	case <-ctx.Done():
		err = fmt.Errorf("workflow %s interrupted: %w", s.Path, context.Cause(ctx))
	}
	// Stop the script wherever it is (a busy loop, a timer callback), then
	// the loop and its timers; cancel the calls in flight and wait for
	// their goroutines.
	vm.Interrupt(errWorkflowEnded)
	w.loop.Terminate()
	cancel()
	w.wg.Wait()
	w.stopServers()
	return err
}

// watchMemory checks, every memoryCheckInterval until the returned
// function is called, the memory the Go runtime holds; over limit it
// interrupts the script and fails the workflow, and exits the process if
// the script does not stop within a second.
func (w *workflow) watchMemory(vm *goja.Runtime, limit int64) (stop func()) {
	// The garbage collector aims below the limit, so that garbage does not
	// count against the script (unless the program set a limit itself).
	prev := debug.SetMemoryLimit(-1)
	if prev == math.MaxInt64 {
		debug.SetMemoryLimit(limit / 10 * 9)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
		tick := time.NewTicker(memoryCheckInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(samples)
			if used := samples[0].Value.Uint64() - samples[1].Value.Uint64(); used <= uint64(limit) {
				continue
			}
			err := &MemoryLimitError{Limit: limit}
			vm.Interrupt(err)
			w.loop.RunOnLoop(func(*goja.Runtime) { w.fail(err) })
			select {
			case <-done:
			case <-time.After(time.Second):
				fmt.Fprintf(w.opts.Stderr, "workflow %s: %v (a built-in function did not see the interrupt, so the process exits)\n", w.s.Path, err)
				os.Exit(1)
			}
			return
		}
	})
	return func() {
		close(done)
		wg.Wait()
		if prev == math.MaxInt64 {
			debug.SetMemoryLimit(prev)
		}
	}
}

// memoryCheckInterval is how often a workflow's memory is checked.
const memoryCheckInterval = 10 * time.Millisecond

// errWorkflowEnded interrupts whatever JavaScript still runs when the
// workflow has ended.
var errWorkflowEnded = errors.New("the workflow has ended")

// workflow is one run of a workflow script. Fields marked "loop" are used
// only on the event loop's goroutine.
type workflow struct {
	ctx  context.Context // cancelled when the workflow ends; carries the identity
	r    *engine.Runner
	s    *jsrt.Script
	opts WorkflowOptions
	loop *eventloop.EventLoop
	wg   sync.WaitGroup // goroutines of calls and server starts
	done chan error     // the outcome; written once, by finish

	vm                       *goja.Runtime              // loop
	finished                 bool                       // loop
	servers                  map[string]*serverHandle   // loop (the handles themselves are shared)
	unhandled                map[*goja.Promise]struct{} // loop: rejected promises nobody handles yet
	goErrs                   map[*goja.Object]error     // loop: the Go error behind each Error made by jsError
	errorCtor                goja.Value                 // loop: the original Error constructor
	inspect                  *jsrt.Inspector            // loop: formats console output
	parseJSON, stringifyJSON goja.Callable              // loop: the original JSON.parse and JSON.stringify
}

// finish ends the workflow with err (nil for success); only the first call
// counts. Loop only.
func (w *workflow) finish(err error) {
	if w.finished {
		return
	}
	w.finished = true
	w.done <- err
}

// fail ends the workflow with a script failure.
func (w *workflow) fail(err error) {
	w.finish(fmt.Errorf("workflow %s: %w", w.s.Path, err))
}

// begin sets up the runtime, runs the script and calls main. Loop only.
func (w *workflow) begin(vm *goja.Runtime) {
	w.vm = vm
	if err := w.setGlobals(); err != nil {
		w.fail(err)
		return
	}
	exports, err := jsrt.Setup(vm, w.s, jsrt.Options{
		Logger:           w.opts.Logger,
		Grants:           w.opts.Grants,
		MaxCallStackSize: w.opts.MaxCallStackSize,
		Setup:            w.setConsole,
	})
	if errors.Is(err, jsrt.ErrNoExports) {
		w.finish(noMainError(w.s.Path))
		return
	}
	if err != nil {
		w.finish(err)
		return
	}
	main := findMain(exports)
	if main == nil {
		w.finish(noMainError(w.s.Path))
		return
	}
	args := make([]any, len(w.opts.Args))
	for i, a := range w.opts.Args {
		args[i] = a
	}
	argv := vm.NewArray(args...)
	wctx := vm.NewObject()
	for k, v := range map[string]any{
		"args": argv, "name": w.s.Name, "mcp": vm.Get("mcp"), "print": vm.Get("print"), "sleep": vm.Get("sleep"),
	} {
		_ = wctx.Set(k, v)
	}
	ret, err := main(goja.Undefined(), argv, wctx)
	if err != nil {
		w.fail(w.describe(err))
		return
	}
	p, ok := ret.Export().(*goja.Promise)
	if !ok {
		w.succeed(ret)
		return
	}
	switch p.State() {
	case goja.PromiseStateFulfilled:
		w.succeed(p.Result())
	case goja.PromiseStateRejected:
		delete(w.unhandled, p)
		w.fail(w.rejection(p.Result()))
	default:
		then, _ := goja.AssertFunction(ret.(*goja.Object).Get("then"))
		_, err := then(ret,
			vm.ToValue(func(c goja.FunctionCall) goja.Value { w.succeed(c.Argument(0)); return goja.Undefined() }),
			vm.ToValue(func(c goja.FunctionCall) goja.Value { w.fail(w.rejection(c.Argument(0))); return goja.Undefined() }))
		if err != nil {
			w.fail(w.describe(err))
		}
	}
}

// setConsole gives the workflow a console like Node's: log, info, debug
// and dir write to Stdout, warn, error, trace and a failed assert to
// Stderr, each call one line (or more) formatted as util.format does.
// Loop only.
func (w *workflow) setConsole(vm *goja.Runtime) error {
	in, err := jsrt.NewInspector(vm)
	if err != nil {
		return err
	}
	w.inspect = in
	console := vm.NewObject()
	write := func(out io.Writer, prefix string, args []goja.Value, suffix string) {
		if w.finished {
			return
		}
		fmt.Fprintln(out, prefix+in.Format(args)+suffix)
	}
	to := func(out io.Writer) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			write(out, "", c.Arguments, "")
			return goja.Undefined()
		}
	}
	methods := map[string]func(goja.FunctionCall) goja.Value{
		"log":   to(w.opts.Stdout),
		"info":  to(w.opts.Stdout),
		"debug": to(w.opts.Stdout),
		"warn":  to(w.opts.Stderr),
		"error": to(w.opts.Stderr),
		"dir": func(c goja.FunctionCall) goja.Value {
			if !w.finished {
				fmt.Fprintln(w.opts.Stdout, in.Inspect(c.Argument(0)))
			}
			return goja.Undefined()
		},
		"trace": func(c goja.FunctionCall) goja.Value {
			write(w.opts.Stderr, "Trace: ", c.Arguments, w.callerStack())
			return goja.Undefined()
		},
		"assert": func(c goja.FunctionCall) goja.Value {
			if c.Argument(0).ToBoolean() {
				return goja.Undefined()
			}
			args := c.Arguments[min(1, len(c.Arguments)):]
			if len(args) == 0 {
				write(w.opts.Stderr, "Assertion failed", nil, "")
			} else {
				write(w.opts.Stderr, "Assertion failed: ", args, "")
			}
			return goja.Undefined()
		},
	}
	for name, fn := range methods {
		if err := console.Set(name, fn); err != nil {
			return err
		}
	}
	return vm.Set("console", console)
}

// succeed prints main's result, if any, and ends the workflow. Loop only.
func (w *workflow) succeed(v goja.Value) {
	if w.finished {
		return
	}
	if v != nil && !goja.IsUndefined(v) && !goja.IsNull(v) {
		if _, isStr := v.Export().(string); isStr {
			fmt.Fprintln(w.opts.Stdout, v.String())
		} else if s, err := w.stringifyJSON(goja.Undefined(), v, goja.Null(), w.vm.ToValue(2)); err == nil && !goja.IsUndefined(s) {
			fmt.Fprintln(w.opts.Stdout, s.String())
		} else {
			fmt.Fprintln(w.opts.Stdout, jsrt.Format(w.vm, []goja.Value{v}))
		}
	}
	w.finish(nil)
}

// noMainError explains a workflow without a main function, with one to
// start from.
func noMainError(path string) error {
	return fmt.Errorf("workflow %s exports no main function; export one, e.g.:\n"+
		"  export default async function main(args) {\n"+
		"    print((await mcp.server(\"demo\").callTool(\"echo\", { text: \"hi\" })).text);\n"+
		"  }", path)
}

// findMain returns the workflow's main function: the exports themselves
// (module.exports = async function ...), the export named main (also as a
// member of the default export), or the default export.
func findMain(exports *goja.Object) goja.Callable {
	if fn, ok := goja.AssertFunction(exports); ok {
		return fn
	}
	if fn, ok := goja.AssertFunction(jsrt.Export(exports, "main")); ok {
		return fn
	}
	if fn, ok := goja.AssertFunction(exports.Get("default")); ok {
		return fn
	}
	return nil
}

// setGlobals installs what the script sees beside jsrt's console, process
// and fs: mcp, print, sleep, timers that report exceptions, and no require.
func (w *workflow) setGlobals() error {
	vm := w.vm
	w.errorCtor = vm.Get("Error")
	json := vm.Get("JSON").ToObject(vm)
	w.parseJSON, _ = goja.AssertFunction(json.Get("parse"))
	w.stringifyJSON, _ = goja.AssertFunction(json.Get("stringify"))
	vm.SetPromiseRejectionTracker(w.track)
	// The event loop's CommonJS loader reads any file; esbuild has bundled
	// the script's imports already.
	if err := vm.Set("require", goja.Undefined()); err != nil {
		return err
	}
	for _, name := range []string{"setTimeout", "setInterval", "setImmediate"} {
		if err := w.wrapTimer(name); err != nil {
			return err
		}
	}
	print := func(c goja.FunctionCall) goja.Value {
		if w.finished {
			return goja.Undefined()
		}
		fmt.Fprintln(w.opts.Stdout, jsrt.Format(vm, c.Arguments))
		return goja.Undefined()
	}
	sleep := func(c goja.FunctionCall) goja.Value {
		ms := c.Argument(0).ToInteger()
		p, resolve, _ := vm.NewPromise()
		w.loop.SetTimeout(func(*goja.Runtime) {
			if !w.finished {
				w.settled(resolve(goja.Undefined()))
			}
		}, time.Duration(max(ms, 0))*time.Millisecond)
		return vm.ToValue(p)
	}
	for name, v := range map[string]any{"print": print, "sleep": sleep, "mcp": w.mcpObject()} {
		if err := vm.Set(name, v); err != nil {
			return err
		}
	}
	return nil
}

// wrapTimer replaces the event loop's timer function name with one whose
// callbacks end the workflow when they throw (the loop ignores it).
func (w *workflow) wrapTimer(name string) error {
	vm := w.vm
	orig, ok := goja.AssertFunction(vm.Get(name))
	if !ok {
		return fmt.Errorf("the event loop has no %s", name)
	}
	return vm.Set(name, func(c goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(c.Argument(0))
		if !ok {
			panic(vm.NewTypeError(name + ": the callback must be a function"))
		}
		args := slices.Clone(c.Arguments)
		args[0] = vm.ToValue(func(c goja.FunctionCall) goja.Value {
			if w.finished {
				return goja.Undefined()
			}
			if _, err := fn(goja.Undefined(), c.Arguments...); err != nil {
				w.fail(w.describe(err))
			}
			return goja.Undefined()
		})
		v, err := orig(goja.Undefined(), args...)
		if err != nil {
			panic(err)
		}
		return v
	})
}

// track follows promises rejected without a handler: one still unhandled
// once the current task and its microtasks are done fails the workflow.
func (w *workflow) track(p *goja.Promise, op goja.PromiseRejectionOperation) {
	switch op {
	case goja.PromiseRejectionReject:
		w.unhandled[p] = struct{}{}
		w.loop.RunOnLoop(func(*goja.Runtime) {
			if _, ok := w.unhandled[p]; ok {
				delete(w.unhandled, p)
				w.fail(fmt.Errorf("unhandled promise rejection: %w", w.rejection(p.Result())))
			}
		})
	case goja.PromiseRejectionHandle:
		delete(w.unhandled, p)
	}
}

// settled handles the error of a promise's resolve or reject: the
// microtasks they run may have been interrupted.
func (w *workflow) settled(err error) {
	if err != nil {
		w.fail(w.describe(err))
	}
}

// describe turns an error from running JavaScript into one with the stack;
// an exception that is an Error made by jsError keeps its Go error and the
// stack of the call that failed.
func (w *workflow) describe(err error) error {
	var ex *goja.Exception
	if errors.As(err, &ex) {
		if o, ok := ex.Value().(*goja.Object); ok {
			if goErr, ok := w.goErrs[o]; ok {
				return &jsrt.ScriptError{Message: stackOf(o), Err: goErr}
			}
		}
	}
	return jsrt.Describe(err)
}

// rejection turns a rejection reason into an error with its stack.
func (w *workflow) rejection(reason goja.Value) error {
	o, ok := reason.(*goja.Object)
	if !ok {
		return &jsrt.ScriptError{Message: "Uncaught " + jsrt.Format(w.vm, []goja.Value{reason})}
	}
	goErr := w.goErrs[o]
	if goErr == nil {
		if ge, ok := o.Export().(error); ok {
			goErr = ge
		}
	}
	msg := stackOf(o)
	if msg == "" {
		msg = "Uncaught " + jsrt.Format(w.vm, []goja.Value{reason})
	}
	return &jsrt.ScriptError{Message: msg, Err: goErr}
}

// stackOf returns an Error's stack ("Error: msg\n\tat f (file.js:3:5(12))"),
// or "" for an object without one.
func stackOf(o *goja.Object) string {
	if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) && !goja.IsNull(st) {
		return strings.TrimRight(st.String(), "\n ")
	}
	return ""
}

// callerStack returns the JavaScript frames of the current call (native
// frames left out), as the lines of an Error's stack.
func (w *workflow) callerStack() string {
	var b bytes.Buffer
	for _, f := range w.vm.CaptureCallStack(0, nil) {
		if f.SrcName() == "<native>" {
			continue
		}
		b.WriteString("\n\tat ")
		f.Write(&b)
	}
	return b.String()
}

// stopServers stops every server the workflow started, in parallel.
func (w *workflow) stopServers() {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.StopTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for name, h := range w.servers {
		if !h.startedHere {
			continue
		}
		wg.Go(func() {
			if err := w.r.StopServer(ctx, name); err != nil && !errors.Is(err, engine.ErrNotRunning) {
				w.opts.Logger.Warn("stop server after workflow", "server", name, "err", err)
			}
		})
	}
	wg.Wait()
}
