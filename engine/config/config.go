// Package config reads, checks and completes mcpscript's JSON
// configuration: the MCP servers to run or reach ("mcpServers", the format
// MCP clients such as Claude Desktop, Claude Code and Cursor use, or VS
// Code's "servers" with its "inputs"), the optional SSE proxy ("sseProxy",
// as in the Rust library mcp-runner), and the optional JavaScript hooks
// ("scripts") and WebAssembly filters ("filters") requests pass through.
//
// A configuration looks like this (every key but "command" and "wasm" is
// optional):
//
//	{
//	  "$schema": "...",
//	  "mcpServers": {
//	    "fetch": {
//	      "command": "uvx",
//	      "args": ["mcp-server-fetch"],
//	      "env": {"TOKEN": "${FETCH_TOKEN:-none}"},
//	      "cwd": "./work",
//	      "disabled": false,
//	      "type": "stdio",
//	      "restart": {"policy": "on-failure", "maxRetries": 5, "minUptime": "1s", "backoff": "250ms", "maxBackoff": "30s"},
//	      "startTimeout": "30s",
//	      "requestTimeout": "60s",
//	      "stopTimeout": "5s",
//	      "maxFrameBytes": 16777216,
//	      "roots": ["file:///tmp/x", {"uri": "file:///y", "name": "y"}],
//	      "tools": {"include": ["*"], "exclude": ["delete_*"], "override": {"fetch": {"name": "get_url", "pin": "sha256:..."}}}
//	    },
//	    "remote": {
//	      "url": "https://example.com/mcp",
//	      "type": "http",
//	      "headers": {"Authorization": "Bearer ${REMOTE_TOKEN}"},
//	      "oauth": {"tokenUrl": "https://auth.example.com/token", "clientId": "${CLIENT_ID}", "clientSecret": "${CLIENT_SECRET}", "scopes": ["mcp"]}
//	    }
//	  },
//	  "sseProxy": {
//	    "address": "127.0.0.1",
//	    "port": 3000,
//	    "workers": 4,
//	    "allowedServers": ["fetch"],
//	    "authenticate": {
//	      "bearer": {
//	        "token": "${MCP_PROXY_TOKEN}",
//	        "tokens": [{"name": "ci", "token": "${CI_TOKEN}", "servers": ["fetch"]}]
//	      },
//	      "queryTokens": false,
//	      "tokenlessStreams": false
//	    },
//	    "cors": {"allowedOrigins": ["http://localhost:5173"], "allowCredentials": false},
//	    "allowedHosts": ["mcp.example.com"],
//	    "maxBodyBytes": 4194304,
//	    "console": true
//	  },
//	  "scripts": {
//	    "hooks": ["policy.ts", {"path": "audit.js", "timeout": "50ms", "onError": "open"}],
//	    "timeout": "1s",
//	    "onError": "closed",
//	    "env": ["API_KEY"],
//	    "readDir": "./data",
//	    "pool": 4,
//	    "maxCallStackSize": 1024
//	  },
//	  "filters": [
//	    {"wasm": "filters/redact.wasm", "name": "redact", "config": {"folder": "/srv/data"},
//	     "hooks": ["toolCall", "toolResult"], "timeout": "1s", "memoryLimitMiB": 64, "onError": "closed", "pool": 2}
//	  ],
//	  "audit": {"file": "audit.jsonl", "arguments": "hash"}
//	}
//
// [Load] and [Parse] report every problem at once, each with its JSON path,
// line and column, and a hint where one helps (see [Error]). Unknown keys
// are errors, except Claude Desktop's top-level "globalShortcut" and
// "preferences", VS Code's per-server "dev", and "$schema", which are
// ignored. A file with "servers" instead of "mcpServers" is read as VS
// Code's format (Config.Format). References to environment variables are
// expanded in command, args, env values, cwd, url, headers, oauth and the
// bearer tokens (see [Expand]: ${VAR}, ${VAR:-default}, ${env:VAR},
// ${input:ID} read from [InputVar], ${workspaceFolder}, ${userHome}); in
// disabled servers, "scripts" and "filters" values are kept as written. Hook, readDir and filter paths are relative
// to the config file's folder (see [Config.Resolve]); Parse and Load do not
// check that the files exist, the loaders of hooks and filters do.
//
// To add a top-level section, add a field to [Config], a case to
// topLevelKeys in decode.go, and its rules to validate.go.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Defaults filled in by [Parse], [Load] and [Config.WithDefaults] for keys
// that are left out (or zero in a Config built in Go).
const (
	DefaultStartTimeout   = 30 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	DefaultStopTimeout    = 5 * time.Second
	DefaultMaxFrameBytes  = 16 << 20
	DefaultAddress        = "127.0.0.1"
	DefaultPort           = 3000
	DefaultWorkers        = 4
	DefaultMaxBodyBytes   = 4 << 20

	// DefaultMaxSessionsPerCaller is Sessions.MaxPerCaller's default.
	DefaultMaxSessionsPerCaller = 256
	// DefaultMaxSessionsTotal is Sessions.MaxTotal's default.
	DefaultMaxSessionsTotal = 4096
	// DefaultProxySessionIdleTimeout is Sessions.IdleTimeout's default.
	DefaultProxySessionIdleTimeout = 30 * time.Minute
	// DefaultDrainTimeout is Proxy.DrainTimeout's default.
	DefaultDrainTimeout = 10 * time.Second
	// DefaultListWait is Proxy.ListWait's default.
	DefaultListWait = 5 * time.Second

	// DefaultTokenName is the name of the single bearer token
	// (Bearer.Token), as the proxy reports it in an identity.
	DefaultTokenName = "default"

	DefaultRestartPolicy = RestartOnFailure
	DefaultMaxRetries    = 5
	DefaultMinUptime     = time.Second
	DefaultBackoff       = 250 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second

	// MinMaxFrameBytes is the smallest accepted Server.MaxFrameBytes.
	MinMaxFrameBytes = 1024
	// MinMaxBodyBytes is the smallest accepted Proxy.MaxBodyBytes.
	MinMaxBodyBytes = 1024
)

