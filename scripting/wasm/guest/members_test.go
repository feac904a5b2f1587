package guest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestMembers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Member // nil with err
		err  bool
	}{
		{`{}`, []Member{}, false},
		{` { "a" : 1 , "b":[1,{"c":"}"}], "p\u0061th": "x\"y", "a": null } `, []Member{
			{"a", json.RawMessage(`1`)}, {"b", json.RawMessage(`[1,{"c":"}"}]`)}, {"path", json.RawMessage(`"x\"y"`)}, {"a", json.RawMessage(`null`)}}, false},
		{`{"t":"a \\\\\" b"}`, []Member{{"t", json.RawMessage(`"a \\\\\" b"`)}}, false},
		{`[]`, nil, true},
		{`{"a":1`, nil, true},
		{`{"a":1} x`, nil, true},
		{`{"a" 1}`, nil, true},
		{`{"a":1,}`, nil, true},
		{`{a:1}`, nil, true},
		{``, nil, true},
	} {
		got, err := Members(json.RawMessage(c.in))
		if c.err {
			if !errors.Is(err, ErrNotObject) {
				t.Errorf("%s: %v, %v; want ErrNotObject", c.in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// Members agrees with encoding/json on every object it accepts.
func FuzzMembers(f *testing.F) {
	for _, c := range decodeCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, err := Members(json.RawMessage(s))
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &m) != nil || m == nil {
			return // Members does not check values: it may accept what encoding/json refuses
		}
		if err != nil {
			t.Fatalf("Members(%q): %v, but encoding/json reads it", s, err)
		}
		last := map[string]json.RawMessage{}
		for _, mb := range members {
			last[mb.Key] = mb.Value
		}
		if len(last) != len(m) {
			t.Fatalf("Members(%q) has keys %v, encoding/json %v", s, last, m)
		}
		for k, v := range m {
			var a, b any
			_ = json.Unmarshal(v, &a)
			if err := json.Unmarshal(last[k], &b); err != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("Members(%q)[%q] = %s, encoding/json %s", s, k, last[k], v)
			}
		}
	})
}

// The SDK writes {} itself for a decision that changes nothing.
func TestIsContinue(t *testing.T) {
	for _, c := range []struct {
		d    *Decision
		want bool
	}{
		{nil, true}, {Continue(), true}, {&Decision{Deny: json.RawMessage{}}, true},
		{Deny("no"), false}, {&Decision{Deny: json.RawMessage("false")}, false}, {&Decision{Tool: "t"}, false},
		{&Decision{Server: "s"}, false}, {&Decision{Result: json.RawMessage("{}")}, false}, {&Decision{Arguments: json.RawMessage("{}")}, false},
		{&Decision{Params: json.RawMessage("{}")}, false}, {&Decision{Items: json.RawMessage("[]")}, false},
	} {
		if got := c.d.isContinue(); got != c.want {
			t.Errorf("%+v: isContinue = %v", c.d, got)
		}
	}
}
