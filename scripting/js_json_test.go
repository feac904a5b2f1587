package scripting

import (
	"testing"

	"github.com/dop251/goja"
)

// FuzzJSONToJS checks jsonToJS against the realm's JSON.parse: the same
// values (compared through JSON.stringify, which keeps key order), and an
// error for what JSON.parse refuses.
func FuzzJSONToJS(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `1.5`, `1e3`, `-2.5E-3`, `12345678901234567890`,
		`9007199254740993`, `"x"`, `""`, `"\u00e9\n\"\\\/\ud83d\ude00"`, `"é日本"`, ` { "a" : [ 1 , 2 , { "b" : null } ] } `,
		`{"b":1,"a":2,"b":3}`, `{"__proto__":{"x":1}}`, `{"content":[{"type":"text","text":"hi"}],"isError":false}`,
		`{`, `[1,]`, `{"a":1,}`, `01`, `-01`, `1.`, `.5`, `+1`, `1e`, `--1`, `"\x"`, "\"a\tb\"", `[1 2]`, `{"a" 1}`, `nul`, `tru`,
		`"unterminated`, `[1]x`, "\"\xff\"", `{"a":"\ud800"}`, `[[[[[[[[[[]]]]]]]]]]`,
	} {
		f.Add(s)
	}
	s := loadJS(f, "policy.js", policyJS, ScriptOptions{Pool: 1, Isolation: IsolationNone})
	r := (<-s.idle).(*jsVM)
	parse := jsonParse(r.vm)
	f.Fuzz(func(t *testing.T, data string) {
		want, werr := parse(goja.Undefined(), r.vm.ToValue(data))
		got, gerr := jsonToJS(r.vm, []byte(data))
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%q: JSON.parse error %v, jsonToJS error %v", data, werr, gerr)
		}
		if werr != nil {
			return
		}
		ws, err := r.stringify(goja.Undefined(), want)
		if err != nil {
			t.Fatal(err)
		}
		gs, err := r.stringify(goja.Undefined(), got)
		if err != nil {
			t.Fatal(err)
		}
		if ws.String() != gs.String() {
			t.Fatalf("%q: JSON.parse gives %s, jsonToJS %s", data, ws, gs)
		}
		if o, ok := got.(*goja.Object); ok && o.ClassName() == "Object" {
			if p := o.Prototype(); p == nil || p != r.vm.Get("Object").ToObject(r.vm).Get("prototype").(*goja.Object) {
				t.Fatalf("%q: the object's prototype changed", data)
			}
		}
	})
}

// jsonParse returns the realm's JSON.parse.
func jsonParse(vm *goja.Runtime) goja.Callable {
	parse, _ := goja.AssertFunction(vm.Get("JSON").(*goja.Object).Get("parse"))
	return parse
}
