// A small MCP server (the official TypeScript SDK, from testdata/npm) whose
// answers carry a secret in every place a result can hold text, for the
// redaction test: an embedded resource in a tool result, structured
// content, a resource (resources/read) and a prompt (prompts/get).
// Run with NODE_PATH=<repo>/testdata/npm/node_modules.
const { McpServer } = require("@modelcontextprotocol/sdk/server/mcp.js");
const { StdioServerTransport } = require("@modelcontextprotocol/sdk/server/stdio.js");

const SECRET = process.env.SECRET || "sk-0123456789abcdefghij";
const server = new McpServer({ name: "secrets", version: "1.0.0" });

server.registerTool("embedded", { description: "Returns an embedded text resource holding the secret." }, async () => ({
  content: [{ type: "resource", resource: { uri: "secret://embedded", mimeType: "text/plain", text: `key=${SECRET}` } }],
}));
server.registerTool("structured", { description: "Returns the secret in text and, nested, in structured content." }, async () => ({
  content: [{ type: "text", text: JSON.stringify({ key: SECRET }) }],
  structuredContent: { config: { keys: [{ name: "main", value: SECRET }], note: `rotate ${SECRET} soon` } },
}));
server.registerResource("secret", "secret://key", { mimeType: "text/plain" }, async (uri) => ({
  contents: [{ uri: uri.href, mimeType: "text/plain", text: `the key is ${SECRET}` }],
}));
server.registerPrompt("leaky", { description: "A prompt that quotes the secret." }, async () => ({
  messages: [
    { role: "user", content: { type: "text", text: `use ${SECRET}` } },
    { role: "user", content: { type: "resource", resource: { uri: "secret://key", mimeType: "text/plain", text: SECRET } } },
  ],
}));

server.connect(new StdioServerTransport());
