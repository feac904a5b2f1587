package gateway

import (
	"reflect"
	"testing"
)

func TestParamHeaders(t *testing.T) {
	tool := []byte(`{"name":"t","inputSchema":{"type":"object","properties":{
		"region":{"type":"string","x-mcp-header":"Region"},
		"n":{"type":"integer","x-mcp-header":"N"},
		"nested":{"type":"object","properties":{"flag":{"type":"boolean","x-mcp-header":"Flag"}}},
		"plain":{"type":"string"}}}}`)
	got := toolParamHeaders(tool)
	want := []paramHeader{{"region", []string{"region"}, "string"}, {"n", []string{"n"}, "integer"}, {"flag", []string{"nested", "flag"}, "boolean"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headers %+v, want %+v", got, want)
	}
	if toolParamHeaders([]byte(`{"name":"x","inputSchema":{"type":"object"}}`)) != nil {
		t.Error("headers of a tool without x-mcp-header")
	}
	for _, tc := range []struct {
		header string
		arg    string
		ok     bool
		equal  bool
	}{
		{"Hello", `"Hello"`, true, true},
		{"=?base64?SGVsbG8=?=", `"Hello"`, true, true},
		{"=?base64?SGVsbG8?=", `"Hello"`, false, false}, // missing padding: invalid
		{"=?base64?SGVs!!!bG8=?=", `"Hello"`, false, false},
		{"SGVsbG8=", `"SGVsbG8="`, true, true}, // no markers: literal
		{"=?base64?SGVsbG8=", `"=?base64?SGVsbG8="`, true, true},
		{"42", `42.0`, true, true},
		{"42", `43`, true, false},
		{"true", `true`, true, true},
		{"True", `true`, true, false},
	} {
		dec, ok := decodeParamHeader(tc.header)
		if ok != tc.ok || ok && paramEqual([]byte(tc.arg), dec) != tc.equal {
			t.Errorf("header %q vs %s: decoded %q ok %v equal %v", tc.header, tc.arg, dec, ok, ok && paramEqual([]byte(tc.arg), dec))
		}
	}
}
