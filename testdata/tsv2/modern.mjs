// modern.mjs URL TOOL ARGS-JSON [ELICIT-TOOL]: connects the TypeScript SDK
// v2 client to URL pinned to MCP 2026-07-28, lists the tools, calls TOOL
// with ARGS, and, when given, ELICIT-TOOL, whose server asks for an
// elicitation that the client's handler accepts. Prints one JSON line:
// {era, version, tools, text, elicitText, elicitations}. Exit 1 on error.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const [url, tool, args, elicitTool] = process.argv.slice(2);
const client = new Client(
  { name: 'mcpscript-tsv2-test', version: '1.0.0' },
  {
    capabilities: { elicitation: { form: {} } },
    versionNegotiation: { mode: { pin: '2026-07-28' } },
    inputRequired: { autoFulfill: true, maxRounds: 5 },
  },
);
let elicitations = 0;
client.setRequestHandler('elicitation/create', async () => {
  elicitations++;
  return { action: 'decline' };
});
const text = (res) => res.content.filter((c) => c.type === 'text').map((c) => c.text).join('');
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const { tools } = await client.listTools();
  const out = {
    era: client.getProtocolEra(),
    version: client.getNegotiatedProtocolVersion(),
    tools: tools.length,
    text: text(await client.callTool({ name: tool, arguments: JSON.parse(args) })),
  };
  if (elicitTool) out.elicitText = text(await client.callTool({ name: elicitTool, arguments: {} }));
  out.elicitations = elicitations;
  console.log(JSON.stringify(out));
  await client.close();
} catch (err) {
  console.error(String(err?.stack ?? err));
  process.exit(1);
}
