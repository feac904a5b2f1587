// Logging is deprecated only from MCP 2026-07-28 on; legacy servers still
// log after logging/setLevel, which the bridge uses.
//lint:file-ignore SA1019 see above

package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// Input for modern clients of legacy servers (MCP 2026-07-28 "multi
// round-trip requests").
//
// A legacy server asks its client for sampling, elicitation or roots with
// a request of its own while it serves a call. A modern client takes no
// requests: it gets an input_required result naming what the server asks,
// and sends its original request again with inputResponses and the
// result's requestState. So the gateway holds the server's call (and its
// requests, waiting for answers), answers the client input_required, and
// on the retry answers the server's requests with the client's responses
// and waits again, for the result or for more questions.
//
// The requestState is the gateway's own, signed with HMAC-SHA256 (a key
// of the process, or Options.StateKey) and bound to the call, its round,
// the caller, the view, the method and the tool, prompt or resource, with
// a deadline: a tampered, foreign, stale or expired state is refused
// (-32602). A held call lasts at most pendingTTL without a retry, and never
// longer than the server's requestTimeout.

// pendingTTL bounds how long a call waits for the client's retry.
const pendingTTL = 2 * time.Minute

// gatherWindow is how long the gateway waits for more of the server's
// requests after the first, so that requests a server sends together (in
// parallel) are answered in one round.
const gatherWindow = 25 * time.Millisecond

// statePrefix starts every requestState the gateway makes.
const statePrefix = "mcps1."

// modernCall is one modern request being served by its session, possibly
// over several rounds.
type modernCall struct {
	g      *Gateway
	s      *Session
	method string
	name   string // the tool, prompt or resource, bound into the state

	asked   chan struct{} // signalled when the server asks something
	done    chan struct{} // closed when the call ends
	outcome chan callOutcome
	cancel  context.CancelFunc // ends the call upstream
	driving sync.Mutex         // one request (the first, then a retry) drives the call

	mu       sync.Mutex
	send     func(json.RawMessage) // the driving request's Send
	asks     []*inputAsk           // the server's requests not answered yet
	next     int
	missing  string // a capability the server needs and the client did not declare
	id       string // the call's id in the pending table, once it waited for input
	round    int
	finished bool
}

type callOutcome struct {
	res json.RawMessage
	err error
}

// inputAsk is one of the server's requests waiting for the client.
type inputAsk struct {
	key    string
	method string
	params json.RawMessage
	reply  chan answer
}

// start sends the request and waits for its outcome.
func (c *modernCall) start(ctx context.Context, m *wire.Message) (json.RawMessage, error) {
	c.driving.Lock()
	defer c.driving.Unlock()
	c.method, c.name = m.Method, nameOf(m.Params)
	c.outcome = make(chan callOutcome, 1)
	// The call outlives its first request when it waits for input, so it
	// ends with the gateway, not the request; it keeps the request's
	// values (its trace span, so that the call's spans are its children).
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(c.g.stopCtx, cancel)
	c.cancel = func() { stop(); cancel() }
	s := c.s
	if lvl := s.logLevel; lvl >= 0 && !s.modernView() {
		sc := s.scope()
		for _, name := range sc.servers { // a legacy server logs only after logging/setLevel
			if ir := sc.tab.servers[name].client.InitializeResult(); ir != nil && ir.Capabilities != nil && ir.Capabilities.Logging != nil {
				_ = sc.tab.servers[name].applyLogLevel(ctx, lvl)
			}
		}
	}
	go func() {
		res, err := s.serve(fctx, m.ID, m.Method, m.Params)
		c.outcome <- callOutcome{res, err}
	}()
	return c.wait(ctx, m.Method)
}

// deliver is the session's Outbound: to the request driving the call.
func (c *modernCall) deliver(msg json.RawMessage) {
	c.mu.Lock()
	send := c.send
	c.mu.Unlock()
	if send != nil {
		send(msg)
	}
}

// wait waits for the call's outcome, or the server's questions (which it
// answers with input_required), or ctx's end (which cancels the call).
func (c *modernCall) wait(ctx context.Context, method string) (json.RawMessage, error) {
	for {
		if res, err, ok := c.inputRequired(); ok {
			return res, err
		}
		select {
		case o := <-c.outcome:
			c.finish()
			if o.err != nil || c.s.modernView() {
				return o.res, o.err
			}
			return c.s.decorate(ctx, method, o.res), nil
		case <-c.asked:
			t := time.NewTimer(gatherWindow)
			select {
			case o := <-c.outcome:
				t.Stop()
				c.outcome <- o // handled by the next turn
			case <-t.C:
			}
		case <-ctx.Done():
			c.cancel()
			c.finish()
			return nil, context.Cause(ctx)
		}
	}
}

