package proxy

import (
	"bytes"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Metrics, served in the Prometheus text format at GET /metrics (which
// needs a token when authentication is on; a token limited to some servers
// sees only their series and those of no server, see metricsHandler):
//
//	mcpscript_http_requests_total{route, server, method, code}
//	mcpscript_http_request_duration_seconds{route, server, method}   histogram
//	mcpscript_sessions{transport, server}                            open sessions
//	mcpscript_server_restarts_total{server}                          child restarts
//	mcpscript_server_running{server}                                 1 while the server runs
//	plus the Go runtime's and the process's standard metrics.
//
// Labels: route is the route pattern ("/servers/:name/mcp", "/sse", ...,
// "other" for unknown paths); server is the server of a per-server route,
// "*" for the aggregate routes, "" for the others, "unknown" for a name that
// is not configured; method is the JSON-RPC method of a POSTed message
// (methods MCP does not define count as "other", JSON-RPC responses as
// "response", bodies that are no JSON-RPC message as "invalid"), or "http:GET", "http:DELETE" and the like for requests that
// carry no message; code is the HTTP status; transport is
// "streamable-http", "sse" or "reference-sse".
//
// The duration is that of the HTTP exchange up to the handler's return:
// for a request answered with JSON, the whole call. Responses streamed as
// SSE (a Streamable HTTP POST whose client accepts text/event-stream, GET
// streams) are counted but not timed, since their handler returns when the
// stream starts; legacy SSE POSTs are timed up to their 202. The time each
// MCP request took, however its answer travels, is
// mcpscript_mcp_request_duration_seconds.

// metrics holds the proxy's collectors, in a registry of its own so that
// several proxies can live in one process.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	calls    *prometheus.HistogramVec
	sessions *prometheus.GaugeVec
	restarts *prometheus.CounterVec
	servers  atomic.Pointer[map[string]string] // configured names, canonical strings (a reload replaces them)

	mu        sync.Mutex
	restarts0 map[string]int // last Restarts seen per server
}

func newMetrics(r *engine.Runner, servers map[string]string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpscript_http_requests_total",
			Help: "HTTP requests to the proxy, by route, server, JSON-RPC method and status code.",
		}, []string{"route", "server", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcpscript_http_request_duration_seconds",
			Help:    "Duration of HTTP requests to the proxy not answered as an event stream, by route, server and JSON-RPC method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "server", "method"}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcpscript_mcp_request_duration_seconds",
			Help:    "Time the proxy took to answer an MCP request, whatever the transport carried the answer in, by transport, server and JSON-RPC method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"transport", "server", "method"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mcpscript_sessions",
			Help: "Open MCP sessions, by transport and server (\"*\" for the aggregate).",
		}, []string{"transport", "server"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpscript_server_restarts_total",
			Help: "Restarts of server processes seen by the proxy.",
		}, []string{"server"}),
		restarts0: map[string]int{},
	}
	m.servers.Store(&servers)
	running := &runningCollector{r: r, desc: prometheus.NewDesc("mcpscript_server_running",
		"1 when the server is running, else 0.", []string{"server"}, nil)}
	m.reg.MustRegister(m.requests, m.duration, m.calls, m.sessions, m.restarts, running,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, st := range r.Statuses() {
		m.restarts0[st.Name] = st.Restarts
		m.restarts.WithLabelValues(st.Name) // the series exists from the start
	}
	return m
}

// onEvent counts restarts from a runner event: the difference to the last
// count seen (the count starts over when a server is started again).
func (m *metrics) onEvent(ev engine.Event) {
	m.mu.Lock()
	last, seen := m.restarts0[ev.Server]
	m.restarts0[ev.Server] = ev.Restarts
	m.mu.Unlock()
	if seen && ev.Restarts > last {
		m.restarts.WithLabelValues(ev.Server).Add(float64(ev.Restarts - last))
	}
}

// callHook returns the OnCall callback of one transport.
func (m *metrics) callHook(transport, server string) func(string, time.Duration) {
	return func(method string, d time.Duration) {
		m.calls.WithLabelValues(transport, server, method).Observe(d.Seconds())
	}
}

// sessionHook returns the OnSession callback of one transport.
func (m *metrics) sessionHook(transport, server string) func(int) {
	g := m.sessions.WithLabelValues(transport, server)
	return func(delta int) { g.Add(float64(delta)) }
}

// labels returns the route and server labels of a request.
func (m *metrics) labels(path string) (route, server string) {
	route, name := classifyPath(path)
	switch route {
	case routeSSE, routeSSEMessages, routeMCP:
		return route, aggregateLabel
	case routeServerMCP, routeServerSSE, routeServerMessages:
		if canon, ok := (*m.servers.Load())[name]; ok {
			return route, canon
		}
		return route, "unknown"
	}
	return route, ""
}

