package proxy

import (
	"bytes"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// A request refused by a rate limit or quota (the limits middleware,
// internal/policy) is answered with the JSON-RPC error wire.CodeRateLimited,
// whose data holds retryAfter in seconds. When that answer goes out as a
// plain JSON body (a Streamable HTTP POST answered as JSON), HTTP says it
// too: 429 Too Many Requests with Retry-After, which HTTP clients, proxies
// and load balancers understand without reading the body. Answers on an
// event stream keep their 200: the stream has started before the answer
// is known.

// rateLimitedPrefix is how the gateway's encoder starts the error object of
// a rate-limited answer (wire.ErrorResponse: code first).
var rateLimitedPrefix = []byte(`"error":{"code":` + strconv.Itoa(wire.CodeRateLimited) + `,`)

// rateLimitScan bounds how far into a body the error is looked for: it
// follows the id, which clients keep short.
const rateLimitScan = 1024

// rateLimitStatus turns a JSON answer that is a rate-limit error into 429
// with Retry-After.
func (s *Server) rateLimitStatus(c *fiber.Ctx) error {
	err := c.Next()
	resp := c.Response()
	if err != nil || resp.StatusCode() != fiber.StatusOK || resp.IsBodyStream() ||
		!bytes.HasPrefix(resp.Header.ContentType(), []byte(fiber.MIMEApplicationJSON)) {
		return err
	}
	if secs, ok := retryAfter(resp.Body()); ok {
		resp.SetStatusCode(fiber.StatusTooManyRequests)
		resp.Header.Set(fiber.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	}
	return nil
}

// retryAfter returns the retryAfter of a JSON-RPC response that is a
// rate-limit error.
func retryAfter(body []byte) (int64, bool) {
	head := body[:min(len(body), rateLimitScan)]
	if !bytes.Contains(head, rateLimitedPrefix) || !rawjson.Valid(body) {
		return 0, false
	}
	e, ok := rawjson.GetValid(body, "error")
	if !ok {
		return 0, false
	}
	if code, ok := rawjson.GetValid(e, "code"); !ok || string(code) != strconv.Itoa(wire.CodeRateLimited) {
		return 0, false
	}
	secs := int64(1)
	if data, ok := rawjson.GetValid(e, "data"); ok {
		if v, ok := rawjson.GetValid(data, "retryAfter"); ok {
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n > 0 {
				secs = n
			}
		}
	}
	return secs, true
}
