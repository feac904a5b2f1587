// A tool allow-list per bearer token (the token's "name" in the config).
// Callers without a token (the CLI, a Go program, a proxy without auth)
// are local and may use everything; a token not listed may use nothing.
const ALLOW = {
  admin: "*",
  ci: ["read_text_file", "list_directory", "search_nodes", "read_graph"],
};

function allowed(caller, tool) {
  if (caller.token === "") return true;
  const list = ALLOW[caller.token];
  return list === "*" || (Array.isArray(list) && list.includes(tool));
}

export function listTools({ caller, items }) {
  return { items: items.filter((tool) => allowed(caller, tool.name)) };
}

export function toolCall({ caller, tool }) {
  if (!allowed(caller, tool)) {
    return { deny: `token "${caller.token}" may not call ${tool}` };
  }
}
