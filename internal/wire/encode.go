package wire

import (
	"encoding/json"
	"strconv"

	"github.com/mcpscript/mcpscript/internal/rawjson"
)

var null = []byte("null")

// AppendResult appends a result response with the given raw id; an empty
// result is {}.
func AppendResult(dst, id, result []byte) []byte {
	if len(result) == 0 {
		result = []byte("{}")
	}
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"result":`...)
	dst = append(dst, result...)
	return append(dst, '}')
}

// Result returns a result response.
func Result(id, result []byte) []byte {
	return AppendResult(make([]byte, 0, len(id)+len(result)+48), id, result)
}

// ErrorResponse returns an error response; a nil id is null.
func ErrorResponse(id []byte, e *Error) []byte {
	if len(id) == 0 {
		id = null
	}
	eb, err := json.Marshal(e)
	if err != nil { // only a malformed Data can fail
		eb, _ = json.Marshal(&Error{Code: e.Code, Message: e.Message})
	}
	b := make([]byte, 0, len(id)+len(eb)+32)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"error":`...)
	b = append(b, eb...)
	return append(b, '}')
}

// Notification returns a notification; empty params are left out.
func Notification(method string, params []byte) []byte {
	b := make([]byte, 0, len(method)+len(params)+64)
	b = append(b, `{"jsonrpc":"2.0","method":`...)
	b = rawjson.AppendQuote(b, method)
	if len(params) > 0 {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	return append(b, '}')
}

// AppendRequest appends a request with the given raw id; empty params are
// left out.
func AppendRequest(dst, id []byte, method string, params []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"method":`...)
	dst = rawjson.AppendQuote(dst, method)
	if len(params) > 0 {
		dst = append(dst, `,"params":`...)
		dst = append(dst, params...)
	}
	return append(dst, '}')
}

// Request returns a request with a numeric id.
func Request(id int64, method string, params []byte) []byte {
	return AppendRequest(make([]byte, 0, len(method)+len(params)+96), IntID(id), method, params)
}

// IntID returns a numeric id as JSON.
func IntID(n int64) []byte { return strconv.AppendInt(nil, n, 10) }
