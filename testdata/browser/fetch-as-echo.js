// The reference's browser recipe calls the tool "fetch" of a server named
// "fetch" (mcp-server-fetch). The browser test runs offline, so the demo
// server stands in for it under that name, and this hook turns the call
// into the demo server's echo of the URL.
export function toolCall({ server, tool, arguments: args }) {
  if (server === "fetch" && tool === "fetch") {
    return { tool: "echo", arguments: { text: "fetched " + args.url } };
  }
}
