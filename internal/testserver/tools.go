package testserver

//lint:file-ignore SA1019 the test server deliberately exercises logging, sampling and roots, deprecated in 2026-07-28 but still part of the legacy protocol.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BigPattern is the pattern the big tool repeats.
const BigPattern = "0123456789abcdef"

// maxBig bounds the big and stderr tools, so that a typo cannot exhaust memory.
const maxBig = 256 << 20

// modernVersion is the first protocol version without server-to-client
// requests (sampling, elicitation and roots go through input requests).
const modernVersion = "2026-07-28"

// BigText returns the text the big tool returns for n bytes: BigPattern
// repeated and cut to exactly n bytes.
func BigText(n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = BigPattern[i%len(BigPattern)]
	}
	return string(b)
}

type echoArgs struct {
	Text string `json:"text" jsonschema:"The text to send back."`
}

type bytesArgs struct {
	Bytes int `json:"bytes" jsonschema:"How many bytes."`
}

type slowArgs struct {
	Steps   int `json:"steps,omitempty" jsonschema:"How many progress steps (default 0)."`
	DelayMs int `json:"delayMs,omitempty" jsonschema:"Milliseconds to wait before each step."`
}

type codeArgs struct {
	Code int `json:"code" jsonschema:"The exit status."`
}

type promptArgs struct {
	Prompt string `json:"prompt" jsonschema:"The user message to sample a reply to."`
}

type messageArgs struct {
	Message string `json:"message" jsonschema:"The message shown to the user."`
}

type logArgs struct {
	Level   string `json:"level,omitempty" jsonschema:"The log level (debug, info, notice, warning, error, critical, alert, emergency); default info."`
	Message string `json:"message" jsonschema:"The log message."`
}

type addToolArgs struct {
	Name  string `json:"name" jsonschema:"The tool's name."`
	Field string `json:"field,omitempty" jsonschema:"A further optional string property of its input schema."`
}

type nameArgs struct {
	Name string `json:"name" jsonschema:"A name."`
}

type uriArgs struct {
	URI string `json:"uri" jsonschema:"A resource URI."`
}

type empty struct{}

// state is what the tools of one test server process share.
type state struct {
	srv       *mcp.Server
	out       io.Writer // stdout, shared with the transport
	cancelled atomic.Int64

	mu   sync.Mutex
	subs map[string]bool // subscribed resource URIs
}

// newServer builds the test server; out is the writer the transport uses.
func newServer(out io.Writer) *mcp.Server {
	st := &state{out: out, subs: map[string]bool{}}
	srv := mcp.NewServer(&mcp.Implementation{Name: ServerName, Version: "1.0.0"}, &mcp.ServerOptions{
		Instructions:       "mcpscript's misbehaving-on-demand test server.",
		PageSize:           PageSize,
		CompletionHandler:  complete,
		SubscribeHandler:   st.subscribe,
		UnsubscribeHandler: st.unsubscribe,
	})
	st.srv = srv
	st.addTools()
	st.addResources()
	srv.AddPrompt(&mcp.Prompt{
		Name:        "greet",
		Description: "Greets someone.",
		Arguments:   []*mcp.PromptArgument{{Name: "name", Description: "Who to greet.", Required: true}},
	}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		name := req.Params.Arguments["name"]
		if name == "" {
			return nil, errors.New(`greet: the "name" argument is required`)
		}
		return &mcp.GetPromptResult{
			Description: "Greet " + name,
			Messages: []*mcp.PromptMessage{{
				Role: "user", Content: &mcp.TextContent{Text: "Please greet " + name + "."},
			}},
		}, nil
	})
	return srv
}

