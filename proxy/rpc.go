package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// httpError is a refusal: an HTTP status and the JSON-RPC error the body
// carries (with the request's id when it is known). Handlers return it;
// Server.errorHandler renders it, the one place that writes error bodies.
type httpError struct {
	status  int
	id      json.RawMessage
	err     *wire.Error
	headers [][2]string // set on the response (e.g. Retry-After)
}

func (e *httpError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.err.Message)
}

// refuse returns an httpError.
func refuse(status int, code int64, format string, args ...any) *httpError {
	return &httpError{status: status, err: wire.Errorf(code, format, args...)}
}

// withID returns e answering the request with that id.
func (e *httpError) withID(id json.RawMessage) *httpError {
	c := *e
	c.id = id
	return &c
}

// withData returns e whose JSON-RPC error carries data v.
func (e *httpError) withData(v any) *httpError {
	c := *e
	c.err = e.err.WithData(v)
	return &c
}

// withHeader returns e that also sets a response header.
func (e *httpError) withHeader(key, value string) *httpError {
	c := *e
	c.headers = append(append([][2]string(nil), e.headers...), [2]string{key, value})
	return &c
}

// body is the JSON-RPC error response of e.
func (e *httpError) body() []byte { return wire.ErrorResponse(e.id, e.err) }

// renderRefusal answers a handler's refusal (httpError) with its status and
// body, and any other error as fiber does. Server.errorHandler builds on it.
func renderRefusal(c *fiber.Ctx, err error) error {
	var he *httpError
	if errors.As(err, &he) {
		for _, h := range he.headers {
			c.Set(h[0], h[1])
		}
		return sendJSON(c, he.status, he.body())
	}
	return fiber.DefaultErrorHandler(c, err)
}

// readMessage reads a POSTed JSON-RPC message: the Content-Type must be
// JSON (415), the body one valid JSON-RPC 2.0 message (400, with the
// message's id when it could be read). The body is copied: fasthttp reuses
// its buffer once the handler returns, and answers may be streamed later.
// The message's method labels the request in the metrics.
func readMessage(c *fiber.Ctx) (*wire.Message, error) {
	if err := checkContentType(c); err != nil {
		return nil, err
	}
	m, perr := wire.Parse(bytes.Clone(c.Body()))
	if perr != nil {
		e := &httpError{status: fiber.StatusBadRequest, err: perr}
		if m != nil {
			e.id = m.ID
		}
		return nil, e
	}
	c.Locals(methodLabelKey, messageLabel(m))
	return m, nil
}

// checkContentType refuses POST bodies that are declared as something else
// than JSON (415). Browsers send text/plain, form and multipart bodies
// cross-origin without a CORS preflight, so accepting only JSON also
// keeps such requests out. A missing Content-Type is accepted.
func checkContentType(c *fiber.Ctx) error {
	ct := c.Get(fiber.HeaderContentType)
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return refuse(fiber.StatusUnsupportedMediaType, wire.CodeInvalidRequest,
		"unsupported Content-Type %s: send the JSON-RPC message as application/json", ct)
}

// acceptance is what an Accept header allows.
type acceptance struct {
	json, sse bool
}

// parseAccept reads an Accept header. A missing header accepts JSON only;
// wildcards accept JSON, never an event stream (which must be asked for).
func parseAccept(h string) acceptance {
	if strings.TrimSpace(h) == "" {
		return acceptance{json: true}
	}
	var a acceptance
	for part := range strings.SplitSeq(h, ",") {
		mt, params, _ := strings.Cut(part, ";")
		if zeroQuality(params) {
			continue // q=0: explicitly not acceptable
		}
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/json", "application/*", "*/*":
			a.json = true
		case "text/event-stream":
			a.sse = true
		}
	}
	return a
}

// zeroQuality reports whether media-type parameters hold q=0.
func zeroQuality(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}

// openError is the refusal of a failed Gateway.Open.
func openError(err error) error {
	switch {
	case errors.Is(err, engine.ErrServerNotFound):
		return refuse(fiber.StatusNotFound, wire.CodeInvalidRequest, "%s", err.Error())
	case errors.Is(err, engine.ErrNotRunning):
		return refuse(fiber.StatusServiceUnavailable, wire.CodeInternalError, "%s", err.Error())
	}
	return refuse(fiber.StatusInternalServerError, wire.CodeInternalError, "%s", err.Error())
}

// errShuttingDown refuses requests that arrive after Close.
var errShuttingDown = refuse(fiber.StatusServiceUnavailable, wire.CodeInternalError, "the proxy is shutting down")

// noResponse is what a request gets if the gateway returned nothing for it
// (which it should never do).
func noResponse(id []byte) []byte {
	return wire.ErrorResponse(id, wire.Errorf(wire.CodeInternalError, "internal error: the gateway returned no response"))
}

// sendJSON answers with a JSON body.
func sendJSON(c *fiber.Ctx, status int, body []byte) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(body)
}