// messageRoute reports whether POSTs to route carry a JSON-RPC message.
func messageRoute(route string) bool {
	switch route {
	case routeSSEMessages, routeMCP, routeServerMCP, routeServerMessages:
		return true
	}
	return false
}

// httpMethodLabel is the method label of a request without a message.
func httpMethodLabel(method string) string {
	switch method {
	case fiber.MethodGet:
		return "http:GET"
	case fiber.MethodPost:
		return "http:POST"
	case fiber.MethodDelete:
		return "http:DELETE"
	case fiber.MethodOptions:
		return "http:OPTIONS"
	case fiber.MethodHead:
		return "http:HEAD"
	}
	return "http:other"
}

// metricsMiddleware counts and times every request. Errors of later
// handlers are answered here, so that their status is counted.
func (s *Server) metricsMiddleware(c *fiber.Ctx) error {
	start := time.Now()
	route, server := s.metrics.labels(c.Path())
	if err := c.Next(); err != nil {
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	method := httpMethodLabel(c.Method())
	if c.Method() == fiber.MethodPost && messageRoute(route) {
		method = "invalid" // unless the transport parsed a message
		if l, ok := c.Locals(methodLabelKey).(string); ok {
			method = l
		}
	}
	code := c.Response().StatusCode()
	s.metrics.requests.WithLabelValues(route, server, method, strconv.Itoa(code)).Inc()
	d := time.Since(start)
	if !c.Response().IsBodyStream() {
		s.metrics.duration.WithLabelValues(route, server, method).Observe(d.Seconds())
	}
	if s.logger.Enabled(c.UserContext(), slog.LevelDebug) {
		s.logger.Debug("proxy: request", "method", c.Method(), "path", c.Path(), "status", code, "duration", d)
	}
	return nil
}

// countRejected counts a request fasthttp refused before any middleware
// ran (a body over the limit).
func (m *metrics) countRejected(c *fiber.Ctx, code int) {
	route, server := m.labels(c.Path())
	m.requests.WithLabelValues(route, server, httpMethodLabel(c.Method()), strconv.Itoa(code)).Inc()
}

// metricsHandler is GET /metrics. A caller sees the series of the servers
// it may use (the proxy's allowedServers, within its token's limit) and
// those that name no server ("*", the aggregate routes, and ""): never a
// server it may not use, as /api/servers and every error message.
func (s *Server) metricsHandler(c *fiber.Ctx) error {
	families, err := s.metrics.reg.Gather()
	if err != nil {
		s.logger.Warn("proxy: gathering metrics", "err", err)
	}
	visible := map[string]bool{aggregateLabel: true, "": true}
	for _, name := range s.usable(identityOf(c)) {
		visible[name] = true
	}
	var buf bytes.Buffer
	for _, mf := range families {
		mf.Metric = slices.DeleteFunc(mf.Metric, func(m *dto.Metric) bool {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "server" {
					return !visible[lp.GetValue()]
				}
			}
			return false
		})
		if len(mf.Metric) == 0 {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			return err
		}
	}
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	return c.Send(buf.Bytes())
}

// runningCollector reports mcpscript_server_running from the runner's
// statuses at scrape time.
type runningCollector struct {
	r    *engine.Runner
	desc *prometheus.Desc
}

func (rc *runningCollector) Describe(ch chan<- *prometheus.Desc) { ch <- rc.desc }

func (rc *runningCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range rc.r.Statuses() {
		v := 0.0
		if st.State == engine.StateRunning {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(rc.desc, prometheus.GaugeValue, v, st.Name)
	}
}

// mcpMethods are the JSON-RPC methods MCP defines (2024-11-05 to
// 2026-07-28), the values the method label may take besides "other",
// "response", "invalid" and the http: ones.
var mcpMethods = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{
		"initialize", "ping",
		"tools/list", "tools/call",
		"prompts/list", "prompts/get",
		"resources/list", "resources/read", "resources/templates/list",
		"resources/subscribe", "resources/unsubscribe",
		"completion/complete", "logging/setLevel",
		"sampling/createMessage", "elicitation/create", "roots/list",
		"tasks/get", "tasks/list", "tasks/cancel", "tasks/result",
		"server/discover",
		"notifications/initialized", "notifications/cancelled", "notifications/progress",
		"notifications/roots/list_changed", "notifications/message",
		"notifications/tasks/status", "notifications/elicitation/complete",
	} {
		m[name] = name
	}
	return m
}()

// methodLabelKey is the fiber Locals key under which a transport stores the
// method label of the message it parsed (readMessage).
const methodLabelKey = "mcpscript.method"

// messageLabel is the method label of a parsed message: its method when
// MCP defines it, "other" for any other method, "response" for a response.
func messageLabel(m *wire.Message) string {
	if m.Kind == wire.KindResponse {
		return "response"
	}
	if name, ok := mcpMethods[m.Method]; ok {
		return name
	}
	return "other"
}
