// Roots, sampling and logging are deprecated only from MCP 2026-07-28 on;
// in 2025-11-25, the version the client speaks, they are current.
//lint:file-ignore SA1019 see above

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/suggest"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Version is the mcpscript version, sent as clientInfo.version.
const Version = "0.1.0"

// LatestProtocolVersion is the MCP version a Client offers in initialize.
const LatestProtocolVersion = "2025-11-25"

// supportedProtocolVersions lists, newest first, the MCP versions a Client
// accepts when a server negotiates down.
var supportedProtocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// SupportedProtocolVersions returns, newest first, the MCP versions a Client
// accepts when a server negotiates down.
func SupportedProtocolVersions() []string { return slices.Clone(supportedProtocolVersions) }

// IsSupportedProtocolVersion reports whether v is one of
// SupportedProtocolVersions, without copying the list.
func IsSupportedProtocolVersion(v string) bool { return slices.Contains(supportedProtocolVersions, v) }

// RequestHandler answers a request that a server sends to the client, such as
// sampling/createMessage or elicitation/create. It returns the result (any
// value that marshals to JSON) or an error; return an *RPCError to choose the
// JSON-RPC error code. ctx ends when the server cancels the request or the
// connection closes.
type RequestHandler func(ctx context.Context, server, method string, params json.RawMessage) (any, error)

// NotificationHandler receives a notification from a server. It is called in
// the order notifications arrive, from the goroutine that reads the server's
// output, so it must return quickly; hand longer work to another goroutine.
type NotificationHandler func(server, method string, params json.RawMessage)

// ClientOptions configures a Client. The zero value is ready to use.
type ClientOptions struct {
	// Name names the server in errors and logs.
	Name string
	// ClientInfo is sent in initialize; default {Name: "mcpscript", Version: Version}.
	ClientInfo *mcp.Implementation
	// RequestTimeout bounds every request whose context has no earlier deadline;
	// default 60s. Negative means no limit.
	RequestTimeout time.Duration
	// MaxFrameBytes bounds one message from the server; default 16 MiB.
	MaxFrameBytes int
	// Roots are answered to the server's roots/list. Setting any advertises the
	// roots capability.
	Roots []*mcp.Root
	// OnRequest answers sampling/createMessage, elicitation/create and any other
	// server→client request except ping and roots/list. Setting it advertises
	// the sampling and elicitation capabilities. Without it such requests get a
	// method-not-found error.
	OnRequest RequestHandler
	// Logger receives the connection's diagnostics and the server's
	// notifications/message log lines; default slog.Default().
	Logger *slog.Logger
	// Modern makes the handshake server/discover (MCP 2026-07-28) instead
	// of initialize: the session is stateless, each request carries its
	// _meta, and the server asks for input with input_required results,
	// which the Client fulfils with OnRequest. A server that does not
	// speak 2026-07-28 fails the handshake with ErrLegacyOnly.
	Modern bool
	// TracerProvider, when set, traces each request with an OpenTelemetry
	// client span whose context goes to the server in params._meta
	// (traceparent, tracestate); nil traces nothing.
	TracerProvider trace.TracerProvider
}

// Client is an MCP client for one server. A Client from a Runner stays valid
// across restarts of its server: calls made while the server restarts wait for
// it (up to their deadline), and calls made after it stopped fail with
// ErrNotRunning. All methods are safe for concurrent use.
type Client struct {
	name   string
	opts   ClientOptions
	logger *slog.Logger

	// shared, when set, supplies the request handler instead of
	// opts.OnRequest: a Runner's clients share one that can be set late.
	shared *atomic.Pointer[RequestHandler]
	// runner, when set, is the Runner whose middleware every Call passes.
	runner *Runner
	// tracer traces requests (trace.go); nil when tracing is off.
	tracer trace.Tracer

	mu      sync.Mutex
	sess    *session
	ready   chan struct{} // closed while sess is usable; replaced when it goes away
	downErr error         // non-nil: not running, and why
	// failed is the ready channel a failed restart attempt closed, and
	// failedErr why: the callers that were waiting on it fail with that.
	failed    chan struct{}
	failedErr error
	handlers  []handlerEntry
	nextH     int
}

