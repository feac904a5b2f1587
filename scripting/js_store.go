package scripting

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/limits"
	"github.com/mcpscript/mcpscript/internal/suggest"
)

// backend is what a runtime's store, limits and audit globals call: the
// script's backends in the process that loaded it, or, in a host process,
// a line to them. Errors are a *BackendError (the backend could not
// serve), a *limits.LimitedError (take refused) or a plain error naming
// what is wrong with the arguments.
type backend interface {
	get(c *callEnv, key string) (value string, ok bool, err error)
	set(c *callEnv, key, value string, ttl time.Duration) error
	remove(c *callEnv, key string) (bool, error)
	incr(c *callEnv, key string, n int64, ttl time.Duration) (int64, error)
	take(c *callEnv, key, name string, ls []limits.Limit) (remaining int64, err error)
	audit(c *callEnv, key string, value json.RawMessage)
}

// maxTTL bounds a store entry's ttl (and keeps it a time.Duration).
const maxTTL = 10 * 366 * 24 * time.Hour

// installGlobals sets the store, limits and audit globals of a runtime,
// over b.
func installGlobals(r *jsVM, b backend) error {
	vm := r.vm
	r.rangeErr, _ = vm.Get("RangeError").(*goja.Object)
	key := func(fn string, c goja.FunctionCall) string {
		k := c.Argument(0)
		if k.ExportType() == nil || k.ExportType().Kind() != reflect.String {
			panic(vm.NewTypeError("%s: the key must be a string, got %s", fn, jsTypeOf(k)))
		}
		if s := k.String(); s != "" {
			return s
		}
		panic(vm.NewTypeError("%s: the key must not be empty", fn))
	}
	store := map[string]func(goja.FunctionCall) goja.Value{
		"get": func(c goja.FunctionCall) goja.Value {
			s, ok, err := b.get(r.env, key("store.get", c))
			r.throw("store.get", err)
			if !ok {
				return goja.Undefined()
			}
			v, err := jsonToJS(vm, []byte(s))
			if err != nil {
				panic(vm.NewGoError(fmt.Errorf("store.get: the value is not JSON: %w", err)))
			}
			return v
		},
		"set": func(c goja.FunctionCall) goja.Value {
			k := key("store.set", c)
			val := c.Argument(1)
			ttl := r.ttlOption("store.set", c.Argument(2))
			if goja.IsUndefined(val) {
				_, err := b.remove(r.env, k)
				r.throw("store.set", err)
				return goja.Undefined()
			}
			s := r.jsonOf("store.set", val)
			r.throw("store.set", b.set(r.env, k, s, ttl))
			return goja.Undefined()
		},
		"delete": func(c goja.FunctionCall) goja.Value {
			had, err := b.remove(r.env, key("store.delete", c))
			r.throw("store.delete", err)
			return vm.ToValue(had)
		},
		"incr": func(c goja.FunctionCall) goja.Value {
			k := key("store.incr", c)
			n := int64(1)
			if a := c.Argument(1); !goja.IsUndefined(a) {
				f := a.ToFloat()
				if t := a.ExportType(); t == nil || (t.Kind() != reflect.Int64 && t.Kind() != reflect.Float64) ||
					f != math.Trunc(f) || math.Abs(f) > 1<<53 {
					panic(vm.NewTypeError("store.incr: by must be a whole number, got %s", a.String()))
				}
				n = int64(f)
			}
			ttl := r.ttlOption("store.incr", c.Argument(2))
			sum, err := b.incr(r.env, k, n, ttl)
			r.throw("store.incr", err)
			return vm.ToValue(sum)
		},
	}
	lim := map[string]func(goja.FunctionCall) goja.Value{
		"take": func(c goja.FunctionCall) goja.Value {
			k := key("limits.take", c)
			spec := r.limitSpec(c.Argument(1))
			name := spec.name
			if name == "" {
				name = k
			}
			remaining, err := b.take(r.env, k, name, spec.limits)
			r.throw("limits.take", err)
			return vm.ToValue(remaining)
		},
	}
	audit := map[string]func(goja.FunctionCall) goja.Value{
		"add": func(c goja.FunctionCall) goja.Value {
			k := key("audit.add", c)
			s := r.jsonOf("audit.add", c.Argument(1))
			if len(s) > engine.MaxNoteFieldBytes {
				panic(r.rangeError("audit.add: %q is %d bytes as JSON, over the limit of %d", k, len(s), engine.MaxNoteFieldBytes))
			}
			b.audit(r.env, k, json.RawMessage(s))
			return goja.Undefined()
		},
	}
	for name, methods := range map[string]map[string]func(goja.FunctionCall) goja.Value{"store": store, "limits": lim, "audit": audit} {
		o := vm.NewObject()
		for _, m := range slices.Sorted(maps.Keys(methods)) {
			if err := o.Set(m, methods[m]); err != nil {
				return err
			}
		}
		if _, err := r.freeze(goja.Undefined(), o); err != nil {
			return err
		}
		if err := vm.Set(name, o); err != nil {
			return err
		}
	}
	return nil
}