func (st *state) addTools() {
	s := st.srv
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Returns the text."},
		func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
			return textResult(a.Text), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "big", Description: "Returns one text content of exactly `bytes` bytes (\"0123456789abcdef\" repeated)."},
		func(_ context.Context, _ *mcp.CallToolRequest, a bytesArgs) (*mcp.CallToolResult, any, error) {
			if a.Bytes < 0 || a.Bytes > maxBig {
				return errorResult(fmt.Sprintf("bytes must be between 0 and %d", maxBig)), nil, nil
			}
			return textResult(BigText(a.Bytes)), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "slow", Description: "Sends `steps` progress notifications, `delayMs` apart (when a progress token was given), then returns \"done\"."},
		func(ctx context.Context, req *mcp.CallToolRequest, a slowArgs) (*mcp.CallToolResult, any, error) {
			token := req.Params.GetProgressToken()
			for i := 1; i <= a.Steps; i++ {
				if err := sleep(ctx, time.Duration(a.DelayMs)*time.Millisecond); err != nil {
					return nil, nil, err
				}
				if token != nil {
					req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: token, Progress: float64(i), Total: float64(a.Steps),
						Message: fmt.Sprintf("step %d/%d", i, a.Steps),
					})
				}
			}
			return textResult("done"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "hang", Description: "Blocks until the call is cancelled, then counts the cancellation (see the cancelled tool). Sends one progress notification (progress 0, message \"hanging\") first when a progress token was given."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
			if token := req.Params.GetProgressToken(); token != nil {
				req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: 0, Message: "hanging"})
			}
			<-ctx.Done()
			st.cancelled.Add(1)
			return nil, nil, ctx.Err()
		})

	mcp.AddTool(s, &mcp.Tool{Name: "cancelled", Description: "Returns how many hang calls were cancelled so far."},
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			return textResult(strconv.FormatInt(st.cancelled.Load(), 10)), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "crash", Description: "Exits the server with status `code` mid-call, without answering."},
		func(_ context.Context, _ *mcp.CallToolRequest, a codeArgs) (*mcp.CallToolResult, any, error) {
			os.Exit(a.Code)
			return nil, nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "pid", Description: "Returns the server's process id."},
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			return textResult(strconv.Itoa(os.Getpid())), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "stderr", Description: "Writes exactly `bytes` bytes to stderr in lines of 100 bytes, then returns \"ok\"."},
		func(_ context.Context, _ *mcp.CallToolRequest, a bytesArgs) (*mcp.CallToolResult, any, error) {
			if a.Bytes < 0 || a.Bytes > maxBig {
				return errorResult(fmt.Sprintf("bytes must be between 0 and %d", maxBig)), nil, nil
			}
			if _, err := io.WriteString(os.Stderr, StderrText(a.Bytes)); err != nil {
				return errorResult(err.Error()), nil, nil
			}
			return textResult("ok"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "grandchild", Description: "Starts `sleep 300` in the server's own process group and returns its pid."},
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			cmd := exec.Command("sleep", "300") // stdio: /dev/null; same process group
			if err := cmd.Start(); err != nil {
				return errorResult(err.Error()), nil, nil
			}
			go cmd.Wait() // reap it if it ends first
			return textResult(strconv.Itoa(cmd.Process.Pid)), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "garbage", Description: "Writes one non-JSON line to stdout, between two messages, then returns \"ok\"."},
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			if _, err := io.WriteString(st.out, GarbageToolLine+"\n"); err != nil {
				return errorResult(err.Error()), nil, nil
			}
			return textResult("ok"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "flood", Description: "Writes `lines` lines that are not JSON-RPC (\"flood line N\") to `stream` (\"stdout\" or \"stderr\"), then returns \"ok\"."},
		func(_ context.Context, _ *mcp.CallToolRequest, a floodArgs) (*mcp.CallToolResult, any, error) {
			var w io.Writer
			switch a.Stream {
			case "stdout":
				w = st.out
			case "stderr":
				w = os.Stderr
			default:
				return errorResult(`stream must be "stdout" or "stderr"`), nil, nil
			}
			if a.Lines < 0 || a.Lines > 10_000_000 {
				return errorResult("lines must be between 0 and 10000000"), nil, nil
			}
			if err := floodLines(w, a.Lines); err != nil {
				return errorResult(err.Error()), nil, nil
			}
			return textResult("ok"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "hugeline", Description: "Writes one line of `bytes` bytes that is not JSON-RPC to stdout, then returns \"ok\" (if the connection survives it)."},
		func(_ context.Context, _ *mcp.CallToolRequest, a bytesArgs) (*mcp.CallToolResult, any, error) {
			if a.Bytes < 0 || a.Bytes > 1<<30 {
				return errorResult("bytes must be between 0 and 1 GiB"), nil, nil
			}
			if err := hugeLine(st.out, a.Bytes); err != nil {
				return errorResult(err.Error()), nil, nil
			}
			return textResult("ok"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "sample", Description: "Asks the client for sampling/createMessage with `prompt` and returns the text of the reply (a tool error if the client refuses)."},
		st.sample)

	mcp.AddTool(s, &mcp.Tool{Name: "elicit", Description: "Asks the client for elicitation/create with `message` and returns {\"action\", \"content\"} as JSON text."},
		st.elicit)

	mcp.AddTool(s, &mcp.Tool{Name: "roots", Description: "Asks the client for roots/list and returns the roots as JSON text."},
		st.roots)

	mcp.AddTool(s, &mcp.Tool{Name: "log", Description: "Sends notifications/message at `level` with `message` as data (logger \"testserver\"), then returns \"ok\"."},
		func(ctx context.Context, req *mcp.CallToolRequest, a logArgs) (*mcp.CallToolResult, any, error) {
			level := a.Level
			if level == "" {
				level = "info"
			}
			err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: mcp.LoggingLevel(level), Logger: ServerName, Data: a.Message})
			if err != nil {
				return errorResult(err.Error()), nil, nil
			}
			return textResult("ok"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "addtool", Description: "Registers a new echo tool called `name`, or replaces the tool of that name (the server then sends notifications/tools/list_changed), and returns \"ok\". With `field`, the tool's input schema also has that optional string property, so replacing a tool can change its schema."},
		func(_ context.Context, _ *mcp.CallToolRequest, a addToolArgs) (*mcp.CallToolResult, any, error) {
			if a.Name == "" {
				return errorResult("name is required"), nil, nil
			}
			st.addEchoWith(a.Name, "Echo tool added at run time.", a.Field)
			return textResult("ok"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "env", Description: "Returns the value of the environment variable `name` (empty if unset)."},
		func(_ context.Context, _ *mcp.CallToolRequest, a nameArgs) (*mcp.CallToolResult, any, error) {
			return textResult(os.Getenv(a.Name)), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "cwd", Description: "Returns the server's working directory."},
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			wd, err := os.Getwd()
			if err != nil {
				return errorResult(err.Error()), nil, nil
			}
			return textResult(wd), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "touch", Description: "Sends notifications/resources/updated for `uri` to the sessions subscribed to it, then returns \"ok\"."},
		func(ctx context.Context, _ *mcp.CallToolRequest, a uriArgs) (*mcp.CallToolResult, any, error) {
			if err := st.srv.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: a.URI}); err != nil {
				return errorResult(err.Error()), nil, nil
			}
			return textResult("ok"), nil, nil
		})

	mcp.AddTool(s, &mcp.Tool{Name: "subscriptions", Description: "Returns the resource URIs currently subscribed to, as a sorted JSON array."},
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			st.mu.Lock()
			uris := []string{}
			for u := range st.subs {
				uris = append(uris, u)
			}
			st.mu.Unlock()
			slices.Sort(uris)
			return jsonResult(uris), nil, nil
		})

	for i := range ExtraTools {
		st.addEcho(fmt.Sprintf("t%03d", i), "Extra echo tool; the extra tools make tools/list take several pages.")
	}
}