type session struct {
	conn    *conn
	init    *mcp.InitializeResult // for a modern session, made from its discover result
	initRaw json.RawMessage       // the server's initialize (or discover) result as sent, for proxies
	modern  bool                  // the session speaks 2026-07-28
}

type handlerEntry struct {
	id     int
	method string
	fn     NotificationHandler
}

func newClient(opts ClientOptions) *Client {
	if opts.ClientInfo == nil {
		opts.ClientInfo = &mcp.Implementation{Name: "mcpscript", Version: Version}
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 60 * time.Second
	}
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = 16 << 20
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var tracer trace.Tracer
	if opts.TracerProvider != nil {
		tracer = opts.TracerProvider.Tracer(tracerName, trace.WithInstrumentationVersion(Version))
	}
	return &Client{
		name:    opts.Name,
		opts:    opts,
		logger:  logger,
		tracer:  tracer,
		ready:   make(chan struct{}),
		downErr: fmt.Errorf("%w: server %q has not been started", ErrNotRunning, opts.Name),
	}
}

// Connect runs the MCP handshake over r (the server's output) and w (its
// input) and returns a ready Client. Closing the Client closes w. Use it for
// servers the Runner does not manage; the Runner gives out its own clients.
func Connect(ctx context.Context, r io.Reader, w io.WriteCloser, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	c := newClient(o)
	c.markStarting()
	if _, hasDeadline := ctx.Deadline(); !hasDeadline && c.opts.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	if _, _, err := c.attach(ctx, r, w, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// Close ends the client's connection (closing the server's stdin). Later
// calls fail with ErrNotRunning. For a Runner's client use Runner.StopServer.
func (c *Client) Close() error {
	c.detach(fmt.Errorf("%w: client for server %q was closed", ErrNotRunning, c.name), true)
	return nil
}

// attach starts a session over a new connection: initialize, then
// notifications/initialized. onEOF explains the end of the server's output.
// It fails, closing the connection, when the client was stopped meanwhile.
func (c *Client) attach(ctx context.Context, r io.Reader, w io.WriteCloser, onEOF func() error) (*conn, *mcp.InitializeResult, error) {
	cn := newConn(r, w, connOptions{
		name:     c.name,
		maxFrame: c.opts.MaxFrameBytes,
		logger:   c.logger,
		handler:  c,
		onEOF:    onEOF,
	})
	handshake := c.initialize
	if c.opts.Modern {
		handshake = c.discover
	}
	init, initRaw, err := handshake(ctx, cn)
	if err != nil {
		cn.close(err)
		return nil, nil, err
	}
	c.mu.Lock()
	if c.downErr != nil { // stopped while the handshake ran
		err := c.downErr
		c.mu.Unlock()
		cn.close(err)
		return nil, nil, err
	}
	old := c.sess
	c.sess = &session{conn: cn, init: init, initRaw: initRaw, modern: c.opts.Modern}
	closeOnce(c.ready)
	c.mu.Unlock()
	if old != nil {
		old.conn.close(fmt.Errorf("%w: server %q was replaced by a new process", ErrCommunication, c.name))
	}
	go func() { // the session ends with its connection
		<-cn.done
		c.sessionEnded(cn)
	}()
	return cn, init, nil
}

// down reports whether the client was stopped or closed.
func (c *Client) down() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.downErr != nil
}

func (c *Client) initialize(ctx context.Context, cn *conn) (*mcp.InitializeResult, json.RawMessage, error) {
	caps := map[string]any{}
	if len(c.opts.Roots) > 0 {
		caps["roots"] = map[string]any{"listChanged": false}
	}
	if c.requestHandler() != nil {
		caps["sampling"] = map[string]any{}
		caps["elicitation"] = map[string]any{"form": map[string]any{}, "url": map[string]any{}}
	}
	params, err := json.Marshal(map[string]any{
		"protocolVersion": LatestProtocolVersion,
		"capabilities":    caps,
		"clientInfo":      c.opts.ClientInfo,
	})
	if err != nil {
		return nil, nil, err
	}
	raw, err := cn.call(ctx, "initialize", params, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("initialize server %q: %w", c.name, err)
	}
	var res mcp.InitializeResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, nil, fmt.Errorf("%w: initialize server %q: malformed result: %v", ErrCommunication, c.name, err)
	}
	if !slices.Contains(supportedProtocolVersions, res.ProtocolVersion) {
		return nil, nil, fmt.Errorf("%w: server %q chose MCP version %q; mcpscript speaks %v",
			ErrCommunication, c.name, res.ProtocolVersion, supportedProtocolVersions)
	}
	if err := cn.notify(ctx, "notifications/initialized", json.RawMessage("{}")); err != nil {
		return nil, nil, fmt.Errorf("initialize server %q: %w", c.name, err)
	}
	return &res, raw, nil
}

