package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Routes of the proxy:
//
//	GET  /sse, POST /sse/messages          the aggregate over legacy HTTP+SSE, with the
//	                                       reference's extras (see reference.go)
//	POST|GET|DELETE /mcp                   the aggregate over Streamable HTTP
//	POST|GET|DELETE /servers/NAME/mcp      one server over Streamable HTTP (names unchanged)
//	GET  /servers/NAME/sse,
//	POST /servers/NAME/messages            one server over legacy HTTP+SSE
//	GET  /healthz                          200 while the process runs (no auth)
//	GET  /readyz                           200 when every enabled allowed server runs, else 503
//	GET  /metrics                          Prometheus metrics (see metrics.go)
//	GET  /api/servers                      status of each server, JSON
//	POST /auth/token                       a query token (only with queryTokens, see auth.go)
//
// Every request passes, in order: metrics, panic recovery, the Host and
// Origin check (not /healthz), CORS (preflights are answered here, before
// authentication), authentication (see auth.go), then the route. A NAME
// that is not configured gets 404; one outside sseProxy.allowedServers or
// the caller's token limit gets 403. Errors are JSON-RPC error objects
// without an id.

// Timeouts of the HTTP server. There is deliberately no write timeout: it
// would bound whole responses, and SSE streams last as long as sessions.
const (
	readTimeout     = 30 * time.Second
	idleTimeout     = 2 * time.Minute
	readBufferSize  = 16 << 10 // request line and headers
	shutdownTimeout = 10 * time.Second
)

// aggregateLabel is the server label of the aggregate routes in metrics.
const aggregateLabel = "*"

// Options configures New. The zero value uses the config's sseProxy
// settings.
type Options struct {
	// Listen, if set, is the address to listen on, "host:port", overriding
	// sseProxy.address and sseProxy.port. Port 0 picks a free port.
	Listen string
	// Logger receives the proxy's logs; default slog.Default().
	Logger *slog.Logger
	// Audit, when set, is the trail the console shows live (GET
	// /api/audit/stream); install its Observer on the Runner too.
	Audit *audit.Trail
	// HookStats, when set, reports the hooks and filters (GET /api/hooks).
	HookStats func() []engine.MiddlewareStats
	// TracerProvider, when set, gives each HTTP request a span (see
	// tracing.go).
	TracerProvider trace.TracerProvider
}

// Server is the HTTP proxy: the configured servers of a Runner over the
// reference's SSE endpoints and the standard MCP transports, through one
// engine.Gateway. Create it with New before starting the servers (the
// gateway must see their handshakes), then Start it.
type Server struct {
	r       *engine.Runner
	cfg     *config.Proxy // with defaults
	logger  *slog.Logger
	listen  string // the address to listen on
	gw      *gateway.Gateway
	app     *fiber.App
	auth    *authenticator // nil: authentication off
	metrics *metrics
	cors    *corsPolicy // nil: no CORS

	console   bool                            // the console and its API are served (console.go, api.go)
	trail     *audit.Trail                    // nil: no audit stream
	hookStats func() []engine.MiddlewareStats // nil: no hook statistics
	tracer    trace.Tracer                    // nil: HTTP requests are not traced

	configured map[string]string // every configured server name, to itself (canonical strings)
	allowed    []string          // the servers the proxy exposes, sorted
	reference  *legacySSE        // GET /sse, POST /sse/messages
	aggregate  *streamable       // /mcp
	servers    map[string]*serverTransports

	stopEvents func()

	mu       sync.Mutex
	guard    *hostGuard // set by Start
	ln       net.Listener
	served   chan struct{} // closed when the fiber app stops serving
	started  bool
	shutdown bool
}

// serverTransports are the transports of one server's routes.
type serverTransports struct {
	mcp *streamable
	sse *legacySSE
}

// IsConfigured reports whether r's config has an "sseProxy" section: the
// reference's is_sse_proxy_configured.
func IsConfigured(r *engine.Runner) bool {
	return r != nil && r.Config() != nil && r.Config().Proxy != nil
}

