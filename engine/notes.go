package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Kinds of Decision: what a hook or filter did with a request.
const (
	DecisionContinue = "continue" // let it through unchanged
	DecisionModified = "modified" // rewrote its arguments, params, result or list
	DecisionDenied   = "deny"     // refused it (Reason says why)
	DecisionAnswered = "answered" // answered it without a server
	DecisionRouted   = "routed"   // sent it to another server or tool (Reason names them)
	DecisionFailed   = "failed"   // the hook failed (threw, timed out); Reason says how
)

// Limits of what hooks may add to one request's notes, so that a record
// stays small whatever a script does.
const (
	MaxNoteDecisions  = 64
	MaxNoteFields     = 32
	MaxNoteFieldBytes = 4 << 10 // one field's value, as JSON
)

// Decision is one hook's or filter's decision about a request.
type Decision struct {
	By     string `json:"by"`               // the hook or filter, e.g. "policy.js"
	Kind   string `json:"kind"`             // DecisionContinue, DecisionDenied, ...
	Reason string `json:"reason,omitempty"` // why, or where it was routed
}

// CallNotes collects what happens to one request inside the middleware
// chain, for the audit trail: each hook's decision and the fields hooks
// add (audit.add in JavaScript). The audit observer creates it (see
// Request.Notes); hooks only write to it. A nil *CallNotes ignores every
// call, so a hook runner calls it unconditionally and pays nothing when
// nobody records. All methods are safe for concurrent use.
type CallNotes struct {
	mu        sync.Mutex
	decisions []Decision
	fields    map[string]json.RawMessage
	order     []string // field keys in the order first added
	dropped   int      // decisions or fields refused over the limits
}

// NewCallNotes returns empty notes.
func NewCallNotes() *CallNotes { return &CallNotes{} }

// AddDecision records that by (a hook or filter name) decided kind (one
// of the Decision constants) with an optional reason. Past
// MaxNoteDecisions further decisions are counted as dropped.
func (n *CallNotes) AddDecision(by, kind, reason string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.decisions) >= MaxNoteDecisions {
		n.dropped++
		return
	}
	n.decisions = append(n.decisions, Decision{By: by, Kind: kind, Reason: reason})
}

// Add merges fields into the request's record: each value is encoded as
// JSON now (later changes to it do not show). A later Add of a key
// replaces its value. It refuses, naming the key, a value that cannot be
// encoded, one larger than MaxNoteFieldBytes, or a key past
// MaxNoteFields; the other fields are still added.
func (n *CallNotes) Add(fields map[string]any) error {
	if n == nil || len(fields) == 0 {
		return nil
	}
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	enc := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		raw, err := json.Marshal(v)
		switch {
		case err != nil:
			fail(fmt.Errorf("audit field %q: %w", k, err))
		case len(raw) > MaxNoteFieldBytes:
			fail(fmt.Errorf("audit field %q: %d bytes as JSON, over the limit of %d", k, len(raw), MaxNoteFieldBytes))
		default:
			enc[k] = raw
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fields == nil {
		n.fields = make(map[string]json.RawMessage, len(enc))
	}
	// Sorted, so that fields added in one call keep a stable order.
	for _, k := range slices.Sorted(maps.Keys(enc)) {
		if _, ok := n.fields[k]; !ok {
			if len(n.fields) >= MaxNoteFields {
				n.dropped++
				fail(fmt.Errorf("audit field %q: a record holds at most %d fields", k, MaxNoteFields))
				continue
			}
			n.order = append(n.order, k)
		}
		n.fields[k] = enc[k]
	}
	return firstErr
}

// Decisions returns a copy of the decisions recorded so far, in order.
func (n *CallNotes) Decisions() []Decision {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.decisions) == 0 {
		return nil
	}
	return append([]Decision(nil), n.decisions...)
}

// Fields calls fn with each added field, in the order keys were first
// added, with its value as JSON (which fn must not modify).
func (n *CallNotes) Fields(fn func(key string, value json.RawMessage)) {
	if n == nil {
		return
	}
	n.mu.Lock()
	keys := append([]string(nil), n.order...)
	vals := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		vals[i] = n.fields[k]
	}
	n.mu.Unlock()
	for i, k := range keys {
		fn(k, vals[i])
	}
}

// Dropped returns how many decisions and fields were refused over the limits.
func (n *CallNotes) Dropped() int {
	if n == nil {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropped
}