// Restart policies, the values of Restart.Policy.
const (
	// RestartNever leaves a server down once it exits.
	RestartNever = "never"
	// RestartOnFailure restarts a server that exits with an error or crashes.
	RestartOnFailure = "on-failure"
	// RestartAlways restarts a server whenever it exits.
	RestartAlways = "always"
)

// restartPolicies lists the accepted Restart.Policy values.
var restartPolicies = []string{RestartNever, RestartOnFailure, RestartAlways}

// Config is a whole configuration.
type Config struct {
	// Servers maps server names to their settings. Names are 1-64 characters
	// of [A-Za-z0-9_.-], starting with a letter or digit.
	Servers map[string]*Server `json:"mcpServers"`
	// Proxy configures the SSE proxy; nil when there is none.
	Proxy *Proxy `json:"sseProxy,omitempty"`
	// Scripts configures JavaScript hooks and what scripts may reach; nil
	// when there is none.
	Scripts *Scripts `json:"scripts,omitempty"`
	// Filters are WebAssembly filters, run after the hooks of Scripts in
	// the order given.
	Filters []*Filter `json:"filters,omitempty"`
	// Redis is the Redis server shared by State and Limits; nil when there
	// is none.
	Redis *Redis `json:"redis,omitempty"`
	// State configures the state store of policies; nil when there is none.
	State *State `json:"state,omitempty"`
	// Limits are rate limits and quotas; nil when there are none.
	Limits *Limits `json:"limits,omitempty"`
	// Inputs are the values that ${input:ID} references stand for, as VS
	// Code's mcp.json declares them (see InputVar).
	Inputs []*Input `json:"inputs,omitempty"`
	// Format is the dialect the text was written in: FormatMCPServers or
	// FormatVSCode ("" for a Config built in Go, which is FormatMCPServers).
	Format string `json:"-"`
	// Audit, when set, records every request in a JSON-lines file.
	Audit *Audit `json:"audit,omitempty"`
	// Source names where the configuration came from: its file path,
	// "<string>", or whatever source was passed to Parse. Used in errors.
	Source string `json:"-"`
	// Dir is the folder that relative Server.Cwd values are resolved
	// against ("" means the process's working directory). Load sets it to
	// the absolute path of the config file's folder.
	Dir string `json:"-"`

	// src is where the values came from when the config was parsed from
	// text (nil for one built in Go); see Position and Vars.
	src *origin
}

// Formats of a configuration, the values of Config.Format.
const (
	// FormatMCPServers is the "mcpServers" object of Claude Desktop, Claude
	// Code (.mcp.json), Cursor (.cursor/mcp.json), mcp-runner and mcpscript.
	FormatMCPServers = "mcpServers"
	// FormatVSCode is VS Code's mcp.json: "servers" and "inputs".
	FormatVSCode = "vscode"
)

// MarshalJSON writes the configuration in its format: the servers under
// "servers" for FormatVSCode, else under "mcpServers".
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	if c.Format != FormatVSCode {
		return json.Marshal(plain(c))
	}
	return json.Marshal(struct {
		plain
		Hidden  any                `json:"mcpServers,omitempty"` // shadows plain's
		Servers map[string]*Server `json:"servers"`
	}{plain: plain(c), Servers: c.Servers})
}

// ServersKey returns the key that holds the servers in c's format:
// "servers" for FormatVSCode, else "mcpServers".
func (c *Config) ServersKey() string {
	if c != nil && c.Format == FormatVSCode {
		return "servers"
	}
	return "mcpServers"
}

// ServerPath returns the path of a server's value as problems write it,
// e.g. ServerPath("fetch", "command") is `mcpServers.fetch.command`
// (`servers.fetch.command` in VS Code's format).
func (c *Config) ServerPath(name string, keys ...string) string {
	return Path(append([]string{c.ServersKey(), name}, keys...)...)
}

// FormatName describes the format c was read in for people, guessing the
// client that wrote it from the file's name: "VS Code mcp.json",
// "Cursor .cursor/mcp.json", "Claude Desktop", "Claude Code .mcp.json", or
// "mcpServers".
func (c *Config) FormatName() string {
	if c == nil {
		return ""
	}
	if c.Format == FormatVSCode {
		return "VS Code mcp.json"
	}
	base, dir := filepath.Base(c.Source), filepath.Base(filepath.Dir(c.Source))
	switch {
	case dir == ".cursor" && base == "mcp.json":
		return "Cursor .cursor/mcp.json"
	case base == "claude_desktop_config.json":
		return "Claude Desktop"
	case base == ".mcp.json":
		return "Claude Code .mcp.json"
	}
	return "mcpServers"
}

// Input is one of VS Code's "inputs": a value the editor would prompt for.
// mcpscript reads it from the environment variable InputVar(ID), else uses
// Default; a reference to an input with neither is an error naming the
// variable.
type Input struct {
	ID          string `json:"id"`
	Type        string `json:"type,omitempty"` // "promptString", "pickString", "command"
	Description string `json:"description,omitempty"`
	Default     string `json:"default,omitempty"`
	Password    bool   `json:"password,omitempty"`
}

// InputVar returns the environment variable that gives the value of the
// input id: MCP_INPUT_ followed by id in upper case, with every character
// other than letters, digits and '_' turned into '_' ("api-key" is
// MCP_INPUT_API_KEY).
func InputVar(id string) string {
	b := []byte(strings.ToUpper(id))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return "MCP_INPUT_" + string(b)
}