// New builds the proxy of r's servers from r.Config().Proxy (its defaults
// when the config has no sseProxy section): it creates the gateway, which
// installs itself as r's request handler, so call New before starting the
// servers. Nothing listens until Start.
func New(r *engine.Runner, opts *Options) (*Server, error) {
	if r == nil {
		return nil, errors.New("proxy: nil runner")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg := r.Config().Proxy
	if cfg == nil {
		cfg = (&config.Config{Proxy: &config.Proxy{}}).WithDefaults().Proxy
	}
	listen := o.Listen
	if listen == "" {
		listen = net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))
	}
	if _, port, err := net.SplitHostPort(listen); err != nil {
		return nil, fmt.Errorf("proxy: invalid listen address %q: %w (expected host:port, e.g. 127.0.0.1:3000)", listen, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, fmt.Errorf("proxy: invalid port in listen address %q", listen)
	}
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = config.DefaultMaxBodyBytes
	}

	s := &Server{
		r: r, cfg: cfg, logger: o.Logger, listen: listen,
		auth: newAuthenticator(cfg.Authenticate), cors: newCORSPolicy(cfg.CORS),
		configured: map[string]string{}, servers: map[string]*serverTransports{},
	}
	for _, name := range r.Servers() {
		s.configured[name] = name
		if cfg.AllowedServers == nil || slices.Contains(cfg.AllowedServers, name) {
			s.allowed = append(s.allowed, name)
		}
	}
	host, _, _ := net.SplitHostPort(listen)
	s.console, s.trail, s.hookStats = cfg.ConsoleOn(host), o.Audit, o.HookStats
	if o.TracerProvider != nil {
		s.tracer = o.TracerProvider.Tracer(tracerName, trace.WithInstrumentationVersion(engine.Version))
	}
	s.gw = gateway.New(r, &gateway.Options{AllowedServers: cfg.AllowedServers, Logger: o.Logger})
	s.metrics = newMetrics(r, s.configured)

	// One subscription feeds the restart metrics and the reference's
	// server-status events (for the servers the proxy exposes).
	events, stop := r.Subscribe(256)
	s.stopEvents = stop
	status := make(chan engine.Event, 256)
	go func() {
		defer close(status)
		for ev := range events {
			s.metrics.onEvent(ev)
			if slices.Contains(s.allowed, ev.Server) {
				select {
				case status <- ev:
				default:
					s.logger.Debug("proxy: server-status event dropped: its reader is behind", "server", ev.Server)
				}
			}
		}
	}()

	topts := func(transport, server string) transportOptions {
		return transportOptions{Logger: o.Logger, OnSession: s.metrics.sessionHook(transport, server),
			OnCall: s.metrics.callHook(transport, server)}
	}
	s.reference = newLegacySSE(s.gw, "", "/sse/messages", topts(transportReferenceSSE, aggregateLabel)).withReference(status)
	s.aggregate = newStreamable(s.gw, "", topts(transportStreamable, aggregateLabel))
	for _, name := range s.allowed {
		s.servers[name] = &serverTransports{
			mcp: newStreamable(s.gw, name, topts(transportStreamable, name)),
			sse: newLegacySSE(s.gw, name, "/servers/"+name+"/messages", topts(transportSSE, name)),
		}
	}

	s.app = fiber.New(fiber.Config{
		AppName:               "mcpscript",
		BodyLimit:             int(min(maxBody, int64(^uint32(0)>>1))),
		ReadTimeout:           readTimeout,
		IdleTimeout:           idleTimeout,
		ReadBufferSize:        readBufferSize,
		DisableStartupMessage: true,
		CaseSensitive:         true,
		ErrorHandler:          s.errorHandler,
	})
	s.routes()
	return s, nil
}

// routes mounts the middleware and the routes.
func (s *Server) routes() {
	app := s.app
	app.Use(s.metricsMiddleware) // first, so that it counts the answer to a panic too
	if s.tracer != nil {
		app.Use(s.traceMiddleware)
	}
	app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			s.logger.Error("proxy: panic in a handler", "method", c.Method(), "path", c.Path(), "panic", e)
		},
	}))
	app.Use(s.guardMiddleware)
	app.Use(s.corsMiddleware)
	if s.console {
		s.consoleRoutes(app) // the page asks for the token: before authentication
	}
	app.Use(s.authMiddleware)

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.metricsHandler)
	app.Get("/api/servers", s.apiServers)
	if s.console {
		s.apiRoutes(app)
	}
	if s.auth != nil && s.auth.queryTokens {
		app.Post("/auth/token", s.issueToken)
	}

	app.Get("/sse", s.reference.Stream)
	app.Post("/sse/messages", s.reference.Post)
	app.Post("/mcp", s.aggregate.Post)
	app.Get("/mcp", s.aggregate.Get)
	app.Delete("/mcp", s.aggregate.Delete)

	each := func(pick func(*serverTransports) fiber.Handler) fiber.Handler {
		return func(c *fiber.Ctx) error {
			t, err := s.serverFor(c)
			if err != nil {
				return err
			}
			return pick(t)(c)
		}
	}
	app.Post("/servers/:name/mcp", each(func(t *serverTransports) fiber.Handler { return t.mcp.Post }))
	app.Get("/servers/:name/mcp", each(func(t *serverTransports) fiber.Handler { return t.mcp.Get }))
	app.Delete("/servers/:name/mcp", each(func(t *serverTransports) fiber.Handler { return t.mcp.Delete }))
	app.Get("/servers/:name/sse", each(func(t *serverTransports) fiber.Handler { return t.sse.Stream }))
	app.Post("/servers/:name/messages", each(func(t *serverTransports) fiber.Handler { return t.sse.Post }))
}

