package jsrt

import (
	"reflect"
	"strconv"

	"github.com/mcpscript/mcpscript/internal/resulttext"

	"github.com/dop251/goja"
)

// setRedact installs the global redact(result, fn): fn applied to every
// text an MCP result carries, wherever it is (see Redact).
func setRedact(vm *goja.Runtime) error {
	return vm.Set("redact", func(c goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(c.Argument(1))
		if !ok {
			panic(vm.NewTypeError("redact(result, fn): fn must be a function that takes a string and returns one"))
		}
		return Redact(vm, c.Argument(0), fn)
	})
}

// Redact returns result with fn applied to every text it carries, so that
// no copy of a secret is missed:
//
//   - content[].text (text content), content[].resource.text (an embedded
//     resource), in tool results and prompts/get's messages[].content;
//   - structuredContent: every string, at any depth (keys are left alone);
//   - contents[].text (resources/read).
//
// Member names match whatever their case (a Go client decoding with
// encoding/json would read "StructuredContent" as structuredContent).
// Blobs (base64) are not touched. The objects and arrays on the way to a
// changed string are copied; the rest is shared, and result itself is
// returned when nothing changed (so that a hook can tell). fn must return
// a string; what it throws propagates.
func Redact(vm *goja.Runtime, result goja.Value, fn goja.Callable) goja.Value {
	return redactor{vm: vm, fn: fn}.value(result, resulttext.Result)
}

type redactor struct {
	vm *goja.Runtime
	fn goja.Callable
}

// value returns v, of role r, redacted (v itself when nothing changed).
func (x redactor) value(v goja.Value, r resulttext.Role) goja.Value {
	if isString(v) {
		if r != resulttext.All {
			return v
		}
		return x.text(v)
	}
	obj, ok := v.(*goja.Object)
	if !ok || r == resulttext.None {
		return v
	}
	if isArray(obj) {
		if r != resulttext.All {
			return v
		}
		return x.array(obj, r)
	}
	if !isPlain(obj) {
		return v
	}
	var cp *goja.Object
	for _, k := range obj.Keys() {
		mr, isArr := resulttext.Member(r, k)
		if mr == resulttext.None {
			continue
		}
		old := obj.Get(k)
		var nv goja.Value
		if a, ok := old.(*goja.Object); ok && isArr && isArray(a) {
			nv = x.array(a, mr)
		} else if !isArr {
			nv = x.value(old, mr)
		} else {
			continue
		}
		if nv == old {
			continue
		}
		if cp == nil {
			cp = x.copyObject(obj)
		}
		x.set(cp, k, nv)
	}
	if cp == nil {
		return v
	}
	return cp
}

// text applies fn to a string.
func (x redactor) text(v goja.Value) goja.Value {
	nv, err := x.fn(goja.Undefined(), v)
	if err != nil {
		panic(err)
	}
	if !isString(nv) {
		panic(x.vm.NewTypeError("redact: fn must return a string, not %s", typeName(nv)))
	}
	if nv.String() == v.String() {
		return v
	}
	return nv
}

// array redacts each item of arr as a value of role r (arr itself when
// nothing changed).
func (x redactor) array(arr *goja.Object, r resulttext.Role) goja.Value {
	n := int(arr.Get("length").ToInteger())
	var items []any
	for i := range n {
		old := arr.Get(strconv.Itoa(i))
		nv := x.value(old, r)
		if nv != old && items == nil {
			items = make([]any, n)
			for j := range i {
				items[j] = arr.Get(strconv.Itoa(j))
			}
		}
		if items != nil {
			items[i] = nv
		}
	}
	if items == nil {
		return arr
	}
	return x.vm.NewArray(items...)
}

// copyObject makes a plain object with obj's own enumerable members.
func (x redactor) copyObject(obj *goja.Object) *goja.Object {
	cp := x.vm.NewObject()
	for _, k := range obj.Keys() {
		x.set(cp, k, obj.Get(k))
	}
	return cp
}

func (x redactor) set(o *goja.Object, key string, v goja.Value) {
	// A data property even for "__proto__", as JSON.parse would make it.
	if err := o.DefineDataProperty(key, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
		panic(err)
	}
}

// isString says v is a string primitive (not a String object).
func isString(v goja.Value) bool {
	if _, sym := v.(*goja.Symbol); sym {
		return false // a symbol exports as its description
	}
	return v != nil && !isObject(v) && v.ExportType() == stringType
}

var stringType = reflect.TypeFor[string]()

func isObject(v goja.Value) bool { _, ok := v.(*goja.Object); return ok }

func isArray(o *goja.Object) bool { return o.ClassName() == "Array" }

// isPlain says o is an ordinary object (what JSON makes), not a Map, a
// Date or a function, whose strings are not members.
func isPlain(o *goja.Object) bool {
	if _, fn := goja.AssertFunction(o); fn {
		return false
	}
	return o.ClassName() == "Object"
}

func typeName(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	case isObject(v):
		return "an object"
	}
	switch v.ExportType().Kind() {
	case reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	}
	return v.ExportType().String()
}
