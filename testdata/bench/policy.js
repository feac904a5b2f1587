// A typical policy hook, run on every tools/call by the benchmark target
// mcpscript-js (scripts/bench.sh): a deny-list of tools and a check that path
// arguments stay inside one folder. The benchmark's echo calls pass both
// checks, so what is measured is the cost of running a policy on every call.
const DENIED = new Set(["delete_file", "move_file", "write_file", "execute_command", "run_shell"]);
const ROOT = "/srv/bench/";
const PATH_KEYS = ["path", "paths", "source", "destination"];

function inside(p) {
  return typeof p === "string" && p.startsWith(ROOT) && !p.split("/").includes("..");
}

export function toolCall({ tool, arguments: args }) {
  if (DENIED.has(tool)) {
    return { deny: `${tool} is not allowed here` };
  }
  for (const key of PATH_KEYS) {
    const value = args[key];
    if (value === undefined) continue;
    for (const p of Array.isArray(value) ? value : [value]) {
      if (!inside(p)) return { deny: `${key} ${JSON.stringify(p)} is outside ${ROOT}` };
    }
  }
}
