package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, in string) *Config {
	t.Helper()
	c, err := ParseWithOptions([]byte(in), "test.json", Options{LookupEnv: testEnv})
	if err != nil {
		t.Fatalf("unexpected error:\n%v", err)
	}
	return withoutOrigin(c)
}

// withoutOrigin drops what c remembers of its source text, so that a
// parsed config compares equal to one built in Go (or parsed from other
// text) with reflect.DeepEqual.
func withoutOrigin(c *Config) *Config {
	c.src = nil
	if c.Format == FormatMCPServers {
		c.Format = "" // what a Config built in Go says
	}
	return c
}

func intp(i int) *int { return &i }

func d(v time.Duration) Duration { return Duration{v} }

// defaultedServer is a server with command and args and every default.
func defaultedServer(command string, args ...string) *Server {
	return &Server{
		Command: command,
		Args:    args,
		Restart: Restart{
			Policy:     "on-failure",
			MaxRetries: intp(5),
			MinUptime:  d(time.Second),
			Backoff:    d(250 * time.Millisecond),
			MaxBackoff: d(30 * time.Second),
		},
		StartTimeout:   d(30 * time.Second),
		RequestTimeout: d(60 * time.Second),
		StopTimeout:    d(5 * time.Second),
		MaxFrameBytes:  16 << 20,
	}
}

// The "Configuration" example of mcp-runner's README, as written.
const runnerReadmeConfig = `{
"mcpServers": {
"fetch": {
"command": "uvx",
"args": ["mcp-server-fetch"]
},
"filesystem": {
"command": "npx",
"args": ["-y", "@modelcontextprotocol/server-filesystem", "/path/to/allowed/files"]
}
},
"sseProxy": {
"address": "127.0.0.1",
"port": 3000,
"allowedServers": ["fetch", "filesystem"],
"authenticate": {
"bearer": {
"token": "your-secure-token"
}
}
}
}`

// The "Load from a JSON string" example of mcp-runner's README, as written.
const runnerReadmeString = `{
"mcpServers": {
"fetch": {
"command": "uvx",
"args": ["mcp-server-fetch"]
}
}
}`