// throw turns a backend's error into the script's exception: a
// RateLimitError for a refused take (with retryAfter, in seconds, and
// limit), an Error for a backend that could not serve, a TypeError for
// the rest.
func (r *jsVM) throw(op string, err error) {
	if err == nil {
		return
	}
	var le *limits.LimitedError
	var be *BackendError
	switch {
	case errors.As(err, &le):
		e := r.vm.NewGoError(le)
		_ = e.Set("name", "RateLimitError")
		_ = e.Set("retryAfter", limits.RetryAfterSeconds(le.RetryAfter))
		_ = e.Set("limit", le.Rule)
		panic(e)
	case errors.As(err, &be):
		panic(r.vm.NewGoError(be))
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, op+":") {
		msg = op + ": " + msg
	}
	panic(r.vm.NewTypeError("%s", msg))
}

// rangeError makes a RangeError with the realm's own constructor.
func (r *jsVM) rangeError(format string, args ...any) *goja.Object {
	msg := fmt.Sprintf(format, args...)
	ctor := r.rangeErr
	if ctor == nil {
		return r.vm.NewTypeError("%s", msg)
	}
	e, err := r.vm.New(ctor, r.vm.ToValue(msg))
	if err != nil {
		return r.vm.NewTypeError("%s", msg)
	}
	return e
}

// jsonOf serialises a value an operation keeps, or throws a TypeError.
func (r *jsVM) jsonOf(op string, val goja.Value) string {
	s, err := r.stringify(goja.Undefined(), val)
	if err != nil {
		panic(err)
	}
	if goja.IsUndefined(s) {
		panic(r.vm.NewTypeError("%s: the value must be JSON-serialisable, got %s", op, jsTypeOf(val)))
	}
	return s.String()
}

// ttlOption reads {ttl} from an options argument: seconds (a number) or a
// duration ("90s", "10m", "24h", "7d"); 0 when absent (no expiry).
func (r *jsVM) ttlOption(op string, opts goja.Value) time.Duration {
	if !jsDefined(opts) {
		return 0
	}
	o, ok := opts.(*goja.Object)
	if !ok || o.ClassName() == "Array" {
		panic(r.vm.NewTypeError("%s: options must be an object like {ttl: \"10m\"}, got %s", op, jsTypeOf(opts)))
	}
	for _, k := range o.Keys() {
		if k != "ttl" {
			panic(r.vm.NewTypeError("%s: unknown option %q (the options are: ttl)", op, k))
		}
	}
	v := o.Get("ttl")
	if !jsDefined(v) {
		return 0
	}
	ttl, err := parseTTL(v.Export())
	if err != nil {
		panic(r.vm.NewTypeError("%s: ttl %v", op, err))
	}
	return ttl
}

// parseTTL reads a ttl: seconds (a number) or a duration string; it must
// be from 1ms to ten years.
func parseTTL(v any) (time.Duration, error) {
	var d time.Duration
	switch t := v.(type) {
	case int64:
		if t <= 0 || time.Duration(t) > maxTTL/time.Second {
			return 0, fmt.Errorf("%d: must be from 0.001 seconds to ten years", t)
		}
		d = time.Duration(t) * time.Second
	case float64:
		if !(t >= 0.001 && t <= float64(maxTTL/time.Second)) {
			return 0, fmt.Errorf("%v: must be from 0.001 seconds to ten years", t)
		}
		d = time.Duration(t * float64(time.Second))
	case string:
		s := strings.TrimSpace(t)
		var err error
		if days, ok := strings.CutSuffix(s, "d"); ok {
			var n float64
			n, err = strconv.ParseFloat(days, 64)
			if err == nil && !(n > 0 && n <= float64(maxTTL/(24*time.Hour))) {
				return 0, fmt.Errorf("%q: must be from 1ms to ten years", t)
			}
			d = time.Duration(n * float64(24*time.Hour))
		} else {
			d, err = time.ParseDuration(s)
		}
		if err != nil {
			return 0, fmt.Errorf("%q: write seconds (60) or a duration (\"90s\", \"10m\", \"24h\", \"7d\")", t)
		}
		if d < time.Millisecond || d > maxTTL {
			return 0, fmt.Errorf("%q: must be from 1ms to ten years", t)
		}
	default:
		return 0, fmt.Errorf("must be seconds (a number) or a duration (\"10m\"), not %T", v)
	}
	return d, nil
}

