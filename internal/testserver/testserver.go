// Package testserver is an MCP server that misbehaves on demand, for the
// integration tests of mcpscript's engine, process manager and proxy.
//
// A test binary re-executes itself as the server:
//
//	func TestMain(m *testing.M) {
//		if testserver.Requested() {
//			testserver.Main()
//		}
//		os.Exit(m.Run())
//	}
//
//	cmd := exec.Command(os.Args[0])
//	cmd.Env = append(os.Environ(), testserver.Env(testserver.ModeNormal)...)
//
// The environment variable MCPSCRIPT_TESTSERVER selects the mode (see the
// Mode constants). In the serving modes the server is a go-sdk stdio server
// named "testserver"; [Main] lists its tools.
package testserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// EnvVar is the environment variable that selects the test server mode.
const EnvVar = "MCPSCRIPT_TESTSERVER"

// Modes of the test server, the values of [EnvVar].
const (
	// ModeNormal serves over stdio.
	ModeNormal = "normal"
	// ModeGarbage first writes non-JSON lines to stdout, then serves like ModeNormal.
	ModeGarbage = "garbage"
	// ModeExit writes a fatal message to stderr and exits with status 3 at once.
	ModeExit = "exit"
	// ModeSilent reads and discards stdin and never writes; after stdin
	// ends it keeps running until it is killed.
	ModeSilent = "silent"
	// ModeCrashInit exits with status 4 as soon as it has read the first line
	// (the initialize request).
	ModeCrashInit = "crashinit"
	// ModeMute answers initialize (offering tools, prompts and resources),
	// then reads and discards everything and never answers again: a server
	// that is alive but stuck. It exits when stdin ends.
	ModeMute = "mute"
)

// Exit statuses of the misbehaving modes.
const (
	ExitStatusExit      = 3 // ModeExit
	ExitStatusCrashInit = 4 // ModeCrashInit
	ExitStatusBadMode   = 2 // an unknown mode
)

// ServerName is the name the test server reports in its initialize result.
const ServerName = "testserver"

// ExitMessage is the first line ModeExit writes to stderr.
const ExitMessage = "fatal: missing API key FOO_TOKEN"

// GarbageLines are the non-JSON lines ModeGarbage writes to stdout before serving.
var GarbageLines = []string{
	"npm WARN config production Use `--omit=dev` instead.",
	"Debugger listening on ws://127.0.0.1:9229/2b1c7c4e-0f7a-4e0c-9b1e-5f0f3d2a9c11",
	"",
	"{not json",
	"Server starting...",
}

// GarbageToolLine is the line the garbage tool writes to stdout mid-session.
const GarbageToolLine = "oops: this is not JSON-RPC"

// PageSize is the test server's page size for tools/list and the other list
// methods; with the 150 extra tools, tools/list takes several pages.
const PageSize = 50

// ExtraTools is the number of extra echo tools t000, t001, ... the server has.
const ExtraTools = 150

// Requested reports whether this process was started as a test server (env MCPSCRIPT_TESTSERVER set).
func Requested() bool {
	return os.Getenv(EnvVar) != ""
}

// Env returns the environment entries (KEY=VALUE) that make a re-exec'd test binary run the test server in the given mode.
//
// It also turns off the race detector's one-second pause at exit, which
// would otherwise slow every stop of a race-enabled test server.
func Env(mode string) []string {
	return []string{EnvVar + "=" + mode, "GORACE=atexit_sleep_ms=0"}
}

// ConfigJSON returns the mcpServers entry, as JSON members without braces,
// that starts this test binary as the test server in the given mode:
// `"command": "...", "env": {...}`. extraEnv adds variables (values may use
// ${VAR} expansion); add further members after a comma.
func ConfigJSON(mode string, extraEnv map[string]string) string {
	env := map[string]string{}
	for k, v := range extraEnv {
		env[k] = v
	}
	for _, kv := range Env(mode) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	envJSON, _ := json.Marshal(env)
	cmd, _ := json.Marshal(os.Args[0])
	return fmt.Sprintf(`"command": %s, "env": %s`, cmd, envJSON)
}