func TestRunnerReadmeConfig(t *testing.T) {
	got := parse(t, runnerReadmeConfig)
	want := &Config{
		Servers: map[string]*Server{
			"fetch":      defaultedServer("uvx", "mcp-server-fetch"),
			"filesystem": defaultedServer("npx", "-y", "@modelcontextprotocol/server-filesystem", "/path/to/allowed/files"),
		},
		Proxy: &Proxy{
			Address:        "127.0.0.1",
			Port:           3000,
			Workers:        4,
			AllowedServers: []string{"fetch", "filesystem"},
			Authenticate:   &Authenticate{Bearer: &Bearer{Token: "your-secure-token"}},
			MaxBodyBytes:   DefaultMaxBodyBytes,
			Sessions:       defaultSessions(),
			DrainTimeout:   d(DefaultDrainTimeout),
			ListWait:       d(DefaultListWait),
		},
		Source: "test.json",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func TestRunnerReadmeString(t *testing.T) {
	got, err := Parse([]byte(runnerReadmeString), "")
	if err != nil {
		t.Fatal(err)
	}
	withoutOrigin(got)
	want := &Config{
		Servers: map[string]*Server{"fetch": defaultedServer("uvx", "mcp-server-fetch")},
		Source:  "<string>",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

// The README's "Proxy Configuration" snippet annotates its keys with //
// comments, which JSON does not allow; the comment hint says so, and
// without the comments it loads with the documented defaults.
func TestRunnerReadmeProxySnippet(t *testing.T) {
	const snippet = `{
"mcpServers": { /* server configs */ },
"sseProxy": {
"address": "127.0.0.1", // Listen address (localhost only) - default if omitted
"port": 3000, // Port to listen on - default if omitted
"workers": 4, // Number of worker threads - default is 4 if omitted
"allowedServers": [ // Optional: restrict which servers can be accessed
"fetch",
"filesystem"
],
"authenticate": { // Optional: require authentication
"bearer": {
"token": "your-secure-token-here"
}
}
}
}`
	_, err := Parse([]byte(snippet), "proxy.json")
	want := `proxy.json:2:17: unexpected '/'; expected a key in double quotes (comments are not allowed in JSON; remove "//" and "/* */" comments)`
	if err == nil || err.Error() != want || !errors.Is(err, ErrParse) {
		t.Errorf("got %v, want %s", err, want)
	}

	var lines []string
	for _, l := range strings.Split(snippet, "\n") {
		if i := strings.Index(l, "//"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	clean := strings.Replace(strings.Join(lines, "\n"), "{ /* server configs */ }",
		`{"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}, "filesystem": {"command": "npx"}}`, 1)
	c := parse(t, clean)
	wantProxy := &Proxy{Address: "127.0.0.1", Port: 3000, Workers: 4, AllowedServers: []string{"fetch", "filesystem"},
		Authenticate: &Authenticate{Bearer: &Bearer{Token: "your-secure-token-here"}}, MaxBodyBytes: DefaultMaxBodyBytes,
		Sessions: defaultSessions(), DrainTimeout: d(DefaultDrainTimeout), ListWait: d(DefaultListWait)}
	if !reflect.DeepEqual(c.Proxy, wantProxy) {
		t.Errorf("got %+v, want %+v", c.Proxy, wantProxy)
	}
	// Every proxy key is optional.
	c = parse(t, `{"mcpServers": {"fetch": {"command": "uvx"}}, "sseProxy": {}}`)
	if want := (&Proxy{Address: DefaultAddress, Port: DefaultPort, Workers: DefaultWorkers, MaxBodyBytes: DefaultMaxBodyBytes,
		Sessions: defaultSessions(), DrainTimeout: d(DefaultDrainTimeout), ListWait: d(DefaultListWait)}); !reflect.DeepEqual(c.Proxy, want) {
		t.Errorf("got %+v, want %+v", c.Proxy, want)
	}
}

func TestClaudeDesktopConfig(t *testing.T) {
	c := parse(t, `{
  "globalShortcut": "Ctrl+Space",
  "preferences": {"quickEntryShortcut": "off"},
  "mcpServers": {
    "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]},
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_xxx"}
    },
    "sqlite": {"command": "mcp-server-sqlite"}
  }
}`)
	if got, want := c.ServerNames(), []string{"github", "memory", "sqlite"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ServerNames() = %v, want %v", got, want)
	}
	if got := c.Servers["sqlite"]; got.Args != nil || got.Command != "mcp-server-sqlite" {
		t.Errorf("sqlite = %+v", got)
	}
	if got := c.Servers["github"].Env; !reflect.DeepEqual(got, map[string]string{"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_xxx"}) {
		t.Errorf("github env = %v", got)
	}
	if c.Proxy != nil {
		t.Errorf("Proxy = %+v, want nil", c.Proxy)
	}
}

func TestEveryKey(t *testing.T) {
	c := parse(t, `{
  "$schema": "https://example.com/mcpscript.schema.json",
  "mcpServers": {
    "fs": {
      "command": "npx",
      "args": ["-y", "server-filesystem"],
      "env": {"A": "b"},
      "cwd": "./work",
      "disabled": false,
      "type": "stdio",
      "restart": {"policy": "always", "maxRetries": 0, "minUptime": "2s", "backoff": "1s", "maxBackoff": "1m"},
      "startTimeout": "10s",
      "requestTimeout": "1m30s",
      "stopTimeout": "2s",
      "maxFrameBytes": 1024,
      "roots": ["file:///tmp/x", {"uri": "file:///y", "name": "y"}]
    }
  },
  "sseProxy": {
    "address": "localhost",
    "port": 8080,
    "workers": 1,
    "allowedServers": ["fs"],
    "authenticate": {
      "bearer": {"token": "t", "tokens": [{"name": "ci", "token": "${FETCH_TOKEN}", "servers": ["fs"]}, {"name": "web", "token": "w"}]},
      "queryTokens": true,
      "tokenlessStreams": true
    },
    "cors": {"allowedOrigins": ["http://localhost:5173", "*"], "allowCredentials": false},
    "allowedHosts": ["mcp.example.com", "[::1]:8080"],
    "maxBodyBytes": 1024,
    "sessions": {"maxPerCaller": 8, "maxTotal": 100, "idleTimeout": "5m"},
    "drainTimeout": "3s",
    "listWait": "2s"
  }
}`)
	want := &Config{
		Servers: map[string]*Server{"fs": {
			Command:        "npx",
			Type:           "stdio",
			Args:           []string{"-y", "server-filesystem"},
			Env:            map[string]string{"A": "b"},
			Cwd:            "./work",
			Restart:        Restart{Policy: "always", MaxRetries: intp(0), MinUptime: d(2 * time.Second), Backoff: d(time.Second), MaxBackoff: d(time.Minute)},
			StartTimeout:   d(10 * time.Second),
			RequestTimeout: d(90 * time.Second),
			StopTimeout:    d(2 * time.Second),
			MaxFrameBytes:  1024,
			Roots:          []Root{{URI: "file:///tmp/x"}, {URI: "file:///y", Name: "y"}},
		}},
		Proxy: &Proxy{Address: "localhost", Port: 8080, Workers: 1, AllowedServers: []string{"fs"},
			Authenticate: &Authenticate{
				Bearer: &Bearer{Token: "t", Tokens: []Token{
					{Name: "ci", Token: "s3cret", Servers: []string{"fs"}},
					{Name: "web", Token: "w"},
				}},
				QueryTokens:      true,
				TokenlessStreams: true,
			},
			CORS:         &CORS{AllowedOrigins: []string{"http://localhost:5173", "*"}},
			AllowedHosts: []string{"mcp.example.com", "[::1]:8080"},
			MaxBodyBytes: 1024,
			Sessions:     &Sessions{MaxPerCaller: 8, MaxTotal: 100, IdleTimeout: d(5 * time.Minute)},
			DrainTimeout: d(3 * time.Second),
			ListWait:     d(2 * time.Second),
		},
		Source: "test.json",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(c), dump(want))
	}
}

func TestRestartForms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Restart
	}{
		{`"never"`, Restart{Policy: "never", MaxRetries: intp(5), MinUptime: d(time.Second), Backoff: d(250 * time.Millisecond), MaxBackoff: d(30 * time.Second)}},
		{`"always"`, Restart{Policy: "always", MaxRetries: intp(5), MinUptime: d(time.Second), Backoff: d(250 * time.Millisecond), MaxBackoff: d(30 * time.Second)}},
		{`{}`, Restart{Policy: "on-failure", MaxRetries: intp(5), MinUptime: d(time.Second), Backoff: d(250 * time.Millisecond), MaxBackoff: d(30 * time.Second)}},
		{`{"maxRetries": 2, "backoff": "1s"}`, Restart{Policy: "on-failure", MaxRetries: intp(2), MinUptime: d(time.Second), Backoff: d(time.Second), MaxBackoff: d(30 * time.Second)}},
		{`{"policy": "never", "maxRetries": 0}`, Restart{Policy: "never", MaxRetries: intp(0), MinUptime: d(time.Second), Backoff: d(250 * time.Millisecond), MaxBackoff: d(30 * time.Second)}},
	} {
		c := parse(t, `{"mcpServers": {"x": {"command": "x", "restart": `+tc.in+`}}}`)
		if got := c.Servers["x"].Restart; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("restart %s: got %s, want %s", tc.in, dump(got), dump(tc.want))
		}
	}
}

func TestExpansionInConfig(t *testing.T) {
	c := parse(t, `{
  "mcpServers": {
    "x": {
      "command": "${HOME}/bin/server",
      "args": ["--token=${FETCH_TOKEN}", "--mode=${MODE:-fast}", "--empty=${EMPTY:-fallback}", "cost: $$5", "$HOME", "a $ b"],
      "env": {"TOKEN": "${FETCH_TOKEN}", "LEVEL": "${LEVEL:-info}", "PATHS": "${UNSET:-${HOME}/x}"},
      "cwd": "${HOME}/work"
    },
    "off": {
      "disabled": true,
      "command": "${NOT_SET}",
      "env": {"TOKEN": "${ALSO_NOT_SET}"},
      "args": ["${BROKEN"]
    }
  },
  "sseProxy": {"authenticate": {"bearer": {"token": "${FETCH_TOKEN}"}}}
}`)
	x := c.Servers["x"]
	if x.Command != "/home/me/bin/server" || x.Cwd != "/home/me/work" {
		t.Errorf("command %q, cwd %q", x.Command, x.Cwd)
	}
	wantArgs := []string{"--token=s3cret", "--mode=fast", "--empty=fallback", "cost: $5", "$HOME", "a $ b"}
	if !reflect.DeepEqual(x.Args, wantArgs) {
		t.Errorf("args %q, want %q", x.Args, wantArgs)
	}
	wantEnv := map[string]string{"TOKEN": "s3cret", "LEVEL": "info", "PATHS": "/home/me/x"}
	if !reflect.DeepEqual(x.Env, wantEnv) {
		t.Errorf("env %q, want %q", x.Env, wantEnv)
	}
	if got := c.Proxy.Authenticate.Bearer.Token; got != "s3cret" {
		t.Errorf("token %q", got)
	}
	off := c.Servers["off"]
	if off.Command != "${NOT_SET}" || off.Env["TOKEN"] != "${ALSO_NOT_SET}" || off.Args[0] != "${BROKEN" || !off.Disabled {
		t.Errorf("disabled server was expanded: %+v", off)
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "plain", want: "plain"},
		{in: "${HOME}", want: "/home/me"},
		{in: "a${HOME}b${FETCH_TOKEN}c", want: "a/home/meb" + "s3cretc"},
		{in: "${NOPE:-dflt}", want: "dflt"},
		{in: "${HOME:-dflt}", want: "/home/me"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${EMPTY}", want: ""},
		{in: "${NOPE:-}", want: ""},
		{in: "${NOPE:-a:-b}", want: "a:-b"},
		{in: "${NOPE:-${HOME}/x}", want: "/home/me/x"},
		{in: "$$", want: "$"},
		{in: "$${HOME}", want: "${HOME}"},
		{in: "$$$$", want: "$$"},
		{in: "$", want: "$"},
		{in: "a$", want: "a$"},
		{in: "$HOME", want: "$HOME"},
		{in: "$ {HOME}", want: "$ {HOME}"},
		{in: "100$", want: "100$"},
		{in: "${NOPE}", err: "${NOPE} is not set; set it or write ${NOPE:-default}"},
		{in: "${NOPE:-${ALSO}}", err: "${ALSO} is not set; set it or write ${ALSO:-default}"},
		{in: "x${HOME", err: `unterminated "${HOME": add the closing } (or write $$ for a literal $)`},
		{in: "${", err: `unterminated "${": add the closing } (or write $$ for a literal $)`},
		{in: "${}", err: "missing variable name in ${}: put one between the braces, as in ${HOME}"},
		{in: "${:-x}", err: "missing variable name in ${:-x}: put one between the braces, as in ${HOME}"},
		{in: "${env:HOME}", want: "/home/me"},
		{in: "${env:NOPE:-x}", want: "x"},
		{in: "${env:NOPE}", err: "${NOPE} is not set; set it or write ${NOPE:-default}"},
		{in: "${sh:HOME}", err: "unsupported ${sh:HOME}: mcpscript expands ${VAR}, ${VAR:-default}, ${env:VAR}, ${input:ID}, ${workspaceFolder} and ${userHome}"},
		{in: "${input:api-key}", err: "${input:api-key} has no value; set MCP_INPUT_API_KEY"},
		{in: "${input:a b}", err: `invalid input id "a b" in ${input:a b}: use letters, digits, '_', '.' and '-'`},
		{in: "${A B}", err: `invalid variable name "A B" in ${A B}: use letters, digits and _, not starting with a digit`},
		{in: "${1X}", err: `invalid variable name "1X" in ${1X}: use letters, digits and _, not starting with a digit`},
		{in: "${HOME:=x}", err: "unsupported ${HOME:=x}: only ${HOME} and ${HOME:-default} are supported"},
	} {
		got, err := Expand(tc.in, testEnv)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("Expand(%q) error = %v, want %s", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	t.Setenv("MCPSCRIPT_CONFIG_TEST", "from-env")
	if got, err := Expand("${MCPSCRIPT_CONFIG_TEST}", nil); err != nil || got != "from-env" {
		t.Errorf("Expand with nil lookup = %q, %v", got, err)
	}
}

func TestGoValues(t *testing.T) {
	c := &Config{
		Servers: map[string]*Server{
			"fetch": {Command: "uvx", Args: []string{"mcp-server-fetch"}},
			"fs":    {Command: "npx", Restart: Restart{Policy: RestartAlways, MaxRetries: intp(0)}, StartTimeout: d(time.Minute)},
		},
		Proxy: &Proxy{AllowedServers: []string{"fetch"}},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	before := dump(c)
	got := c.WithDefaults()
	if dump(c) != before {
		t.Errorf("WithDefaults modified its receiver")
	}
	fs := defaultedServer("npx")
	fs.Restart.Policy, fs.Restart.MaxRetries, fs.StartTimeout = "always", intp(0), d(time.Minute)
	want := &Config{
		Servers: map[string]*Server{"fetch": defaultedServer("uvx", "mcp-server-fetch"), "fs": fs},
		Proxy: &Proxy{Address: "127.0.0.1", Port: 3000, Workers: 4, AllowedServers: []string{"fetch"}, MaxBodyBytes: 4 << 20,
			Sessions: defaultSessions(), DrainTimeout: d(DefaultDrainTimeout), ListWait: d(DefaultListWait)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
	// A deep copy: changing the copy leaves the original alone.
	got.Servers["fetch"].Args[0] = "changed"
	got.Proxy.AllowedServers[0] = "changed"
	if c.Servers["fetch"].Args[0] != "mcp-server-fetch" || c.Proxy.AllowedServers[0] != "fetch" {
		t.Errorf("WithDefaults did not copy deeply")
	}
	if err := got.Validate(); err == nil {
		t.Errorf("Validate accepted allowedServers naming an unknown server")
	}
	if (*Config)(nil).WithDefaults() != nil {
		t.Errorf("nil.WithDefaults() != nil")
	}
}

func TestGoValuesInvalid(t *testing.T) {
	c := &Config{
		Source: "built-in",
		Servers: map[string]*Server{
			"ok":        {Command: "x"},
			"bad name":  {Command: "x"},
			"empty":     {},
			"nil":       nil,
			"negatives": {Command: "x", StopTimeout: d(-time.Second), MaxFrameBytes: 10, Restart: Restart{Policy: "sometimes", MaxRetries: intp(-2)}},
			"roots":     {Command: "x", Roots: []Root{{URI: "C:\\work"}}, Env: map[string]string{"A=B": "c"}},
		},
		Proxy: &Proxy{Port: 65536, Workers: -1, Address: "http://localhost:80", AllowedServers: []string{"okk", "ok", "ok"}, Authenticate: &Authenticate{}},
	}
	before := dump(c)
	err := c.Validate()
	want := `built-in: mcpServers["bad name"]: invalid server name: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit (try "bad-name")
built-in: mcpServers.empty.command: must not be empty (the program to start, e.g. "npx"; or "url" for a remote server)
built-in: mcpServers.negatives.restart.policy: unknown restart policy "sometimes": expected "never", "on-failure" or "always"
built-in: mcpServers.negatives.restart.maxRetries: must not be negative, found -2 (0 means no restarts)
built-in: mcpServers.negatives.stopTimeout: must not be negative, found "-1s"
built-in: mcpServers.negatives.maxFrameBytes: must be at least 1024, found 10 (leave the key out for the default, 16777216 = 16 MiB)
built-in: mcpServers.nil: the server is nil
built-in: mcpServers.roots.env["A=B"]: invalid variable name "A=B": it must not contain '=' or NUL
built-in: mcpServers.roots.roots[0].uri: expected a file:// URI, found the path "C:\\work" (did you mean "file:///C:/work"?)
built-in: sseProxy.address: invalid address "http://localhost:80": expected an IP address or host name (give the host only, e.g. "localhost")
built-in: sseProxy.port: must be between 1 and 65535, found 65536 (or 0 for any free port)
built-in: sseProxy.workers: must be at least 1, found -1
built-in: sseProxy.allowedServers[0]: unknown server "okk" (did you mean "ok"?)
built-in: sseProxy.allowedServers[2]: "ok" is listed twice
built-in: sseProxy.authenticate: missing "bearer" or "oauth" (e.g. "authenticate": {"bearer": {"token": "${MCP_PROXY_TOKEN}"}}, or leave "authenticate" out)`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("not ErrInvalid: %v", err)
	}
	var e *Error
	if errors.As(err, &e) {
		for _, p := range e.Problems {
			if p.Line != 0 || p.Col != 0 {
				t.Errorf("problem %v has a position", p)
			}
		}
	}
	if dump(c) != before {
		t.Errorf("Validate modified the config")
	}
	if err := (&Config{}).Validate(); err == nil || err.Error() != `mcpServers: must define at least one server (e.g. "mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}})` {
		t.Errorf("empty config: %v", err)
	}
	if err := (*Config)(nil).Validate(); err == nil {
		t.Errorf("nil config validated")
	}
}

// A parsed Config marshals to JSON that parses back to the same Config.
func TestJSONRoundTrip(t *testing.T) {
	for _, in := range []string{
		runnerReadmeConfig,
		runnerReadmeString,
		`{"mcpServers": {"a": {"command": "x", "args": ["1"], "env": {"K": "v"}, "cwd": "/w", "disabled": true,
		  "restart": {"policy": "never", "maxRetries": 0, "minUptime": "1m30s"}, "startTimeout": "1ms", "requestTimeout": "2h",
		  "stopTimeout": "1s", "maxFrameBytes": 2048, "roots": ["file:///a", {"uri": "file:///b", "name": "b"}]}},
		  "sseProxy": {"address": "::1", "port": 0, "workers": 9, "allowedServers": ["a"]}}`,
		`{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"authenticate": {"bearer": {"tokens": [{"name": "n", "token": "s", "servers": ["a"]}]},
		  "queryTokens": true, "tokenlessStreams": true}, "cors": {"allowedOrigins": ["https://app.example.com:8443"], "allowCredentials": true},
		  "allowedHosts": ["*"], "maxBodyBytes": 65536}}`,
	} {
		c := parse(t, in)
		data, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		c2 := parse(t, string(data))
		if !reflect.DeepEqual(c, c2) {
			t.Errorf("round trip changed the config\nbefore: %s\nafter:  %s\njson: %s", dump(c), dump(c2), data)
		}
	}
	// A Config built in Go marshals without its zero values.
	data, err := json.Marshal(&Config{Servers: map[string]*Server{"a": {Command: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), `{"mcpServers":{"a":{"command":"x"}}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAnyPort(t *testing.T) {
	c := parse(t, `{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"port": 0}}`)
	if c.Proxy.Port != 0 {
		t.Errorf("port = %d, want 0 (any free port)", c.Proxy.Port)
	}
	if p := c.WithDefaults().Proxy.Port; p != 0 {
		t.Errorf("WithDefaults turned port 0 into %d", p)
	}
	if p := (&Config{Proxy: &Proxy{}}).WithDefaults().Proxy.Port; p != DefaultPort {
		t.Errorf("Go value port 0 defaulted to %d", p)
	}
}

func TestDurationJSON(t *testing.T) {
	var v struct {
		D Duration `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"d": "1m30s"}`), &v); err != nil || v.D.Duration != 90*time.Second {
		t.Errorf("got %v, %v", v.D, err)
	}
	err := json.Unmarshal([]byte(`{"d": 30}`), &v)
	if err == nil || !strings.Contains(err.Error(), `use a duration string such as "30s"`) {
		t.Errorf("bare number: %v", err)
	}
	if data, _ := json.Marshal(Duration{250 * time.Millisecond}); string(data) != `"250ms"` {
		t.Errorf("marshal = %s", data)
	}
	var r Restart
	if err := json.Unmarshal([]byte(`"always"`), &r); err != nil || r.Policy != "always" {
		t.Errorf("restart string: %+v, %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"policy": "never", "backoff": "1s"}`), &r); err != nil || r.Policy != "never" || r.Backoff.Duration != time.Second {
		t.Errorf("restart object: %+v, %v", r, err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mcpscript.json")
	if err := os.WriteFile(path, []byte(`{"mcpServers": {"a": {"command": "x", "cwd": "sub"}, "b": {"command": "y", "cwd": "/abs"}, "c": {"command": "z"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir || c.Source != path {
		t.Errorf("Dir %q, Source %q", c.Dir, c.Source)
	}
	if got := c.Servers["a"].ResolvedCwd(c.Dir); got != filepath.Join(dir, "sub") {
		t.Errorf("ResolvedCwd = %q", got)
	}
	if got := c.Servers["b"].ResolvedCwd(c.Dir); got != "/abs" {
		t.Errorf("absolute ResolvedCwd = %q", got)
	}
	if got := c.Servers["c"].ResolvedCwd(c.Dir); got != "" {
		t.Errorf("empty ResolvedCwd = %q", got)
	}
	if got := c.Servers["a"].ResolvedCwd(""); got != "sub" {
		t.Errorf("ResolvedCwd without dir = %q", got)
	}

	missing := filepath.Join(dir, "nope.json")
	_, err = Load(missing)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{\n  \"mcpServers\": {\"a\": {\"command\": 1}}\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if want := bad + ":2:35: mcpServers.a.command: expected a string, found a number"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestParseOptions(t *testing.T) {
	c, err := ParseWithOptions([]byte(`{"mcpServers": {"a": {"command": "${CMD}"}}}`), "x", Options{
		LookupEnv: func(k string) (string, bool) { return "cmd-" + k, true },
		Dir:       "/etc/mcp",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Servers["a"].Command != "cmd-CMD" || c.Dir != "/etc/mcp" || c.Source != "x" {
		t.Errorf("got %+v", c)
	}
}

func TestLenientInput(t *testing.T) {
	// A byte order mark and null for optional keys are accepted.
	c := parse(t, "\xEF\xBB\xBF"+`{"mcpServers": {"a": {"command": "x", "args": null, "env": null, "restart": null}}, "sseProxy": null}`)
	if c.Proxy != nil || c.Servers["a"].Args != nil || c.Servers["a"].Restart.Policy != "on-failure" {
		t.Errorf("got %s", dump(c))
	}
	// Numbers written with a fraction or exponent are accepted when whole.
	c = parse(t, `{"mcpServers": {"a": {"command": "x", "maxFrameBytes": 2e3}}, "sseProxy": {"port": 8080.0}}`)
	if c.Servers["a"].MaxFrameBytes != 2000 || c.Proxy.Port != 8080 {
		t.Errorf("got %s", dump(c))
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"command", "args", "env", "cwd", "disabled", "restart", "startTimeout"}
	for in, want := range map[string]string{
		"arg": "args", "comand": "command", "cmomand": "command", "Args": "args", "ENV": "env",
		"starttimeout": "startTimeout", "disable": "disabled", "xyz": "", "a": "", "commandline": "",
	} {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func dump(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

func TestPosition(t *testing.T) {
	data := []byte("{\n  \"é\": [1,\n\t2]}\n")
	c := newCollector(data)
	for off := 0; off <= len(data); off++ {
		l1, c1 := position(data, off)
		l2, c2 := c.position(off)
		if l1 != l2 || c1 != c2 {
			t.Errorf("offset %d: position %d:%d, collector %d:%d", off, l1, c1, l2, c2)
		}
	}
	if l, col := position(data, 9); l != 2 || col != 7 { // the '[' after "é":
		t.Errorf("got %d:%d, want 2:7", l, col)
	}
}

func TestBearerAll(t *testing.T) {
	if (*Bearer)(nil).All() != nil {
		t.Errorf("nil Bearer has tokens")
	}
	b := &Bearer{Token: "s", Tokens: []Token{{Name: "ci", Token: "c", Servers: []string{"a"}}}}
	got := b.All()
	want := []Token{{Name: DefaultTokenName, Token: "s"}, {Name: "ci", Token: "c", Servers: []string{"a"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	got[1].Servers[0] = "changed"
	if b.Tokens[0].Servers[0] != "a" {
		t.Errorf("All shares the servers slice")
	}
	if got := (&Bearer{Tokens: []Token{{Name: "only", Token: "x"}}}).All(); len(got) != 1 || got[0].Name != "only" {
		t.Errorf("tokens only: %+v", got)
	}
}

// WithDefaults copies the proxy's security settings deeply.
func TestProxyDeepCopy(t *testing.T) {
	c := parse(t, `{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"authenticate": {"bearer": {"tokens": [{"name": "n", "token": "s", "servers": ["a"]}]}},
	  "cors": {"allowedOrigins": ["http://localhost:1"]}, "allowedHosts": ["h"]}}`)
	got := c.WithDefaults()
	got.Proxy.Authenticate.Bearer.Tokens[0].Servers[0] = "changed"
	got.Proxy.Authenticate.Bearer.Tokens[0].Name = "changed"
	got.Proxy.CORS.AllowedOrigins[0] = "changed"
	got.Proxy.AllowedHosts[0] = "changed"
	p := c.Proxy
	if p.Authenticate.Bearer.Tokens[0].Servers[0] != "a" || p.Authenticate.Bearer.Tokens[0].Name != "n" ||
		p.CORS.AllowedOrigins[0] != "http://localhost:1" || p.AllowedHosts[0] != "h" {
		t.Errorf("WithDefaults did not copy deeply: %s", dump(p))
	}
	if p.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Errorf("maxBodyBytes = %d", p.MaxBodyBytes)
	}
}

func TestProxySecurityInvalidGoValues(t *testing.T) {
	c := &Config{
		Source:  "built-in",
		Servers: map[string]*Server{"a": {Command: "x"}, "b": {Command: "x"}},
		Proxy: &Proxy{
			AllowedServers: []string{"a"},
			Authenticate: &Authenticate{Bearer: &Bearer{Token: "s", Tokens: []Token{
				{Name: "default", Token: "t1"},
				{Name: "ci", Token: "s", Servers: []string{"b", "c"}},
				{Name: "ci", Token: "t1", Servers: []string{}},
				{Name: "", Token: " "},
				{Name: "bad name", Token: "t4"},
			}}},
			CORS:         &CORS{AllowedOrigins: []string{"*", "localhost:5173", "http://a.example/x", "*"}, AllowCredentials: true},
			AllowedHosts: []string{"ok.example", "http://x.example", "h:99999"},
			MaxBodyBytes: 10,
		},
	}
	want := `built-in: sseProxy.authenticate.bearer.tokens[0].name: the name "default" is taken by "token" (choose another name)
built-in: sseProxy.authenticate.bearer.tokens[1].token: has the same secret as "token" (every token needs its own secret)
built-in: sseProxy.authenticate.bearer.tokens[1].servers[0]: server "b" is not in sseProxy.allowedServers, so the token could never reach it (add it to allowedServers or remove it here)
built-in: sseProxy.authenticate.bearer.tokens[1].servers[1]: unknown server "c" (configured servers: a, b)
built-in: sseProxy.authenticate.bearer.tokens[2].name: the name "ci" is used twice (token names must be unique)
built-in: sseProxy.authenticate.bearer.tokens[2].token: has the same secret as tokens[0] (every token needs its own secret)
built-in: sseProxy.authenticate.bearer.tokens[2].servers: is empty, so the token could reach no server (list the servers the token may use, or leave "servers" out for all)
built-in: sseProxy.authenticate.bearer.tokens[3].name: must not be empty (e.g. "name": "ci")
built-in: sseProxy.authenticate.bearer.tokens[3].token: must not be empty (read the secret from a variable, e.g. "token": "${CI_TOKEN}")
built-in: sseProxy.authenticate.bearer.tokens[4].name: invalid token name "bad name": use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit
built-in: sseProxy.cors.allowCredentials: cannot be true with the origin "*" (browsers refuse credentials with a wildcard origin; list the origins instead)
built-in: sseProxy.cors.allowedOrigins[1]: invalid origin "localhost:5173": expected scheme://host[:port] (did you mean "http://localhost:5173"?)
built-in: sseProxy.cors.allowedOrigins[2]: invalid origin "http://a.example/x": an origin has no path (did you mean "http://a.example"?)
built-in: sseProxy.cors.allowedOrigins[3]: "*" is listed twice
built-in: sseProxy.allowedHosts[1]: invalid host "http://x.example": expected a host name or IP address, optionally with :port (give the host only, e.g. "x.example")
built-in: sseProxy.allowedHosts[2]: invalid host "h:99999": bad port "99999"
built-in: sseProxy.maxBodyBytes: must be at least 1024, found 10 (leave the key out for the default, 4194304 = 4 MiB)`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	c = &Config{Servers: map[string]*Server{"a": {Command: "x"}}, Proxy: &Proxy{Authenticate: &Authenticate{Bearer: &Bearer{}}}}
	if err := c.Validate(); err == nil || err.Error() != `sseProxy.authenticate.bearer.token: must not be empty (read the secret from a variable, e.g. "token": "${MCP_PROXY_TOKEN}")` {
		t.Errorf("empty bearer: %v", err)
	}
	c.Proxy.Authenticate.Bearer.Tokens = []Token{{Name: "n", Token: "s"}}
	if err := c.Validate(); err != nil {
		t.Errorf("tokens without token: %v", err)
	}
}

func TestChildModelDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`{"mcpServers": {
		"a": {"command": "x"},
		"b": {"command": "x", "childModel": "per-session"},
		"c": {"command": "x", "childModel": "per-session", "sessionIdleTimeout": "5s", "maxSessions": 3}}}`), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.WithDefaults()
	if a := d.Servers["a"]; a.PerSession() || a.MaxSessions != 0 || a.SessionIdleTimeout.Duration != 0 {
		t.Errorf("a = %+v", a)
	}
	if b := d.Servers["b"]; !b.PerSession() || b.MaxSessions != DefaultMaxSessions || b.SessionIdleTimeout.Duration != DefaultSessionIdleTimeout {
		t.Errorf("b = %+v", b)
	}
	if c := d.Servers["c"]; c.MaxSessions != 3 || c.SessionIdleTimeout.Duration != 5*time.Second {
		t.Errorf("c = %+v", c)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	bad := &Config{Servers: map[string]*Server{"s": {Command: "x", ChildModel: "persession", MaxSessions: -1}}}
	err = bad.Validate()
	if err == nil || !strings.Contains(err.Error(), `did you mean "per-session"`) || !strings.Contains(err.Error(), "maxSessions: must be at least 1") {
		t.Errorf("Validate = %v", err)
	}
}

// withServer wraps the sections of a test config around a minimal server.
func withServer(sections string) string {
	return `{"mcpServers": {"a": {"command": "x"}}, ` + sections + `}`
}

func TestScriptsAndFilters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		scripts *Scripts
		filters []*Filter
	}{
		{
			name: "neither",
			in:   `{"mcpServers": {"a": {"command": "x"}}}`,
		},
		{
			name:    "empty sections",
			in:      withServer(`"scripts": {}, "filters": []`),
			scripts: &Scripts{Timeout: d(time.Second), OnError: "closed", MaxCallStackSize: 1024},
		},
		{
			name:    "null sections are left out",
			in:      withServer(`"scripts": null, "filters": null`),
			scripts: nil,
		},
		{
			name: "hook shorthand and objects inherit the section's settings",
			in: withServer(`"scripts": {
			  "hooks": ["policy.ts", {"path": "audit.js", "timeout": "50ms", "onError": "open"}, {"path": "lib/x.mjs"}],
			  "timeout": "2s", "onError": "open", "env": ["API_KEY", "_X1"], "readDir": "./data", "pool": 4, "maxCallStackSize": 16,
			  "isolation": "process", "memoryLimitMiB": 512}`),
			scripts: &Scripts{
				Hooks: []*Hook{
					{Path: "policy.ts", Timeout: d(2 * time.Second), OnError: "open"},
					{Path: "audit.js", Timeout: d(50 * time.Millisecond), OnError: "open"},
					{Path: "lib/x.mjs", Timeout: d(2 * time.Second), OnError: "open"},
				},
				Timeout: d(2 * time.Second), OnError: "open", Env: []string{"API_KEY", "_X1"},
				ReadDir: "./data", Pool: 4, MaxCallStackSize: 16,
				Isolation: "process", MemoryLimitMiB: 512,
			},
		},
		{
			name:    "empty arrays are left out",
			in:      withServer(`"scripts": {"hooks": [], "env": [], "readDir": null}`),
			scripts: &Scripts{Timeout: d(time.Second), OnError: "closed", MaxCallStackSize: 1024},
		},
		{
			name: "every extension",
			in:   withServer(`"scripts": {"hooks": ["a.js", "b.mjs", "c.cjs", "d.ts", "e.mts", {"path": "f.cts", "onError": "open"}]}`),
			scripts: &Scripts{
				Hooks: []*Hook{
					{Path: "a.js", Timeout: d(time.Second), OnError: "closed"},
					{Path: "b.mjs", Timeout: d(time.Second), OnError: "closed"},
					{Path: "c.cjs", Timeout: d(time.Second), OnError: "closed"},
					{Path: "d.ts", Timeout: d(time.Second), OnError: "closed"},
					{Path: "e.mts", Timeout: d(time.Second), OnError: "closed"},
					{Path: "f.cts", Timeout: d(time.Second), OnError: "open"},
				},
				Timeout: d(time.Second), OnError: "closed", MaxCallStackSize: 1024,
			},
		},
		{
			name: "${VAR} is not expanded in scripts and filters",
			in: withServer(`"scripts": {"hooks": ["${HOME}/p.ts"], "readDir": "${HOME}", "env": ["HOME"]},
			  "filters": [{"wasm": "${HOME}/f.wasm", "config": {"dir": "${HOME}"}}]`),
			scripts: &Scripts{
				Hooks:   []*Hook{{Path: "${HOME}/p.ts", Timeout: d(time.Second), OnError: "closed"}},
				Timeout: d(time.Second), OnError: "closed", Env: []string{"HOME"}, ReadDir: "${HOME}", MaxCallStackSize: 1024,
			},
			filters: []*Filter{{Wasm: "${HOME}/f.wasm", Name: "f", Config: json.RawMessage(`{"dir":"${HOME}"}`),
				Timeout: d(time.Second), MemoryLimitMiB: 64, OnError: "closed"}},
		},
		{
			name: "filters with defaults and raw config",
			in: withServer(`"filters": [
			  {"wasm": "filters/redact.wasm"},
			  {"wasm": "/abs/redact.wasm", "name": "redact2", "config": {
			      "folder": "/srv/data", "nested": {"list": [1, 2.5, true, null]}, "html": "<b>&"
			    },
			    "hooks": ["toolCall", "toolResult", "listTools", "listPrompts", "listResources", "listResourceTemplates", "request", "response"],
			    "timeout": "250ms", "memoryLimitMiB": 4096, "onError": "open", "pool": 2},
			  {"wasm": "x.wasm", "config": {}, "memoryLimitMiB": 1}
			]`),
			filters: []*Filter{
				{Wasm: "filters/redact.wasm", Name: "redact", Timeout: d(time.Second), MemoryLimitMiB: 64, OnError: "closed"},
				{
					Wasm: "/abs/redact.wasm", Name: "redact2",
					// Compacted, with HTML characters escaped as json.Marshal
					// writes them, so that a marshalled Config parses back the same.
					Config:  json.RawMessage(`{"folder":"/srv/data","nested":{"list":[1,2.5,true,null]},"html":"\u003cb\u003e\u0026"}`),
					Hooks:   []string{"toolCall", "toolResult", "listTools", "listPrompts", "listResources", "listResourceTemplates", "request", "response"},
					Timeout: d(250 * time.Millisecond), MemoryLimitMiB: 4096, OnError: "open", Pool: 2,
				},
				{Wasm: "x.wasm", Name: "x", Config: json.RawMessage(`{}`), Timeout: d(time.Second), MemoryLimitMiB: 1, OnError: "closed"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, tc.in)
			if !reflect.DeepEqual(c.Scripts, tc.scripts) {
				t.Errorf("scripts: got\n%s\nwant\n%s", dump(c.Scripts), dump(tc.scripts))
			}
			if !reflect.DeepEqual(c.Filters, tc.filters) {
				t.Errorf("filters: got\n%s\nwant\n%s", dump(c.Filters), dump(tc.filters))
			}
			data, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if c2 := parse(t, string(data)); !reflect.DeepEqual(c, c2) {
				t.Errorf("round trip changed the config: %s", data)
			}
		})
	}
}

// WithDefaults fills in the scripts and filters of a Config built in Go
// without changing it, and Validate applies the rules of the file format.
func TestScriptsAndFiltersGoValues(t *testing.T) {
	c := &Config{
		Servers: map[string]*Server{"a": {Command: "x"}},
		Scripts: &Scripts{
			Hooks:   []*Hook{{Path: "p.ts"}, {Path: "q.js", OnError: FailOpen, Timeout: d(time.Minute)}},
			OnError: FailOpen,
			Env:     []string{"A"},
		},
		Filters: []*Filter{
			{Wasm: "dir/one.wasm", Config: json.RawMessage(` {"k": 1}`), Hooks: []string{"toolCall"}},
			{Wasm: "two.wasm", Name: "second", Timeout: d(time.Minute), MemoryLimitMiB: 16, OnError: FailOpen, Pool: 3},
		},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	before := dump(c)
	got := c.WithDefaults()
	if dump(c) != before {
		t.Errorf("WithDefaults modified its receiver")
	}
	wantScripts := &Scripts{
		Hooks: []*Hook{
			{Path: "p.ts", Timeout: d(DefaultHookTimeout), OnError: FailOpen},
			{Path: "q.js", Timeout: d(time.Minute), OnError: FailOpen},
		},
		Timeout: d(DefaultHookTimeout), OnError: FailOpen, Env: []string{"A"}, MaxCallStackSize: DefaultMaxCallStackSize,
	}
	wantFilters := []*Filter{
		{Wasm: "dir/one.wasm", Name: "one", Config: json.RawMessage(` {"k": 1}`), Hooks: []string{"toolCall"},
			Timeout: d(DefaultFilterTimeout), MemoryLimitMiB: DefaultFilterMemoryMiB, OnError: FailClosed},
		{Wasm: "two.wasm", Name: "second", Timeout: d(time.Minute), MemoryLimitMiB: 16, OnError: FailOpen, Pool: 3},
	}
	if !reflect.DeepEqual(got.Scripts, wantScripts) {
		t.Errorf("scripts: got\n%s\nwant\n%s", dump(got.Scripts), dump(wantScripts))
	}
	if !reflect.DeepEqual(got.Filters, wantFilters) {
		t.Errorf("filters: got\n%s\nwant\n%s", dump(got.Filters), dump(wantFilters))
	}
	// A deep copy: changing the copy leaves the original alone.
	got.Scripts.Hooks[0].Path = "changed"
	got.Scripts.Env[0] = "changed"
	got.Filters[0].Hooks[0] = "changed"
	got.Filters[0].Config[2] = 'X'
	got.Filters[1].Name = "changed"
	if dump(c) != before {
		t.Errorf("WithDefaults did not copy deeply:\n%s", dump(c))
	}
	if err := got.WithDefaults().Validate(); err == nil {
		t.Errorf("Validate accepted the changed copy")
	}

	bad := &Config{
		Source:  "built-in",
		Servers: map[string]*Server{"a": {Command: "x"}},
		Scripts: &Scripts{
			Hooks:            []*Hook{{}, nil, {Path: "x.py", Timeout: d(-time.Second), OnError: "Closed"}},
			Timeout:          d(-time.Millisecond),
			OnError:          "never",
			Env:              []string{"OK", "NOT-OK", "", "OK"},
			Pool:             -1,
			MaxCallStackSize: 15,
			Isolation:        "Process",
			MemoryLimitMiB:   70000,
		},
		Filters: []*Filter{
			{Wasm: "a/f.wasm", Config: json.RawMessage(`[1]`), Hooks: []string{}},
			{Wasm: "b/f.wasm", Config: json.RawMessage(`{`)},
			nil,
			{Name: "x", Hooks: []string{"listtools", "toolCall", "toolCall"}, MemoryLimitMiB: 4097, Pool: -2, OnError: "x", Timeout: d(-1)},
			{Wasm: "F.WASM", Name: "x", MemoryLimitMiB: -1},
			{Wasm: "dir/.wasm"},
		},
	}
	want := `built-in: scripts.hooks[0].path: must not be empty (the script to run, e.g. "policy.ts")
built-in: scripts.hooks[1]: the hook is nil
built-in: scripts.hooks[2].path: "x.py" is not a JavaScript or TypeScript file (hook scripts end in .js, .mjs, .cjs, .ts, .mts, .cts)
built-in: scripts.hooks[2].timeout: must not be negative, found "-1s"
built-in: scripts.hooks[2].onError: unknown fail mode "Closed": expected "closed" or "open" (did you mean "closed"?)
built-in: scripts.timeout: must not be negative, found "-1ms"
built-in: scripts.onError: unknown fail mode "never": expected "closed" or "open" ("closed" refuses the request, "open" lets it through)
built-in: scripts.env[1]: invalid variable name "NOT-OK": use letters, digits and _, not starting with a digit
built-in: scripts.env[2]: invalid variable name "": use letters, digits and _, not starting with a digit
built-in: scripts.env[3]: "OK" is listed twice
built-in: scripts.pool: must be at least 1, found -1 (leave the key out for the default, GOMAXPROCS)
built-in: scripts.maxCallStackSize: must be at least 16, found 15 (leave the key out for the default, 1024)
built-in: scripts.isolation: unknown isolation "Process": expected "auto", "process" or "none" (did you mean "process"?)
built-in: scripts.memoryLimitMiB: must be between 32 and 65536, found 70000 (the limit is in MiB; leave the key out for the default, 256)
built-in: filters[0].config: must be a JSON object (e.g. "config": {"folder": "/srv/data"})
built-in: filters[0].hooks: is empty (list the hooks the filter handles, or leave "hooks" out for every hook)
built-in: filters[1].config: must be a JSON object (e.g. "config": {"folder": "/srv/data"})
built-in: filters[1].wasm: the name "f" is used twice, by filters[0] ("a/f.wasm") and filters[1] ("b/f.wasm") (filter names must be unique and default to the file's base name; set "name" on one of them)
built-in: filters[2]: the filter is nil
built-in: filters[3].wasm: must not be empty (the WebAssembly module, e.g. "filters/redact.wasm")
built-in: filters[3].hooks[0]: unknown hook "listtools": expected "toolCall", "toolResult", "listTools", "listPrompts", "listResources", "listResourceTemplates", "request" or "response" (did you mean "listTools"?)
built-in: filters[3].hooks[2]: "toolCall" is listed twice
built-in: filters[3].timeout: must not be negative, found "-1ns"
built-in: filters[3].memoryLimitMiB: must be between 1 and 4096, found 4097 (the limit is in MiB; leave the key out for the default, 64)
built-in: filters[3].onError: unknown fail mode "x": expected "closed" or "open" ("closed" refuses the request, "open" lets it through)
built-in: filters[3].pool: must be at least 1, found -2 (leave the key out for the default, GOMAXPROCS)
built-in: filters[4].wasm: "F.WASM" is not a .wasm file (did you mean "F.wasm"?)
built-in: filters[4].memoryLimitMiB: must be between 1 and 4096, found -1 (the limit is in MiB; leave the key out for the default, 64)
built-in: filters[4].name: the name "x" is used twice, by filters[3] ("") and filters[4] ("F.WASM") (filter names must be unique and default to the file's base name; set "name" on one of them)
built-in: filters[5].wasm: "dir/.wasm" has no name before .wasm (e.g. "filters/redact.wasm")`
	if err := bad.Validate(); err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

// Resolve makes hook, readDir and filter paths relative to the config's
// folder.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mcpscript.json")
	if err := os.WriteFile(path, []byte(withServer(`"scripts": {"hooks": ["hooks/p.ts"], "readDir": "data"}, "filters": [{"wasm": "/abs/f.wasm"}]`)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{c.Scripts.Hooks[0].Path, filepath.Join(dir, "hooks", "p.ts")},
		{c.Scripts.ReadDir, filepath.Join(dir, "data")},
		{c.Filters[0].Wasm, "/abs/f.wasm"},
		{"", ""},
	} {
		if got := c.Resolve(tc.in); got != tc.want {
			t.Errorf("Resolve(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := (&Config{}).Resolve("a/../b.ts"); got != "b.ts" {
		t.Errorf("Resolve without Dir = %q", got)
	}
}

// defaultSessions is the Sessions of a config that sets none.
func defaultSessions() *Sessions {
	return &Sessions{MaxPerCaller: DefaultMaxSessionsPerCaller, MaxTotal: DefaultMaxSessionsTotal, IdleTimeout: d(DefaultProxySessionIdleTimeout)}
}
