package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		kind   Kind
		id     string
		method string
		params string
		code   int64  // expected error code, 0 for none
		errID  string // the id an error answer can carry
		msg    string // a part of the error message
	}{
		{name: "request", in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`,
			kind: KindRequest, id: "1", method: "tools/call", params: `{"name":"x"}`},
		{name: "string id", in: ` {"id":"a-1","jsonrpc":"2.0","method":"ping"} `, kind: KindRequest, id: `"a-1"`, method: "ping"},
		{name: "notification", in: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, kind: KindNotification, method: "notifications/initialized"},
		{name: "result", in: `{"jsonrpc":"2.0","id":7,"result":{}}`, kind: KindResponse, id: "7"},
		{name: "error", in: `{"jsonrpc":"2.0","id":"x","error":{"code":1,"message":"m"}}`, kind: KindResponse, id: `"x"`},
		{name: "error without id", in: `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`, kind: KindResponse},
		{name: "escaped method", in: `{"jsonrpc":"2.0","id":1,"method":"tools\/list"}`, kind: KindRequest, id: "1", method: "tools/list"},
		{name: "last duplicate wins", in: `{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}`, kind: KindRequest, id: "1", method: "b"},

		{name: "empty", in: `  `, code: CodeParseError, msg: "empty"},
		{name: "not JSON", in: `{"jsonrpc":`, code: CodeParseError, msg: "not valid JSON"},
		{name: "batch", in: `[{"jsonrpc":"2.0","method":"ping","id":1}]`, code: CodeInvalidRequest, msg: "batches"},
		{name: "not an object", in: `"hello"`, code: CodeInvalidRequest, msg: "JSON object"},
		{name: "wrong version", in: `{"jsonrpc":"1.0","id":3,"method":"ping"}`, code: CodeInvalidRequest, errID: "3", msg: `"2.0"`},
		{name: "missing version", in: `{"id":3,"method":"ping"}`, code: CodeInvalidRequest, errID: "3", msg: `"2.0"`},
		{name: "object id", in: `{"jsonrpc":"2.0","id":{},"method":"ping"}`, code: CodeInvalidRequest, msg: "string or a number"},
		{name: "null id request", in: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, code: CodeInvalidRequest, msg: "null"},
		{name: "method not a string", in: `{"jsonrpc":"2.0","id":1,"method":5}`, code: CodeInvalidRequest, errID: "1", msg: "string"},
		{name: "empty method", in: `{"jsonrpc":"2.0","id":1,"method":""}`, code: CodeInvalidRequest, errID: "1", msg: "empty"},
		{name: "result and error", in: `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, code: CodeInvalidRequest, msg: "needs a method"},
		{name: "nothing", in: `{"jsonrpc":"2.0","id":1}`, code: CodeInvalidRequest, msg: "needs a method"},
		{name: "result without id", in: `{"jsonrpc":"2.0","result":{}}`, code: CodeInvalidRequest, msg: "needs a method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, e := Parse([]byte(c.in))
			if c.code != 0 {
				if e == nil || e.Code != int64(c.code) || !strings.Contains(e.Message, c.msg) {
					t.Fatalf("error %v, want code %d with %q", e, c.code, c.msg)
				}
				switch {
				case c.errID == "" && m != nil:
					t.Errorf("an id to answer with (%s) where none can be read", m.ID)
				case c.errID != "" && (m == nil || string(m.ID) != c.errID):
					t.Errorf("answer id %v, want %s", m, c.errID)
				}
				return
			}
			if e != nil {
				t.Fatalf("error %v", e)
			}
			if m.Kind != c.kind || string(m.ID) != c.id || m.Method != c.method || string(m.Params) != c.params {
				t.Errorf("got kind %d id %s method %q params %s", m.Kind, m.ID, m.Method, m.Params)
			}
		})
	}
}

func TestIDKey(t *testing.T) {
	if IDKey([]byte(`"1"`)) == IDKey([]byte(`1`)) {
		t.Error("a string id and a number id share a key")
	}
	if IDKey([]byte(`"a\u0062"`)) != IDKey([]byte(`"ab"`)) {
		t.Error("equal strings differ")
	}
	for _, id := range []string{`1`, `-2.5`, `"x"`} {
		if !ValidID([]byte(id)) {
			t.Errorf("ValidID(%s) = false", id)
		}
	}
	for _, id := range []string{``, `null`, `true`, `{}`, `[]`, `"x`, `1x`} {
		if ValidID([]byte(id)) {
			t.Errorf("ValidID(%s) = true", id)
		}
	}
}

func TestEncode(t *testing.T) {
	msgs := [][]byte{
		Result([]byte(`"id"`), []byte(`{"a":1}`)),
		Result([]byte(`1`), nil),
		ErrorResponse(nil, Errorf(CodeInvalidParams, "bad %q", "x")),
		ErrorResponse([]byte(`2`), Errorf(CodeDenied, "no").WithData(map[string]string{"by": "h"})),
		Notification("notifications/progress", []byte(`{"progressToken":1}`)),
		Notification("a\"b", nil),
		Request(9, "tools/call", []byte(`{}`)),
	}
	for _, b := range msgs {
		m, e := Parse(b)
		if e != nil {
			t.Errorf("%s does not parse: %v", b, e)
			continue
		}
		if !json.Valid(b) {
			t.Errorf("%s is not JSON", b)
		}
		_ = m
	}
	if e := DecodeError([]byte(`{"code":-32601,"message":"nope","data":[1]}`)); e.Code != CodeMethodNotFound || e.Message != "nope" || string(e.Data) != "[1]" {
		t.Errorf("DecodeError: %+v", e)
	}
	if e := DecodeError([]byte(`"junk"`)); e.Code != CodeInternalError {
		t.Errorf("DecodeError of junk: %+v", e)
	}
}

// FuzzParse checks that Parse never panics, accepts only valid JSON, and
// agrees with encoding/json on what it decodes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`,
		`{"jsonrpc":"2.0","method":"n"}`, `{"jsonrpc":"2.0","id":"1","result":null}`,
		`[1]`, `{"jsonrpc":"2.0","id":null,"error":{}}`, `{}`, `x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, e := Parse(b)
		if e == nil {
			if !json.Valid(b) {
				t.Fatalf("accepted invalid JSON %q", b)
			}
			var env struct {
				JSONRPC string          `json:"jsonrpc"`
				Method  string          `json:"method"`
				Params  json.RawMessage `json:"params"`
			}
			// encoding/json matches struct fields case-insensitively; compare
			// only when the keys are spelled exactly.
			var keys map[string]json.RawMessage
			if json.Unmarshal(b, &keys) == nil && json.Unmarshal(b, &env) == nil && exactKeys(keys) {
				if m.Method != env.Method {
					t.Fatalf("method %q, encoding/json %q", m.Method, env.Method)
				}
				if env.JSONRPC != "2.0" {
					t.Fatalf("accepted jsonrpc %q", env.JSONRPC)
				}
			}
			if m.Kind == 0 {
				t.Fatalf("no kind for %q", b)
			}
		}
	})
}

func exactKeys(m map[string]json.RawMessage) bool {
	for k := range m {
		switch strings.ToLower(k) {
		case "jsonrpc", "method", "params":
			if k != strings.ToLower(k) {
				return false
			}
		}
	}
	return true
}
