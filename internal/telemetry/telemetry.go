// Package telemetry sets up OpenTelemetry tracing from the standard OTEL_*
// environment variables, for the CLI: nothing is traced unless they ask
// for it, and the engine and proxy then get a TracerProvider.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/mcpscript/mcpscript/engine"
)

// ServiceName is the service.name of mcpscript's spans unless
// OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says
// otherwise.
const ServiceName = "mcpscript"

// ErrConfig marks a tracing setting mcpscript cannot honour.
var ErrConfig = errors.New("tracing configuration")

// FromEnv returns a TracerProvider configured by the standard variables,
// or nil when they ask for no tracing:
//
//   - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: none.
//   - OTEL_TRACES_EXPORTER=otlp, or unset while OTEL_EXPORTER_OTLP_ENDPOINT
//     or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set: OTLP over HTTP
//     (protobuf), configured by the OTEL_EXPORTER_OTLP_* variables
//     (endpoint, headers, timeout, compression, certificates).
//   - OTEL_TRACES_EXPORTER=console: spans as JSON on stderr (for a look).
//   - Otherwise none: nothing is exported unless configured.
//
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the service,
// OTEL_TRACES_SAMPLER(_ARG) choose the sampler and OTEL_BSP_* tune the
// batching, as the SDK reads them. Export errors are logged at warn. Shut
// the provider down before exiting, which sends the spans still batched.
func FromEnv(ctx context.Context, logger *slog.Logger) (*sdktrace.TracerProvider, error) {
	return fromEnv(ctx, os.Getenv, os.Stderr, logger)
}

func fromEnv(ctx context.Context, getenv func(string) string, stderr io.Writer, logger *slog.Logger) (*sdktrace.TracerProvider, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	exporters := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	if exporters == "" {
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return nil, nil
		}
		exporters = "otlp"
	}
	var opts []sdktrace.TracerProviderOption
	for _, name := range strings.Split(exporters, ",") {
		switch name = strings.TrimSpace(name); name {
		case "none":
			return nil, nil
		case "otlp":
			proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
			if proto == "" {
				proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
			}
			if proto != "" && proto != "http/protobuf" {
				return nil, fmt.Errorf("%w: OTEL_EXPORTER_OTLP_PROTOCOL %q: mcpscript exports OTLP over HTTP; set it to http/protobuf or leave it unset (and point the endpoint at the collector's HTTP port, usually 4318)", ErrConfig, proto)
			}
			exp, err := otlptracehttp.New(ctx)
			if err != nil {
				return nil, fmt.Errorf("%w: OTLP exporter: %w", ErrConfig, err)
			}
			opts = append(opts, sdktrace.WithBatcher(exp))
		case "console":
			exp, err := stdouttrace.New(stdouttrace.WithWriter(stderr))
			if err != nil {
				return nil, err
			}
			opts = append(opts, sdktrace.WithSyncer(exp))
		default:
			return nil, fmt.Errorf(`%w: OTEL_TRACES_EXPORTER %q: mcpscript knows "otlp", "console" and "none"`, ErrConfig, name)
		}
	}
	res, err := resource.Merge(
		resource.NewSchemaless(semconv.ServiceName(ServiceName), semconv.ServiceVersion(engine.Version)),
		resource.Environment(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		logger.Warn("tracing: reading OTEL_RESOURCE_ATTRIBUTES", "err", err)
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: exporting spans failed", "err", err)
	}))
	opts = append(opts, sdktrace.WithResource(res))
	return sdktrace.NewTracerProvider(opts...), nil
}
