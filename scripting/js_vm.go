package scripting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"

	"github.com/dop251/goja"

	"github.com/mcpscript/mcpscript/internal/jsrt"
	"github.com/mcpscript/mcpscript/internal/suggest"
)

// jsVM is one runtime of a script, with what a call needs at hand.
type jsVM struct {
	vm        *goja.Runtime
	fns       [numPhases]goja.Callable
	this      [numPhases]goja.Value // the object the function was found on
	stringify goja.Callable         // the realm's own JSON.stringify, whatever the script does to JSON
	freeze    goja.Callable         // the realm's own Object.freeze
	rangeErr  *goja.Object          // the realm's own RangeError

	// Frozen caller objects by callerKey, handed again to the same
	// caller's calls: building one (claims converted and frozen all the
	// way down) cost more than the rest of a small call, and the runtimes
	// of a pool serve many sessions in turn. Bounded by maxCallers.
	callers   map[string]*goja.Object
	callerKey []byte

	// env is the call in progress, as the store, limits and audit globals
	// see it; specs are the limits.take specs parsed so far.
	env   *callEnv
	specs map[string]*limitSpec
	// idle is env between calls (the top-level code): no deadline but
	// the load timeout's interrupt, no request to report to.
	idle *callEnv
	// callObj is the object the call in progress was given: its state
	// member is read back after a before phase.
	callObj *goja.Object
}

const numPhases = 8

// buildVM creates a runtime of src: sandbox globals, store (over st), the
// script's top-level code (interrupted when ctx ends), its hook functions.
// It runs in the process that calls the hooks, or in a host process.
func buildVM(ctx context.Context, src *jsrt.Script, opts jsrt.Options, b backend) (*jsVM, *goja.Object, error) {
	r := &jsVM{specs: map[string]*limitSpec{}}
	r.idle = &callEnv{ctx: context.Background()}
	r.env = r.idle
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
		return installGlobals(r, b)
	}
	vm, exports, err := jsrt.NewContext(ctx, src, opts)
	if err != nil {
		if errors.Is(err, jsrt.ErrNoExports) {
			return nil, nil, noHooksError(src.Path, nil)
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
			return nil, nil, fmt.Errorf("script %s: it exports %s, but as %s, not a function", src.Path, p, jsTypeOf(v))
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
	return r, exports, nil
}

// run calls phase i in this process, interrupted when ctx ends (the
// runtime is then broken: the interrupt may linger). env is the call as
// its store and limits operations see it.
func (r *jsVM) run(ctx context.Context, i int, in *Input, env *callEnv) (*Decision, bool, error) {
	stop := context.AfterFunc(ctx, func() { r.vm.Interrupt(context.Cause(ctx)) })
	r.env = env
	d, broken, err := r.call(i, in)
	r.env = r.idle
	if !stop() {
		// The interrupt fired or is about to: the runtime may be
		// mid-interrupt or carry the flag into its next call.
		broken = true
	}
	return d, broken, err
}

// phases returns the bits (phaseBit) of the phases the script exports.
func (r *jsVM) phases() uint32 {
	var has uint32
	for i := range Phases {
		if r.fns[i] != nil {
			has |= 1 << i
		}
	}
	return has
}

func (r *jsVM) discard() {}

// call runs phase i. broken says the runtime must not be used again. broken says the runtime must not be used again.
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
	if ex := r.vm.Try(func() {
		if d, err = r.decision(in.Hook, v); err == nil && keepsState(in.Hook) {
			d, err = r.keepState(in.Hook, d)
		}
	}); ex != nil {
		return nil, false, jsrt.Describe(ex)
	}
	return d, false, err
}

// keepsState says the phase is a before phase whose state the after
// phase gets.
func keepsState(p Phase) bool { return p == PhaseToolCall || p == PhaseRequest }

