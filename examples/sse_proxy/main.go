// Command sse_proxy is the reference's sse_proxy example: it starts the
// servers of examples/sse_config.json and the HTTP proxy, prints the URLs,
// and serves until Ctrl-C. The demo server is `mcpscript demo-server`, so
// mcpscript must be on PATH (go install ./cmd/mcpscript).
//
//	go run ./examples/sse_proxy [-config examples/sse_config.json] [-listen 127.0.0.1:3000] [-for 10s]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/proxy"
)

func main() {
	configPath := flag.String("config", "examples/sse_config.json", "config file")
	listen := flag.String("listen", "", "address to listen on (default: the config's sseProxy)")
	serveFor := flag.Duration("for", 0, "stop after this long (default: until Ctrl-C)")
	flag.Parse()
	if err := run(*configPath, *listen, *serveFor); err != nil {
		log.Fatal(err)
	}
}

func run(configPath, listen string, serveFor time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if serveFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, serveFor)
		defer cancel()
	}

	runner, err := engine.FromConfigFile(configPath)
	if err != nil {
		return err
	}
	defer runner.StopAll(context.Background())
	if !proxy.IsConfigured(runner) && listen == "" {
		return fmt.Errorf("%s has no sseProxy section", configPath)
	}

	// Start all servers and the proxy (the reference's start_all_with_proxy).
	srv, err := proxy.StartAllWithProxy(ctx, runner, &proxy.Options{Listen: listen})
	if srv == nil {
		return err
	}
	if err != nil {
		log.Printf("some servers did not start: %v", err)
	}
	fmt.Println("SSE proxy started; endpoints:")
	for _, u := range srv.URLs() {
		fmt.Println(" ", u)
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
