package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Sentinel errors. Every error the engine returns wraps at most one of these,
// so callers can branch with [errors.Is].
var (
	// ErrConfigParse means a config could not be parsed (not JSON, bad syntax).
	ErrConfigParse = config.ErrParse
	// ErrConfigInvalid means a config parsed but breaks a rule; the error lists every problem.
	ErrConfigInvalid = config.ErrInvalid
	// ErrServerNotFound means no server of that name is configured.
	ErrServerNotFound = errors.New("server not found")
	// ErrToolNotFound means the server does not offer a tool of that name.
	ErrToolNotFound = errors.New("tool not found")
	// ErrNotRunning means the server is stopped, failed or disabled.
	ErrNotRunning = errors.New("server not running")
	// ErrAlreadyRunning means StartServer was called for a server that runs.
	ErrAlreadyRunning = errors.New("server already running")
	// ErrCommunication means the connection to a server broke: it exited, closed
	// its output, sent a frame over the size limit, or could not be written to.
	ErrCommunication = errors.New("communication error")
	// ErrTimeout means a request got no answer within its time limit. The
	// request was cancelled on the server with notifications/cancelled.
	ErrTimeout = errors.New("timeout")
)

// RPCError is a JSON-RPC error response from a server.
type RPCError struct {
	Server  string          // the server that answered
	Method  string          // the method that failed
	Code    int64           // JSON-RPC error code, e.g. -32601 for method not found
	Message string          // the server's message
	Data    json.RawMessage // optional extra data, as sent
}

func (e *RPCError) Error() string {
	msg := fmt.Sprintf("server %q: %s: %s (code %d)", e.Server, e.Method, e.Message, e.Code)
	if len(e.Data) > 0 && len(e.Data) <= 512 {
		msg += ": " + string(e.Data)
	}
	return msg
}

// ErrorCode returns the JSON-RPC error code a client is answered with for
// an error of a request through the engine, as the gateway maps it: the
// code of a JSON-RPC error (a server's *RPCError, a gateway's), CodeDenied
// for a refusal, the timeout and cancellation codes, and -32603 (internal
// error) for anything else. It returns 0 for nil.
func ErrorCode(err error) int64 {
	var (
		re *RPCError
		we *wire.Error
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &we):
		return we.Code
	case errors.Is(err, ErrDenied):
		return wire.CodeDenied
	case errors.As(err, &re):
		return re.Code
	case errors.Is(err, ErrTimeout):
		return wire.CodeTimeout
	case errors.Is(err, context.Canceled):
		return wire.CodeRequestCancelled
	default:
		return wire.CodeInternalError
	}
}
