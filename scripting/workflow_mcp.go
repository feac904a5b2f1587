package scripting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpscript/mcpscript/engine"
)

// The mcp global of a workflow:
//
//	mcp.servers()                      the configured server names, sorted
//	mcp.server(name, {throwOnError})   a server handle (the same object each time); starts the server
//
// A server handle's methods each return a promise:
//
//	callTool(name, args?, {throwOnError, onProgress, timeoutMs}?)  the CallToolResult plus .text
//	listTools(), listResources(), listResourceTemplates(), listPrompts()   arrays
//	readResource(uri)                  the ReadResourceResult plus .text
//	getPrompt(name, args?)             the GetPromptResult
//	call(method, params?)              the raw result of any request
//	ping()                             undefined
//
// A tool that fails (isError: true) resolves: the result is data for the
// script to look at. With throwOnError (per call, or for the handle) it
// rejects with an Error whose code is "tool_error" and whose result is the
// result. Failed requests reject with an Error whose message is the
// engine's (denied by a hook, no such tool with a suggestion, server not
// running...), whose code classifies it (see errorCode) and whose stack
// points at the call in the script. Bad arguments (a name that is not a
// string, arguments that are not an object) throw a TypeError at once.

// serverHandle is a server the workflow uses: its start, done once.
type serverHandle struct {
	name        string
	started     chan struct{} // closed when the start is over
	err         error         // the start's error, if it failed
	client      *engine.Client
	startedHere bool // the workflow started it, so it stops it
	obj         *goja.Object
}

// mcpObject builds the mcp global. Loop only.
func (w *workflow) mcpObject() *goja.Object {
	vm := w.vm
	o := vm.NewObject()
	_ = o.Set("servers", func(goja.FunctionCall) goja.Value {
		names := w.r.Servers()
		vals := make([]any, len(names))
		for i, n := range names {
			vals[i] = n
		}
		return vm.NewArray(vals...)
	})
	_ = o.Set("server", func(c goja.FunctionCall) goja.Value {
		name := w.stringArg(c, 0, "mcp.server", "a server name")
		h, ok := w.servers[name]
		if !ok {
			if _, err := w.r.ServerID(name); err != nil {
				panic(w.jsError(err, w.callerStack()))
			}
			h = &serverHandle{name: name, started: make(chan struct{})}
			w.servers[name] = h
			w.wg.Go(func() { w.start(h) })
		}
		if opts := c.Argument(1); !goja.IsUndefined(opts) {
			// A handle with its own defaults; the plain one stays as it is.
			return w.serverObject(h, w.boolOption(opts, "throwOnError"))
		}
		if h.obj == nil {
			h.obj = w.serverObject(h, false)
		}
		return h.obj
	})
	return o
}

// start starts h's server unless it runs already.
func (w *workflow) start(h *serverHandle) {
	defer close(h.started)
	err := w.r.StartServer(w.ctx, h.name)
	switch {
	case errors.Is(err, engine.ErrAlreadyRunning):
		err = nil
	default:
		h.startedHere = true // stop it at the end even if the start failed half-way
	}
	if err == nil {
		h.client, err = w.r.Client(h.name)
	}
	h.err = err
}

