package scripting

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/dop251/goja"
)

// storeBackend holds a script's store: the sharedStore itself, in the
// process that loaded the script, or a host process's line to it.
type storeBackend interface {
	get(key string) (value string, ok bool)
	// set keeps value (JSON text).
	set(key, value string)
	// remove deletes key and says whether it was there.
	remove(key string) bool
	// incr adds n to the number at key (absent counts as 0) and returns
	// the sum; the error's text is the TypeError the script gets.
	incr(key string, n float64) (float64, error)
}

// sharedStore is the state a script's runtimes share: JSON text by key.
type sharedStore struct {
	mu sync.Mutex
	m  map[string]string
}

func (st *sharedStore) get(key string) (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.m[key]
	return s, ok
}

func (st *sharedStore) set(key, value string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.m[key] = value
}

func (st *sharedStore) remove(key string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.m[key]
	delete(st.m, key)
	return ok
}

func (st *sharedStore) incr(key string, n float64) (float64, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var cur float64
	if s, ok := st.m[key]; ok {
		if err := json.Unmarshal([]byte(s), &cur); err != nil {
			return 0, fmt.Errorf("store.incr: %q holds %s, not a number", key, excerpt(json.RawMessage(s)))
		}
	}
	cur += n
	b, err := json.Marshal(cur)
	if err != nil {
		return 0, fmt.Errorf("store.incr: %q: %v", key, err)
	}
	st.m[key] = string(b)
	return cur, nil
}

// installStore sets the global store object of a runtime, over st.
func installStore(r *jsVM, st storeBackend) error {
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
			s, ok := st.get(key("get", c))
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
				st.remove(k)
				return goja.Undefined()
			}
			s, err := r.stringify(goja.Undefined(), val)
			if err != nil {
				panic(err)
			}
			if goja.IsUndefined(s) {
				panic(vm.NewTypeError("store.set: the value must be JSON-serialisable, got %s", jsTypeOf(val)))
			}
			st.set(k, s.String())
			return goja.Undefined()
		},
		"delete": func(c goja.FunctionCall) goja.Value {
			return vm.ToValue(st.remove(key("delete", c)))
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
			sum, err := st.incr(k, n)
			if err != nil {
				panic(vm.NewTypeError("%s", err.Error()))
			}
			return vm.ToValue(sum)
		},
	}
	for _, name := range slices.Sorted(maps.Keys(methods)) {
		if err := o.Set(name, methods[name]); err != nil {
			return err
		}
	}
	return vm.Set("store", o)
}
