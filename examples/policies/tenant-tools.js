// Tool allow-lists per tenant, read from a verified claim of the caller's
// OAuth access token (here "tenant"). A tenant sees only its tools in
// tools/list, in every view, and cannot call the others by name; a token
// without a known tenant sees no tools. Static bearer tokens (CI, scripts)
// are not restricted here.
const TOOLS = {
  acme: new Set(["demo/echo", "demo/add", "demo/time"]),
  globex: new Set(["demo/echo"]),
  initech: new Set(["demo/echo", "demo/count"]),
};

function allowed(caller, server, tool) {
  if (caller.auth === "bearer") return true;
  const tools = TOOLS[caller.claims.tenant];
  return tools !== undefined && tools.has(`${server}/${tool}`);
}

export function listTools({ caller, server, items }) {
  return { items: items.filter((tool) => allowed(caller, server, tool.name)) };
}

export function toolCall({ caller, server, tool }) {
  if (!allowed(caller, server, tool)) {
    const tenant = caller.claims.tenant ?? "(none)";
    return { deny: `tenant ${tenant} may not call ${tool}` };
  }
}
