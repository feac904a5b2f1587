package config

import (
	"errors"
	"strings"
	"testing"
)

// testEnv is the environment the tests expand ${VAR} references from.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"HOME":        "/home/me",
		"EMPTY":       "",
		"FETCH_TOKEN": "s3cret",
	}[name]
	return v, ok
}

// badConfigs shows what a user sees for each kind of mistake: every
// problem, one per line, as "file:line:col: path: message (hint)".
var badConfigs = []struct {
	name string
	in   string
	kind error
	want string
}{
	{
		name: "syntax error: missing comma",
		in: `{
  "mcpServers": {
    "fetch": {"command": "uvx"}
    "git": {"command": "uvx"}
  }
}`,
		kind: ErrParse,
		want: `mcpscript.json:4:5: unexpected '"'; expected ',' or '}' after the value (missing ',' between members?)`,
	},
	{
		name: "trailing comma",
		in: `{
  "mcpServers": {
    "fetch": {"command": "uvx", "args": ["mcp-server-fetch"],}
  }
}`,
		kind: ErrParse,
		want: `mcpscript.json:3:61: trailing comma before '}' (JSON does not allow a comma after the last item; remove it)`,
	},
	{
		name: "trailing comma in array",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "args": ["a", "b", ]}}}`,
		kind: ErrParse,
		want: `mcpscript.json:1:62: trailing comma before ']' (JSON does not allow a comma after the last item; remove it)`,
	},
	{
		name: "comment",
		in: `{
  // my servers
  "mcpServers": {}
}`,
		kind: ErrParse,
		want: `mcpscript.json:2:3: unexpected '/'; expected a key in double quotes (comments are not allowed in JSON; remove "//" and "/* */" comments)`,
	},
	{
		name: "single quotes",
		in:   `{"mcpServers": {'fetch': {"command": "uvx"}}}`,
		kind: ErrParse,
		want: `mcpscript.json:1:17: unexpected single quote; expected a key in double quotes (JSON strings and keys use double quotes ("), not single quotes ('))`,
	},
	{
		name: "unquoted key",
		in:   `{mcpServers: {}}`,
		kind: ErrParse,
		want: `mcpscript.json:1:2: unexpected 'm'; expected a key in double quotes (keys must be in double quotes, e.g. "command")`,
	},
	{
		name: "capitalised literal",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "disabled": True}}}`,
		kind: ErrParse,
		want: `mcpscript.json:1:57: unexpected 'T'; expected a value (JSON literals are lowercase: true)`,
	},
	{
		name: "unescaped backslash in a Windows path",
		in:   `{"mcpServers": {"fs": {"command": "C:\Program Files\nodejs\npx.cmd"}}}`,
		kind: ErrParse,
		want: `mcpscript.json:1:38: invalid escape sequence "\P" in a string (write \\ for a backslash, e.g. "C:\\Users\\me"; valid escapes are \" \\ \/ \b \f \n \r \t \uXXXX)`,
	},
	{
		name: "unclosed object",
		in: `{
  "mcpServers": {
    "fetch": {"command": "uvx"}
}`,
		kind: ErrParse,
		want: `mcpscript.json:4:2: unexpected end of file; expected '}' to close the '{' at 1:1`,
	},
	{
		name: "extra closing brace",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}}}`,
		kind: ErrParse,
		want: `mcpscript.json:1:46: unexpected '}' after the end of the top-level object (the file must hold exactly one JSON object; is there an extra '}' or a second object?)`,
	},
	{
		name: "empty file",
		in:   "\n",
		kind: ErrParse,
		want: `mcpscript.json:1:1: the file is empty (a config looks like {"mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}})`,
	},
	{
		name: "top level not an object",
		in:   `[{"command": "uvx"}]`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:1: expected an object at the top level, found an array (a config looks like {"mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}})`,
	},
	{
		name: "mcpServers missing",
		in:   `{"globalShortcut": "Ctrl+Space"}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:1: missing required key "mcpServers" (add the servers to run, e.g. "mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}} (or VS Code's "servers"))`,
	},
	{
		name: "servers outside mcpServers",
		in: `{
  "fetch": {"command": "uvx"}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:1: missing required key "mcpServers" (add the servers to run, e.g. "mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}} (or VS Code's "servers"))
mcpscript.json:2:3: fetch: unknown key "fetch" (server definitions go inside "mcpServers": {"mcpServers": {"fetch": {...}}})`,
	},
	{
		name: "servers instead of mcpServers",
		in:   `{"servers": {"fetch": {"command": "uvx"}}, "mcpServers": {"git": {"command": "uvx"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:2: servers: both "mcpServers" and "servers" are present ("servers" is VS Code's name for "mcpServers"; keep one of them)`,
	},
	{
		name: "empty mcpServers",
		in:   `{"mcpServers": {}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:16: mcpServers: must define at least one server (e.g. "mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}})`,
	},
	{
		name: "mcpServers not an object",
		in:   `{"mcpServers": [{"command": "uvx"}]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:16: mcpServers: expected an object mapping server names to servers, found an array`,
	},
	{
		name: "server not an object",
		in:   `{"mcpServers": {"fetch": "uvx mcp-server-fetch"}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:26: mcpServers.fetch: expected an object, found a string (a server looks like {"command": "npx", "args": ["-y", "some-mcp-server"]})`,
	},
	{
		name: "missing command",
		in: `{"mcpServers": {
  "fetch": {"args": ["mcp-server-fetch"]}
}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:2:12: mcpServers.fetch: missing required key "command" (the program to start, e.g. "command": "npx"; or "url" for a remote server)`,
	},
	{
		name: "empty command",
		in:   `{"mcpServers": {"fetch": {"command": ""}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:38: mcpServers.fetch.command: must not be empty (the program to start, e.g. "npx"; or "url" for a remote server)`,
	},
	{
		name: "command not a string",
		in:   `{"mcpServers": {"fetch": {"command": ["uvx", "mcp-server-fetch"]}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:38: mcpServers.fetch.command: expected a string, found an array`,
	},
	{
		name: "args not an array",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "args": "mcp-server-fetch"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:53: mcpServers.fetch.args: expected an array of strings, found a string`,
	},
	{
		name: "args element not a string",
		in: `{
  "mcpServers": {
    "fetch": {
      "command": "uvx",
      "args": ["--port", 8080]
    }
  }
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:5:26: mcpServers.fetch.args[1]: expected a string, found a number`,
	},
	{
		name: "env value not a string",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "env": {"PORT": 8080, "DEBUG": true}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:61: mcpServers.fetch.env.PORT: expected a string, found a number (quote it: "PORT": "8080")
mcpscript.json:1:76: mcpServers.fetch.env.DEBUG: expected a string, found a boolean (quote it: "DEBUG": "true")`,
	},
	{
		name: "unknown key with did-you-mean",
		in: `{
  "mcpServers": {
    "fetch": {
      "command": "uvx",
      "arg": ["mcp-server-fetch"]
    }
  }
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:5:7: mcpServers.fetch.arg: unknown key "arg" (did you mean "args"?)`,
	},
	{
		name: "misspelt command",
		in:   `{"mcpServers": {"fetch": {"comand": "uvx"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:26: mcpServers.fetch: missing required key "command" (the program to start, e.g. "command": "npx"; or "url" for a remote server)
mcpscript.json:1:27: mcpServers.fetch.comand: unknown key "comand" (did you mean "command"?)`,
	},
	{
		name: "unknown key without a close match",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "restart": {"retries": 3}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:57: mcpServers.fetch.restart.retries: unknown key "retries" (expected one of: policy, maxRetries, minUptime, backoff, maxBackoff)`,
	},
	{
		name: "command and url",
		in:   `{"mcpServers": {"both": {"url": "https://example.com/mcp", "command": "npx"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:26: mcpServers.both.url: a server has either "command" (a program to start) or "url" (a remote server), not both (remove one of them)`,
	},
	{
		name: "type sse with a command",
		in:   `{"mcpServers": {"fetch": {"type": "sse", "command": "uvx"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:35: mcpServers.fetch.type: a "sse" server needs a "url" (add the endpoint, e.g. "url": "https://example.com/mcp", or remove "type" for a command)`,
	},
	{
		name: "type stdio with a url",
		in:   `{"mcpServers": {"r": {"type": "stdio", "url": "https://example.com/mcp"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:31: mcpServers.r.type: a "stdio" server is started from a "command", not reached at a "url" (use "http" (Streamable HTTP) or "sse" (legacy HTTP+SSE), or leave "type" out to detect it)`,
	},
	{
		name: "unknown and websocket types",
		in: `{"mcpServers": {"r": {"type": "htp", "url": "https://example.com/mcp"},
 "w": {"type": "ws", "url": "wss://example.com/mcp"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:31: mcpServers.r.type: unknown server type "htp": expected "stdio", "http" or "sse" (did you mean "http"?)
mcpscript.json:2:16: mcpServers.w.type: unknown server type "ws": expected "stdio", "http" or "sse" (WebSocket servers are not supported; use "http" (Streamable HTTP) or "sse" if the server offers it)
mcpscript.json:2:29: mcpServers.w.url: the URL's scheme must be http or https, not "wss"`,
	},
	{
		name: "bad urls",
		in: `{"mcpServers": {"a": {"url": "example.com/mcp"}, "b": {"url": "http:///mcp"},
 "c": {"url": "${NOPE}"}, "d": {"url": ""}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:30: mcpServers.a.url: the URL "example.com/mcp" has no scheme (did you mean "https://example.com/mcp"?)
mcpscript.json:1:63: mcpServers.b.url: the URL has no host (e.g. "https://example.com/mcp")
mcpscript.json:2:16: mcpServers.c.url: ${NOPE} is not set; set it or write ${NOPE:-default}
mcpscript.json:2:40: mcpServers.d.url: must not be empty (the server's MCP endpoint, e.g. "https://example.com/mcp")`,
	},
	{
		name: "stdio keys on a remote server",
		in: `{"mcpServers": {"r": {"url": "https://example.com/mcp", "args": ["x"], "env": {"A": "b"},
 "cwd": "/tmp", "stopTimeout": "1s"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:57: mcpServers.r.args: only applies to servers started from a "command", not to a remote "url" (remove it; a remote server's settings are its url, type, headers and oauth)
mcpscript.json:1:72: mcpServers.r.env: only applies to servers started from a "command", not to a remote "url" (remove it; a remote server's settings are its url, type, headers and oauth)
mcpscript.json:2:2: mcpServers.r.cwd: only applies to servers started from a "command", not to a remote "url" (remove it; a remote server's settings are its url, type, headers and oauth)
mcpscript.json:2:17: mcpServers.r.stopTimeout: only applies to servers started from a "command", not to a remote "url" (remove it; a remote server's settings are its url, type, headers and oauth)`,
	},
	{
		name: "remote keys on a stdio server",
		in:   `{"mcpServers": {"s": {"command": "x", "headers": {"A": "b"}, "oauth": {"tokenUrl": "https://a/t", "clientId": "c"}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:39: mcpServers.s.headers: only applies to remote servers (with a "url")
mcpscript.json:1:62: mcpServers.s.oauth: only applies to remote servers (with a "url")`,
	},
	{
		name: "bad headers",
		in: `{"mcpServers": {"r": {"url": "https://example.com/mcp", "headers": {
 "Mcp-Session-Id": "x", "Bad Name": "y", "Authorization": "Bearer ${NOPE}"},
 "oauth": {"tokenUrl": "ftp://auth", "clientSecret": "s"}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:2:2: mcpServers.r.headers.Mcp-Session-Id: the header "Mcp-Session-Id" is set by the transport itself (remove it)
mcpscript.json:2:25: mcpServers.r.headers["Bad Name"]: invalid header name "Bad Name" (use letters, digits and -)
mcpscript.json:2:67: mcpServers.r.headers.Authorization: ${NOPE} is not set; set it or write ${NOPE:-default}
mcpscript.json:3:11: mcpServers.r.oauth: missing required key "clientId" (e.g. "clientId": "${MCP_CLIENT_ID}")
mcpscript.json:3:24: mcpServers.r.oauth.tokenUrl: the URL's scheme must be http or https, not "ftp"`,
	},
	{
		name: "tool curation",
		in: `{"mcpServers": {"s": {"command": "x", "tools": {"include": ["read_*", "", "read_*"],
 "exclude": ["*_admin"],
 "override": {"user_admin": {"name": "u"}, "read_a": {"name": "bad name!", "pin": "sha256:xyz"},
  "read_b": {"name": "read_c"}, "read_c": {"title": "C"}, "read_d": {"name": "read_e"}, "read_f": {"name": "read_e"}}}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:71: mcpServers.s.tools.include[1]: must not be empty (a tool name or a glob such as "read_*")
mcpscript.json:1:75: mcpServers.s.tools.include[2]: "read_*" is listed twice
mcpscript.json:3:15: mcpServers.s.tools.override.user_admin: the tool "user_admin" is hidden by include/exclude, so this override never applies (remove the override, or show the tool)
mcpscript.json:3:63: mcpServers.s.tools.override.read_a.name: invalid tool name "bad name!": use 1-128 letters, digits, '_', '-' and '.'
mcpscript.json:3:83: mcpServers.s.tools.override.read_a.pin: invalid pin "sha256:xyz": expected "sha256:" and 64 hex digits (print the current pins with: mcpscript tools --pins)
mcpscript.json:4:22: mcpServers.s.tools.override.read_b.name: "read_c" is the name of another tool the server shows (rename "read_c" too, or hide it)
mcpscript.json:4:108: mcpServers.s.tools.override.read_f.name: the tools "read_d" and "read_f" are both renamed to "read_e" (give each its own name)`,
	},
	{
		name: "inputs",
		in: `{"inputs": [{"type": "promptString", "id": "key", "description": "API key", "password": true},
 {"id": "key"}, {"type": "promptString"}],
 "servers": {"r": {"type": "http", "url": "https://example.com/mcp", "headers": {"X-Key": "${input:key}", "X-Other": "${input:other}"}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:2:9: inputs[1].id: the input id "key" is used twice (input ids must be unique)
mcpscript.json:2:17: inputs[2]: missing required key "id" (the name ${input:ID} uses, e.g. "id": "api-key")
mcpscript.json:3:92: servers.r.headers.X-Key: ${input:key} has no value: set MCP_INPUT_KEY to what VS Code would ask for: "API key"
mcpscript.json:3:119: servers.r.headers.X-Other: ${input:other} has no value: set MCP_INPUT_OTHER (no input "other" is declared in "inputs")`,
	},
	{
		name: "disabled not a boolean",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "disabled": "yes"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:57: mcpServers.fetch.disabled: expected true or false, found a string`,
	},
	{
		name: "bad restart policy",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "restart": "on_failure"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:56: mcpServers.fetch.restart: unknown restart policy "on_failure": expected "never", "on-failure" or "always" (did you mean "on-failure"?)`,
	},
	{
		name: "bad restart policy in an object",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "restart": {"policy": "Always", "maxRetries": -1}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:67: mcpServers.fetch.restart.policy: unknown restart policy "Always": expected "never", "on-failure" or "always" (did you mean "always"?)
mcpscript.json:1:91: mcpServers.fetch.restart.maxRetries: must not be negative, found -1 (0 means no restarts)`,
	},
	{
		name: "restart of the wrong type",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "restart": true}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:56: mcpServers.fetch.restart: expected a string or an object, found a boolean (e.g. "on-failure" or {"policy": "on-failure", "maxRetries": 5})`,
	},
	{
		name: "bare-number duration",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "startTimeout": 30}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:61: mcpServers.fetch.startTimeout: expected a duration string, found the number 30 (use a duration string such as "30s" for seconds or "30ms" for milliseconds)`,
	},
	{
		name: "duration without a unit",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "requestTimeout": "90"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:63: mcpServers.fetch.requestTimeout: invalid duration "90" (use a duration string such as "90s" for seconds or "90ms" for milliseconds)`,
	},
	{
		name: "unparsable duration",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "stopTimeout": "5 sec"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:60: mcpServers.fetch.stopTimeout: invalid duration "5 sec" (use a duration string such as "30s", "250ms" or "1m30s")`,
	},
	{
		name: "negative duration",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "restart": {"backoff": "-250ms"}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:68: mcpServers.fetch.restart.backoff: must not be negative, found "-250ms"`,
	},
	{
		name: "zero duration",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "startTimeout": "0s"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:61: mcpServers.fetch.startTimeout: the duration must be greater than zero (leave the key out to use the default)`,
	},
	{
		name: "backoff above maxBackoff",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "restart": {"backoff": "1m"}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:68: mcpServers.fetch.restart.backoff: backoff (1m0s) must not be greater than maxBackoff (30s)`,
	},
	{
		name: "maxFrameBytes too small",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "maxFrameBytes": 512}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:62: mcpServers.fetch.maxFrameBytes: must be at least 1024, found 512 (leave the key out for the default, 16777216 = 16 MiB)`,
	},
	{
		name: "bad childModel",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "childModel": "per_session"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:59: mcpServers.fetch.childModel: unknown child model "per_session": expected "shared" or "per-session" (did you mean "per-session"?)`,
	},
	{
		name: "bad maxSessions",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "childModel": "per-session", "maxSessions": 0}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:89: mcpServers.fetch.maxSessions: must be at least 1, found 0 (leave the key out for the default, 16)`,
	},
	{
		name: "per-session keys on a shared server",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "sessionIdleTimeout": "1m", "maxSessions": 2}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:67: mcpServers.fetch.sessionIdleTimeout: only applies to per-session servers (set "childModel": "per-session", or remove the key)
mcpscript.json:1:88: mcpServers.fetch.maxSessions: only applies to per-session servers (set "childModel": "per-session", or remove the key)`,
	},
	{
		name: "negative sessionIdleTimeout",
		in:   `{"mcpServers": {"fetch": {"command": "uvx", "childModel": "per-session", "sessionIdleTimeout": "-1s"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:96: mcpServers.fetch.sessionIdleTimeout: must not be negative, found "-1s"`,
	},
	{
		name: "root not a file URI",
		in:   `{"mcpServers": {"fs": {"command": "npx", "roots": ["/home/me/project", {"uri": "https://example.com"}, {"name": "x"}]}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:52: mcpServers.fs.roots[0]: expected a file:// URI, found the path "/home/me/project" (did you mean "file:///home/me/project"?)
mcpscript.json:1:80: mcpServers.fs.roots[1].uri: only file:// roots are supported, found "https://example.com"
mcpscript.json:1:104: mcpServers.fs.roots[2]: missing required key "uri" (e.g. {"uri": "file:///home/me/project", "name": "project"})`,
	},
	{
		name: "duplicate key",
		in: `{
  "mcpServers": {
    "fetch": {
      "command": "uvx",
      "command": "npx"
    }
  }
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:5:7: mcpServers.fetch.command: duplicate key "command" (each key may appear only once in an object; remove one of them)`,
	},
	{
		name: "duplicate server",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}, "fetch": {"command": "npx"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:46: mcpServers.fetch: duplicate server name "fetch" (each server name may appear only once; rename or remove one of them)`,
	},
	{
		name: "bad server name",
		in:   `{"mcpServers": {"my server": {"command": "uvx"}, "-x": {"command": "uvx"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:17: mcpServers["my server"]: invalid server name: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit (try "my-server")
mcpscript.json:1:50: mcpServers.-x: invalid server name: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit (try "x")`,
	},
	{
		name: "unset variable",
		in: `{
  "mcpServers": {
    "gh": {
      "command": "npx",
      "env": {"TOKEN": "${GITHUB_TOKEN}"}
    }
  }
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:5:25: mcpServers.gh.env.TOKEN: ${GITHUB_TOKEN} is not set; set it or write ${GITHUB_TOKEN:-default}`,
	},
	{
		name: "unterminated reference",
		in:   `{"mcpServers": {"fs": {"command": "npx", "args": ["--root=${HOME/projects"]}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:59: mcpServers.fs.args[0]: unterminated "${HOME/projects": add the closing } (or write $$ for a literal $)`,
	},
	{
		name: "unsupported reference form",
		in:   `{"mcpServers": {"fs": {"command": "npx", "cwd": "${HOME-/tmp}"}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:50: mcpServers.fs.cwd: unsupported ${HOME-/tmp}: only ${HOME} and ${HOME:-default} are supported`,
	},
	{
		name: "port out of range",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"port": 70000}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:68: sseProxy.port: must be between 1 and 65535, found 70000 (or 0 for any free port)`,
	},
	{
		name: "quoted port",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"port": "8080"}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:68: sseProxy.port: expected an integer, found a string (write the number without quotes: 8080)`,
	},
	{
		name: "workers zero",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"workers": 0}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:71: sseProxy.workers: must be at least 1`,
	},
	{
		name: "address with a port",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"address": "localhost:8080"}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:71: sseProxy.address: invalid address "localhost:8080": expected an IP address or host name (put the port in "port": "address": "localhost", "port": 8080)`,
	},
	{
		name: "allowedServers names an unknown server",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}, "filesystem": {"command": "npx"}},
  "sseProxy": {"allowedServers": ["fetch", "filesytem", "git"]}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:3:44: sseProxy.allowedServers[1]: unknown server "filesytem" (did you mean "filesystem"?)
mcpscript.json:3:57: sseProxy.allowedServers[2]: unknown server "git" (configured servers: fetch, filesystem)`,
	},
	{
		name: "empty bearer token",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"authenticate": {"bearer": {"token": ""}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:97: sseProxy.authenticate.bearer.token: must not be empty (read the secret from a variable, e.g. "token": "${MCP_PROXY_TOKEN}")`,
	},
	{
		name: "authenticate without bearer",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"authenticate": {"basic": {}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:76: sseProxy.authenticate: missing "bearer" or "oauth" (e.g. "authenticate": {"bearer": {"token": "${MCP_PROXY_TOKEN}"}}, or leave "authenticate" out)
mcpscript.json:1:77: sseProxy.authenticate.basic: unknown key "basic" (expected one of: bearer, oauth, queryTokens, tokenlessStreams)`,
	},
	{
		name: "bearer without token or tokens",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"authenticate": {"bearer": {"tokens": null}}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:87: sseProxy.authenticate.bearer: missing "token" or "tokens" (e.g. {"token": "${MCP_PROXY_TOKEN}"} or {"tokens": [{"name": "ci", "token": "${CI_TOKEN}"}]})`,
	},
	{
		name: "named tokens",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}, "memory": {"command": "npx"}},
  "sseProxy": {"authenticate": {"bearer": {"tokens": [
    {"name": "ci", "token": "${CI_TOKEN}", "servers": ["memroy"]},
    {"name": "ci", "token": ""},
    {"token": "x", "servers": "fetch"},
    {"name": "web", "token": "y", "scope": "all"}
  ]}, "queryTokens": "yes"}}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:4:30: sseProxy.authenticate.bearer.tokens[0].token: ${CI_TOKEN} is not set; set it to a random secret of 16 or more bytes, e.g. export CI_TOKEN=$(openssl rand -hex 32)
mcpscript.json:4:56: sseProxy.authenticate.bearer.tokens[0].servers[0]: unknown server "memroy" (did you mean "memory"?)
mcpscript.json:5:14: sseProxy.authenticate.bearer.tokens[1].name: the name "ci" is used twice (token names must be unique)
mcpscript.json:5:29: sseProxy.authenticate.bearer.tokens[1].token: must not be empty (read the secret from a variable, e.g. "token": "${MCP_PROXY_TOKEN}")
mcpscript.json:6:5: sseProxy.authenticate.bearer.tokens[2]: missing required key "name" (a name for logs and the engine, e.g. "name": "ci")
mcpscript.json:6:31: sseProxy.authenticate.bearer.tokens[2].servers: expected an array of strings, found a string
mcpscript.json:7:35: sseProxy.authenticate.bearer.tokens[3].scope: unknown key "scope" (expected one of: name, token, servers)
mcpscript.json:8:22: sseProxy.authenticate.queryTokens: expected true or false, found a string`,
	},
	{
		name: "cors, hosts and body limit",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "sseProxy": {
    "cors": {"allowedOrigins": ["http://localhost:5173/"], "allowCredential": true},
    "allowedHosts": [],
    "maxBodyBytes": 0
  }
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:4:33: sseProxy.cors.allowedOrigins[0]: invalid origin "http://localhost:5173/": an origin has no path (did you mean "http://localhost:5173"?)
mcpscript.json:4:60: sseProxy.cors.allowCredential: unknown key "allowCredential" (did you mean "allowCredentials"?)
mcpscript.json:5:21: sseProxy.allowedHosts: is empty (list host names such as "mcp.example.com", or leave "allowedHosts" out)
mcpscript.json:6:21: sseProxy.maxBodyBytes: must be at least 1024 (leave the key out for the default, 4194304 = 4 MiB)`,
	},
	{
		name: "session limits, drain and list wait",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "sseProxy": {
    "sessions": {"maxPerCaler": 4, "maxTotal": 0, "idleTimeout": 30},
    "drainTimout": "5s",
    "listWait": "soon"
  }
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:4:18: sseProxy.sessions.maxPerCaler: unknown key "maxPerCaler" (did you mean "maxPerCaller"?)
mcpscript.json:4:48: sseProxy.sessions.maxTotal: must be at least 1, found 0 (leave the key out for the default, 4096)
mcpscript.json:4:66: sseProxy.sessions.idleTimeout: expected a duration string, found the number 30 (use a duration string such as "30s" for seconds or "30ms" for milliseconds)
mcpscript.json:5:5: sseProxy.drainTimout: unknown key "drainTimout" (did you mean "drainTimeout"?)
mcpscript.json:6:17: sseProxy.listWait: invalid duration "soon" (use a duration string such as "30s", "250ms" or "1m30s")`,
	},
	{
		name: "session limits that contradict each other",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "sseProxy": {"sessions": {"maxPerCaller": 500, "maxTotal": 100}, "drainTimeout": "-1s"}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:3:45: sseProxy.sessions.maxPerCaller: is 500, more than the 100 sessions allowed in all (maxTotal) (raise maxTotal or lower maxPerCaller)
mcpscript.json:3:84: sseProxy.drainTimeout: must not be negative, found "-1s"`,
	},
	{
		name: "sessions is not an object",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"sessions": 10}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:72: sseProxy.sessions: expected an object, found a number`,
	},
	{
		name: "cors without origins",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {"cors": {}}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:68: sseProxy.cors: missing required key "allowedOrigins" (the web origins allowed to call the proxy, e.g. "allowedOrigins": ["http://localhost:5173"])`,
	},
	{
		name: "unknown scripts key with did-you-mean",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "scripts": {"hooks": ["policy.ts"], "onEror": "open"}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:3:39: scripts.onEror: unknown key "onEror" (did you mean "onError"?)`,
	},
	{
		name: "unknown hook key with did-you-mean",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "scripts": {"hooks": [{"path": "a.js", "onEror": "open", "timout": "1s"}]}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:86: scripts.hooks[0].onEror: unknown key "onEror" (did you mean "onError"?)
mcpscript.json:1:104: scripts.hooks[0].timout: unknown key "timout" (did you mean "timeout"?)`,
	},
	{
		name: "misspelt section",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "script": {"hooks": ["policy.ts"]}, "filter": [{"wasm": "f.wasm"}]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:47: script: unknown key "script" (did you mean "scripts"?)
mcpscript.json:1:83: filter: unknown key "filter" (did you mean "filters"?)`,
	},
	{
		name: "bad onError",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "scripts": {"onError": "fail", "hooks": [{"path": "a.js", "onError": "opne"}]}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:70: scripts.onError: unknown fail mode "fail": expected "closed" or "open" ("closed" refuses the request, "open" lets it through)
mcpscript.json:1:116: scripts.hooks[0].onError: unknown fail mode "opne": expected "closed" or "open" (did you mean "open"?)`,
	},
	{
		name: "scripts isolation and memory limit",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "scripts": {"isolation": "proces", "memoryLimitMiB": 8, "isolaton": "none"}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:3:28: scripts.isolation: unknown isolation "proces": expected "auto", "process" or "none" (did you mean "process"?)
mcpscript.json:3:56: scripts.memoryLimitMiB: must be between 32 and 65536, found 8 (the limit is in MiB; leave the key out for the default, 256)
mcpscript.json:3:59: scripts.isolaton: unknown key "isolaton" (did you mean "isolation"?)`,
	},
	{
		name: "scripts isolation of the wrong type",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "scripts": {"isolation": true, "memoryLimitMiB": "1GiB"}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:72: scripts.isolation: expected a string, found a boolean
mcpscript.json:1:96: scripts.memoryLimitMiB: expected an integer, found a string`,
	},
	{
		name: "bad hook extension",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "scripts": {"hooks": ["policy.py", "audit.TS", {"path": "hooks/log"}, ""]}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:3:25: scripts.hooks[0]: "policy.py" is not a JavaScript or TypeScript file (hook scripts end in .js, .mjs, .cjs, .ts, .mts, .cts)
mcpscript.json:3:38: scripts.hooks[1]: "audit.TS" is not a JavaScript or TypeScript file (did you mean "audit.ts"?)
mcpscript.json:3:59: scripts.hooks[2].path: "hooks/log" is not a JavaScript or TypeScript file (hook scripts end in .js, .mjs, .cjs, .ts, .mts, .cts)
mcpscript.json:3:73: scripts.hooks[3]: must not be empty (the script to run, e.g. "policy.ts")`,
	},
	{
		name: "hooks not an array",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "scripts": {"hooks": "policy.ts"}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:68: scripts.hooks: expected an array of hook scripts, found a string (e.g. "hooks": ["policy.ts", {"path": "audit.js", "onError": "open"}])`,
	},
	{
		name: "hook of the wrong type or without a path",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "scripts": {"hooks": [["a.js"], {"timeout": "1s"}, {"path": 1}]}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:69: scripts.hooks[0]: expected a script path or an object, found an array (e.g. "policy.ts" or {"path": "audit.js", "timeout": "50ms"})
mcpscript.json:1:79: scripts.hooks[1]: missing required key "path" (the script to run, e.g. {"path": "policy.ts"})
mcpscript.json:1:107: scripts.hooks[2].path: expected a string, found a number`,
	},
	{
		name: "scripts limits",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "scripts": {"timeout": 1, "pool": 0, "maxCallStackSize": 8, "env": ["API_KEY", "MY-VAR", "API_KEY"], "readDir": 1}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:3:26: scripts.timeout: expected a duration string, found the number 1 (use a duration string such as "1s" for seconds or "1ms" for milliseconds)
mcpscript.json:3:37: scripts.pool: must be at least 1, found 0 (leave the key out for the default, GOMAXPROCS)
mcpscript.json:3:60: scripts.maxCallStackSize: must be at least 16, found 8 (leave the key out for the default, 1024)
mcpscript.json:3:82: scripts.env[1]: invalid variable name "MY-VAR": use letters, digits and _, not starting with a digit
mcpscript.json:3:92: scripts.env[2]: "API_KEY" is listed twice
mcpscript.json:3:115: scripts.readDir: expected a string, found a number`,
	},
	{
		name: "scripts not an object",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "scripts": ["policy.ts"]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:58: scripts: expected an object, found an array`,
	},
	{
		name: "filter without wasm",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "filters": [{"name": "redact"}]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:59: filters[0]: missing required key "wasm" (the WebAssembly module, e.g. "wasm": "filters/redact.wasm")`,
	},
	{
		name: "filters not an array",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "filters": {"wasm": "redact.wasm"}}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:58: filters: expected an array of filters, found an object (e.g. "filters": [{"wasm": "filters/redact.wasm"}])`,
	},
	{
		name: "filter not a wasm file",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "filters": [{"wasm": "redact.wat"}, {"wasm": "a.WASM"}, {"wasm": "redact.js"}, {"wasm": ""}]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:68: filters[0].wasm: "redact.wat" is not a .wasm file (compile the text format to a binary module, e.g. with wat2wasm)
mcpscript.json:1:92: filters[1].wasm: "a.WASM" is not a .wasm file (did you mean "a.wasm"?)
mcpscript.json:1:112: filters[2].wasm: "redact.js" is not a .wasm file (filters are WebAssembly modules, compiled to a .wasm file)
mcpscript.json:1:135: filters[3].wasm: must not be empty (the WebAssembly module, e.g. "filters/redact.wasm")`,
	},
	{
		name: "bad filter hook name",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "filters": [{"wasm": "redact.wasm", "hooks": ["toolcall", "toolResult", "toolResult", "onCall"]}]
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:3:49: filters[0].hooks[0]: unknown hook "toolcall": expected "toolCall", "toolResult", "listTools", "listPrompts", "listResources", "listResourceTemplates", "request" or "response" (did you mean "toolCall"?)
mcpscript.json:3:75: filters[0].hooks[2]: "toolResult" is listed twice
mcpscript.json:3:89: filters[0].hooks[3]: unknown hook "onCall": expected "toolCall", "toolResult", "listTools", "listPrompts", "listResources", "listResourceTemplates", "request" or "response"`,
	},
	{
		name: "filter hooks empty or not strings",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "filters": [{"wasm": "a.wasm", "hooks": []}, {"wasm": "b.wasm", "hooks": "toolCall"}]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:87: filters[0].hooks: is empty (list the hooks the filter handles, or leave "hooks" out for every hook)
mcpscript.json:1:120: filters[1].hooks: expected an array of strings, found a string`,
	},
	{
		name: "filter memory out of range",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "filters": [{"wasm": "a.wasm", "memoryLimitMiB": 8192}, {"wasm": "b.wasm", "memoryLimitMiB": 0}]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:96: filters[0].memoryLimitMiB: must be between 1 and 4096, found 8192 (the limit is in MiB; leave the key out for the default, 64)
mcpscript.json:1:140: filters[1].memoryLimitMiB: must be between 1 and 4096, found 0 (the limit is in MiB; leave the key out for the default, 64)`,
	},
	{
		name: "duplicate filter names",
		in: `{
  "mcpServers": {"fetch": {"command": "uvx"}},
  "filters": [
    {"wasm": "filters/redact.wasm"},
    {"wasm": "vendor/redact.wasm"},
    {"wasm": "other.wasm", "name": "redact"}
  ]
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:5:14: filters[1].wasm: the name "redact" is used twice, by filters[0] ("filters/redact.wasm") and filters[1] ("vendor/redact.wasm") (filter names must be unique and default to the file's base name; set "name" on one of them)
mcpscript.json:6:36: filters[2].name: the name "redact" is used twice, by filters[0] ("filters/redact.wasm") and filters[2] ("other.wasm") (filter names must be unique and default to the file's base name; set "name" on one of them)`,
	},
	{
		name: "filter config not an object",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "filters": [{"wasm": "a.wasm", "config": "folder=/srv"}]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:88: filters[0].config: expected an object, found a string (e.g. "config": {"folder": "/srv/data"})`,
	},
	{
		name: "filter settings",
		in:   `{"mcpServers": {"fetch": {"command": "uvx"}}, "filters": [{"wasm": "a.wasm", "name": "", "timeout": "0s", "onError": "opened", "pool": -1, "memoryLimitMB": 16}]}`,
		kind: ErrInvalid,
		want: `mcpscript.json:1:86: filters[0].name: must not be empty (leave the key out to name the filter after its file)
mcpscript.json:1:101: filters[0].timeout: the duration must be greater than zero (leave the key out to use the default)
mcpscript.json:1:118: filters[0].onError: unknown fail mode "opened": expected "closed" or "open" (did you mean "open"?)
mcpscript.json:1:136: filters[0].pool: must be at least 1, found -1 (leave the key out for the default, GOMAXPROCS)
mcpscript.json:1:140: filters[0].memoryLimitMB: unknown key "memoryLimitMB" (did you mean "memoryLimitMiB"?)`,
	},
	{
		name: "several problems at once",
		in: `{
  "mcpServers": {
    "fetch": {"command": "uvx", "args": ["mcp-server-fetch", 1], "startTimeout": 30},
    "github": {"command": "npx", "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}, "restart": "allways"},
    "fs": {"comand": "npx"}
  },
  "sseProxy": {"port": -1, "allowedServers": ["fetch", "githb"]}
}`,
		kind: ErrInvalid,
		want: `mcpscript.json:3:62: mcpServers.fetch.args[1]: expected a string, found a number
mcpscript.json:3:82: mcpServers.fetch.startTimeout: expected a duration string, found the number 30 (use a duration string such as "30s" for seconds or "30ms" for milliseconds)
mcpscript.json:4:59: mcpServers.github.env.GITHUB_TOKEN: ${GITHUB_TOKEN} is not set; set it or write ${GITHUB_TOKEN:-default}
mcpscript.json:4:89: mcpServers.github.restart: unknown restart policy "allways": expected "never", "on-failure" or "always" (did you mean "always"?)
mcpscript.json:5:11: mcpServers.fs: missing required key "command" (the program to start, e.g. "command": "npx"; or "url" for a remote server)
mcpscript.json:5:12: mcpServers.fs.comand: unknown key "comand" (did you mean "command"?)
mcpscript.json:7:24: sseProxy.port: must be between 1 and 65535, found -1 (or 0 for any free port)
mcpscript.json:7:56: sseProxy.allowedServers[1]: unknown server "githb" (did you mean "github"?)`,
	},
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range badConfigs {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseWithOptions([]byte(tc.in), "mcpscript.json", Options{LookupEnv: testEnv})
			if err == nil {
				t.Fatalf("no error; got config %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("got a config along with the error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("wrong message\ngot:\n%s\nwant:\n%s", got, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, not *Error", err)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("errors.Is(err, %v) is false; Kind is %v", tc.kind, e.Kind)
			}
			if want := strings.Count(tc.want, "\n") + 1; len(e.Problems) != want {
				t.Errorf("got %d problems, want %d", len(e.Problems), want)
			}
		})
	}
}