// serverFor returns the transports of the route's server, or the refusal:
// 404 for a name that is not configured, 403 for a server outside
// allowedServers or the caller's token limit.
func (s *Server) serverFor(c *fiber.Ctx) (*serverTransports, error) {
	name, ok := s.configured[c.Params("name")]
	if !ok {
		msg := fmt.Sprintf("unknown server %q", c.Params("name"))
		if len(s.allowed) > 0 {
			msg += " (servers: " + strings.Join(s.allowed, ", ") + ")"
		}
		return nil, refuse(fiber.StatusNotFound, wire.CodeInvalidRequest, "%s", msg)
	}
	t := s.servers[name]
	if t == nil {
		return nil, refuse(fiber.StatusForbidden, wire.CodeInvalidRequest,
			"forbidden: server %q is not exposed by this proxy (sseProxy.allowedServers)", name)
	}
	if id := identityOf(c); id.Servers != nil && !slices.Contains(id.Servers, name) {
		return nil, refuse(fiber.StatusForbidden, wire.CodeInvalidRequest,
			"forbidden: the token %q may not use server %q", id.Token, name)
	}
	return t, nil
}

// errorHandler is the one place that renders errors as responses: a
// handler's refusal (httpError), and fiber's and fasthttp's own (such as a
// body over the limit, an unknown route), as a JSON-RPC error body.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var he *httpError
	if errors.As(err, &he) {
		return renderRefusal(c, err)
	}
	code, msg := fiber.StatusInternalServerError, "internal error"
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code, msg = fe.Code, fe.Message
	}
	rpcCode := int64(wire.CodeInvalidRequest)
	switch code {
	case fiber.StatusRequestEntityTooLarge:
		msg = fmt.Sprintf("request body too large: the limit is %d bytes (sseProxy.maxBodyBytes)", s.app.Config().BodyLimit)
		s.cors.apply(c) // fasthttp rejected the request before any middleware ran
		s.metrics.countRejected(c, code)
	case fiber.StatusNotFound:
		msg = "not found: " + c.Method() + " " + c.Path()
	case fiber.StatusMethodNotAllowed:
		msg = "method not allowed: " + c.Method() + " " + c.Path()
	default:
		if code >= 500 {
			rpcCode = wire.CodeInternalError
			s.logger.Error("proxy: request failed", "method", c.Method(), "path", c.Path(), "err", err)
		}
	}
	return sendJSON(c, code, wire.ErrorResponse(nil, &wire.Error{Code: rpcCode, Message: msg}))
}

// Start listens on the configured address (ctx bounds only that) and
// serves in the background; it returns once the proxy accepts connections.
// Stop it with Shutdown.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.shutdown:
		return errors.New("proxy: Start after Shutdown")
	case s.started:
		return errors.New("proxy: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		return fmt.Errorf("proxy: listen on %s: %w", s.listen, err)
	}
	g, err := newHostGuard(s.listen, ln.Addr().(*net.TCPAddr).Port, s.cfg.AllowedHosts, s.cors)
	if err != nil {
		ln.Close()
		return err
	}
	s.guard, s.ln, s.started = g, ln, true
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.app.Listener(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			s.logger.Error("proxy: serving stopped", "err", err)
		}
	}()
	s.logger.Info("proxy: listening", "addr", ln.Addr().String(), "servers", s.allowed, "auth", s.auth != nil)
	return nil
}

