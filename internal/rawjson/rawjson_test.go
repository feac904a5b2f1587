package rawjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValid(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{` {"a": [1, 2.5e-3, -0, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"]} `, true},
		{`"\ud83d\ude00"`, true},
		{`[]`, true},
		{`[1,]`, false},
		{`{"a":1,}`, false},
		{`{"a" 1}`, false},
		{`{a:1}`, false},
		{`01`, false},
		{`1.`, false},
		{`1e`, false},
		{`-`, false},
		{`tru`, false},
		{`nul`, false},
		{"\"a\nb\"", false},
		{`"\x"`, false},
		{`"\u12"`, false},
		{`"abc`, false},
		{`{"a":1}{}`, false},
		{``, false},
		{`   `, false},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), false},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), true},
	}
	for _, c := range cases {
		if got := Valid([]byte(c.in)); got != c.want {
			t.Errorf("Valid(%.40q) = %v, want %v", c.in, got, c.want)
		}
		if got := json.Valid([]byte(c.in)); got != c.want {
			t.Errorf("the case %.40q disagrees with encoding/json (%v)", c.in, got)
		}
		if err := Check([]byte(c.in)); (err == nil) != c.want {
			t.Errorf("Check(%.40q) = %v", c.in, err)
		}
	}
}

func TestGet(t *testing.T) {
	obj := []byte(`{"name":"a", "n\u0061me":"b", "Name":"c", "x": {"y": 1}, "nil": null}`)
	cases := []struct {
		key   string
		value string
		ok    bool
	}{
		{"name", `"b"`, true}, // the last occurrence, escapes decoded
		{"Name", `"c"`, true}, // exact, not case-insensitive
		{"x", `{"y": 1}`, true},
		{"nil", `null`, true},
		{"missing", ``, false},
	}
	for _, c := range cases {
		v, ok, err := Get(obj, c.key)
		if err != nil || ok != c.ok || string(v) != c.value {
			t.Errorf("Get(%q) = %q, %v, %v; want %q, %v", c.key, v, ok, err, c.value, c.ok)
		}
	}
	if _, _, err := Get([]byte(`[1]`), "a"); !errors.Is(err, ErrNotObject) {
		t.Errorf("Get on an array: %v, want ErrNotObject", err)
	}
	if _, _, err := Get([]byte(`{"a":}`), "a"); err == nil {
		t.Error("Get on malformed JSON: no error")
	}
	for _, empty := range []string{"", " null "} {
		if _, ok, err := Get([]byte(empty), "a"); ok || err != nil {
			t.Errorf("Get(%q): %v %v", empty, ok, err)
		}
	}
	if s, ok := GetString(obj, "name"); !ok || s != "b" {
		t.Errorf("GetString = %q %v", s, ok)
	}
	if _, ok := GetString(obj, "x"); ok {
		t.Error("GetString of an object: ok")
	}
}

