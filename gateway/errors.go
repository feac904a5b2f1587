package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// invalidParamsf is a JSON-RPC invalid-params error for the client.
func invalidParamsf(format string, args ...any) error {
	return wire.Errorf(wire.CodeInvalidParams, format, args...)
}

// notRunningf is an error wrapping engine.ErrNotRunning.
func notRunningf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", engine.ErrNotRunning, fmt.Sprintf(format, args...))
}

// errorFor maps an error to the JSON-RPC error the client gets. It is the
// one place that decides what a client learns of a failure.
func errorFor(err error) *wire.Error {
	var (
		we *wire.Error
		re *engine.RPCError
		de *engine.DeniedError
	)
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &de):
		return (&wire.Error{Code: wire.CodeDenied, Message: de.Error()}).WithData(map[string]string{"by": de.By, "reason": de.Reason})
	case errors.As(err, &re):
		return &wire.Error{Code: re.Code, Message: re.Message, Data: re.Data}
	case errors.Is(err, engine.ErrHook):
		// The first line only: a remote caller learns which hook failed and
		// why, not the script's stack (which the log has).
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return &wire.Error{Code: wire.CodeInternalError, Message: msg}
	case errors.Is(err, errClientCancelled):
		return &wire.Error{Code: wire.CodeRequestCancelled, Message: "request cancelled"}
	case errors.Is(err, errSessionClosed):
		return &wire.Error{Code: wire.CodeInternalError, Message: "session closed"}
	case errors.Is(err, engine.ErrTimeout):
		return &wire.Error{Code: wire.CodeTimeout, Message: "request timed out", Data: rawjson.Quote(err.Error())}
	case errors.Is(err, context.Canceled):
		return &wire.Error{Code: wire.CodeRequestCancelled, Message: "request cancelled"}
	default:
		return &wire.Error{Code: wire.CodeInternalError, Message: err.Error()}
	}
}

// wrapNotFound is an error wrapping engine.ErrServerNotFound.
func wrapNotFound(msg string) error {
	return fmt.Errorf("%w: %s", engine.ErrServerNotFound, msg)
}