// addEchoWith adds an echo tool whose input schema also has the optional
// string property field, when field is not empty.
func (st *state) addEchoWith(name, desc, field string) {
	if field == "" {
		st.addEcho(name, desc)
		return
	}
	schema := map[string]any{"type": "object", "properties": map[string]any{
		"text": map[string]any{"type": "string", "description": "The text to send back."},
		field:  map[string]any{"type": "string"},
	}}
	mcp.AddTool(st.srv, &mcp.Tool{Name: name, Description: desc, InputSchema: schema},
		func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
			return textResult(a.Text), nil, nil
		})
}

func (st *state) addEcho(name, desc string) {
	mcp.AddTool(st.srv, &mcp.Tool{Name: name, Description: desc},
		func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
			return textResult(a.Text), nil, nil
		})
}

// modern reports whether the session speaks a protocol version in which the
// server may not send requests of its own.
func modern(req *mcp.CallToolRequest) bool {
	p := req.Session.InitializeParams()
	return p != nil && p.ProtocolVersion >= modernVersion
}

// inputKey is the id of the one input request the sample, elicit and roots
// tools make in the multi-round-trip protocol.
const inputKey = "input"

func (st *state) sample(ctx context.Context, req *mcp.CallToolRequest, a promptArgs) (*mcp.CallToolResult, any, error) {
	params := &mcp.CreateMessageParams{
		Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: a.Prompt}}},
		MaxTokens: 100,
	}
	if modern(req) {
		r, ok := req.Params.InputResponses[inputKey]
		if !ok {
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{inputKey: params}}, nil, nil
		}
		res, ok := r.(*mcp.CreateMessageWithToolsResult)
		if !ok {
			return errorResult(fmt.Sprintf("unexpected input response %T", r)), nil, nil
		}
		return textResult(contentText(res.Content...)), nil, nil
	}
	res, err := req.Session.CreateMessage(ctx, params)
	if err != nil {
		return errorResult(err.Error()), nil, nil
	}
	return textResult(contentText(res.Content)), nil, nil
}

