// Package policy builds what a config's "redis", "state" and "limits"
// sections describe: one Redis client, shared by the state store and the
// limiter; the state store that hooks keep values in; and the rate limits
// and quotas applied to every request as an engine.Middleware, with no
// script.
//
// The middleware refuses a request over a limit with the JSON-RPC error
// wire.CodeRateLimited (-32005) whose data is {"retryAfter": seconds,
// "limit": rule}; the proxy answers such an error, when it goes out as a
// plain JSON body, with HTTP 429 and Retry-After. When the counters cannot
// be reached (Redis down, the memory limiter full), the request is refused
// with an internal error saying so, unless limits.onError is "open".
// Refusals are counted in a Prometheus counter (Collector).
package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/limits"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/state"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Key prefixes under redis.prefix, so that state and counters never meet.
const (
	statePrefix  = "state:"
	limitsPrefix = "limits:"
)

// Policy holds the backends of a config. The zero value is not usable;
// New builds one, Close releases it.
type Policy struct {
	client  *redis.Client  // nil without "redis"
	store   state.Store    // nil without "state"
	limiter limits.Limiter // the counters: limits.store's, else Redis when configured, else memory
	limits  *limits.Policy // nil without "limits"
	onError string         // state.onError
	where   string         // where the counters live, for messages

	refusals *prometheus.CounterVec
}

// New builds the backends of cfg's "redis", "state" and "limits" sections
// (already validated by config.Parse). Nothing is contacted: an
// unreachable Redis shows as refused requests (or, with onError "open",
// warnings), never as a failure to start.
func New(cfg *config.Config, logger *slog.Logger) (*Policy, error) {
	if logger == nil {
		logger = slog.Default()
	}
	cfg = cfg.WithDefaults()
	p := &Policy{refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpscript_limit_refusals_total",
		Help: `Requests refused by a configured rate limit or quota (reason "limited"), or because the limits could not be checked (reason "unavailable").`,
	}, []string{"limit", "reason"})}
	if cfg.Redis != nil {
		quietRedis.Do(func() { redis.SetLogger(redisLogger{logger}) })
		c, err := state.NewRedisClient(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		p.client = c
	}
	if s := cfg.State; s != nil {
		p.onError = s.OnError
		if s.Store == config.StoreRedis {
			st, err := state.NewRedis(state.RedisOptions{Client: p.client, Prefix: cfg.Redis.Prefix + statePrefix, MaxValueSize: s.MaxValueSize})
			if err != nil {
				p.Close()
				return nil, err
			}
			p.store = st
		} else {
			p.store = state.NewMemory(state.MemoryOptions{MaxKeys: s.MaxKeys, MaxValueSize: s.MaxValueSize})
		}
	}
	// One limiter, for the configured rules and for hooks that count
	// (Limiter): where limits.store says, else Redis when there is one.
	store, maxKeys := config.StoreMemory, 0
	if cfg.Redis != nil {
		store = config.StoreRedis
	}
	if l := cfg.Limits; l != nil {
		store, maxKeys = l.Store, l.MaxKeys
	}
	if store == config.StoreRedis {
		r, err := limits.NewRedis(limits.RedisOptions{Client: p.client, Prefix: cfg.Redis.Prefix + limitsPrefix})
		if err != nil {
			p.Close()
			return nil, err
		}
		p.limiter, p.where = r, "Redis at "+redactedAddr(p.client)
	} else {
		p.limiter, p.where = limits.NewMemory(limits.MemoryOptions{MaxKeys: maxKeys}), "memory"
	}
	if l := cfg.Limits; l != nil {
		limiter := p.limiter
		rules := make([]limits.Rule, len(l.Rules))
		for i, r := range l.Rules {
			rules[i] = limits.Rule{Name: r.Name, Per: r.Per, Servers: r.Servers, Methods: r.Methods, Tools: r.Tools, Rate: r.Rate, Burst: r.Burst, Quota: r.Quota}
		}
		pol, err := limits.NewPolicy(limits.PolicyOptions{Rules: rules, Limiter: limiter, OnError: limits.OnError(l.OnError), Logger: logger})
		if err != nil {
			p.Close()
			return nil, err
		}
		p.limits = pol
	}
	return p, nil
}

// quietRedis makes go-redis log through slog once per process.
var quietRedis sync.Once

// redisLogger sends go-redis's own log lines (a failed dial, once per
// attempt) to the logger at debug: every failure they describe reaches the
// caller as an error already, and in serve's output they would repeat.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// redactedAddr is where c connects, without credentials.
func redactedAddr(c *redis.Client) string {
	return c.Options().Addr
}

// Store returns the state store, or nil when the config has no "state".
func (p *Policy) Store() state.Store { return p.store }

// Limiter returns the counters, for hooks that rate-limit by themselves:
// shared through Redis when the config has it, else in this process.
func (p *Policy) Limiter() limits.Limiter { return p.limiter }

// StateFailsOpen reports whether a hook's state operation that fails
// (Redis down) lets the request through (state.onError "open").
func (p *Policy) StateFailsOpen() bool { return p.onError == config.FailOpen }

// Collector returns the refusal counter, for a Prometheus registry.
func (p *Policy) Collector() prometheus.Collector { return p.refusals }

// Close closes the state store and the Redis client.
func (p *Policy) Close() error {
	var errs []error
	if p.store != nil {
		errs = append(errs, p.store.Close())
	}
	if p.client != nil {
		if err := p.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Middleware returns the limits as an engine.Middleware, or nil when the
// config has no "limits". Install it after hooks and filters (innermost),
// so that a request a hook refuses uses up no quota and a routed request
// counts against where it goes.
func (p *Policy) Middleware() engine.Middleware {
	if p.limits == nil {
		return nil
	}
	return func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			if err := p.check(ctx, req); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
	}
}

// check applies the limits to req and returns the error its caller gets.
func (p *Policy) check(ctx context.Context, req *engine.Request) error {
	c := req.Caller
	r := limits.Request{Token: c.Token, Subject: c.Subject, ClientID: c.ClientID, Claims: c.Claims, Server: req.Server, Method: req.Method}
	if req.Method == "tools/call" {
		if name, ok := rawjson.GetValid(req.Params, "name"); ok {
			r.Tool, _ = rawjson.Unquote(name)
		}
	}
	err := p.limits.Check(ctx, r)
	if err == nil {
		return nil
	}
	var le *limits.LimitedError
	if errors.As(err, &le) {
		p.refusals.WithLabelValues(le.Rule, "limited").Inc()
		return RateLimited(le)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	p.refusals.WithLabelValues("", "unavailable").Inc()
	return wire.Errorf(wire.CodeInternalError,
		"request refused: the rate limits could not be checked (%v; counters in %s); limits.onError is \"closed\"", err, p.where)
}

// RateLimited is the JSON-RPC error of a request a limit refused.
func RateLimited(le *limits.LimitedError) *wire.Error {
	return wire.Errorf(wire.CodeRateLimited, "%s", le.Error()).
		WithData(map[string]any{"retryAfter": limits.RetryAfterSeconds(le.RetryAfter), "limit": le.Rule})
}