func (c *Client) sessionEnded(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil || c.sess.conn != cn {
		return
	}
	c.sess = nil
	c.ready = make(chan struct{})
	if c.downErr == nil {
		// The owner (Runner) decides between restarting and giving up; until
		// it says, callers wait.
		c.logger.Debug("connection to server ended", "server", c.name, "err", cn.closedErr())
	}
}

// markStarting makes callers wait for the next session instead of failing.
func (c *Client) markStarting() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downErr = nil
}

// attemptFailed fails the callers waiting for a restart with err; later
// callers wait for the next attempt. So a caller waits for one attempt at
// most, and learns why it failed rather than meeting its own timeout.
func (c *Client) attemptFailed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil || c.downErr != nil {
		return
	}
	c.failed, c.failedErr = c.ready, err
	c.ready = make(chan struct{})
	closeOnce(c.failed)
}

// detach makes the client not running: waiting and later calls fail with err.
func (c *Client) detach(err error, closeConn bool) {
	c.mu.Lock()
	sess := c.sess
	c.sess = nil
	c.downErr = err
	old := c.ready
	c.ready = make(chan struct{})
	closeOnce(old) // wake waiters; they see downErr
	c.mu.Unlock()
	if sess != nil && closeConn {
		sess.conn.close(err)
	}
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// session returns the live session, waiting while the server (re)starts.
func (c *Client) session(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		sess, ready, down := c.sess, c.ready, c.downErr
		c.mu.Unlock()
		if sess != nil && sess.conn.isClosed() {
			// The connection just broke; its end may not be recorded yet.
			// Record it now and wait for the next session.
			c.sessionEnded(sess.conn)
			continue
		}
		if sess != nil {
			return sess, nil
		}
		if down != nil {
			return nil, down
		}
		select {
		case <-ready:
			c.mu.Lock()
			failed, err := c.failed == ready, c.failedErr
			c.mu.Unlock()
			if failed {
				return nil, err
			}
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: server %q is restarting and was not ready in time: %w", ErrTimeout, c.name, context.DeadlineExceeded)
			}
			return nil, fmt.Errorf("server %q is restarting: %w", c.name, context.Cause(ctx))
		}
	}
}

type progressKey struct{}

// ProgressFunc receives a server's progress notifications for one request.
type ProgressFunc func(*mcp.ProgressNotificationParams)

// WithProgress returns a context that asks for progress on the requests made
// with it: the request carries a progress token and fn receives the server's
// notifications/progress for it. fn runs on the connection's reader goroutine
// and must return quickly.
func WithProgress(ctx context.Context, fn ProgressFunc) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// progressFrom turns the ProgressFunc of ctx, if any, into a raw callback.
func progressFrom(ctx context.Context) func(json.RawMessage) {
	fn, ok := ctx.Value(progressKey{}).(ProgressFunc)
	if !ok || fn == nil {
		return nil
	}
	return func(raw json.RawMessage) {
		var p mcp.ProgressNotificationParams
		if json.Unmarshal(raw, &p) == nil {
			fn(&p)
		}
	}
}

// Call sends any MCP request with raw or marshalable params and returns the
// raw result. It applies the request timeout and WithProgress like the typed
// methods do. Use it for methods this package has no typed helper for.
//
// A Runner's client sends every request through the runner's middleware
// (hooks and filters), which may rewrite, route, refuse (ErrDenied) or
// answer it; the caller is IdentityFrom(ctx).
func (c *Client) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	raw, err := marshalParams(params)
	if err != nil {
		return nil, fmt.Errorf("server %q: %s: %w", c.name, method, err)
	}
	if c.runner != nil {
		return c.runner.Do(ctx, &Request{Server: c.name, Method: method, Params: raw, Caller: IdentityFrom(ctx),
			Progress: progressFrom(ctx), Route: (*selfRouter)(c)})
	}
	return c.send(ctx, method, raw, progressFrom(ctx))
}

