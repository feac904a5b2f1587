package jsrt

import (
	"reflect"
	"strconv"

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
// Blobs (base64) are not touched. The objects and arrays on the way to a
// changed string are copied; the rest is shared, and result itself is
// returned when nothing changed (so that a hook can tell). fn must return
// a string; what it throws propagates.
func Redact(vm *goja.Runtime, result goja.Value, fn goja.Callable) goja.Value {
	r := redactor{vm: vm, fn: fn}
	obj, ok := result.(*goja.Object)
	if !ok || isArray(obj) {
		return result
	}
	out := result
	edit := func(key string, f func(goja.Value) goja.Value) {
		v := obj.Get(key)
		if v == nil || goja.IsUndefined(v) {
			return
		}
		if nv := f(v); nv != v {
			if out == result {
				out = r.copyObject(obj)
			}
			r.set(out.(*goja.Object), key, nv)
		}
	}
	edit("content", func(v goja.Value) goja.Value { return r.eachItem(v, r.contentItem) })
	edit("structuredContent", r.allStrings)
	edit("contents", func(v goja.Value) goja.Value { return r.eachItem(v, r.textMember) })
	edit("messages", func(v goja.Value) goja.Value {
		return r.eachItem(v, func(m goja.Value) goja.Value {
			return r.member(m, "content", r.contentItem)
		})
	})
	return out
}

type redactor struct {
	vm *goja.Runtime
	fn goja.Callable
}

// text applies fn to a string value; anything else is returned as it is.
func (r redactor) text(v goja.Value) goja.Value {
	if !isString(v) {
		return v
	}
	nv, err := r.fn(goja.Undefined(), v)
	if err != nil {
		panic(err)
	}
	if !isString(nv) {
		panic(r.vm.NewTypeError("redact: fn must return a string, not %s", typeName(nv)))
	}
	if nv.String() == v.String() {
		return v
	}
	return nv
}

// contentItem redacts a content block: its text, and an embedded
// resource's text.
func (r redactor) contentItem(v goja.Value) goja.Value {
	v = r.textMember(v)
	return r.member(v, "resource", r.textMember)
}

// textMember redacts v.text.
func (r redactor) textMember(v goja.Value) goja.Value { return r.member(v, "text", r.text) }

// member returns v with member key replaced by f of it (v itself when f
// changes nothing, or v is not a plain object).
func (r redactor) member(v goja.Value, key string, f func(goja.Value) goja.Value) goja.Value {
	obj, ok := v.(*goja.Object)
	if !ok || isArray(obj) {
		return v
	}
	old := obj.Get(key)
	if old == nil || goja.IsUndefined(old) {
		return v
	}
	nv := f(old)
	if nv == old {
		return v
	}
	cp := r.copyObject(obj)
	r.set(cp, key, nv)
	return cp
}

// eachItem maps f over an array (v itself when f changes nothing).
func (r redactor) eachItem(v goja.Value, f func(goja.Value) goja.Value) goja.Value {
	arr, ok := v.(*goja.Object)
	if !ok || !isArray(arr) {
		return v
	}
	n := int(arr.Get("length").ToInteger())
	var items []any
	for i := range n {
		old := arr.Get(strconv.Itoa(i))
		nv := f(old)
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
		return v
	}
	return r.vm.NewArray(items...)
}

// allStrings applies fn to every string in v, at any depth.
func (r redactor) allStrings(v goja.Value) goja.Value {
	if isString(v) {
		return r.text(v)
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return v
	}
	if isArray(obj) {
		return r.eachItem(v, r.allStrings)
	}
	if !isPlain(obj) {
		return v
	}
	var cp *goja.Object
	for _, k := range obj.Keys() {
		old := obj.Get(k)
		nv := r.allStrings(old)
		if nv == old {
			continue
		}
		if cp == nil {
			cp = r.copyObject(obj)
		}
		r.set(cp, k, nv)
	}
	if cp == nil {
		return v
	}
	return cp
}

// copyObject makes a plain object with obj's own enumerable members.
func (r redactor) copyObject(obj *goja.Object) *goja.Object {
	cp := r.vm.NewObject()
	for _, k := range obj.Keys() {
		r.set(cp, k, obj.Get(k))
	}
	return cp
}

func (r redactor) set(o *goja.Object, key string, v goja.Value) {
	// A data property even for "__proto__", as JSON.parse would make it.
	if err := o.DefineDataProperty(key, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
		panic(err)
	}
}

// isString says v is a string primitive (not a String object).
func isString(v goja.Value) bool {
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
