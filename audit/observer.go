package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/rawjson"
)

// maxErrorBytes bounds the error message a record keeps.
const maxErrorBytes = 512

// Observer returns the trail's engine observer: install it with
// Runner.Observe (or engine.Options.Observers) so that it sees every
// request outside the hooks and filters. It gives each request a fresh
// engine.CallNotes (unless the request has one) for the hooks to report
// into, and records the request when its answer is back.
func (t *Trail) Observer() engine.Middleware {
	return func(next engine.Handler) engine.Handler {
		return func(ctx context.Context, req *engine.Request) (json.RawMessage, error) {
			start := time.Now()
			notes := req.Notes
			if notes == nil {
				r := *req
				notes = engine.NewCallNotes()
				r.Notes = notes
				req = &r
			}
			res, err := next(ctx, req)
			t.add(t.record(ctx, req, notes, start, res, err))
			return res, err
		}
	}
}

// record builds the record of a request that was answered with res or err.
func (t *Trail) record(ctx context.Context, req *engine.Request, notes *engine.CallNotes, start time.Time, res json.RawMessage, err error) *Record {
	r := &Record{
		Time:    start,
		Latency: time.Since(start),
		Caller: Caller{
			Transport:     req.Caller.Transport,
			Token:         req.Caller.Token,
			Subject:       req.Caller.Subject,
			Session:       req.Caller.Session,
			Protocol:      req.Caller.Protocol,
			ClientName:    req.Caller.ClientName,
			ClientVersion: req.Caller.ClientVersion,
		},
		Server:    req.Server,
		Method:    req.Method,
		Decisions: notes.Decisions(),
	}
	params := req.Params
	isObject := len(params) > 0 && params[0] == '{'
	switch req.Method {
	case "tools/call", "prompts/get":
		if !isObject {
			break
		}
		if name, ok := stringMember(params, "name"); ok {
			if req.Method == "tools/call" {
				r.Tool = name
			} else {
				r.Prompt = name
			}
		}
		if args, ok := rawjson.GetValid(params, "arguments"); ok && rawjson.Present(args) {
			r.ArgsBytes = len(args)
			if t.args != config.AuditNone {
				sum := sha256.Sum256(args)
				r.ArgsSHA256 = hex.EncodeToString(sum[:])
			}
			if t.args == config.AuditFull {
				// A copy (params may be a buffer its owner reuses), on
				// one line as a JSON-lines record must be.
				r.Arguments = bytes.Clone(args)
				rawjson.Flatten(r.Arguments)
			}
		}
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		if isObject {
			r.URI, _ = stringMember(params, "uri")
		}
	}
	notes.Fields(func(k string, v json.RawMessage) { r.Fields = append(r.Fields, Field{Key: k, Value: v}) })
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.TraceID, r.SpanID = sc.TraceID().String(), sc.SpanID().String()
	}
	switch {
	case err == nil && req.Method == "tools/call" && engine.IsToolError(res):
		r.Outcome = OutcomeIsError
	case err == nil:
		r.Outcome = OutcomeOK
	default:
		r.Outcome = OutcomeError
		r.Code = engine.ErrorCode(err)
		r.Error = firstLine(err.Error())
		r.Decisions = decisionOf(err, r.Decisions)
		if errors.Is(err, engine.ErrDenied) {
			r.Outcome = OutcomeDenied
		}
	}
	return r
}

// decisionOf adds the refusal or failure err carries to the decisions
// when no hook reported it: a chain whose hook runner does not report
// into CallNotes still shows who refused and why.
func decisionOf(err error, ds []engine.Decision) []engine.Decision {
	var (
		de *engine.DeniedError
		he *engine.HookError
	)
	switch {
	case errors.As(err, &de):
		if !slices.ContainsFunc(ds, func(d engine.Decision) bool { return d.Kind == engine.DecisionDenied }) {
			ds = append(ds, engine.Decision{By: de.By, Kind: engine.DecisionDenied, Reason: de.Reason})
		}
	case errors.As(err, &he):
		if !slices.ContainsFunc(ds, func(d engine.Decision) bool { return d.Kind == engine.DecisionFailed }) {
			reason := ""
			if he.Err != nil {
				reason = firstLine(he.Err.Error())
			}
			ds = append(ds, engine.Decision{By: he.Hook, Kind: engine.DecisionFailed, Reason: reason})
		}
	}
	return ds
}

// stringMember returns the string member key of a params object.
func stringMember(params json.RawMessage, key string) (string, bool) {
	v, ok := rawjson.GetValid(params, key)
	if !ok {
		return "", false
	}
	return rawjson.Unquote(v)
}

// firstLine returns the first line of msg, at most maxErrorBytes long (a
// script's stack stays in the log).
func firstLine(msg string) string {
	msg, _, _ = strings.Cut(msg, "\n")
	if len(msg) > maxErrorBytes {
		msg = msg[:maxErrorBytes] + "…"
	}
	return msg
}
