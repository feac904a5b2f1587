package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/mcpscript/mcpscript/audit"
	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/proxy"
)

// proxyShutdownGrace bounds how long serve waits for HTTP connections to
// finish once the sessions are closed (after the drain timeout).
const proxyShutdownGrace = 10 * time.Second

// serveCommand is `mcpscript serve`: every server over HTTP until a signal.
func (a *app) serveCommand() *cobra.Command {
	var listen string
	var watch bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Start every server and serve them over HTTP (MCP Streamable HTTP and SSE)",
		Long: `Starts every enabled server and the HTTP proxy, configured by "sseProxy"
(default 127.0.0.1:3000; --listen overrides the address), and prints its URLs:

  /mcp                  all servers, MCP Streamable HTTP (tool and prompt names prefixed)
  /sse                  all servers, legacy HTTP+SSE, with the reference's extras
  /servers/NAME/mcp     one server, MCP Streamable HTTP
  /servers/NAME/sse     one server, legacy HTTP+SSE
  /auth/token           trade a bearer token for a 60-second ?access_token= (queryTokens)
  /console/             the web console (sseProxy.console; on by default on loopback)
  /healthz /readyz /metrics /api/servers, and the console's /api (docs/api.md)

With "audit" in the config, every request is recorded in its file; serve
reopens the file on SIGHUP, for log rotation. Tracing is configured by the
standard OTEL_* variables (e.g. OTEL_EXPORTER_OTLP_ENDPOINT).

With "authenticate", serve refuses to start with a bearer token that is
empty, shorter than 16 bytes or a placeholder such as your-secure-token-here,
and names the variable to set (export MCP_PROXY_TOKEN=$(openssl rand -hex 32)).

A server that fails to start is logged and served once it runs. On SIGINT or
SIGTERM serve stops taking new sessions and requests (503), lets the requests
in flight finish within sseProxy.drainTimeout (10s), answers those still
running with an error saying the proxy is shutting down, closes the sessions,
stops the servers and exits 0. A second signal stops at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), listen, watch)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "",
		`address to listen on, HOST:PORT (default: sseProxy's address and port, else 127.0.0.1:3000; port 0 picks a free one)`)
	cmd.Flags().BoolVar(&watch, "watch", true,
		"reload when the config file or a script it names changes (SIGHUP and POST /api/reload always do)")
	return cmd
}

// serve runs the proxy until ctx ends.
func (a *app) serve(ctx context.Context, listen string, watch bool) error {
	a.obs.measure = true // for the console's Hooks page
	r, err := a.newRunner(ctx)
	if err != nil {
		return err
	}
	// A token anyone could guess guards nothing: refuse before starting.
	if err := r.Config().CheckSecrets(); err != nil {
		return err
	}
	// The console shows the traffic live: from the config's trail, else
	// from one kept in memory only (when the console is on).
	trail := a.obs.trail
	if trail == nil {
		trail = audit.New(nil, audit.Options{Logger: a.logger})
		defer trail.Close() // after the servers stopped (defers run in reverse)
	}
	rl := newReloader(a, r)
	// SIGHUP reopens the audit trail's file (log rotation) and reloads.
	defer onHangup(func() {
		if trail == a.obs.trail && trail != nil {
			a.reopenTrail(trail)
		}
		ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
		defer cancel()
		_, _ = rl.reload(ctx, "SIGHUP")
	})()
	opts := &proxy.Options{Listen: listen, Logger: a.logger,
		Audit: trail, HookStats: a.hookStats, TracerProvider: a.obs.provider,
		Collectors: []prometheus.Collector{limitsCollector{a}, rl.count},
		Reload:     func(ctx context.Context) (engine.Changes, error) { return rl.reload(ctx, "POST /api/reload") }}
	srv, err := proxy.New(r, opts)
	if err != nil {
		return usageError{err}
	}
	if trail != a.obs.trail && srv.ConsoleOn() {
		r.Observe(trail.Observer())
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), stopGrace)
		defer cancel()
		if err := r.StopAll(stopCtx); err != nil {
			a.logger.Warn("stopping servers", "err", err)
		}
	}()
	defer func() { // before the servers stop: sessions first
		shCtx, cancel := context.WithTimeout(context.Background(), srv.DrainTimeout()+proxyShutdownGrace)
		defer cancel()
		// The first signal ended ctx and starts a graceful stop; a second
		// one forces it: the requests still in flight get their error now.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		go func() {
			select {
			case <-sig:
				fmt.Fprintln(a.stderr, "mcpscript: forcing the stop")
				cancel()
			case <-shCtx.Done():
			}
		}()
		if err := srv.Shutdown(shCtx); err != nil && shCtx.Err() == nil {
			a.logger.Warn("stopping the proxy", "err", err)
		}
	}()
	if err := r.StartAll(ctx); err != nil {
		a.logger.Error("some servers did not start; the proxy serves them once they run", "err", startFailure{err})
	}
	if ctx.Err() != nil {
		return nil // interrupted while starting
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}

	if watch {
		if err := rl.watch(ctx); err != nil {
			a.logger.Warn("the config is not watched; reload with SIGHUP or POST /api/reload", "err", err)
		}
	}
	a.printBanner(r.Config(), srv.BaseURL(), srv.URLs(), srv.ConsoleOn())
	<-ctx.Done()
	fmt.Fprintf(a.stderr, "mcpscript: shutting down (requests in flight get %s to finish; press Ctrl-C again to stop at once)\n", srv.DrainTimeout())
	return nil
}