// Server is one MCP server: a program started with Args, speaking
// JSON-RPC on its standard input and output (a stdio server, with Command),
// or a remote server reached over HTTP (with URL).
type Server struct {
	// Command is the program to start; it is looked up in PATH when it has
	// no slash. A server has either Command or URL.
	Command string `json:"command,omitempty"`
	// URL is the endpoint of a remote MCP server, http or https.
	URL string `json:"url,omitempty"`
	// Type is the transport: TypeStdio (the default with Command), TypeHTTP
	// (Streamable HTTP) or TypeSSE (legacy HTTP+SSE); for a URL, "" means
	// detect. Parse turns the spellings "streamable-http", "streamableHttp"
	// and "streamable_http" into TypeHTTP.
	Type string `json:"type,omitempty"`
	// Headers are sent with every HTTP request to a remote server, e.g.
	// Authorization. Their values are never logged.
	Headers map[string]string `json:"headers,omitempty"`
	// OAuth, when set, gets the remote server's bearer token with the OAuth
	// client credentials grant.
	OAuth *OAuth `json:"oauth,omitempty"`
	// Tools curates the server's tools: which are shown, under what name and
	// description, and which input schemas are pinned.
	Tools *Tools `json:"tools,omitempty"`
	// Args are the program's arguments.
	Args []string `json:"args,omitempty"`
	// Env holds environment variables set for the server, merged over the
	// environment of the mcpscript process.
	Env map[string]string `json:"env,omitempty"`
	// EnvFile is a file of KEY=VALUE lines (a .env file, as VS Code's
	// mcp.json names it) whose variables are set for the server under
	// Env's; relative to the config file's folder (see ResolvedEnvFile).
	EnvFile string `json:"envFile,omitempty"`
	// Cwd is the server's working directory; see ResolvedCwd.
	Cwd string `json:"cwd,omitempty"`
	// Disabled servers are parsed and checked but never started.
	Disabled bool `json:"disabled,omitempty"`
	// Restart says whether and how the server is restarted when it exits.
	Restart Restart `json:"restart,omitzero"`
	// StartTimeout bounds starting the process and the MCP initialize
	// handshake (DefaultStartTimeout when zero).
	StartTimeout Duration `json:"startTimeout,omitzero"`
	// RequestTimeout is the default timeout of one request to the server
	// (DefaultRequestTimeout when zero).
	RequestTimeout Duration `json:"requestTimeout,omitzero"`
	// StopTimeout bounds each step of the stop sequence (DefaultStopTimeout
	// when zero).
	StopTimeout Duration `json:"stopTimeout,omitzero"`
	// MaxFrameBytes is the largest JSON-RPC message accepted from the server
	// (DefaultMaxFrameBytes when zero; at least MinMaxFrameBytes otherwise).
	MaxFrameBytes int64 `json:"maxFrameBytes,omitempty"`
	// Roots are the file:// roots answered to the server's roots/list.
	Roots []Root `json:"roots,omitempty"`
	// ChildModel is ChildShared (one child for every gateway session; also
	// what "" means) or ChildPerSession (a private child per gateway session).
	ChildModel string `json:"childModel,omitempty"`
	// SessionIdleTimeout stops a per-session child its session has not used
	// for that long (DefaultSessionIdleTimeout when zero; per-session only).
	SessionIdleTimeout Duration `json:"sessionIdleTimeout,omitzero"`
	// MaxSessions caps the per-session children running at once
	// (DefaultMaxSessions when zero; per-session only).
	MaxSessions int64 `json:"maxSessions,omitempty"`
	// Protocol is which MCP era the server is spoken to in: ProtocolAuto
	// (also what "" means), ProtocolLegacy or ProtocolModern.
	Protocol string `json:"protocol,omitempty"`
}

// Protocol eras, the values of Server.Protocol.
const (
	// ProtocolAuto: the server's process is initialized (2025-11-25 and
	// earlier); a 2026-07-28 client gets a second process, probed with
	// server/discover, when the server speaks that version, and the
	// gateway's bridge over the first otherwise.
	ProtocolAuto = "auto"
	// ProtocolLegacy: never probe for 2026-07-28; modern clients are
	// bridged.
	ProtocolLegacy = "legacy"
	// ProtocolModern: the server's one process speaks 2026-07-28 (it is
	// probed with server/discover and never initialized); legacy callers
	// are bridged.
	ProtocolModern = "modern"
)

// protocols lists the accepted Server.Protocol values.
var protocols = []string{ProtocolAuto, ProtocolLegacy, ProtocolModern}

// Child models, the values of Server.ChildModel.
const (
	ChildShared     = "shared"
	ChildPerSession = "per-session"
)

// childModels lists the accepted Server.ChildModel values.
var childModels = []string{ChildShared, ChildPerSession}

// Defaults of per-session servers.
const (
	DefaultSessionIdleTimeout = 10 * time.Minute
	DefaultMaxSessions        = 16
)

// PerSession reports whether the server has a child per gateway session.
func (s *Server) PerSession() bool { return s != nil && s.ChildModel == ChildPerSession }

// Server types, the values of Server.Type.
const (
	TypeStdio = "stdio" // a program speaking MCP on stdin and stdout
	TypeHTTP  = "http"  // a remote server over Streamable HTTP
	TypeSSE   = "sse"   // a remote server over the legacy HTTP+SSE transport
)

// Remote reports whether the server is reached over HTTP (it has a URL)
// rather than started from a command.
func (s *Server) Remote() bool { return s != nil && s.URL != "" }

