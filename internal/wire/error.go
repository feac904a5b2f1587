package wire

import (
	"encoding/json"
	"fmt"
)

// Error is a JSON-RPC error object.
type Error struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (JSON-RPC error %d)", e.Message, e.Code)
}

// Errorf returns an Error with a formatted message.
func Errorf(code int64, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithData returns a copy of e whose data is v encoded.
func (e *Error) WithData(v any) *Error {
	c := *e
	c.Data, _ = json.Marshal(v)
	return &c
}

// DecodeError reads an error object; a malformed one becomes an internal
// error saying so.
func DecodeError(raw json.RawMessage) *Error {
	var e Error
	if json.Unmarshal(raw, &e) != nil {
		return Errorf(CodeInternalError, "malformed JSON-RPC error object: %.100s", raw)
	}
	return &e
}