// Main runs the test server selected by the environment and exits the process. Call it from TestMain when Requested().
//
// Tools of the serving modes (normal, garbage):
//
//	echo {text}              the text
//	big {bytes}              one text content of exactly bytes bytes ("0123456789abcdef" repeated)
//	slow {steps, delayMs}    steps progress notifications (with a progress token), then "done"
//	hang {}                  blocks until cancelled; counts the cancellations
//	cancelled {}             the number of cancelled hang calls
//	crash {code}             exits with code mid-call, without answering
//	pid {}                   the server's process id
//	stderr {bytes}           writes bytes bytes to stderr in ~100-byte lines, then "ok"
//	grandchild {}            starts `sleep 300` in the server's process group, returns its pid
//	garbage {}               writes one non-JSON line to stdout, then "ok"
//	flood {lines, stream}    writes lines non-JSON lines to stdout or stderr, then "ok"
//	hugeline {bytes}         writes one non-JSON line of bytes bytes to stdout, then "ok"
//	sample {prompt}          asks the client for a sampling/createMessage, returns the reply's text
//	elicit {message}         asks the client for elicitation/create, returns {"action","content"} as JSON
//	roots {}                 asks the client for roots/list, returns the roots as JSON
//	log {level, message}     sends notifications/message at that level, then "ok"
//	addtool {name, field}    registers (or replaces) an echo tool, whose schema has field too when given (tools/list_changed follows), then "ok"
//	env {name}               the value of that environment variable
//	cwd {}                   the working directory
//	touch {uri}              sends notifications/resources/updated for uri
//	subscriptions {}         the URIs currently subscribed to, as a JSON array
//	t000 .. t149 {text}      the text
//
// Resources: test://static ("static text") and the template test://item/{id}
// ("item ID"), with subscribe/unsubscribe. Prompt: greet {name}. Completion:
// greet's name from alice, albert, bob. Logging: the session starts at level
// debug, so log messages flow before any logging/setLevel.
func Main() {
	os.Exit(run(os.Getenv(EnvVar)))
}

func run(mode string) int {
	switch mode {
	case ModeNormal:
		return serve(false)
	case ModeGarbage:
		return serve(true)
	case ModeExit:
		fmt.Fprintln(os.Stderr, ExitMessage)
		fmt.Fprintln(os.Stderr, "hint: set FOO_TOKEN in the server's environment")
		fmt.Fprintln(os.Stderr, "exiting")
		return ExitStatusExit
	case ModeSilent:
		io.Copy(io.Discard, os.Stdin)
		for {
			time.Sleep(time.Hour)
		}
	case ModeCrashInit:
		r := bufio.NewReader(os.Stdin)
		r.ReadString('\n')
		return ExitStatusCrashInit
	case ModeMute:
		return mute()
	default:
		fmt.Fprintf(os.Stderr, "testserver: unknown mode %q (%s)\n", mode, EnvVar)
		return ExitStatusBadMode
	}
}

// mute answers the initialize request, then nothing.
func mute() int {
	r := bufio.NewReader(os.Stdin)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return 1
	}
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(line, &req) != nil || len(req.ID) == 0 {
		return 1
	}
	fmt.Printf(`{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{},"prompts":{},"resources":{}},"serverInfo":{"name":%q,"version":"1.0.0"}}}`+"\n", req.ID, ServerName)
	io.Copy(io.Discard, r)
	return 0 // exits when its input ends, so that stopping it is quick
}

// lineWriter serialises writes to stdout, so that the transport's messages
// and the garbage tool's line never interleave.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Close does nothing: stdout stays open until the process exits.
func (l *lineWriter) Close() error { return nil }

func serve(garbage bool) int {
	out := &lineWriter{w: os.Stdout}
	if garbage {
		io.WriteString(out, strings.Join(GarbageLines, "\n")+"\n")
	}
	srv := newServer(out)
	ctx := context.Background()
	ss, err := srv.Connect(ctx, &mcp.IOTransport{Reader: os.Stdin, Writer: out}, &mcp.ServerSessionOptions{
		State: &mcp.ServerSessionState{LogLevel: "debug"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		return 1
	}
	// The session ends when stdin ends. Exit then, even if a hang call is
	// still blocked (Close would wait for it).
	ss.Wait()
	return 0
}

// textResult is a tool result holding one text content.
func textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// errorResult is a tool error (isError) holding one text content.
func errorResult(text string) *mcp.CallToolResult {
	res := textResult(text)
	res.IsError = true
	return res
}