// ready waits until h's server has started.
func (h *serverHandle) ready(ctx context.Context) (*engine.Client, error) {
	select {
	case <-h.started:
		return h.client, h.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// serverObject builds a server handle's JavaScript object. Loop only.
func (w *workflow) serverObject(h *serverHandle, throwOnError bool) *goja.Object {
	vm := w.vm
	o := vm.NewObject()
	_ = o.Set("name", h.name)
	set := func(name string, fn func(goja.FunctionCall) goja.Value) { _ = o.Set(name, fn) }

	set("callTool", func(c goja.FunctionCall) goja.Value {
		tool := w.stringArg(c, 0, "callTool", "a tool name")
		args := w.objectArg(c.Argument(1), "callTool", "the arguments")
		opts := c.Argument(2)
		throw := throwOnError
		if v := w.option(opts, "throwOnError"); v != nil {
			throw = v.ToBoolean()
		}
		var onProgress goja.Callable
		if v := w.option(opts, "onProgress"); v != nil {
			fn, ok := goja.AssertFunction(v)
			if !ok {
				panic(vm.NewTypeError("callTool: onProgress must be a function"))
			}
			onProgress = fn
		}
		var timeout time.Duration
		if v := w.option(opts, "timeoutMs"); v != nil {
			timeout = time.Duration(v.ToInteger()) * time.Millisecond
		}
		var text string
		var isError bool
		return w.async(h, func(ctx context.Context, cl *engine.Client) (any, error) {
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			if w.opts.OnProgress != nil || onProgress != nil {
				ctx = engine.WithProgress(ctx, func(p *mcp.ProgressNotificationParams) {
					if w.opts.OnProgress != nil {
						w.opts.OnProgress(h.name, tool, p)
					}
					if onProgress != nil {
						pp := *p
						w.loop.RunOnLoop(func(vm *goja.Runtime) {
							if w.finished {
								return
							}
							ev := vm.NewObject()
							_ = ev.Set("progress", pp.Progress)
							if pp.Total > 0 {
								_ = ev.Set("total", pp.Total)
							}
							if pp.Message != "" {
								_ = ev.Set("message", pp.Message)
							}
							if _, err := onProgress(goja.Undefined(), ev); err != nil {
								w.fail(w.describe(err))
							}
						})
					}
				})
			}
			res, err := cl.CallTool(ctx, tool, args)
			if err != nil {
				return nil, err
			}
			text, isError = contentText(res.Content), res.IsError
			return res, nil
		}, func(v *goja.Object, stack string) (goja.Value, bool) {
			_ = v.Set("text", text)
			if isError && throw {
				msg := text
				if msg == "" {
					msg = "the tool reported an error"
				}
				e := w.newError(fmt.Sprintf("tool %q of server %q failed: %s", tool, h.name, msg), "tool_error", stack)
				_ = e.Set("server", h.name)
				_ = e.Set("tool", tool)
				_ = e.Set("result", v)
				return e, false
			}
			return v, true
		})
	})
	list := func(jsName string, fn func(context.Context, *engine.Client) (any, error)) {
		set(jsName, func(goja.FunctionCall) goja.Value { return w.async(h, fn, nil) })
	}
	list("listTools", func(ctx context.Context, cl *engine.Client) (any, error) { return cl.ListTools(ctx) })
	list("listResources", func(ctx context.Context, cl *engine.Client) (any, error) { return cl.ListResources(ctx) })
	list("listResourceTemplates", func(ctx context.Context, cl *engine.Client) (any, error) { return cl.ListResourceTemplates(ctx) })
	list("listPrompts", func(ctx context.Context, cl *engine.Client) (any, error) { return cl.ListPrompts(ctx) })
	set("readResource", func(c goja.FunctionCall) goja.Value {
		uri := w.stringArg(c, 0, "readResource", "a URI")
		var text string
		return w.async(h, func(ctx context.Context, cl *engine.Client) (any, error) {
			res, err := cl.ReadResource(ctx, uri)
			if err != nil {
				return nil, err
			}
			var parts []string
			for _, rc := range res.Contents {
				if rc != nil && rc.Text != "" {
					parts = append(parts, rc.Text)
				}
			}
			text = strings.Join(parts, "\n")
			return res, nil
		}, func(v *goja.Object, _ string) (goja.Value, bool) {
			_ = v.Set("text", text)
			return v, true
		})
	})
	set("getPrompt", func(c goja.FunctionCall) goja.Value {
		name := w.stringArg(c, 0, "getPrompt", "a prompt name")
		var args map[string]string
		if o := w.objectValue(c.Argument(1), "getPrompt", "the arguments"); o != nil {
			args = map[string]string{}
			for _, k := range o.Keys() {
				args[k] = o.Get(k).String()
			}
		}
		return w.async(h, func(ctx context.Context, cl *engine.Client) (any, error) {
			return cl.GetPrompt(ctx, name, args)
		}, nil)
	})
	set("call", func(c goja.FunctionCall) goja.Value {
		method := w.stringArg(c, 0, "call", "a method name")
		var params any
		if p := w.toJSON(c.Argument(1)); p != nil {
			params = p
		}
		return w.async(h, func(ctx context.Context, cl *engine.Client) (any, error) {
			return cl.Call(ctx, method, params)
		}, nil)
	})
	set("ping", func(goja.FunctionCall) goja.Value {
		return w.async(h, func(ctx context.Context, cl *engine.Client) (any, error) {
			return nil, cl.Ping(ctx)
		}, nil)
	})
	return o
}

// async runs do on its own goroutine, once h's server has started, and
// returns a promise settled on the loop: rejected with do's error, else
// resolved with do's result as a JavaScript value (through JSON), passed
// through then when given (then returns the value and whether to resolve
// or reject with it). Loop only.
func (w *workflow) async(h *serverHandle, do func(context.Context, *engine.Client) (any, error), then func(v *goja.Object, stack string) (goja.Value, bool)) goja.Value {
	stack := w.callerStack()
	p, resolve, reject := w.vm.NewPromise()
	w.wg.Go(func() {
		cl, err := h.ready(w.ctx)
		var out any
		if err == nil {
			out, err = do(w.ctx, cl)
		}
		var raw []byte
		if err == nil {
			raw, err = json.Marshal(out)
		}
		w.loop.RunOnLoop(func(vm *goja.Runtime) {
			if w.finished {
				return // the workflow has ended: no more script
			}
			if err != nil {
				w.settled(reject(w.jsError(err, stack)))
				return
			}
			v, perr := w.parseJSON(goja.Undefined(), vm.ToValue(string(raw)))
			if perr != nil {
				w.settled(reject(w.jsError(perr, stack)))
				return
			}
			if goja.IsNull(v) {
				v = goja.Undefined()
			}
			if o, ok := v.(*goja.Object); ok && then != nil {
				var resolveIt bool
				if v, resolveIt = then(o, stack); !resolveIt {
					w.settled(reject(v))
					return
				}
			}
			w.settled(resolve(v))
		})
	})
	return w.vm.ToValue(p)
}

// jsError makes the Error a failed call rejects with: the Go error's
// message, a code, and the stack of the call in the script. Loop only.
func (w *workflow) jsError(err error, stack string) *goja.Object {
	e := w.newError(err.Error(), errorCode(err), stack)
	var de *engine.DeniedError
	if errors.As(err, &de) {
		_ = e.Set("reason", de.Reason)
		_ = e.Set("by", de.By)
	}
	var re *engine.RPCError
	if errors.As(err, &re) {
		_ = e.Set("rpcCode", re.Code)
	}
	w.goErrs[e] = err
	return e
}

// newError makes an Error with message, code and stack. Loop only.
func (w *workflow) newError(msg, code, stack string) *goja.Object {
	e, err := w.vm.New(w.errorCtor, w.vm.ToValue(msg))
	if err != nil {
		panic(err)
	}
	_ = e.Set("code", code)
	_ = e.Set("stack", "Error: "+msg+stack)
	return e
}

// errorCode classifies an error for scripts: the code property of the
// Errors calls reject with.
func errorCode(err error) string {
	var re *engine.RPCError
	switch {
	case errors.Is(err, engine.ErrDenied):
		return "denied"
	case errors.Is(err, engine.ErrHook):
		return "hook_failed"
	case errors.Is(err, engine.ErrServerNotFound):
		return "server_not_found"
	case errors.Is(err, engine.ErrToolNotFound):
		return "tool_not_found"
	case errors.Is(err, engine.ErrNotRunning):
		return "not_running"
	case errors.Is(err, engine.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, engine.ErrCommunication):
		return "communication"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &re):
		return "rpc_error"
	}
	return "error"
}

// contentText joins the text of a result's text contents with newlines.
func contentText(content []mcp.Content) string {
	var parts []string
	for _, c := range content {
		if t, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// stringArg returns argument i, which must be a non-empty string, or throws a TypeError.
func (w *workflow) stringArg(c goja.FunctionCall, i int, fn, what string) string {
	v := c.Argument(i)
	s, ok := v.Export().(string)
	if !ok || s == "" {
		panic(w.vm.NewTypeError(fmt.Sprintf("%s: the argument must be %s (a string), got %s", fn, what, jsTypeOf(v))))
	}
	return s
}

// objectValue returns v as an object, nil for undefined or null, or throws
// a TypeError for anything else.
func (w *workflow) objectValue(v goja.Value, fn, what string) *goja.Object {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	o, ok := v.(*goja.Object)
	if ok {
		switch o.ClassName() {
		case "Array", "Function":
			ok = false
		}
	}
	if !ok {
		panic(w.vm.NewTypeError(fmt.Sprintf("%s: %s must be an object, got %s", fn, what, jsTypeOf(v))))
	}
	return o
}

// objectArg returns v (an object, or undefined/null for none) as JSON.
func (w *workflow) objectArg(v goja.Value, fn, what string) any {
	if w.objectValue(v, fn, what) == nil {
		return nil
	}
	return w.toJSON(v)
}

// toJSON returns v as JSON (JSON.stringify), or nil for undefined; a value
// JSON cannot hold throws.
func (w *workflow) toJSON(v goja.Value) any {
	if v == nil || goja.IsUndefined(v) {
		return nil
	}
	s, err := w.stringifyJSON(goja.Undefined(), v)
	if err != nil {
		panic(err)
	}
	if goja.IsUndefined(s) {
		return nil
	}
	return json.RawMessage(s.String())
}

// option returns opts[name] when opts is an object that has it, else nil.
func (w *workflow) option(opts goja.Value, name string) goja.Value {
	o, ok := opts.(*goja.Object)
	if !ok {
		return nil
	}
	v := o.Get(name)
	if v == nil || goja.IsUndefined(v) {
		return nil
	}
	return v
}

// boolOption returns opts[name] as a boolean (false when absent).
func (w *workflow) boolOption(opts goja.Value, name string) bool {
	v := w.option(opts, name)
	return v != nil && v.ToBoolean()
}
