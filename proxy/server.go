package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/gateway"
	"github.com/mcpscript/mcpscript/internal/oauthrs"
	"github.com/mcpscript/mcpscript/internal/suggest"
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
// that is not configured, outside sseProxy.allowedServers or outside the
// caller's token limit gets the same 404. Errors are JSON-RPC error objects
// without an id.

// Timeouts of the HTTP server. There is deliberately no write timeout: it
// would bound whole responses, and SSE streams last as long as sessions.
const (
	idleTimeout     = 2 * time.Minute
	readBufferSize  = 16 << 10 // request line and headers
	shutdownTimeout = 10 * time.Second
)

// readTimeout bounds the reading of a request, headers and body: a client
// that sends slowly holds its connection that long at most. A variable
// for the tests only.
var readTimeout = 30 * time.Second

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
	// Collectors are further Prometheus collectors served on /metrics,
	// such as the rate limits' refusal counter.
	Collectors []prometheus.Collector
	// Audit, when set, is the trail the console shows live (GET
	// /api/audit/stream); install its Observer on the Runner too.
	Audit *audit.Trail
	// HookStats, when set, reports the hooks and filters (GET /api/hooks).
	HookStats func() []engine.MiddlewareStats
	// Reload, when set, is what POST /api/reload runs (a caller whose
	// token may use every server only): re-read the config and scripts
	// and apply them. An error wrapping engine.ErrConfigInvalid means the
	// new config was refused and nothing changed.
	Reload func(context.Context) (engine.Changes, error)
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
	// warnings rate-limits the warnings about refused browsers (warnings.go).
	warnings *warnLimiter

	console   bool                            // the console and its API are served (console.go, api.go)
	trail     *audit.Trail                    // nil: no audit stream
	hookStats func() []engine.MiddlewareStats // nil: no hook statistics
	reload    func(context.Context) (engine.Changes, error)
	tracer    trace.Tracer // nil: HTTP requests are not traced

	set       atomic.Pointer[serverSet] // the servers served (servers.go)
	topts     func(transport, server string) transportOptions
	reference *legacySSE     // GET /sse, POST /sse/messages
	aggregate *streamable    // /mcp
	limits    *sessionLimits // every transport's sessions
	calls     *callTracker   // every transport's requests in flight

	stopEvents  func()
	stopReloads func()

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

	auth, err := newAuthenticator(cfg.Authenticate, r.Config().Resolve, o.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{
		r: r, cfg: cfg, logger: o.Logger, listen: listen,
		auth: auth, cors: newCORSPolicy(cfg.CORS), warnings: newWarnLimiter(o.Logger),
	}
	host, _, _ := net.SplitHostPort(listen)
	s.console, s.trail, s.hookStats, s.reload = cfg.ConsoleOn(host), o.Audit, o.HookStats, o.Reload
	if o.TracerProvider != nil {
		s.tracer = o.TracerProvider.Tracer(tracerName, trace.WithInstrumentationVersion(engine.Version))
	}
	s.gw = gateway.New(r, &gateway.Options{AllowedServers: cfg.AllowedServers, Logger: o.Logger, ListWait: cfg.ListWait.Duration})
	s.auth.warnRisks(o.Logger)
	sessions := cfg.Sessions
	if sessions == nil {
		sessions = &config.Sessions{}
	}
	s.limits = newSessionLimits(cmp.Or(sessions.MaxPerCaller, config.DefaultMaxSessionsPerCaller), cmp.Or(sessions.MaxTotal, config.DefaultMaxSessionsTotal))
	s.calls = newCallTracker()
	s.metrics = newMetrics(r, map[string]string{})
	for _, c := range o.Collectors {
		if err := s.metrics.reg.Register(c); err != nil {
			auth.close()
			s.gw.Close()
			return nil, fmt.Errorf("proxy: Options.Collectors: %w", err)
		}
	}

	// One subscription feeds the restart metrics and the reference's
	// server-status events (for the servers the proxy exposes).
	events, stop := r.Subscribe(256)
	s.stopEvents = stop
	status := make(chan engine.Event, 256)
	go func() {
		defer close(status)
		for ev := range events {
			s.metrics.onEvent(ev)
			if slices.Contains(s.servers().allowed, ev.Server) {
				select {
				case status <- ev:
				default:
					s.logger.Debug("proxy: server-status event dropped: its reader is behind", "server", ev.Server)
				}
			}
		}
	}()

	s.topts = func(transport, server string) transportOptions {
		return transportOptions{Logger: o.Logger, OnSession: s.metrics.sessionHook(transport, server),
			OnCall: s.metrics.callHook(transport, server), IdleTimeout: sessions.IdleTimeout.Duration,
			limits: s.limits, calls: s.calls}
	}
	s.reference = newLegacySSE(s.gw, "", "/sse/messages", s.topts(transportReferenceSSE, aggregateLabel)).withReference(status)
	s.aggregate = newStreamable(s.gw, "", s.topts(transportStreamable, aggregateLabel))
	s.set.Store(s.buildServerSet(nil))
	s.metrics.servers.Store(&s.servers().configured)
	s.stopReloads = r.OnReconfigure(s.reconfigured)

	s.app = fiber.New(fiber.Config{
		AppName:               "mcpscript",
		BodyLimit:             int(min(maxBody, int64(^uint32(0)>>1))),
		ReadTimeout:           readTimeout,
		IdleTimeout:           idleTimeout,
		ReadBufferSize:        readBufferSize,
		ReduceMemoryUsage:     true,
		DisableStartupMessage: true,
		CaseSensitive:         true,
		ErrorHandler:          s.errorHandler,
	})
	// A stopping proxy answers no more requests on kept-alive connections
	// either: each answer tells the client to close.
	s.app.Server().CloseOnShutdown = true
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
	app.Use(s.rateLimitStatus) // 429 for a rate-limited JSON answer (ratelimit.go)

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.metricsHandler)
	app.Get("/api/servers", s.apiServers)
	if s.console {
		s.apiRoutes(app)
	}
	if s.reload != nil {
		app.Post("/api/reload", s.apiReload)
	}
	if s.auth != nil && s.auth.queryTokens {
		app.Post("/auth/token", s.issueToken)
	}
	if s.auth != nil && s.auth.oauth != nil {
		app.Get(oauthrs.WellKnownPath, s.metadata)
		app.Get(oauthrs.WellKnownPath+"/*", s.metadata)
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
// 404 for a name that is not configured, outside allowedServers or outside
// the caller's token limit, alike, so that the answer reveals no server
// the caller may not use; the suggestions and the list of servers come
// from those it may.
func (s *Server) serverFor(c *fiber.Ctx) (*serverTransports, error) {
	id := identityOf(c)
	usable := s.usable(id)
	set := s.servers()
	name, ok := set.configured[c.Params("name")]
	if !ok || !slices.Contains(usable, name) {
		msg := fmt.Sprintf("server %q is not available", c.Params("name"))
		if near := suggest.Closest(c.Params("name"), usable); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		} else if len(usable) > 0 {
			msg += " (servers: " + strings.Join(usable, ", ") + ")"
		}
		return nil, refuse(fiber.StatusNotFound, wire.CodeInvalidRequest, "%s", msg)
	}
	return set.transports[name], nil
}

