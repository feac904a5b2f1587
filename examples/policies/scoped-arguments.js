// An argument rule that depends on a scope: the demo server's count tool
// runs for as many steps as asked, so counts above 10 are for callers
// whose token grants the "bulk" scope. Static bearer tokens are not
// limited here.
const FREE_LIMIT = 10;

export function toolCall({ caller, server, tool, arguments: args }) {
  if (server !== "demo" || tool !== "count" || caller.auth === "bearer") return;
  const to = Number(args.to ?? 0);
  if (to > FREE_LIMIT && !caller.scopes.includes("bulk")) {
    return { deny: `count to ${to} needs the "bulk" scope (up to ${FREE_LIMIT} without it)` };
  }
}