// inputRequired returns the answer to give while the server waits for
// input: -32021 when it asked for a capability the client lacks (the call
// is then cancelled), input_required listing its questions, or ok false
// when it waits for nothing.
func (c *modernCall) inputRequired() (json.RawMessage, error, bool) {
	c.mu.Lock()
	if c.missing != "" {
		miss := c.missing
		c.mu.Unlock()
		c.cancel()
		c.finish()
		return nil, wire.Errorf(wire.CodeMissingRequiredCapability, "%s capability required but not declared by client", miss).
			WithData(map[string]any{"requiredCapabilities": map[string]any{miss: map[string]any{}}}), true
	}
	if len(c.asks) == 0 {
		c.mu.Unlock()
		return nil, nil, false
	}
	fields := make([]rawjson.Field, 0, len(c.asks))
	for _, a := range c.asks {
		r := append([]byte(`{"method":`), rawjson.Quote(a.method)...)
		if len(a.params) > 0 {
			r = append(append(r, `,"params":`...), a.params...)
		}
		fields = append(fields, rawjson.Field{Key: a.key, Value: append(r, '}')})
	}
	c.round++
	first := c.id == ""
	if first {
		c.id = c.g.pending.add(c)
		go c.expire()
	}
	token := c.g.pending.sign(c)
	c.mu.Unlock()
	res := rawjson.ApplyValid(nil, rawjson.Edit{Set: []rawjson.Field{
		{Key: "resultType", Value: []byte(`"input_required"`)},
		{Key: "inputRequests", Value: rawjson.ApplyValid(nil, rawjson.Edit{Set: fields})},
		{Key: "requestState", Value: rawjson.Quote(token)},
	}})
	return res, nil, true
}

// ask is the server's request during the call: it waits for the client's
// answer, which comes with a retry.
func (c *modernCall) ask(ctx context.Context, server, method string, params json.RawMessage) (any, error) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeInternalError, Message: "the client's request ended"}
	}
	if cp := capabilityFor(method); cp != "" {
		c.s.mu.Lock()
		_, ok := c.s.clientCaps[cp]
		c.s.mu.Unlock()
		if !ok {
			c.missing = cp
			c.mu.Unlock()
			c.signal()
			return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeMethodNotFound,
				Message: fmt.Sprintf("the client did not declare the %s capability", cp)}
		}
	}
	c.next++
	a := &inputAsk{key: fmt.Sprintf("%s-%d", strings.ReplaceAll(method, "/", "-"), c.next), method: method, params: params, reply: make(chan answer, 1)}
	c.asks = append(c.asks, a)
	c.mu.Unlock()
	c.signal()
	t := time.NewTimer(pendingTTL)
	defer t.Stop()
	select {
	case an := <-a.reply:
		if an.err != nil {
			return nil, &engine.RPCError{Server: server, Method: method, Code: an.err.Code, Message: an.err.Message, Data: an.err.Data}
		}
		return an.result, nil
	case <-ctx.Done():
		c.drop(a)
		return nil, ctx.Err()
	case <-c.done:
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeInternalError, Message: "the client's request ended"}
	case <-t.C:
		c.drop(a)
		return nil, &engine.RPCError{Server: server, Method: method, Code: wire.CodeInternalError,
			Message: fmt.Sprintf("the client did not send its input within %s", pendingTTL)}
	}
}

// expire ends the call when its client has not come back in time: the
// server's waiting requests fail, the call is cancelled upstream.
func (c *modernCall) expire() {
	for {
		c.g.pending.mu.Lock()
		e := c.g.pending.calls[c.id]
		var until time.Time
		if e != nil {
			until = e.expires
		}
		c.g.pending.mu.Unlock()
		if e == nil {
			return
		}
		t := time.NewTimer(time.Until(until))
		select {
		case <-c.done:
			t.Stop()
			return
		case <-t.C:
		}
		if time.Now().After(until) {
			c.g.pending.mu.Lock()
			if cur := c.g.pending.calls[c.id]; cur != nil && !time.Now().Before(cur.expires) {
				c.g.pending.mu.Unlock()
				c.cancel()
				c.finish()
				return
			}
			c.g.pending.mu.Unlock()
		}
	}
}

func (c *modernCall) signal() {
	select {
	case c.asked <- struct{}{}:
	default:
	}
}

func (c *modernCall) drop(a *inputAsk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.asks {
		if x == a {
			c.asks = append(c.asks[:i], c.asks[i+1:]...)
			return
		}
	}
}

// finish ends the call: its session closes, it leaves the pending table.
func (c *modernCall) finish() {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	id := c.id
	close(c.done)
	c.mu.Unlock()
	if id != "" {
		c.g.pending.remove(id)
	}
	c.s.Close()
}