// printBanner prints where the proxy serves what: every route kind, each
// server's two endpoints, and how to authenticate.
func (a *app) printBanner(cfg *config.Config, base string, urls []string, console bool) {
	var servers []string
	for _, u := range urls {
		if name, ok := strings.CutPrefix(u, base+"/servers/"); ok {
			servers = append(servers, strings.TrimSuffix(name, "/mcp"))
		}
	}
	auth := ""
	if p := cfg.Proxy; p != nil && p.Authenticate != nil && p.Authenticate.Bearer != nil {
		secret := "<token>"
		if b := p.Authenticate.Bearer; b.Token != "" && len(b.Tokens) == 0 {
			if vars := cfg.Vars("sseProxy.authenticate.bearer.token"); len(vars) > 0 {
				secret = "$" + vars[0]
			}
		}
		auth = "; send Authorization: Bearer " + secret
	}
	if p := cfg.Proxy; p != nil && p.Authenticate != nil && p.Authenticate.OAuth != nil {
		if auth == "" {
			auth = "; send Authorization: Bearer <access token from " + p.Authenticate.OAuth.Issuer + ">"
		} else {
			auth += " or an access token from " + p.Authenticate.OAuth.Issuer
		}
	}
	fmt.Fprintf(a.stdout, "mcpscript: serving %s on %s%s\n", plural(len(servers), "server"), base, auth)
	t := a.newTable()
	t.keep = true
	t.row("  "+base+"/mcp", "every server, MCP Streamable HTTP (tool and prompt names prefixed)")
	t.row("  "+base+"/sse", "every server, legacy HTTP+SSE")
	for _, name := range servers {
		t.row("  "+base+"/servers/"+name+"/mcp", name+", MCP Streamable HTTP")
		t.row("  "+base+"/servers/"+name+"/sse", name+", legacy HTTP+SSE")
	}
	if p := cfg.Proxy; p != nil && p.Authenticate != nil && p.Authenticate.QueryTokens {
		t.row("  "+base+"/auth/token", "POST: trade a bearer token for a 60-second ?access_token=")
	}
	if p := cfg.Proxy; p != nil && p.Authenticate != nil && p.Authenticate.OAuth != nil {
		t.row("  "+base+"/.well-known/oauth-protected-resource", "OAuth protected resource metadata (also under each endpoint's path)")
	}
	if console {
		t.row("  "+base+"/console/", "the web console: servers, tools, live traffic, hooks")
	}
	t.row("  " + base + "/healthz /readyz /metrics /api/servers: health, readiness, Prometheus metrics, server states")
	t.flush()
}