func (st *state) elicit(ctx context.Context, req *mcp.CallToolRequest, a messageArgs) (*mcp.CallToolResult, any, error) {
	params := &mcp.ElicitParams{
		Message: a.Message,
		RequestedSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"answer": map[string]any{"type": "string", "description": "Your answer."}},
		},
	}
	var res *mcp.ElicitResult
	if modern(req) {
		r, ok := req.Params.InputResponses[inputKey]
		if !ok {
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{inputKey: params}}, nil, nil
		}
		if res, ok = r.(*mcp.ElicitResult); !ok {
			return errorResult(fmt.Sprintf("unexpected input response %T", r)), nil, nil
		}
	} else {
		var err error
		if res, err = req.Session.Elicit(ctx, params); err != nil {
			return errorResult(err.Error()), nil, nil
		}
	}
	return jsonResult(map[string]any{"action": res.Action, "content": res.Content}), nil, nil
}

func (st *state) roots(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
	var res *mcp.ListRootsResult
	if modern(req) {
		r, ok := req.Params.InputResponses[inputKey]
		if !ok {
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{inputKey: &mcp.ListRootsParams{}}}, nil, nil
		}
		if res, ok = r.(*mcp.ListRootsResult); !ok {
			return errorResult(fmt.Sprintf("unexpected input response %T", r)), nil, nil
		}
	} else {
		var err error
		if res, err = req.Session.ListRoots(ctx, nil); err != nil {
			return errorResult(err.Error()), nil, nil
		}
	}
	roots := res.Roots
	if roots == nil {
		roots = []*mcp.Root{}
	}
	return jsonResult(roots), nil, nil
}

func (st *state) addResources() {
	st.srv.AddResource(&mcp.Resource{URI: "test://static", Name: "static", MIMEType: "text/plain"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
				URI: req.Params.URI, MIMEType: "text/plain", Text: "static text",
			}}}, nil
		})
	st.srv.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "test://item/{id}", Name: "item", MIMEType: "text/plain"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			id, ok := strings.CutPrefix(req.Params.URI, "test://item/")
			if !ok || id == "" {
				return nil, mcp.ResourceNotFoundError(req.Params.URI)
			}
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
				URI: req.Params.URI, MIMEType: "text/plain", Text: "item " + id,
			}}}, nil
		})
}

func (st *state) subscribe(_ context.Context, req *mcp.SubscribeRequest) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.subs[req.Params.URI] = true
	return nil
}

func (st *state) unsubscribe(_ context.Context, req *mcp.UnsubscribeRequest) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.subs, req.Params.URI)
	return nil
}

// GreetNames are the completions the server offers for the greet prompt's name.
var GreetNames = []string{"alice", "albert", "bob"}

func complete(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	values := []string{}
	if ref := req.Params.Ref; ref != nil && ref.Type == "ref/prompt" && ref.Name == "greet" && req.Params.Argument.Name == "name" {
		for _, n := range GreetNames {
			if strings.HasPrefix(n, req.Params.Argument.Value) {
				values = append(values, n)
			}
		}
	}
	return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: values, Total: len(values)}}, nil
}

// StderrText returns what the stderr tool writes for n bytes: numbered lines
// of 100 bytes (the last one shorter), n bytes in all, ending in a newline.
func StderrText(n int) string {
	var b strings.Builder
	b.Grow(n)
	for i := 1; b.Len() < n; i++ {
		line := fmt.Sprintf("stderr line %06d ", i)
		line += strings.Repeat(".", max(0, 99-len(line)))
		line = line[:min(len(line), n-b.Len()-1)] + "\n"
		b.WriteString(line)
	}
	return b.String()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func contentText(cs ...mcp.Content) string {
	var parts []string
	for _, c := range cs {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func jsonResult(v any) *mcp.CallToolResult {
	b, err := json.Marshal(v)
	if err != nil {
		return errorResult(err.Error())
	}
	return textResult(string(b))
}

type floodArgs struct {
	Lines  int    `json:"lines"`
	Stream string `json:"stream"`
}

// floodLines writes n lines "flood line N" to w, in large writes (one
// write for stdout, so that no message of the transport lands mid-line).
func floodLines(w io.Writer, n int) error {
	var b []byte
	for i := range n {
		b = fmt.Appendf(b, "flood line %d\n", i)
	}
	_, err := w.Write(b)
	return err
}

// hugeLine writes one line of n bytes to w in one write.
func hugeLine(w io.Writer, n int) error {
	b := make([]byte, n+1)
	for i := range n {
		b[i] = 'z'
	}
	b[n] = '\n'
	_, err := w.Write(b)
	return err
}