// Addr returns the address the proxy listens on ("127.0.0.1:3000"), or ""
// before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// BaseURL returns the proxy's base URL, "http://127.0.0.1:3000", or ""
// before Start. An unspecified listen address (0.0.0.0, ::) is shown as
// loopback.
func (s *Server) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	a := s.ln.Addr().(*net.TCPAddr)
	host, _, _ := net.SplitHostPort(s.listen)
	switch {
	case a.IP.IsUnspecified() && a.IP.To4() != nil:
		host = "127.0.0.1"
	case a.IP.IsUnspecified():
		host = "::1"
	case net.ParseIP(host) == nil && host != "":
		// a host name: keep it, as clients would use it
	default:
		host = a.IP.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// URLs returns the URLs to print: the aggregate Streamable HTTP (/mcp) and
// SSE (/sse) endpoints, then each exposed server's /servers/NAME/mcp
// (disabled servers, which never run, are left out).
func (s *Server) URLs() []string {
	base := s.BaseURL()
	if base == "" {
		return nil
	}
	out := []string{base + "/mcp", base + "/sse"}
	servers := s.r.Config().Servers
	for _, name := range s.allowed {
		if sc := servers[name]; sc != nil && sc.Disabled {
			continue
		}
		out = append(out, base+"/servers/"+name+"/mcp")
	}
	return out
}

// Gateway returns the proxy's gateway.
func (s *Server) Gateway() *gateway.Gateway { return s.gw }

// Shutdown stops the proxy: it closes every session (their streams end and
// requests in flight are cancelled), the gateway, then the HTTP server,
// waiting for connections to finish within ctx. The servers keep running:
// stop them with the Runner. Calling it again does nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return nil
	}
	s.shutdown = true
	ln, served := s.ln, s.served
	s.mu.Unlock()

	s.reference.Close()
	s.aggregate.Close()
	for _, t := range s.servers {
		t.mcp.Close()
		t.sse.Close()
	}
	s.gw.Close()
	s.stopEvents()
	if ln == nil {
		return nil
	}
	err := s.app.ShutdownWithContext(ctx)
	ln.Close() // in case Serve had not registered it yet
	select {
	case <-served:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}

// StartAllWithProxy is the reference's start_all_with_proxy: it starts
// every enabled server, then the proxy when the config has an sseProxy
// section or opts.Listen is set. The proxy is built before the servers
// start (see New) and starts even when some servers fail, since it serves
// them once they run; their failures are returned along with the Server.
// Without a proxy to start it returns a nil Server and the StartAll error.
// The caller shuts the proxy down, then stops the servers.
func StartAllWithProxy(ctx context.Context, r *engine.Runner, opts *Options) (*Server, error) {
	if !IsConfigured(r) && (opts == nil || opts.Listen == "") {
		if r == nil {
			return nil, errors.New("proxy: nil runner")
		}
		return nil, r.StartAll(ctx)
	}
	s, err := New(r, opts)
	if err != nil {
		return nil, err
	}
	startErr := r.StartAll(ctx)
	if err := s.Start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = s.Shutdown(sctx)
		return nil, errors.Join(startErr, err)
	}
	return s, startErr
}

// Route kinds, for metrics and the query-token rule.
const (
	routeOther          = "other"
	routeSSE            = "/sse"
	routeSSEMessages    = "/sse/messages"
	routeMCP            = "/mcp"
	routeServerMCP      = "/servers/:name/mcp"
	routeServerSSE      = "/servers/:name/sse"
	routeServerMessages = "/servers/:name/messages"
	routeHealthz        = "/healthz"
	routeReadyz         = "/readyz"
	routeMetrics        = "/metrics"
	routeAPIServers     = "/api/servers"
	routeAuthToken      = "/auth/token"
)

// fixedRoutes are the routes without parameters.
var fixedRoutes = []string{routeSSE, routeSSEMessages, routeMCP, routeHealthz, routeReadyz, routeMetrics, routeAPIServers, routeAuthToken}

// classifyPath maps a request path to its route and, for the per-server
// routes, the server name as written (one trailing slash is ignored, as
// fiber's routing does). route is always a constant string, never a part of
// path, which may be fasthttp's reused buffer; server is a part of path.
func classifyPath(path string) (route, server string) {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	for _, r := range fixedRoutes {
		if path == r {
			return r, "" // the constant: path may be fasthttp's buffer
		}
	}
	rest, ok := strings.CutPrefix(path, "/servers/")
	if !ok {
		return routeOther, ""
	}
	name, tail, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		return routeOther, ""
	}
	switch tail {
	case "mcp":
		return routeServerMCP, name
	case "sse":
		return routeServerSSE, name
	case "messages":
		return routeServerMessages, name
	}
	return routeOther, ""
}
