// Package gateway is the one logical MCP server that front-ends (the HTTP
// proxy, Go programs) talk to: every allowed server of a Runner, seen through
// downstream sessions that never see each other's traffic. Each server has
// one child process and one [engine.Client], shared by all sessions (except servers
// with "childModel": "per-session", which have a private child per session:
// see "Per-session servers" below and private.go); the gateway
// keeps per-session state (initialize, log level, subscriptions, progress
// tokens, in-flight requests) so that nothing reaches a session that did not
// ask for it.
//
// # Views
//
// A session opens either the aggregate view (all allowed servers at once,
// tool and prompt names namespaced) or the view of one server, which passes
// every request through as it is (cursors, names and unknown methods
// included) except those the gateway must answer per session: initialize,
// ping, logging/setLevel and resources/(un)subscribe.
//
// # Namespacing
//
// In the aggregate view a tool or prompt is called <prefix>__<name>, within
// 64 characters of [A-Za-z0-9_-]:
//
//   - prefix is the server's name when that is at most 24 characters of
//     [A-Za-z0-9_-], holds no "__" and does not end in '_'. Otherwise it is
//     the name with other characters turned into '_', runs of '_' collapsed,
//     cut to 17 characters, then "_" and the first 6 hex digits of the
//     SHA-256 of the server's name ("my.server" → "my_server_1a2b3c"). In the
//     rare case two servers still get the same prefix, the later in sorted
//     order gets a 12-digit hash.
//   - name is the item's own name when it is valid and fits in what is left
//     (64 - len(prefix) - 2); otherwise it is sanitized the same way, cut, and
//     followed by "_" and 6 hex digits of the SHA-256 of the original name.
//     Names are assigned in sorted order of the originals; a name already
//     taken within the server gets a 12-digit hash instead.
//
// Because a prefix never contains "__" nor ends in '_', the first "__" of a
// namespaced name separates server and item, so names of different servers
// never collide, and a name depends only on its server's name and its own
// (plus, for the hashed collision case, the server's other names).
// Everything else about a listed tool or prompt is kept byte for byte; only
// "name" is rewritten. Resources and templates keep their URIs: the gateway
// routes resources/read, resources/(un)subscribe and completion/complete by
// the URI's owner (a listed resource, else the first server, in sorted order,
// with a matching template; a URI offered by two servers goes to the first).
// tools/call also takes the reference's params {server, tool or name,
// arguments}, which call the server's tool under its own name.
//
// Aggregate lists come in one page (no nextCursor): they are merged from
// every server's complete, cached list. Caches follow the servers'
// notifications/*/list_changed (which the gateway forwards to the sessions
// whose view includes the server); a server that does not announce
// list_changed is re-listed after 30 s, and an unknown name causes one
// re-listing before it is refused.
//
// # Per-session behaviour
//
//   - initialize is answered by the gateway: the version is the client's if
//     mcpscript supports it, else [engine.LatestProtocolVersion]; the rest is the
//     server's cached handshake (single view) or the union of the servers'
//     capabilities (aggregate). Requests before initialize are served anyway.
//   - Progress: the client's progress token goes upstream as a token of the
//     shared connection's own; notifications come back with the client's
//     token, to the requesting session only, related to its request.
//   - notifications/cancelled from the client cancels its request upstream.
//   - Log messages are opt-in: a session gets a server's notifications/message
//     only after logging/setLevel, and only at or above its level. Upstream,
//     the gateway lowers each server's level to the lowest any session asked
//     for (it never raises it again).
//   - Subscriptions are reference counted upstream; notifications/resources/updated
//     goes only to the sessions subscribed to that URI.
//   - A server's own requests (sampling, elicitation, roots) go to the one
//     session that has requests in flight to that server, related to its
//     oldest tools/call (else its oldest request). When no session or several
//     sessions do, the request cannot be attributed and the server gets a
//     JSON-RPC error (-32603) saying so.
//   - Other notifications from servers are dropped: they cannot be
//     attributed to a session.
//
// # Per-session servers
//
// A server with "childModel": "per-session" is not started by the Runner.
// Each session that uses it gets a private child, started on the session's
// first request that reaches the server (a single-server view: its first
// request other than ping, initialize included; the aggregate view: its
// first request other than ping starts one for every per-session server it
// may use, leaving out, with a warning, those at their cap). Its progress,
// requests (sampling, elicitation, roots: always to the owning session, never
// ambiguous), list_changed, resources/updated and log messages go to that
// session only, and its lists are cached for that session only. The child is
// stopped when the session closes, or when the session has not used it for
// sessionIdleTimeout (default 10m) and holds no subscription on it; the next
// request starts a new one. At most maxSessions (default 16) private
// children of a server run at once: a request that needs one more gets
// JSON-RPC error -32603 "server "x" has reached its cap of N per-session
// children (maxSessions)…".
//
// The gateway knows nothing of HTTP: a transport opens a [Session] per
// downstream client, hands it each message ([Session.Handle]) and delivers
// what the session sends on its own ([Outbound]).
package gateway