// CallDirect is Call without the runner's middleware and without
// progress: for housekeeping that is the caller's own, not a client's
// request (a gateway's list cache, subscriptions and log levels).
func (c *Client) CallDirect(ctx context.Context, method string, params any) (json.RawMessage, error) {
	raw, err := marshalParams(params)
	if err != nil {
		return nil, fmt.Errorf("server %q: %s: %w", c.name, method, err)
	}
	return c.send(ctx, method, raw, nil)
}

// CallStream is CallDirect without the request timeout, for a request
// that lasts as long as ctx does: subscriptions/listen, whose server sends
// notifications until the request is cancelled.
func (c *Client) CallStream(ctx context.Context, method string, params any) (json.RawMessage, error) {
	raw, err := marshalParams(params)
	if err != nil {
		return nil, fmt.Errorf("server %q: %s: %w", c.name, method, err)
	}
	return c.sendUntimed(ctx, method, raw, nil)
}

// send delivers a request to this client's server. raw must be valid JSON
// or empty; progress, if set, receives the server's progress for it.
func (c *Client) send(ctx context.Context, method string, raw json.RawMessage, progress func(json.RawMessage)) (json.RawMessage, error) {
	if c.opts.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	return c.sendUntimed(ctx, method, raw, progress)
}

func (c *Client) sendUntimed(ctx context.Context, method string, raw json.RawMessage, progress func(json.RawMessage)) (json.RawMessage, error) {
	if c.tracer != nil {
		return c.sendTraced(ctx, method, raw, progress)
	}
	sess, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	return c.sendOn(ctx, sess, method, raw, progress)
}

// sendOn sends a request on a live session.
func (c *Client) sendOn(ctx context.Context, sess *session, method string, raw json.RawMessage, progress func(json.RawMessage)) (json.RawMessage, error) {
	if sess.modern {
		return c.sendModern(ctx, sess.conn, method, raw, progress)
	}
	return sess.conn.call(ctx, method, raw, progress)
}

// selfRouter routes the requests made on a client: to the client itself
// while the request's server is the client's (a per-session child keeps
// its own requests), else as the runner routes by default.
type selfRouter Client

func (s *selfRouter) Route(ctx context.Context, server string) (*Client, func(), error) {
	c := (*Client)(s)
	if server == c.name {
		return c, noRelease, nil
	}
	return c.runner.defaultRoute(ctx, server)
}

// Notify sends a notification to the server.
func (c *Client) Notify(ctx context.Context, method string, params any) error {
	raw, err := marshalParams(params)
	if err != nil {
		return fmt.Errorf("server %q: %s: %w", c.name, method, err)
	}
	sess, err := c.session(ctx)
	if err != nil {
		return err
	}
	return sess.conn.notify(ctx, method, raw)
}

// marshalParams encodes params; raw JSON given as it is must be valid.
func marshalParams(params any) (json.RawMessage, error) {
	var raw []byte
	switch p := params.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		raw = p
	case []byte:
		raw = p
	default:
		return json.Marshal(p)
	}
	if err := rawjson.Check(raw); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	return raw, nil
}

// callInto is Call followed by decoding the result into out.
func (c *Client) callInto(ctx context.Context, method string, params, out any) error {
	raw, err := c.Call(ctx, method, params)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: server %q: %s: malformed result: %v", ErrCommunication, c.name, method, err)
	}
	return nil
}

// Name returns the server's name.
func (c *Client) Name() string { return c.name }

// Initialize returns the server's answer to the MCP handshake, waiting for the
// server to be ready. The handshake itself happens when the server starts;
// Initialize never repeats it, so calling it is optional.
func (c *Client) Initialize(ctx context.Context) (*mcp.InitializeResult, error) {
	sess, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	return sess.init, nil
}

// InitializeResult returns the current session's handshake result, or nil when
// the server is not connected.
func (c *Client) InitializeResult() *mcp.InitializeResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil
	}
	return c.sess.init
}

