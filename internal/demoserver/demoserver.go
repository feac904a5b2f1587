// Package demoserver implements mcpscript's built-in demo MCP server.
//
// The demo server needs nothing installed: `mcpscript demo-server` serves it
// over stdio so that newcomers can try scripts, the proxy and hooks against a
// real MCP server right away. It exercises the common protocol features:
// tools (plain, structured, progress-reporting and failing), a resource, a
// resource template, a prompt with argument completion, and logging.
package demoserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Name is the server name the demo server reports in its initialize result.
const Name = "mcpscript-demo"

// Version is the version the demo server reports. The mcpscript binary may
// overwrite it (for example with -ldflags "-X ...demoserver.Version=v1.2.3").
var Version = "dev"

// Limits and defaults of the count tool.
const (
	countDefaultTo      = 5
	countMaxTo          = 100
	countDefaultDelayMs = 100
	countMaxDelayMs     = 10000
)

// Styles accepted by the greet prompt, in the order completion offers them.
var greetStyles = []string{"casual", "formal"}

// Names offered when completing the {name} variable of the greeting template.
var greetingNames = []string{"Ada", "Alan", "Grace", "Linus", "world"}

const readme = `# mcpscript demo server

This is the small MCP server built into mcpscript (` + "`mcpscript demo-server`" + `).
It needs nothing installed and is handy for trying scripts, the proxy and hooks.

## Tools
- **echo** {text}: returns the text unchanged.
- **add** {a, b}: adds two numbers; the result is also given as structured content ` + "`{\"sum\": ...}`" + `.
- **count** {to, delayMs}: counts slowly and reports progress when asked to.
- **time** {}: the current UTC time (RFC 3339).
- **fail** {message}: always fails with the given message (a tool error, isError=true).

## Resources
- ` + "`demo://readme`" + `: this text.
- ` + "`demo://greeting/{name}`" + `: a greeting for anyone.

## Prompts
- **greet** {name, style?}: asks the model to greet someone, ` + "`formal`" + ` or ` + "`casual`" + `.
`

// New returns the demo server: a small, friendly MCP server that needs nothing installed.
func New() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{
		Name:    Name,
		Title:   "mcpscript demo server",
		Version: Version,
	}, &mcp.ServerOptions{
		Instructions:      "A small demo server built into mcpscript. Try the echo, add, count, time and fail tools, read demo://readme, or get the greet prompt.",
		CompletionHandler: complete,
	})
	addTools(s)

	s.AddResource(&mcp.Resource{
		URI:         "demo://readme",
		Name:        "readme",
		Title:       "About the demo server",
		Description: "What the mcpscript demo server offers.",
		MIMEType:    "text/markdown",
		Size:        int64(len(readme)),
	}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
			URI: req.Params.URI, MIMEType: "text/markdown", Text: readme,
		}}}, nil
	})

	s.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: "demo://greeting/{name}",
		Name:        "greeting",
		Title:       "Greeting",
		Description: "A greeting for the given name.",
		MIMEType:    "text/plain",
	}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		uri := req.Params.URI
		name, ok := strings.CutPrefix(uri, "demo://greeting/")
		if !ok || name == "" || strings.Contains(name, "/") {
			return nil, mcp.ResourceNotFoundError(uri)
		}
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
			URI: uri, MIMEType: "text/plain", Text: "Hello, " + name + "!",
		}}}, nil
	})

	s.AddPrompt(&mcp.Prompt{
		Name:        "greet",
		Title:       "Greet someone",
		Description: "Asks the model to greet someone, formally or casually.",
		Arguments: []*mcp.PromptArgument{
			{Name: "name", Description: "Who to greet.", Required: true},
			{Name: "style", Description: `How to greet: "formal" or "casual" (optional).`},
		},
	}, greetPrompt)
	return s
}

// Run serves the demo server over the given stdio streams until in closes or ctx ends.
//
// It returns nil when the client closes in, ctx.Err() when ctx ends first,
// and any other error that stops the session.
func Run(ctx context.Context, in io.ReadCloser, out io.WriteCloser) error {
	err := New().Run(ctx, &mcp.IOTransport{Reader: in, Writer: out})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	return err
}

type echoArgs struct {
	Text string `json:"text" jsonschema:"The text to send back."`
}

type addArgs struct {
	A float64 `json:"a" jsonschema:"The first number."`
	B float64 `json:"b" jsonschema:"The second number."`
}

type addOutput struct {
	Sum float64 `json:"sum" jsonschema:"a + b"`
}

type countArgs struct {
	To      int `json:"to,omitempty" jsonschema:"Count from 1 up to this number (default 5, at most 100)."`
	DelayMs int `json:"delayMs,omitempty" jsonschema:"Milliseconds to wait before each number (default 100, at most 10000)."`
}

type failArgs struct {
	Message string `json:"message" jsonschema:"The error message the tool fails with."`
}

