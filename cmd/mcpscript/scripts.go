package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/policy"
	"github.com/mcpscript/mcpscript/scripting"
	"github.com/mcpscript/mcpscript/scripting/wasm"
)

// scriptSet is one version of what the config puts in a Runner's chain:
// its hooks, its filters and its limits, in that order. A reload builds
// the next set and swaps it in whole (Runner.ReplaceMiddleware).
type scriptSet struct {
	mw             []engine.Middleware
	meters         []*engine.Meter
	hooks, filters int
	pol            *sharedPolicy // never changes once the set is built
	closers        []func() error
	gen            *generation // counts the requests still using the set
}

// buildScripts loads cfg's hooks and filters and builds its limits. keep,
// when its limits, state and Redis are configured as cfg's, lends its
// policy, so that a reload does not reset counters. A script or filter
// that cannot load is a config problem: the error wraps
// engine.ErrConfigInvalid.
func (a *app) buildScripts(ctx context.Context, cfg *config.Config, keep *scriptSet) (_ *scriptSet, err error) {
	set := &scriptSet{gen: newGeneration()}
	defer func() {
		if err != nil {
			_ = set.close()
		}
	}()
	// The policy (limits, the state store) is built first: hooks keep
	// their store and limits.take in it. It is released last, after the
	// hooks and filters that use it, and closed when no set holds it: a
	// retired set's calls may still be using a policy the next set shares.
	if keep != nil && keep.pol != nil && samePolicy(keep.pol.cfg, cfg) {
		set.pol = keep.pol.share()
	} else {
		p, err := policy.New(cfg, a.logger)
		if err != nil {
			return nil, scriptError(err)
		}
		set.pol = newSharedPolicy(p, cfg)
	}
	pol := set.pol.Policy
	hmw, closeHooks, err := scripting.Hooks(cfg, a.logger, scripting.Backends{
		Store: pol.Store(), Limiter: pol.Limiter(), FailOpen: pol.StateFailsOpen(),
	})
	if err != nil {
		set.closers = append(set.closers, set.pol.release)
		return nil, scriptError(err)
	}
	set.closers = append(set.closers, closeHooks)
	fmw, closeFilters, err := wasm.Filters(ctx, cfg, a.logger)
	set.closers = append(set.closers, closeFilters, set.pol.release)
	if err != nil {
		return nil, scriptError(err)
	}
	set.meters = a.measured(cfg, hmw, fmw)
	set.hooks, set.filters = len(hmw), len(fmw)
	// The config's rate limits come last: a request a hook refuses uses no
	// quota, and a routed one counts where it goes.
	set.mw = append(append(hmw, fmw...), pol.Middleware())
	if slices.ContainsFunc(set.mw, func(m engine.Middleware) bool { return m != nil }) {
		set.mw = append([]engine.Middleware{set.gen.middleware}, set.mw...)
	}
	return set, nil
}

func scriptError(err error) error { return usageError{refused(err)} }

// samePolicy reports whether cfg configures limits, state and Redis as
// the config a policy was built from.
func samePolicy(old, cfg *config.Config) bool {
	return old != nil && reflect.DeepEqual(old.Limits, cfg.Limits) &&
		reflect.DeepEqual(old.State, cfg.State) && reflect.DeepEqual(old.Redis, cfg.Redis)
}

// sharedPolicy is a policy and the config it was built from, shared by
// the script sets whose limits, state and Redis are configured alike, so
// that a reload keeps its counters. The last set to release it closes it.
type sharedPolicy struct {
	*policy.Policy
	cfg  *config.Config
	refs atomic.Int32
}

func newSharedPolicy(p *policy.Policy, cfg *config.Config) *sharedPolicy {
	sp := &sharedPolicy{Policy: p, cfg: cfg}
	sp.refs.Store(1)
	return sp
}

// share takes one more reference.
func (sp *sharedPolicy) share() *sharedPolicy {
	sp.refs.Add(1)
	return sp
}

// release drops a reference and closes the policy with the last one.
func (sp *sharedPolicy) release() error {
	if sp.refs.Add(-1) == 0 {
		return sp.Close()
	}
	return nil
}

// close releases the set's runtimes and instances.
func (s *scriptSet) close() error {
	var errs []error
	for _, c := range s.closers {
		if c != nil {
			errs = append(errs, c())
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// retire closes the set once the requests that started with it are done,
// so that a call in flight finishes on the hooks it began with.
func (s *scriptSet) retire(logger *slog.Logger) {
	go func() {
		<-s.gen.retire()
		time.Sleep(retireGrace)
		if err := s.close(); err != nil {
			logger.Warn("releasing the previous scripts", "err", err)
		}
	}()
}

// retireGrace is how long a retired set stays open after its last request
// left: a request may have taken the chain just before the swap and not
// yet entered it.
const retireGrace = time.Second

// generation counts the requests in a script set's chain.
type generation struct {
	mu      sync.Mutex
	n       int
	retired bool
	drained chan struct{} // closed once retired with no request inside
}

func newGeneration() *generation { return &generation{drained: make(chan struct{})} }

func (g *generation) middleware(next engine.Handler) engine.Handler {
	return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
		g.mu.Lock()
		g.n++
		g.mu.Unlock()
		defer g.leave()
		return next(ctx, req)
	}
}

func (g *generation) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.retired && g.n == 0 {
		g.drain()
	}
}

// retire marks the set replaced; the channel closes when no request is
// inside it any more.
func (g *generation) retire() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.retired = true
	if g.n == 0 {
		g.drain()
	}
	return g.drained
}

// drain closes drained once; the caller holds g.mu.
func (g *generation) drain() {
	select {
	case <-g.drained:
	default:
		close(g.drained)
	}
}