// InitializeResultRaw returns the current session's handshake result exactly
// as the server sent it (fields the go-sdk types do not know included), or
// nil when the server is not connected.
func (c *Client) InitializeResultRaw() json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil
	}
	return c.sess.initRaw
}

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.callInto(ctx, "ping", nil, nil)
}

// paginate collects every page of a */list method.
func paginate[R any, T any](ctx context.Context, c *Client, method string, items func(*R) ([]T, string)) ([]T, error) {
	var all []T
	cursor := ""
	seen := map[string]bool{}
	for {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		var page R
		if err := c.callInto(ctx, method, params, &page); err != nil {
			return nil, err
		}
		got, next := items(&page)
		all = append(all, got...)
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("%w: server %q: %s returned the cursor %q twice", ErrCommunication, c.name, method, next)
		}
		seen[next] = true
		cursor = next
	}
}

// ListTools returns every tool the server offers, following pagination.
func (c *Client) ListTools(ctx context.Context) ([]*mcp.Tool, error) {
	return paginate(ctx, c, "tools/list", func(r *mcp.ListToolsResult) ([]*mcp.Tool, string) { return r.Tools, r.NextCursor })
}

// CallTool calls a tool with arguments (any value that marshals to a JSON
// object, or nil). A tool that fails reports it in the result (IsError), not
// as an error; an error means the call itself failed. Use WithProgress on ctx
// to receive progress.
func (c *Client) CallTool(ctx context.Context, name string, args any) (*mcp.CallToolResult, error) {
	if args == nil {
		args = map[string]any{}
	}
	var res mcp.CallToolResult
	err := c.callInto(ctx, "tools/call", map[string]any{"name": name, "arguments": args}, &res)
	if err != nil {
		return nil, c.toolError(ctx, name, err)
	}
	return &res, nil
}

// toolError turns a JSON-RPC error about an unknown tool into ErrToolNotFound,
// checked against the server's tool list so a failing real tool is not
// mistaken for a missing one.
func (c *Client) toolError(ctx context.Context, name string, err error) error {
	var re *RPCError
	if !errors.As(err, &re) || (re.Code != wire.CodeInvalidParams && re.Code != wire.CodeMethodNotFound) {
		return err
	}
	tools, lerr := c.ListTools(ctx)
	if lerr != nil {
		return err
	}
	names := make([]string, len(tools))
	for i, t := range tools {
		if t.Name == name {
			return err
		}
		names[i] = t.Name
	}
	return &ToolNotFoundError{Server: c.name, Tool: name, Known: names, Err: err}
}

// ToolNotFoundError says a server has no tool of that name. It matches
// ErrToolNotFound with errors.Is.
type ToolNotFoundError struct {
	Server string
	Tool   string
	Known  []string // the tools the server does offer
	Err    error    // the server's own error, if it answered one
}