// Transport names how the server is reached: TypeStdio, TypeHTTP, TypeSSE,
// or "" for a remote server whose transport is detected when it connects.
func (s *Server) Transport() string {
	switch {
	case s == nil:
		return ""
	case s.Remote():
		return s.Type
	}
	return TypeStdio
}

// RedactedURL returns the server's URL fit for logs and status: without
// user info or fragment, and with every query value replaced, since either
// may hold a credential. It returns "" for a server without a URL.
func (s *Server) RedactedURL() string {
	if s == nil || s.URL == "" {
		return ""
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// OAuth configures the OAuth 2.0 client credentials grant for a remote
// server: mcpscript gets a token from TokenURL and sends it as
// "Authorization: Bearer", renewing it before it expires.
type OAuth struct {
	// TokenURL is the authorization server's token endpoint.
	TokenURL string `json:"tokenUrl"`
	// ClientID and ClientSecret identify mcpscript to it.
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret,omitempty"`
	// Scopes are requested with each token (optional).
	Scopes []string `json:"scopes,omitempty"`
	// Audience is sent as the "audience" parameter (optional).
	Audience string `json:"audience,omitempty"`
	// Resource is sent as the RFC 8707 "resource" parameter (optional).
	Resource string `json:"resource,omitempty"`
}

// Tools curates what a server's tools look like to every client:
//
//	"tools": {
//	  "include": ["read_*", "search"],
//	  "exclude": ["*_admin"],
//	  "override": {
//	    "search": {"name": "find_docs", "title": "Find docs", "description": "...", "pin": "sha256:..."}
//	  }
//	}
//
// Names and patterns are the server's own tool names. A tool is shown when
// it matches an Include pattern (or Include is empty) and no Exclude
// pattern; the others are unknown tools. Patterns are globs: * matches any
// run of characters, ? any one character.
type Tools struct {
	Include  []string                 `json:"include,omitempty"`
	Exclude  []string                 `json:"exclude,omitempty"`
	Override map[string]*ToolOverride `json:"override,omitempty"`
}

// ToolOverride changes one tool. Empty fields change nothing.
type ToolOverride struct {
	// Name is the name clients see and call the tool by; the server's own
	// name is then unknown to them.
	Name string `json:"name,omitempty"`
	// Title and Description replace the server's.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Pin is "sha256:" and the hex SHA-256 of the tool's input schema in
	// canonical form (see `mcpscript tools --pins`): calls are refused, and
	// the tool is left out of lists, while the server's schema differs.
	Pin string `json:"pin,omitempty"`
}

// PinPrefix starts every ToolOverride.Pin.
const PinPrefix = "sha256:"

// Restart is a server's restart policy. In JSON it is either a policy
// string ("on-failure") or an object with the fields below.
type Restart struct {
	// Policy is RestartNever, RestartOnFailure or RestartAlways
	// (DefaultRestartPolicy when empty).
	Policy string `json:"policy,omitempty"`
	// MaxRetries is how many restarts in a row are attempted before giving
	// up (DefaultMaxRetries when nil; 0 means none).
	MaxRetries *int `json:"maxRetries,omitempty"`
	// MinUptime is how long a server must run for a later exit not to count
	// as a failed restart (DefaultMinUptime when zero).
	MinUptime Duration `json:"minUptime,omitzero"`
	// Backoff is the wait before the first restart, doubled for each
	// further one (DefaultBackoff when zero).
	Backoff Duration `json:"backoff,omitzero"`
	// MaxBackoff caps the wait between restarts (DefaultMaxBackoff when zero).
	MaxBackoff Duration `json:"maxBackoff,omitzero"`
}

// UnmarshalJSON accepts both forms of a restart policy: a string such as
// "on-failure" or an object. It does not validate the values.
func (r *Restart) UnmarshalJSON(b []byte) error {
	var policy string
	if err := json.Unmarshal(b, &policy); err == nil {
		*r = Restart{Policy: policy}
		return nil
	}
	type plain Restart
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = Restart(p)
	return nil
}

// Root is a file:// URI the server may operate on, with an optional name.
// In JSON it is either the URI string or an object.
type Root struct {
	URI  string `json:"uri"`
	Name string `json:"name,omitempty"`
}

// Proxy configures the SSE proxy that exposes the servers over HTTP.
type Proxy struct {
	// Address is the IP address or host name to listen on (DefaultAddress
	// when empty).
	Address string `json:"address,omitempty"`
	// Port is the TCP port to listen on. In a Config built in Go, 0 means
	// DefaultPort. A config file that says "port": 0 asks for any free port:
	// Parse then returns Port 0, and WithDefaults keeps it.
	Port int `json:"port,omitempty"`
	// Workers is the number of worker threads (DefaultWorkers when zero).
	// It is accepted for compatibility with mcp-runner.
	Workers int `json:"workers,omitempty"`
	// AllowedServers, when not nil, restricts the proxy to these servers.
	AllowedServers []string `json:"allowedServers,omitempty"`
	// Authenticate, when not nil, makes clients authenticate.
	Authenticate *Authenticate `json:"authenticate,omitempty"`
	// CORS, when not nil, lets web pages of the listed origins call the
	// proxy from a browser. Without it no CORS headers are sent.
	CORS *CORS `json:"cors,omitempty"`
	// AllowedHosts lists further values the HTTP Host header may have, each
	// a host name or IP address, optionally with ":port" (without a port,
	// any port matches), or "*" for any host (only behind a reverse proxy
	// that checks Host itself). The proxy always accepts its listen address
	// and, when it listens on loopback, localhost, 127.0.0.1 and [::1] with
	// its port. The check protects local servers from DNS rebinding.
	AllowedHosts []string `json:"allowedHosts,omitempty"`
	// MaxBodyBytes bounds the size of a request body (DefaultMaxBodyBytes
	// when zero; at least MinMaxBodyBytes otherwise). Larger requests get
	// HTTP 413.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty"`
	// Sessions bounds the proxy's MCP sessions (the defaults when nil).
	Sessions *Sessions `json:"sessions,omitempty"`
	// DrainTimeout is how long a proxy that is stopping lets the calls in
	// flight finish before it answers them with an error
	// (DefaultDrainTimeout when zero).
	DrainTimeout Duration `json:"drainTimeout,omitzero"`
	// ListWait bounds how long the aggregate view waits for one server's
	// tools, prompts or resources list; slower servers are left out of the
	// answer, which names them (DefaultListWait when zero).
	ListWait Duration `json:"listWait,omitzero"`
	// Console turns the web console (GET /) and its API (/api/...) on or
	// off; nil means on when the proxy listens on a loopback address, off
	// otherwise (see ConsoleOn).
	Console *bool `json:"console,omitempty"`

	anyPort bool // the file said "port": 0
}

// Sessions bounds the MCP sessions of the proxy, counted over every
// transport and route.
type Sessions struct {
	// MaxPerCaller bounds the sessions one caller (a bearer token's name,
	// or everyone together when authentication is off) may have open at
	// once (DefaultMaxSessionsPerCaller when zero).
	MaxPerCaller int `json:"maxPerCaller,omitempty"`
	// MaxTotal bounds the sessions open at once in all
	// (DefaultMaxSessionsTotal when zero).
	MaxTotal int `json:"maxTotal,omitempty"`
	// IdleTimeout closes a Streamable HTTP session that has had no request
	// in flight and no open stream for that long
	// (DefaultProxySessionIdleTimeout when zero).
	IdleTimeout Duration `json:"idleTimeout,omitzero"`
}

// MarshalJSON writes the proxy settings, including "port": 0 when the
// configuration asked for any free port.
func (p Proxy) MarshalJSON() ([]byte, error) {
	type plain Proxy
	if p.Port == 0 && p.anyPort {
		return json.Marshal(struct {
			plain
			Port int `json:"port"`
		}{plain: plain(p)})
	}
	return json.Marshal(plain(p))
}

// ConsoleOn reports whether the web console is on for a proxy listening
// on host (an IP address or host name): Console when it is set, else
// whether host is a loopback address or "localhost".
func (p *Proxy) ConsoleOn(host string) bool {
	if p != nil && p.Console != nil {
		return *p.Console
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Authenticate says how proxy clients authenticate.
type Authenticate struct {
	// Bearer requires an "Authorization: Bearer <token>" header.
	Bearer *Bearer `json:"bearer,omitempty"`
	// QueryTokens lets clients that cannot send headers (a browser's
	// EventSource) authenticate with a short-lived token in the query
	// string, obtained with a bearer token from POST /auth/token.
	QueryTokens bool `json:"queryTokens,omitempty"`
	// OAuth verifies bearer tokens that are JWTs, as an OAuth 2.1
	// resource server, next to the static tokens of Bearer (one of the two
	// is required).
	OAuth *OAuthResource `json:"oauth,omitempty"`
	// TokenlessStreams lets GET /sse open a stream without a token, for web
	// pages written for mcp-runner (their EventSource sends none): the
	// stream belongs to no one and receives nothing until an authenticated
	// POST binds it, by naming it (?sessionId=) or, naming none, by being
	// the only unbound stream of the POST's Origin and address. Off by
	// default; the proxy logs a warning when it is on (see the README's
	// Security section for what it risks).
	TokenlessStreams bool `json:"tokenlessStreams,omitempty"`
}

// Bearer is bearer-token authentication: a client presents one of the
// configured tokens. At least one of Token and Tokens must be set.
type Bearer struct {
	// Token is a secret with access to every server, named
	// DefaultTokenName. When set, it must not be empty.
	Token string `json:"token,omitempty"`
	// Tokens are further secrets, each with a name (reported in logs and to
	// the engine) and optionally limited to some servers.
	Tokens []Token `json:"tokens,omitempty"`
}

// Token is one named bearer token.
type Token struct {
	// Name identifies the token: 1-64 letters, digits, '_', '.' or '-',
	// unique among the tokens ("default" is taken when Bearer.Token is set).
	Name string `json:"name"`
	// Token is the secret; it must not be empty.
	Token string `json:"token"`
	// Servers, when not nil, are the only servers the token may use.
	Servers []string `json:"servers,omitempty"`
}

// All returns every token clients may present: Token, if set, as a Token
// named DefaultTokenName without a server limit, then Tokens. It returns
// nil for a nil Bearer.
func (b *Bearer) All() []Token {
	if b == nil {
		return nil
	}
	var out []Token
	if b.Token != "" {
		out = append(out, Token{Name: DefaultTokenName, Token: b.Token})
	}
	for _, t := range b.Tokens {
		t.Servers = slices.Clone(t.Servers)
		out = append(out, t)
	}
	return out
}

// CORS configures the Cross-Origin Resource Sharing headers of the proxy.
type CORS struct {
	// AllowedOrigins are the origins ("http://localhost:5173", scheme, host
	// and port, no path) whose pages may call the proxy, or "*" for any.
	AllowedOrigins []string `json:"allowedOrigins"`
	// AllowCredentials sends Access-Control-Allow-Credentials: true, so that
	// browsers include cookies and the like. Not allowed with "*".
	AllowCredentials bool `json:"allowCredentials,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// such as "250ms", "30s" or "1m30s".
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string, e.g. "30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string such as "30s". A bare number is an
// error, since its unit would be a guess.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf(`config: invalid duration %s: use a duration string such as "30s"`, b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf(`config: invalid duration %q: use a duration string such as "30s"`, s)
	}
	d.Duration = v
	return nil
}

// Options adjusts ParseWithOptions.
type Options struct {
	// LookupEnv resolves ${VAR} references (os.LookupEnv when nil).
	LookupEnv func(string) (string, bool)
	// Dir becomes Config.Dir, the folder relative cwd values are resolved
	// against.
	Dir string
}

// Load reads the configuration file at path, then parses, expands,
// validates and completes it with defaults like Parse. Config.Source is
// path and Config.Dir the absolute path of its folder. An unreadable file
// gives an error that names the path and matches fs.ErrNotExist and the
// like with errors.Is; other problems give an *Error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("config: cannot read %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		dir = filepath.Dir(path)
	}
	return ParseWithOptions(data, path, Options{Dir: dir})
}

// Parse parses a configuration from data, expands ${VAR} references from
// the process environment, validates it and fills in defaults. source names
// the data in errors ("<string>" when empty). Config.Dir is "". Errors are
// *Error values listing every problem; they match ErrParse (not JSON) or
// ErrInvalid with errors.Is.
func Parse(data []byte, source string) (*Config, error) {
	return ParseWithOptions(data, source, Options{})
}

// ParseWithOptions is Parse with a custom variable lookup and Config.Dir.
func ParseWithOptions(data []byte, source string, opts Options) (*Config, error) {
	if source == "" {
		source = "<string>"
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	root, syntax := parseJSON(data)
	if syntax != nil {
		return nil, &Error{Source: source, Problems: []Problem{*syntax}, Kind: ErrParse}
	}
	d := &decoder{collector: newCollector(data), lookup: lookup, dir: opts.Dir}
	c := d.config(root)
	validate(c, d.collector)
	if err := d.err(source, ErrInvalid); err != nil {
		return nil, err
	}
	c = c.WithDefaults()
	c.Source, c.Dir = source, opts.Dir
	c.src = &origin{data: bytes.Clone(data), valuePos: d.valuePos, vars: d.vars}
	return c, nil
}

// Validate checks a Config, typically one built from Go values, with the
// same rules as Parse. Zero values stand for defaults. Problems carry paths
// but no line and column. Validate does not expand ${VAR} references and
// does not modify c. It returns nil or an *Error matching ErrInvalid.
func (c *Config) Validate() error {
	col := newCollector(nil)
	source := ""
	if c != nil {
		source = c.Source
	}
	validate(c, col)
	return col.err(source, ErrInvalid)
}

// WithDefaults returns a deep copy of c with every default filled in:
// restart policy, retries and backoffs, timeouts, MaxFrameBytes, the
// proxy's address, port, workers and body limit, the scripts' timeout, fail
// mode and call stack size (each hook inheriting the first two), and each
// filter's name, timeout, memory limit and fail mode. Pool sizes stay 0,
// which stands for GOMAXPROCS. It returns nil for a nil Config.
func (c *Config) WithDefaults() *Config {
	if c == nil {
		return nil
	}
	out := &Config{Source: c.Source, Dir: c.Dir, Format: c.Format, src: c.src}
	for _, in := range c.Inputs {
		if in != nil {
			v := *in
			in = &v
		}
		out.Inputs = append(out.Inputs, in)
	}
	if c.Servers != nil {
		out.Servers = make(map[string]*Server, len(c.Servers))
		for name, s := range c.Servers {
			out.Servers[name] = s.withDefaults()
		}
	}
	if c.Proxy != nil {
		p := *c.Proxy
		p.AllowedServers = slices.Clone(p.AllowedServers)
		p.AllowedHosts = slices.Clone(p.AllowedHosts)
		if a := p.Authenticate; a != nil {
			p.Authenticate = &Authenticate{QueryTokens: a.QueryTokens, TokenlessStreams: a.TokenlessStreams, OAuth: a.OAuth.withDefaults()}
			if a.Bearer != nil {
				b := *a.Bearer
				b.Tokens = nil
				for _, t := range a.Bearer.Tokens {
					t.Servers = slices.Clone(t.Servers)
					b.Tokens = append(b.Tokens, t)
				}
				p.Authenticate.Bearer = &b
			}
		}
		if p.CORS != nil {
			c := *p.CORS
			c.AllowedOrigins = slices.Clone(c.AllowedOrigins)
			p.CORS = &c
		}
		if p.Console != nil {
			on := *p.Console
			p.Console = &on
		}
		if p.MaxBodyBytes == 0 {
			p.MaxBodyBytes = DefaultMaxBodyBytes
		}
		var ss Sessions
		if p.Sessions != nil {
			ss = *p.Sessions
		}
		if ss.MaxPerCaller == 0 {
			ss.MaxPerCaller = DefaultMaxSessionsPerCaller
		}
		if ss.MaxTotal == 0 {
			ss.MaxTotal = DefaultMaxSessionsTotal
		}
		if ss.IdleTimeout.Duration == 0 {
			ss.IdleTimeout.Duration = DefaultProxySessionIdleTimeout
		}
		p.Sessions = &ss
		if p.DrainTimeout.Duration == 0 {
			p.DrainTimeout.Duration = DefaultDrainTimeout
		}
		if p.ListWait.Duration == 0 {
			p.ListWait.Duration = DefaultListWait
		}
		if p.Address == "" {
			p.Address = DefaultAddress
		}
		if p.Port == 0 && !p.anyPort {
			p.Port = DefaultPort
		}
		if p.Workers == 0 {
			p.Workers = DefaultWorkers
		}
		out.Proxy = &p
	}
	out.Scripts = c.Scripts.withDefaults()
	out.Redis = c.Redis.withDefaults()
	out.State = c.State.withDefaults(c.Redis)
	out.Limits = c.Limits.withDefaults(c.Redis)
	out.Audit = c.Audit.withDefaults()
	if c.Filters != nil {
		out.Filters = make([]*Filter, len(c.Filters))
		for i, f := range c.Filters {
			out.Filters[i] = f.withDefaults()
		}
	}
	return out
}

func (s *Scripts) withDefaults() *Scripts {
	if s == nil {
		return nil
	}
	out := *s
	out.Env = slices.Clone(s.Env)
	defaultDuration(&out.Timeout, DefaultHookTimeout)
	if out.OnError == "" {
		out.OnError = FailClosed
	}
	if out.MaxCallStackSize == 0 {
		out.MaxCallStackSize = DefaultMaxCallStackSize
	}
	if s.Hooks != nil {
		out.Hooks = make([]*Hook, len(s.Hooks))
		for i, h := range s.Hooks {
			if h == nil {
				continue
			}
			hc := *h
			defaultDuration(&hc.Timeout, out.Timeout.Duration)
			if hc.OnError == "" {
				hc.OnError = out.OnError
			}
			out.Hooks[i] = &hc
		}
	}
	return &out
}

func (f *Filter) withDefaults() *Filter {
	if f == nil {
		return nil
	}
	out := *f
	out.Config = bytes.Clone(f.Config)
	out.Hooks = slices.Clone(f.Hooks)
	out.Name = filterName(f)
	defaultDuration(&out.Timeout, DefaultFilterTimeout)
	if out.MemoryLimitMiB == 0 {
		out.MemoryLimitMiB = DefaultFilterMemoryMiB
	}
	if out.OnError == "" {
		out.OnError = FailClosed
	}
	return &out
}

func (s *Server) withDefaults() *Server {
	if s == nil {
		return nil
	}
	out := *s
	out.Args = slices.Clone(s.Args)
	out.Env = maps.Clone(s.Env)
	out.Roots = slices.Clone(s.Roots)
	out.Headers = maps.Clone(s.Headers)
	if s.OAuth != nil {
		o := *s.OAuth
		o.Scopes = slices.Clone(o.Scopes)
		out.OAuth = &o
	}
	out.Tools = s.Tools.clone()
	r := &out.Restart
	if r.Policy == "" {
		r.Policy = DefaultRestartPolicy
	}
	retries := DefaultMaxRetries
	if r.MaxRetries != nil {
		retries = *r.MaxRetries
	}
	r.MaxRetries = &retries
	defaultDuration(&r.MinUptime, DefaultMinUptime)
	defaultDuration(&r.Backoff, DefaultBackoff)
	defaultDuration(&r.MaxBackoff, DefaultMaxBackoff)
	defaultDuration(&out.StartTimeout, DefaultStartTimeout)
	defaultDuration(&out.RequestTimeout, DefaultRequestTimeout)
	if !out.Remote() { // a remote server has no process to stop
		defaultDuration(&out.StopTimeout, DefaultStopTimeout)
	}
	if out.MaxFrameBytes == 0 {
		out.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if out.ChildModel == ChildPerSession {
		defaultDuration(&out.SessionIdleTimeout, DefaultSessionIdleTimeout)
		if out.MaxSessions == 0 {
			out.MaxSessions = DefaultMaxSessions
		}
	}
	return &out
}

func (t *Tools) clone() *Tools {
	if t == nil {
		return nil
	}
	out := &Tools{Include: slices.Clone(t.Include), Exclude: slices.Clone(t.Exclude)}
	if t.Override != nil {
		out.Override = make(map[string]*ToolOverride, len(t.Override))
		for k, o := range t.Override {
			if o != nil {
				c := *o
				o = &c
			}
			out.Override[k] = o
		}
	}
	return out
}

func defaultDuration(d *Duration, def time.Duration) {
	if d.Duration == 0 {
		d.Duration = def
	}
}

// ServerNames returns the names of the configured servers, sorted.
func (c *Config) ServerNames() []string {
	if c == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(c.Servers))
}

// ResolvedEnvFile returns EnvFile resolved like Cwd: as it is when
// absolute, joined to dir (usually Config.Dir) when relative, "" when unset.
func (s *Server) ResolvedEnvFile(dir string) string {
	switch {
	case s.EnvFile == "":
		return ""
	case filepath.IsAbs(s.EnvFile) || dir == "":
		return filepath.Clean(s.EnvFile)
	}
	return filepath.Join(dir, s.EnvFile)
}

// ResolvedCwd returns the directory to start the server in: Cwd when it is
// absolute, Cwd joined to dir (usually Config.Dir) when it is relative, and
// "" (the process's working directory) when Cwd is empty.
func (s *Server) ResolvedCwd(dir string) string {
	switch {
	case s.Cwd == "":
		return ""
	case filepath.IsAbs(s.Cwd) || dir == "":
		return filepath.Clean(s.Cwd)
	}
	return filepath.Join(dir, s.Cwd)
}

// Fail modes of hooks and filters (Scripts.OnError, Hook.OnError, Filter.OnError).
const (
	// FailClosed refuses a request when its hook throws, times out or
	// returns something unreadable. The default.
	FailClosed = "closed"
	// FailOpen lets the request through unchanged, with a warning in the log.
	FailOpen = "open"
)

// Defaults of the scripts and filters sections.
const (
	DefaultHookTimeout      = time.Second
	DefaultMaxCallStackSize = 1024
	DefaultFilterMemoryMiB  = 64
	MinFilterMemoryMiB      = 1
	MaxFilterMemoryMiB      = 4096
	DefaultFilterTimeout    = time.Second
)

// Scripts is the "scripts" section: JavaScript hooks, and what every script
// (hooks and `mcpscript run` workflows) may reach beyond its own code.
//
//	"scripts": {
//	  "hooks": ["policy.ts", {"path": "audit.js", "timeout": "50ms", "onError": "open"}],
//	  "timeout": "1s",
//	  "onError": "closed",
//	  "env": ["API_KEY"],
//	  "readDir": "./data",
//	  "pool": 4,
//	  "maxCallStackSize": 1024,
//	  "isolation": "process",
//	  "memoryLimitMiB": 256
//	}
type Scripts struct {
	// Hooks are the hook scripts, run in this order on requests (and in
	// the reverse order on results). A string is short for {"path": ...}.
	Hooks []*Hook `json:"hooks,omitempty"`
	// Timeout bounds each call of a hook function; default
	// DefaultHookTimeout.
	Timeout Duration `json:"timeout,omitzero"`
	// OnError is the default fail mode: FailClosed (default) or FailOpen.
	OnError string `json:"onError,omitempty"`
	// Env names the environment variables scripts may read (process.env);
	// the others are invisible.
	Env []string `json:"env,omitempty"`
	// ReadDir is a folder scripts may read files from (fs.readFile), relative
	// to the config file's folder; "" grants none.
	ReadDir string `json:"readDir,omitempty"`
	// Pool bounds the JavaScript runtimes kept per hook script; default
	// (0) GOMAXPROCS. More concurrent calls wait for a free runtime.
	Pool int `json:"pool,omitempty"`
	// MaxCallStackSize bounds JavaScript recursion; default
	// DefaultMaxCallStackSize frames, at least 16.
	MaxCallStackSize int `json:"maxCallStackSize,omitempty"`
	// Isolation is where hook runtimes run: IsolationProcess (each in a
	// memory-capped host process), IsolationNone (inside mcpscript), or
	// IsolationAuto ("" too: host processes when the program can start
	// them, as the mcpscript command can).
	Isolation string `json:"isolation,omitempty"`
	// MemoryLimitMiB bounds each hook host process, in MiB; default
	// DefaultHookMemoryMiB. It does not apply without isolation.
	MemoryLimitMiB int `json:"memoryLimitMiB,omitempty"`
}

// Values of Scripts.Isolation.
const (
	IsolationAuto    = "auto"
	IsolationProcess = "process"
	IsolationNone    = "none"
)

// Bounds of Scripts.MemoryLimitMiB.
const (
	DefaultHookMemoryMiB = 256
	MinHookMemoryMiB     = 32
	MaxHookMemoryMiB     = 65536
)

// Hook is one hook script.
type Hook struct {
	// Path is the script file (.js, .mjs, .cjs, .ts, .mts or .cts),
	// relative to the config file's folder.
	Path string `json:"path"`
	// Timeout overrides Scripts.Timeout for this script (WithDefaults
	// fills it in from Scripts).
	Timeout Duration `json:"timeout,omitzero"`
	// OnError overrides Scripts.OnError for this script (WithDefaults fills
	// it in from Scripts).
	OnError string `json:"onError,omitempty"`
}

// Filter is one WebAssembly filter of the "filters" section.
//
//	"filters": [{
//	  "wasm": "filters/redact.wasm",
//	  "name": "redact",
//	  "config": {"folder": "/srv/data"},
//	  "hooks": ["toolCall", "toolResult"],
//	  "timeout": "1s",
//	  "memoryLimitMiB": 64,
//	  "onError": "closed",
//	  "pool": 2
//	}]
type Filter struct {
	// Wasm is the module file, relative to the config file's folder.
	Wasm string `json:"wasm"`
	// Name identifies the filter in errors and logs; default the file's
	// base name without ".wasm".
	Name string `json:"name,omitempty"`
	// Config is handed to the filter when an instance starts, as JSON; it
	// must be an object. Parse keeps it compacted.
	Config json.RawMessage `json:"config,omitempty"`
	// Hooks are the phases the filter handles (e.g. "toolCall",
	// "toolResult", "listTools", "request"); nil means every phase, and an
	// empty list is an error.
	Hooks []string `json:"hooks,omitempty"`
	// Timeout bounds each call into the filter; default 1s.
	Timeout Duration `json:"timeout,omitzero"`
	// MemoryLimitMiB caps an instance's memory, between MinFilterMemoryMiB
	// and MaxFilterMemoryMiB; default DefaultFilterMemoryMiB. Go guests
	// need at least 16.
	MemoryLimitMiB int `json:"memoryLimitMiB,omitempty"`
	// OnError is the fail mode: FailClosed (default) or FailOpen.
	OnError string `json:"onError,omitempty"`
	// Pool bounds the instances kept; default (0) GOMAXPROCS.
	Pool int `json:"pool,omitempty"`
}

// Resolve returns path resolved against the config's folder (Dir), as
// hook, readDir and filter paths are.
func (c *Config) Resolve(path string) string {
	switch {
	case path == "":
		return ""
	case filepath.IsAbs(path) || c.Dir == "":
		return filepath.Clean(path)
	}
	return filepath.Join(c.Dir, path)
}

// Visible reports whether a tool of the server's, by its own name, is
// shown: it matches an Include pattern (or there are none) and no Exclude
// pattern. A nil Tools shows every tool.
func (t *Tools) Visible(name string) bool {
	if t == nil {
		return true
	}
	if t.Include != nil && !slices.ContainsFunc(t.Include, func(g string) bool { return MatchGlob(g, name) }) {
		return false
	}
	return !slices.ContainsFunc(t.Exclude, func(g string) bool { return MatchGlob(g, name) })
}

// MatchGlob reports whether name matches the glob pattern, in which *
// matches any run of characters (none included), ? any one character, and
// every other character itself.
func MatchGlob(patternS, nameS string) bool {
	// Iterative matching with one backtrack point: linear in practice,
	// never exponential.
	pattern, name := []rune(patternS), []rune(nameS)
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]) && pattern[p] != '*':
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
