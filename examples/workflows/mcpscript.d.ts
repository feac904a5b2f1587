// Types of the globals `mcpscript run` gives a workflow, for editors and
// tsc. mcpscript itself only strips types (esbuild); it does not check them.
// Reference this file from a workflow:  /// <reference path="./mcpscript.d.ts" />

/** A content item of a tool result or prompt message. */
interface McpContent {
  type: "text" | "image" | "audio" | "resource_link" | "resource";
  text?: string;
  data?: string;
  mimeType?: string;
  uri?: string;
  resource?: { uri: string; mimeType?: string; text?: string; blob?: string };
  [key: string]: unknown;
}

/** The result of tools/call, plus `text`: its text contents joined with newlines. */
interface McpToolResult {
  content: McpContent[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  text: string;
  [key: string]: unknown;
}

interface McpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

interface McpResource { uri: string; name: string; title?: string; description?: string; mimeType?: string; size?: number }
interface McpResourceTemplate { uriTemplate: string; name: string; title?: string; description?: string; mimeType?: string }
interface McpPrompt { name: string; title?: string; description?: string; arguments?: { name: string; description?: string; required?: boolean }[] }

/** The result of resources/read, plus `text`: its text contents joined with newlines. */
interface McpReadResourceResult {
  contents: { uri: string; mimeType?: string; text?: string; blob?: string }[];
  text: string;
}

interface McpGetPromptResult {
  description?: string;
  messages: { role: "user" | "assistant"; content: McpContent }[];
}

interface McpProgress { progress: number; total?: number; message?: string }

interface McpCallOptions {
  /** Reject with an McpError (code "tool_error", .result) when the tool reports isError. */
  throwOnError?: boolean;
  /** Called on each progress notification of the call. */
  onProgress?: (p: McpProgress) => void;
  /** Cancel the call after this many milliseconds (rejects with code "timeout"). */
  timeoutMs?: number;
}

/** What calls reject with: an Error with the engine's message and a code. */
interface McpError extends Error {
  code:
    | "denied" | "hook_failed" | "server_not_found" | "tool_not_found" | "not_running"
    | "timeout" | "communication" | "cancelled" | "rpc_error" | "tool_error" | "error";
  /** denied: the hook or middleware that refused, and its reason. */
  by?: string;
  reason?: string;
  /** rpc_error: the server's JSON-RPC error code. */
  rpcCode?: number;
  /** tool_error: the server, the tool and the result. */
  server?: string;
  tool?: string;
  result?: McpToolResult;
}

/** A configured server. It starts on the first mcp.server(name) and stops when the workflow ends. */
interface McpServer {
  readonly name: string;
  callTool(name: string, args?: Record<string, unknown>, options?: McpCallOptions): Promise<McpToolResult>;
  listTools(): Promise<McpTool[]>;
  listResources(): Promise<McpResource[]>;
  listResourceTemplates(): Promise<McpResourceTemplate[]>;
  readResource(uri: string): Promise<McpReadResourceResult>;
  listPrompts(): Promise<McpPrompt[]>;
  getPrompt(name: string, args?: Record<string, string>): Promise<McpGetPromptResult>;
  /** Any request, e.g. call("completion/complete", {...}); resolves to the raw result. */
  call(method: string, params?: unknown): Promise<unknown>;
  ping(): Promise<void>;
}

declare const mcp: {
  /** The configured server names, sorted. */
  servers(): string[];
  /** The named server; with options, a handle whose calls default to them. */
  server(name: string, options?: { throwOnError?: boolean }): McpServer;
};

/** Writes one line to the workflow's output (stdout): strings as they are, other values as JSON. */
declare function print(...values: unknown[]): void;

/** Resolves after ms milliseconds. */
declare function sleep(ms: number): Promise<void>;

/** Only the variables granted by "scripts.env" or --allow-env are present. */
declare const process: { env: Record<string, string | undefined> };

/** Reads under the folder granted by "scripts.readDir" or --allow-read; paths are relative to it. */
declare const fs: {
  readFile(path: string): string;
  readdir(path: string): string[];
  exists(path: string): boolean;
};

/** What main gets as its second argument. */
interface WorkflowContext {
  args: string[];
  /** The workflow file's base name. */
  name: string;
  mcp: typeof mcp;
  print: typeof print;
  sleep: typeof sleep;
}