// limitSpec is a parsed limits.take spec.
type limitSpec struct {
	name   string
	limits []limits.Limit // the bucket first, then the quota
}

// limitSpecFields are the members of a limits.take spec.
var limitSpecFields = []string{"rate", "burst", "quota", "name"}

// limitSpec reads the spec of limits.take: {rate: "10/m", burst: 20,
// quota: "1000/month", name: "per-user"}, at least a rate or a quota.
// Specs are parsed once per runtime.
func (r *jsVM) limitSpec(v goja.Value) *limitSpec {
	vm := r.vm
	o, ok := v.(*goja.Object)
	if !ok || o.ClassName() == "Array" {
		panic(vm.NewTypeError(`limits.take: the second argument must be an object like {rate: "10/m", burst: 20, quota: "1000/month"}, got %s`, jsTypeOf(v)))
	}
	var rate, quota, name string
	var burst int64
	str := func(k string) string {
		fv := o.Get(k)
		if !jsDefined(fv) {
			return ""
		}
		if t := fv.ExportType(); t == nil || t.Kind() != reflect.String {
			panic(vm.NewTypeError("limits.take: %s must be a string, got %s", k, jsTypeOf(fv)))
		}
		return fv.String()
	}
	for _, k := range o.Keys() {
		switch k {
		case "rate":
			rate = str(k)
		case "quota":
			quota = str(k)
		case "name":
			name = str(k)
		case "burst":
			fv := o.Get(k)
			if !jsDefined(fv) {
				continue
			}
			f := fv.ToFloat()
			if t := fv.ExportType(); t == nil || (t.Kind() != reflect.Int64 && t.Kind() != reflect.Float64) || f != math.Trunc(f) || f < 1 || f > 1e9 {
				panic(vm.NewTypeError("limits.take: burst must be a whole number from 1, got %s", fv.String()))
			}
			burst = int64(f)
		default:
			msg := fmt.Sprintf("limits.take: unknown field %q (the fields are: %s)", k, strings.Join(limitSpecFields, ", "))
			if hint := suggest.Closest(k, limitSpecFields); hint != "" {
				msg += fmt.Sprintf("; did you mean %q?", hint)
			}
			panic(vm.NewTypeError("%s", msg))
		}
	}
	ck := rate + "\x00" + quota + "\x00" + name + "\x00" + strconv.FormatInt(burst, 10)
	if s, ok := r.specs[ck]; ok {
		return s
	}
	s := &limitSpec{name: name}
	if rate == "" && quota == "" {
		panic(vm.NewTypeError(`limits.take: give a rate ("10/m"), a quota ("1000/month") or both`))
	}
	if rate != "" {
		count, per, err := limits.ParseRate(rate)
		if err != nil {
			panic(vm.NewTypeError("limits.take: %v", err))
		}
		l := limits.TokenBucket(count, per, burst)
		if err := l.Validate(); err != nil {
			panic(vm.NewTypeError("limits.take: rate %q: %v", rate, err))
		}
		s.limits = append(s.limits, l)
	} else if burst != 0 {
		panic(vm.NewTypeError("limits.take: burst is set without a rate"))
	}
	if quota != "" {
		l, err := limits.ParseQuota(quota)
		if err != nil {
			panic(vm.NewTypeError("limits.take: %v", err))
		}
		s.limits = append(s.limits, l)
	}
	if len(r.specs) >= maxSpecs {
		clear(r.specs)
	}
	r.specs[ck] = s
	return s
}

// maxSpecs bounds the parsed limits.take specs a runtime keeps.
const maxSpecs = 64