// resume serves a retry carrying one of the gateway's requestStates: the
// client's inputResponses answer the server's waiting requests, then the
// call is waited for again.
func (g *Gateway) resume(ctx context.Context, r *ModernRequest, caller engine.Identity, meta *modernMeta, state string) (json.RawMessage, error) {
	m := r.Message
	c, err := g.pending.verify(state, principal(caller), r.View, m.Method, nameOf(m.Params))
	if err != nil {
		return nil, err
	}
	c.driving.Lock()
	defer c.driving.Unlock()
	responses, _ := rawjson.GetValid(m.Params, "inputResponses")
	if rawjson.Present(responses) && responses[0] != '{' {
		return nil, invalidParamsf("inputResponses must be an object of responses by key")
	}
	var bad string
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return nil, invalidParamsf("invalid requestState: the request it belongs to has ended; send it again without requestState")
	}
	c.send = r.Send
	c.s.mu.Lock()
	c.s.clientCaps, c.s.logLevel = meta.caps, meta.logLevel
	c.s.mu.Unlock()
	kept := c.asks[:0]
	for _, a := range c.asks {
		v, ok := rawjson.GetValid(responses, a.key)
		switch {
		case !ok:
			kept = append(kept, a) // asked again
		case len(v) == 0 || v[0] != '{':
			bad = a.key
			kept = append(kept, a)
		default:
			a.reply <- answer{result: v}
		}
	}
	c.asks = kept
	c.mu.Unlock()
	if bad != "" {
		return nil, invalidParamsf("inputResponses.%s must be an object (the result of the request it answers)", bad)
	}
	return c.wait(ctx, m.Method)
}

// principal names the caller a requestState is bound to.
func principal(id engine.Identity) string { return id.Principal() }

// nameOf is params.name or params.uri.
func nameOf(params json.RawMessage) string {
	if n, ok := rawjson.GetString(params, "name"); ok {
		return n
	}
	n, _ := rawjson.GetString(params, "uri")
	return n
}

func requestState(params json.RawMessage) (string, bool) {
	return rawjson.GetString(params, "requestState")
}

func isOurState(s string) bool { return strings.HasPrefix(s, statePrefix) }

// pendingCalls are the modern calls waiting for a retry, by id, and the key
// their states are signed with.
type pendingCalls struct {
	key   []byte
	mu    sync.Mutex
	calls map[string]*pendingEntry
}

type pendingEntry struct {
	c       *modernCall
	expires time.Time
}

// statePayload is what a requestState binds.
type statePayload struct {
	ID      string `json:"id"`
	Round   int    `json:"r"`
	Caller  string `json:"sub"`
	View    string `json:"srv"`
	Method  string `json:"m"`
	Name    string `json:"n"`
	Expires int64  `json:"exp"` // unix ms
}

func (p *pendingCalls) init(key []byte) {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	p.key = key
	p.calls = map[string]*pendingEntry{}
}

// add registers a call; the caller holds c.mu.
func (p *pendingCalls) add(c *modernCall) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	p.mu.Lock()
	p.calls[id] = &pendingEntry{c: c, expires: time.Now().Add(pendingTTL)}
	p.mu.Unlock()
	return id
}

func (p *pendingCalls) remove(id string) {
	p.mu.Lock()
	delete(p.calls, id)
	p.mu.Unlock()
}

func (p *pendingCalls) closeAll() {
	p.mu.Lock()
	calls := p.calls
	p.calls = map[string]*pendingEntry{}
	p.mu.Unlock()
	for _, e := range calls {
		e.c.cancel()
		e.c.finish()
	}
}

// sign makes the requestState of c's current round; the caller holds c.mu.
func (p *pendingCalls) sign(c *modernCall) string {
	exp := time.Now().Add(pendingTTL)
	p.mu.Lock()
	if e := p.calls[c.id]; e != nil {
		e.expires = exp
	}
	p.mu.Unlock()
	payload, _ := json.Marshal(statePayload{ID: c.id, Round: c.round, Caller: principal(c.s.id), View: c.s.view,
		Method: c.method, Name: c.name, Expires: exp.UnixMilli()})
	body := base64.RawURLEncoding.EncodeToString(payload)
	return statePrefix + body + "." + base64.RawURLEncoding.EncodeToString(p.mac(body))
}

func (p *pendingCalls) mac(body string) []byte {
	h := hmac.New(sha256.New, p.key)
	h.Write([]byte(body))
	return h.Sum(nil)
}

// verify checks a requestState and returns its call.
func (p *pendingCalls) verify(state, caller, view, method, name string) (*modernCall, error) {
	invalid := func(why string) error { return invalidParamsf("invalid requestState: %s", why) }
	body, sig, ok := strings.Cut(strings.TrimPrefix(state, statePrefix), ".")
	want := p.mac(body)
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(got, want) {
		return nil, invalid("tampered, or not made by this gateway")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	var st statePayload
	if err != nil || json.Unmarshal(raw, &st) != nil {
		return nil, invalid("malformed")
	}
	switch {
	case time.Now().UnixMilli() > st.Expires:
		return nil, invalid("expired; send the request again without requestState")
	case st.Caller != caller || st.View != view:
		return nil, invalid("it belongs to another caller or endpoint")
	case st.Method != method || st.Name != name:
		return nil, invalid("it belongs to another request")
	}
	p.mu.Lock()
	e := p.calls[st.ID]
	p.mu.Unlock()
	if e == nil {
		return nil, invalid("the request it belongs to has ended; send it again without requestState")
	}
	e.c.mu.Lock()
	round := e.c.round
	e.c.mu.Unlock()
	if round != st.Round {
		return nil, invalid("stale: a later round's state replaced it")
	}
	return e.c, nil
}