// usable returns the servers the proxy exposes that id may use, sorted.
func (s *Server) usable(id engine.Identity) []string {
	allowed := s.servers().allowed
	if id.Servers == nil {
		return allowed
	}
	var out []string
	for _, name := range allowed {
		if slices.Contains(id.Servers, name) {
			out = append(out, name)
		}
	}
	return out
}

// errorHandler is the one place that renders errors as responses: a
// handler's refusal (httpError), and fiber's and fasthttp's own (such as a
// body over the limit, an unknown route), as a JSON-RPC error body.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var he *httpError
	if errors.As(err, &he) {
		if he.status == fiber.StatusNotFound && he.err.Code == wire.CodeSessionNotFound && s.calls.isDraining() {
			// The stopping proxy closed the session: say so, rather than
			// that it expired, which would send the client to start a
			// new one on a proxy that is going away.
			err = errShuttingDown
		}
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
	s.logger.Info("proxy: listening", "addr", ln.Addr().String(), "servers", s.servers().allowed, "auth", s.auth != nil)
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
	for _, name := range s.servers().allowed {
		if sc := servers[name]; sc != nil && sc.Disabled {
			continue
		}
		out = append(out, base+"/servers/"+name+"/mcp")
	}
	return out
}

// DrainTimeout is how long Shutdown lets requests in flight finish
// (sseProxy.drainTimeout).
func (s *Server) DrainTimeout() time.Duration {
	return cmp.Or(s.cfg.DrainTimeout.Duration, config.DefaultDrainTimeout)
}

