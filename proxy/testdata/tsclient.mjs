// A TypeScript-SDK MCP client for proxy/transport_test.go.
//
//   node tsclient.mjs NODE_MODULES URL sse|http TOOL_PREFIX [TOKEN]
//
// It connects to URL with the SDK's SSEClientTransport or
// StreamableHTTPClientTransport, lists the tools, calls echo, slow (with
// progress) and sample (answering the sampling request itself), and prints
// one JSON object with what it saw. Errors go to stderr with exit status 1.
import { pathToFileURL } from "node:url";
import path from "node:path";

const [nodeModules, url, kind, prefix, token] = process.argv.slice(2);
const sdk = (p) => pathToFileURL(path.join(nodeModules, "@modelcontextprotocol/sdk/dist/esm", p)).href;
const { Client } = await import(sdk("client/index.js"));
const { SSEClientTransport } = await import(sdk("client/sse.js"));
const { StreamableHTTPClientTransport } = await import(sdk("client/streamableHttp.js"));
const { CreateMessageRequestSchema } = await import(sdk("types.js"));

const headers = token ? { Authorization: `Bearer ${token}` } : {};
const transport = kind === "sse"
  ? new SSEClientTransport(new URL(url), { requestInit: { headers } }) // the SDK sends them on the GET too
  : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });

const errors = [];
const client = new Client({ name: "ts-test", version: "1.0.0" }, { capabilities: { sampling: {} } });
client.onerror = (e) => errors.push(String(e));
client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
  role: "assistant",
  model: "ts-stub",
  content: { type: "text", text: `ts sampled: ${req.params.messages[0].content.text}` },
}));

const text = (res) => res.content.filter((c) => c.type === "text").map((c) => c.text).join("");
try {
  await client.connect(transport);
  const { tools } = await client.listTools();
  const echo = await client.callTool({ name: `${prefix}echo`, arguments: { text: "hello from ts" } });
  const progress = [];
  const slow = await client.callTool({ name: `${prefix}slow`, arguments: { steps: 3, delayMs: 20 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  const sample = await client.callTool({ name: `${prefix}sample`, arguments: { prompt: "ts prompt" } });
  const out = {
    sessionId: transport.sessionId ?? null,
    protocolVersion: transport.protocolVersion ?? null,
    server: client.getServerVersion()?.name ?? null,
    tools: tools.map((t) => t.name),
    echo: text(echo),
    slow: text(slow),
    progress,
    sample: text(sample),
  };
  await client.close();
  out.errors = errors;
  console.log(JSON.stringify(out));
  process.exit(0);
} catch (e) {
  console.error(e?.stack ?? String(e));
  process.exit(1);
}