func TestApply(t *testing.T) {
	cases := []struct {
		name string
		in   string
		edit Edit
		want string
	}{
		{"replace keeps order and bytes", `{"a": 1, "b" : [ 1,2 ], "c":3}`,
			Edit{Set: []Field{{"a", []byte(`"x"`)}}}, `{"a":"x","b":[ 1,2 ],"c":3}`},
		{"append missing", `{"a":1}`, Edit{Set: []Field{{"z", []byte(`2`)}, {"y", []byte(`3`)}}}, `{"a":1,"z":2,"y":3}`},
		{"duplicates collapse to the last place", `{"a":1,"b":2,"a":3}`,
			Edit{Set: []Field{{"a", []byte(`9`)}}}, `{"b":2,"a":9}`},
		{"escaped key matches", `{"n\u0061me":"x"}`, Edit{Set: []Field{{"name", []byte(`"y"`)}}}, `{"n\u0061me":"y"}`},
		{"delete all occurrences", `{"a":1,"b":2,"a":3}`, Edit{Delete: []string{"a"}}, `{"b":2}`},
		{"empty input", ``, Edit{Set: []Field{{"a", []byte(`1`)}}}, `{"a":1}`},
		{"null input", `null`, Edit{Set: []Field{{"a", []byte(`1`)}}}, `{"a":1}`},
		{"odd key", `{}`, Edit{Set: []Field{{"a\"b\n", []byte(`1`)}}}, `{"a\"b\n":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(c.in)
			orig := bytes.Clone(in)
			got, err := Apply(in, c.edit)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
			if !bytes.Equal(in, orig) {
				t.Error("the input was modified")
			}
			if !json.Valid(got) {
				t.Errorf("invalid output %s", got)
			}
		})
	}
	if _, err := Apply([]byte(`[]`), Edit{}); !errors.Is(err, ErrNotObject) {
		t.Errorf("Apply on an array: %v", err)
	}
}

func TestSetPath(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"name":"t"}`, `{"name":"t","_meta":{"progressToken":7}}`},
		{`{"_meta":null}`, `{"_meta":{"progressToken":7}}`},
		{`{"_meta":{"a":1,"progressToken":"x","progressToken":2}}`, `{"_meta":{"a":1,"progressToken":7}}`},
		{``, `{"_meta":{"progressToken":7}}`},
	}
	for _, c := range cases {
		got, err := SetPath([]byte(c.in), []string{"_meta", "progressToken"}, []byte("7"))
		if err != nil || string(got) != c.want {
			t.Errorf("SetPath(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
		if got := SetPathValid([]byte(c.in), []string{"_meta", "progressToken"}, []byte("7")); string(got) != c.want {
			t.Errorf("SetPathValid(%s) = %s; want %s", c.in, got, c.want)
		}
	}
	if _, err := SetPath([]byte(`{"_meta":3}`), []string{"_meta", "x"}, []byte("1")); err == nil {
		t.Error("SetPath through a number: no error")
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "a\"b\\c", "line\nbreak\ttab\x01", "é€😀", "bad\xffutf8", "\u2028\u2029", "<html>&"} {
		q := Quote(s)
		var back string
		if err := json.Unmarshal(q, &back); err != nil {
			t.Fatalf("Quote(%q) = %s: %v", s, q, err)
		}
		want, _ := json.Marshal(s)
		var w string
		_ = json.Unmarshal(want, &w)
		if back != w {
			t.Errorf("Quote(%q) decodes to %q, encoding/json's to %q", s, back, w)
		}
		if u, ok := Unquote(q); !ok || u != w {
			t.Errorf("Unquote(Quote(%q)) = %q, %v", s, u, ok)
		}
	}
}

func TestFlatten(t *testing.T) {
	b := []byte("{\n\"a\":\r\n[1,\n2]}\n")
	Flatten(b)
	if bytes.ContainsAny(b, "\r\n") || !json.Valid(b) {
		t.Errorf("Flatten: %q", b)
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":null}]}`, `"\u00e9"`, `-1.5e10`, `[1,]`, `{"a" 1}`, "\"\x01\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

// FuzzMembers checks that Get and Apply agree with decoding into a map.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":{"c":[1]}}`, `{"a":1,"a":2}`, `{"\u0061":1}`, `{}`, `null`} {
		f.Add([]byte(s), "a")
	}
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		if !utf8.ValidString(key) {
			return // a Go string no JSON key decodes to
		}
		var m map[string]json.RawMessage
		mapErr := json.Unmarshal(b, &m)
		v, ok, err := Get(b, key)
		if err != nil {
			if mapErr == nil && m != nil {
				t.Fatalf("Get(%q) failed (%v) where encoding/json decodes %v", b, err, m)
			}
			return
		}
		if mapErr != nil {
			if !Valid(b) && len(bytes.TrimSpace(b)) > 0 {
				t.Fatalf("Get(%q) accepted what encoding/json refuses: %v", b, mapErr)
			}
			return
		}
		want, wantOK := m[key]
		if ok != wantOK || ok && !jsonEqual(v, want) {
			t.Fatalf("Get(%q, %q) = %s %v, map gives %s %v", b, key, v, ok, want, wantOK)
		}
		out, err := Apply(b, Edit{Set: []Field{{key, []byte(`{"set":true}`)}}, Delete: []string{"zz"}})
		if err != nil {
			t.Fatalf("Apply(%q): %v", b, err)
		}
		var after map[string]json.RawMessage
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("Apply(%q) = %q: %v", b, out, err)
		}
		if m == nil {
			m = map[string]json.RawMessage{}
		}
		m[key] = json.RawMessage(`{"set":true}`)
		delete(m, "zz")
		if len(after) != len(m) {
			t.Fatalf("Apply(%q) = %s: keys %d, want %d", b, out, len(after), len(m))
		}
		for k, v := range m {
			if !jsonEqual(after[k], v) {
				t.Fatalf("Apply(%q) = %s: %q is %s, want %s", b, out, k, after[k], v)
			}
		}
	})
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func BenchmarkValid64K(b *testing.B) {
	payload, _ := json.Marshal(map[string]any{"name": "echo", "arguments": map[string]string{"text": strings.Repeat("0123456789abcdef", 4096)}})
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if !Valid(payload) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkEncodingJSONValid64K(b *testing.B) {
	payload, _ := json.Marshal(map[string]any{"name": "echo", "arguments": map[string]string{"text": strings.Repeat("0123456789abcdef", 4096)}})
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if !json.Valid(payload) {
			b.Fatal("invalid")
		}
	}
}

// FuzzEachValid checks that the fast walker finds the members the
// validating one does, on every valid object.
func FuzzEachValid(f *testing.F) {
	for _, s := range []string{`{"a":"x\\\"y","b":[1,{"c":"]"}],"d":-1.5e3,"e":true}`, `{}`, `{ "a" : { } , "b" : "\\\\" }`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, err := Members(b)
		if err != nil {
			EachValid(b, func(Member) {}) // must not panic
			return
		}
		var got []Member
		EachValid(b, func(m Member) { got = append(got, m) })
		if len(got) != len(want) {
			t.Fatalf("EachValid(%q): %d members, Each %d", b, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("EachValid(%q) member %d = %q:%q, Each %q:%q", b, i, got[i].Key, got[i].Value, want[i].Key, want[i].Value)
			}
		}
	})
}

func BenchmarkEachValid64K(b *testing.B) {
	payload, _ := json.Marshal(map[string]any{"name": "echo", "arguments": map[string]string{"text": strings.Repeat("0123456789abcdef", 4096)}})
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, ok := GetValid(payload, "name"); !ok {
			b.Fatal("no name")
		}
	}
}