func addTools(s *mcp.Server) {
	mcp.AddTool(s, &mcp.Tool{
		Name:        "echo",
		Title:       "Echo",
		Description: "Returns the given text unchanged.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)},
	}, func(_ context.Context, _ *mcp.CallToolRequest, args echoArgs) (*mcp.CallToolResult, any, error) {
		return textResult(args.Text), nil, nil
	})

	mcp.AddTool(s, &mcp.Tool{
		Name:        "add",
		Title:       "Add two numbers",
		Description: `Adds two numbers. The sum comes back as text and as structured content {"sum": n}.`,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)},
	}, func(_ context.Context, _ *mcp.CallToolRequest, args addArgs) (*mcp.CallToolResult, addOutput, error) {
		sum := args.A + args.B
		return textResult(strconv.FormatFloat(sum, 'f', -1, 64)), addOutput{Sum: sum}, nil
	})

	mcp.AddTool(s, &mcp.Tool{
		Name:        "count",
		Title:       "Count slowly",
		Description: "Counts from 1 to `to`, waiting `delayMs` before each number. Reports progress (i of to) when the caller asks for it, and stops when the call is cancelled.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)},
		InputSchema: countSchema(),
	}, count)

	mcp.AddTool(s, &mcp.Tool{
		Name:        "time",
		Title:       "Current time",
		Description: "Returns the current UTC time in RFC 3339 format.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)},
	}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return textResult(time.Now().UTC().Format(time.RFC3339)), nil, nil
	})

	mcp.AddTool(s, &mcp.Tool{
		Name:        "fail",
		Title:       "Always fail",
		Description: "Always fails with the given message, as a tool error (isError=true). Useful for trying error handling.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)},
	}, func(_ context.Context, _ *mcp.CallToolRequest, args failArgs) (*mcp.CallToolResult, any, error) {
		res := textResult(args.Message)
		res.IsError = true
		return res, nil, nil
	})
}

// countSchema is the input schema of the count tool: the inferred one, with
// defaults and bounds added.
func countSchema() *jsonschema.Schema {
	sch, err := jsonschema.For[countArgs](nil)
	if err != nil {
		panic(err)
	}
	to, delay := sch.Properties["to"], sch.Properties["delayMs"]
	to.Default = json.RawMessage(strconv.Itoa(countDefaultTo))
	to.Minimum, to.Maximum = new(float64(0)), new(float64(countMaxTo))
	delay.Default = json.RawMessage(strconv.Itoa(countDefaultDelayMs))
	delay.Minimum, delay.Maximum = new(float64(0)), new(float64(countMaxDelayMs))
	return sch
}

func count(ctx context.Context, req *mcp.CallToolRequest, args countArgs) (*mcp.CallToolResult, any, error) {
	token := req.Params.GetProgressToken()
	delay := time.Duration(args.DelayMs) * time.Millisecond
	for i := 1; i <= args.To; i++ {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		if token != nil {
			err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
				ProgressToken: token,
				Progress:      float64(i),
				Total:         float64(args.To),
				Message:       fmt.Sprintf("%d/%d", i, args.To),
			})
			if err != nil && ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
		}
	}
	return textResult(fmt.Sprintf("counted to %d", args.To)), nil, nil
}

func greetPrompt(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	name := strings.TrimSpace(req.Params.Arguments["name"])
	if name == "" {
		return nil, errors.New(`greet: the "name" argument is required`)
	}
	var text string
	switch style := req.Params.Arguments["style"]; style {
	case "":
		text = fmt.Sprintf("Please greet %s.", name)
	case "formal":
		text = fmt.Sprintf("Please write a short, formal greeting for %s.", name)
	case "casual":
		text = fmt.Sprintf("Say hi to %s in a casual, friendly way.", name)
	default:
		return nil, fmt.Errorf(`greet: unknown style %q (want "formal" or "casual")`, style)
	}
	return &mcp.GetPromptResult{
		Description: "Greet " + name,
		Messages: []*mcp.PromptMessage{{
			Role:    "user",
			Content: &mcp.TextContent{Text: text},
		}},
	}, nil
}

// complete answers completion/complete: the greet prompt's style argument and
// the greeting template's name variable.
func complete(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	var candidates []string
	if ref := req.Params.Ref; ref != nil {
		switch {
		case ref.Type == "ref/prompt" && ref.Name == "greet" && req.Params.Argument.Name == "style":
			candidates = greetStyles
		case ref.Type == "ref/resource" && ref.URI == "demo://greeting/{name}" && req.Params.Argument.Name == "name":
			candidates = greetingNames
		}
	}
	values := matchPrefix(candidates, req.Params.Argument.Value)
	return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{
		Values: values,
		Total:  len(values),
	}}, nil
}

// matchPrefix returns the candidates that start with prefix, ignoring case.
// It never returns nil, so that the result marshals as [].
func matchPrefix(candidates []string, prefix string) []string {
	out := []string{}
	prefix = strings.ToLower(prefix)
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), prefix) {
			out = append(out, c)
		}
	}
	return out
}

func textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}