// Gateway returns the proxy's gateway.
func (s *Server) Gateway() *gateway.Gateway { return s.gw }

// Shutdown stops the proxy gracefully: new sessions are refused (503) and
// new requests answered with an error, while the requests in flight may
// finish within sseProxy.drainTimeout (or until ctx ends, whichever is
// first); those still running then get a JSON-RPC error saying the proxy
// is shutting down, on their own stream or as their JSON answer. Then
// every session is closed (their streams end), the gateway, and the HTTP
// server, waiting for connections to finish within ctx. A ctx that is
// already done skips the drain: that is how a second signal forces the
// stop. The servers keep running: stop them with the Runner. Calling it
// again does nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return nil
	}
	s.shutdown = true
	ln, served := s.ln, s.served
	s.mu.Unlock()

	s.drain(ctx)
	s.reference.Close()
	s.aggregate.Close()
	s.stopReloads()
	for _, t := range s.servers().transports {
		t.mcp.Close()
		t.sse.Close()
	}
	s.gw.Close()
	s.stopEvents()
	s.auth.close()
	if ln == nil {
		return nil
	}
	// The drain may have used up ctx; the HTTP server still gets a moment
	// to close its connections, so that nothing is served after Shutdown.
	sctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(context.Background(), answerWait)
		defer cancel()
	}
	err := s.app.ShutdownWithContext(sctx)
	ln.Close() // in case Serve had not registered it yet
	select {
	case <-served:
	case <-sctx.Done():
		if err == nil {
			err = sctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}

// answerWait bounds how long a stopping proxy waits for the answers of
// cancelled requests to be written to their clients.
const answerWait = 2 * time.Second

// drain lets the requests in flight finish within the drain timeout (and
// ctx), then cancels the rest with errProxyStopping and gives their
// answers a moment to reach the clients.
func (s *Server) drain(ctx context.Context) {
	s.reference.sessions.drain()
	s.aggregate.sessions.drain()
	for _, t := range s.servers().transports {
		t.mcp.sessions.drain()
		t.sse.sessions.drain()
	}
	timeout := s.DrainTimeout()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if n := s.calls.inFlight(); n > 0 {
		s.logger.Info("proxy: shutting down; letting the requests in flight finish", "requests", n, "drainTimeout", timeout)
	}
	if !s.calls.drain(dctx) {
		n := s.calls.inFlight()
		s.logger.Warn("proxy: shutting down; answering the requests still running with an error", "requests", n, "after", time.Since(start).Round(time.Millisecond))
		if ctx.Err() != nil { // forced: no more waiting
			s.calls.cancelAll(0)
			return
		}
		s.calls.cancelAll(answerWait)
	}
	// The answers are queued on their streams; give the streams a moment
	// to write them before the sessions close.
	wctx, wcancel := context.WithTimeout(context.Background(), answerWait)
	defer wcancel()
	for wctx.Err() == nil && !s.answersWritten() {
		select {
		case <-wctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// answersWritten reports whether every request stream with a client
// attached has written its last event, and every legacy SSE stream all of
// its events.
func (s *Server) answersWritten() bool {
	sm := []*streamable{s.aggregate}
	sse := []*legacySSE{s.reference}
	for _, t := range s.servers().transports {
		sm = append(sm, t.mcp)
		sse = append(sse, t.sse)
	}
	for _, t := range sm {
		for _, ss := range t.sessions.all(nil) {
			if !ss.answersWritten() {
				return false
			}
		}
	}
	for _, l := range sse {
		for _, ss := range l.sessions.all(nil) {
			if !ss.st.flushed() {
				return false
			}
		}
	}
	return true
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
