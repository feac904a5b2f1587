package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// Use appends middleware to the chain every request of the runner's clients
// passes (after any already there: requests meet them in the order added,
// results in reverse). It is safe to call at any time; requests already in
// flight keep the chain they started with.
func (r *Runner) Use(mw ...Middleware) {
	r.mwMu.Lock()
	defer r.mwMu.Unlock()
	stack := slices.Clone(r.middleware())
	for _, m := range mw {
		if m != nil {
			stack = append(stack, m)
		}
	}
	if len(stack) == 0 {
		return
	}
	r.setStack(stack)
}

// installCuration puts the tool curation middleware outermost, so that
// every other middleware (the config's hooks and filters) sees the
// servers' own tool names.
func (r *Runner) installCuration() {
	r.mwMu.Lock()
	defer r.mwMu.Unlock()
	if r.curated.Swap(true) {
		return
	}
	r.setStack(append([]Middleware{r.curate}, r.middleware()...))
}

// ReplaceMiddleware replaces the middleware added with Use (or
// Options.Middleware) by mw, at once: requests already in flight finish
// with the chain they started with, later ones meet mw. The engine's own
// tool curation stays outermost. A hot reload swaps hooks and filters so.
func (r *Runner) ReplaceMiddleware(mw ...Middleware) {
	r.mwMu.Lock()
	defer r.mwMu.Unlock()
	var stack []Middleware
	if r.curated.Load() {
		stack = append(stack, r.curate)
	}
	for _, m := range mw {
		if m != nil {
			stack = append(stack, m)
		}
	}
	r.setStack(stack)
}

// setStack installs a middleware stack; the caller holds mwMu.
func (r *Runner) setStack(stack []Middleware) {
	if len(stack) == 0 {
		r.mw.Store(nil)
	} else {
		r.mw.Store(&stack)
	}
	r.rebuildLocked()
}

// Observe adds observers: middleware that watches every request from
// outside the chain, the first outermost and all of them before any
// middleware of Use, in Do and Through alike, so that they see each
// request as its caller made it and each outcome as its caller gets it.
// Unlike middleware, observers do not make HasMiddleware true (the gateway
// keeps its fast paths), so an observer must pass the request on and
// return what the rest returned: it may only look, and set Request.Notes.
// The audit trail is one. It is safe to call at any time.
func (r *Runner) Observe(obs ...Middleware) {
	r.mwMu.Lock()
	defer r.mwMu.Unlock()
	var stack []Middleware
	if p := r.obs.Load(); p != nil {
		stack = slices.Clone(*p)
	}
	for _, o := range obs {
		if o != nil {
			stack = append(stack, o)
		}
	}
	if len(stack) == 0 {
		return
	}
	r.obs.Store(&stack)
	r.rebuildLocked()
}

// rebuildLocked composes the observers and the middleware around deliver;
// the caller holds mwMu.
func (r *Runner) rebuildLocked() {
	var all []Middleware
	if p := r.obs.Load(); p != nil {
		all = append(all, *p...)
	}
	all = append(all, r.middleware()...)
	if len(all) == 0 {
		r.all.Store(nil)
		r.chain.Store(nil)
		return
	}
	r.all.Store(&all)
	h := chain(all, r.deliver)
	r.chain.Store(&h)
}

func (r *Runner) middleware() []Middleware {
	if p := r.mw.Load(); p != nil {
		return *p
	}
	return nil
}

// HasMiddleware reports whether any middleware is installed (observers
// do not count).
func (r *Runner) HasMiddleware() bool { return len(r.middleware()) > 0 }

// Do sends a request through the runner's middleware to the server it
// names (see Request.Route). It is what a Client's Call does, for callers
// that hold the request's progress and routing themselves: a gateway.
func (r *Runner) Do(ctx context.Context, req *Request) (json.RawMessage, error) {
	h := r.deliver
	if p := r.chain.Load(); p != nil {
		h = *p
	}
	if r.tracer != nil {
		return r.traced(ctx, req, h)
	}
	return h(ctx, req)
}

// Through runs a request through the middleware with final answering in
// place of the server: for results the caller already holds (a gateway's
// cached lists), which middleware sees as if the server had answered.
func (r *Runner) Through(ctx context.Context, req *Request, final Handler) (json.RawMessage, error) {
	h := final
	if p := r.all.Load(); p != nil && len(*p) > 0 {
		h = chain(*p, final)
	}
	if r.tracer != nil {
		return r.traced(ctx, req, h)
	}
	return h(ctx, req)
}

// deliver ends the chain: it sends the request to the server it names now,
// on the client its Router gives.
func (r *Runner) deliver(ctx context.Context, req *Request) (json.RawMessage, error) {
	var (
		c       *Client
		release func()
		err     error
	)
	if req.Route != nil {
		c, release, err = req.Route.Route(ctx, req.Server)
	} else {
		c, release, err = r.defaultRoute(ctx, req.Server)
		if err == nil && req.Caller.Servers != nil && !slices.Contains(req.Caller.Servers, req.Server) {
			err = fmt.Errorf("%w: %q is not available to this caller", ErrServerNotFound, req.Server)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("routing %s: %w", req.Method, err)
	}
	defer release()
	return c.send(ctx, req.Method, req.Params, req.Progress)
}

// defaultRoute is the runner's client of server.
func (r *Runner) defaultRoute(_ context.Context, server string) (*Client, func(), error) {
	s, err := r.server(server)
	if err != nil {
		return nil, nil, err
	}
	return s.client, noRelease, nil
}

// chain composes middleware around final, the first given outermost:
// requests pass them first to last, results come back last to first.
func chain(mw []Middleware, final Handler) Handler {
	h := final
	for i := len(mw) - 1; i >= 0; i-- {
		if mw[i] != nil {
			h = mw[i](h)
		}
	}
	return h
}