// keepState reads call.state after a before phase into d.State: nothing
// when it is empty.
func (r *jsVM) keepState(phase Phase, d *Decision) (*Decision, error) {
	st, ok := r.callObj.Get("state").(*goja.Object)
	if !ok || st.ClassName() == "Array" {
		if v := r.callObj.Get("state"); jsDefined(v) {
			return nil, fmt.Errorf("%s: state must be an object, got %s", phase, jsTypeOf(v))
		}
		return d, nil
	}
	if len(st.Keys()) == 0 {
		return d, nil
	}
	raw, err := r.toJSON(phase, "state", st)
	if err != nil {
		return nil, err
	}
	if d == nil {
		d = &Decision{}
	}
	d.State = raw
	return d, nil
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
	r.callerKey = in.Caller.appendKey(r.callerKey[:0])
	callerObj, ok := r.callers[string(r.callerKey)]
	if !ok {
		caller, err := r.callerObject(&in.Caller)
		if err != nil {
			return nil, err
		}
		if r.callers == nil || len(r.callers) >= maxCallers {
			r.callers = make(map[string]*goja.Object)
		}
		r.callers[string(r.callerKey)] = caller
		callerObj = caller
	}
	o := vm.NewObject()
	_ = o.Set("hook", string(in.Hook))
	_ = o.Set("server", in.Server)
	_ = o.Set("method", in.Method)
	_ = o.Set("caller", callerObj)
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
	if keepsState(in.Hook) || in.Hook == PhaseToolResult || in.Hook == PhaseResponse {
		st := goja.Value(vm.NewObject())
		if len(in.State) > 0 {
			v, err := jsonToJS(vm, in.State)
			if err != nil {
				return nil, fmt.Errorf("the hook's state: %w", err)
			}
			st = v
		}
		_ = o.Set("state", st)
	}
	r.callObj = o
	return o, nil
}

// maxCallers bounds a runtime's cache of caller objects; a full cache
// starts again empty.
const maxCallers = 64

// callerObject builds the frozen caller object of a call (claims frozen
// all the way down: the object is handed to later calls of the same
// caller, which must not see what an earlier one wrote).
func (r *jsVM) callerObject(c *Caller) (*goja.Object, error) {
	vm := r.vm
	caller := vm.NewObject()
	auth := c.Auth
	if auth == "" {
		auth = "none"
	}
	for _, f := range [...]struct{ k, v string }{
		{"token", c.Token}, {"session", c.Session}, {"transport", c.Transport},
		{"auth", auth}, {"subject", c.Subject}, {"clientId", c.ClientID},
	} {
		_ = caller.Set(f.k, f.v)
	}
	scopes := make([]any, len(c.Scopes))
	for i, s := range c.Scopes {
		scopes[i] = s
	}
	claims := goja.Value(vm.NewObject())
	if len(c.Claims) > 0 {
		v, err := jsonToJS(vm, c.Claims)
		if err != nil {
			return nil, fmt.Errorf("the caller's claims: %w", err)
		}
		claims = v
	}
	client := vm.NewObject()
	_ = client.Set("name", c.Client.Name)
	_ = client.Set("version", c.Client.Version)
	_ = caller.Set("scopes", vm.NewArray(scopes...))
	_ = caller.Set("claims", claims)
	_ = caller.Set("client", client)
	_ = caller.Set("protocol", c.Protocol)
	if err := r.deepFreeze(caller, 0); err != nil {
		return nil, err
	}
	return caller, nil
}

// deepFreeze freezes o and every object inside it (JSON values: no
// cycles; depth bounded all the same).
func (r *jsVM) deepFreeze(o *goja.Object, depth int) error {
	if depth > 64 {
		return errors.New("the caller's claims are nested too deeply")
	}
	for _, k := range o.Keys() {
		if inner, ok := o.Get(k).(*goja.Object); ok {
			if err := r.deepFreeze(inner, depth+1); err != nil {
				return err
			}
		}
	}
	_, err := r.freeze(goja.Undefined(), o)
	return err
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
