// Package audit keeps a trail of every request that passes mcpscript: one
// structured record per request, from any path (the proxy's transports,
// the CLI, workflows, Go programs), written as JSON lines and offered live
// to subscribers (the web console).
//
// A [Trail] is installed on a Runner as an observer, outside every hook
// and filter, so that each record shows the request as its caller made it
// and the outcome as its caller got it:
//
//	trail, err := audit.Open("audit.jsonl", audit.Options{Arguments: config.AuditHash})
//	if err != nil { ... }
//	defer trail.Close()
//	runner.Observe(trail.Observer())
//
// A record holds the time, the caller (transport, token name, session,
// protocol version), the server, method and tool, prompt or URI, the size
// and SHA-256 of the arguments (the arguments themselves only when asked
// for), the decisions hooks reported through engine.CallNotes and the
// fields they added, the outcome (ok, isError, error with its JSON-RPC
// code, denied), the latency and the trace id. See [Record].
//
// Writing costs the request path little: the record is built on the
// caller's goroutine (a SHA-256 of the arguments is the largest part) and
// handed to a writer goroutine over a bounded queue; encoding, writing and
// fan-out happen there. When the writer falls behind, records are dropped
// and counted rather than slowing requests down.
package audit
