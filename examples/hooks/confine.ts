// Confine path arguments of the "fs" server to one folder, given in the
// ALLOWED_DIR environment variable (granted to scripts by "scripts.env").
const PATH_KEYS = ["path", "paths", "source", "destination"];

interface Call {
  server: string;
  tool: string;
  arguments?: Record<string, unknown>;
}

function inside(path: string, root: string): boolean {
  // The server resolves relative paths itself; refuse them and any "..".
  if (!path.startsWith("/") || path.split("/").includes("..")) return false;
  return path === root || path.startsWith(root.endsWith("/") ? root : root + "/");
}

export function toolCall(call: Call) {
  const root = process.env.ALLOWED_DIR;
  if (call.server !== "fs") return;
  if (!root) return { deny: "ALLOWED_DIR is not set: no folder is allowed" };
  for (const key of PATH_KEYS) {
    const value = call.arguments?.[key];
    const paths = Array.isArray(value) ? value : value === undefined ? [] : [value];
    for (const p of paths) {
      if (typeof p !== "string" || !inside(p, root)) {
        return { deny: `${key} ${JSON.stringify(p)} is outside ${root}` };
      }
    }
  }
}