func (e *ToolNotFoundError) Error() string {
	msg := fmt.Sprintf("server %q has no tool %q", e.Server, e.Tool)
	if s := suggest.Closest(e.Tool, e.Known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// Is reports ErrToolNotFound.
func (e *ToolNotFoundError) Is(target error) bool { return target == ErrToolNotFound }

// Unwrap returns the server's error.
func (e *ToolNotFoundError) Unwrap() error { return e.Err }

// ListResources returns every resource, following pagination.
func (c *Client) ListResources(ctx context.Context) ([]*mcp.Resource, error) {
	return paginate(ctx, c, "resources/list", func(r *mcp.ListResourcesResult) ([]*mcp.Resource, string) { return r.Resources, r.NextCursor })
}

// ListResourceTemplates returns every resource template, following pagination.
func (c *Client) ListResourceTemplates(ctx context.Context) ([]*mcp.ResourceTemplate, error) {
	return paginate(ctx, c, "resources/templates/list", func(r *mcp.ListResourceTemplatesResult) ([]*mcp.ResourceTemplate, string) {
		return r.ResourceTemplates, r.NextCursor
	})
}

// ReadResource reads a resource by URI.
func (c *Client) ReadResource(ctx context.Context, uri string) (*mcp.ReadResourceResult, error) {
	var res mcp.ReadResourceResult
	if err := c.callInto(ctx, "resources/read", map[string]any{"uri": uri}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Subscribe asks for notifications/resources/updated about uri; receive them
// with OnNotification.
func (c *Client) Subscribe(ctx context.Context, uri string) error {
	return c.callInto(ctx, "resources/subscribe", map[string]any{"uri": uri}, nil)
}

// Unsubscribe cancels a Subscribe.
func (c *Client) Unsubscribe(ctx context.Context, uri string) error {
	return c.callInto(ctx, "resources/unsubscribe", map[string]any{"uri": uri}, nil)
}

// ListPrompts returns every prompt, following pagination.
func (c *Client) ListPrompts(ctx context.Context) ([]*mcp.Prompt, error) {
	return paginate(ctx, c, "prompts/list", func(r *mcp.ListPromptsResult) ([]*mcp.Prompt, string) { return r.Prompts, r.NextCursor })
}

// GetPrompt renders a prompt with arguments.
func (c *Client) GetPrompt(ctx context.Context, name string, args map[string]string) (*mcp.GetPromptResult, error) {
	params := map[string]any{"name": name}
	if len(args) > 0 {
		params["arguments"] = args
	}
	var res mcp.GetPromptResult
	if err := c.callInto(ctx, "prompts/get", params, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Complete asks the server to complete a prompt or resource-template argument.
func (c *Client) Complete(ctx context.Context, params *mcp.CompleteParams) (*mcp.CompleteResult, error) {
	var res mcp.CompleteResult
	if err := c.callInto(ctx, "completion/complete", params, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// SetLogLevel sets the lowest level of notifications/message the server sends.
func (c *Client) SetLogLevel(ctx context.Context, level mcp.LoggingLevel) error {
	return c.callInto(ctx, "logging/setLevel", map[string]any{"level": level}, nil)
}

// OnNotification registers fn for notifications of one method (such as
// "notifications/tools/list_changed", "notifications/resources/updated",
// "notifications/message"), or of every method when method is "". It
// returns a function that removes the registration. Progress notifications
// go to WithProgress callbacks, not here.
func (c *Client) OnNotification(method string, fn NotificationHandler) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextH++
	id := c.nextH
	c.handlers = append(c.handlers, handlerEntry{id: id, method: method, fn: fn})
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.handlers = slices.DeleteFunc(c.handlers, func(h handlerEntry) bool { return h.id == id })
	}
}

func (c *Client) handleNotification(method string, params json.RawMessage) {
	if method == "notifications/message" {
		c.logServerMessage(params)
	}
	c.mu.Lock()
	hs := slices.Clone(c.handlers)
	c.mu.Unlock()
	for _, h := range hs {
		if h.method == "" || h.method == method {
			h.fn(c.name, method, params)
		}
	}
}

// logServerMessage forwards a server's notifications/message into slog.
func (c *Client) logServerMessage(params json.RawMessage) {
	var p mcp.LoggingMessageParams
	if json.Unmarshal(params, &p) != nil {
		return
	}
	level := slog.LevelInfo
	switch p.Level {
	case "debug":
		level = slog.LevelDebug
	case "info", "notice":
		level = slog.LevelInfo
	case "warning":
		level = slog.LevelWarn
	default:
		level = slog.LevelError
	}
	c.logger.Log(context.Background(), level, "server log", "server", c.name, "logger", p.Logger, "data", p.Data)
}

func (c *Client) requestHandler() RequestHandler {
	if c.shared != nil {
		if h := c.shared.Load(); h != nil {
			return *h
		}
		return nil
	}
	return c.opts.OnRequest
}

func (c *Client) handleRequest(ctx context.Context, method string, params json.RawMessage) (any, error) {
	switch {
	case method == "roots/list" && len(c.opts.Roots) > 0:
		return &mcp.ListRootsResult{Roots: c.opts.Roots}, nil
	case c.requestHandler() != nil:
		return c.requestHandler()(ctx, c.name, method, params)
	default:
		return nil, &RPCError{Code: wire.CodeMethodNotFound,
			Message: fmt.Sprintf("mcpscript has no handler for %s (server %q); the client did not advertise this capability", method, c.name)}
	}
}
