#!/usr/bin/env bash
# The web console in real headless Chromium (Debian's, driven by
# playwright-core; testdata/console/console.mjs) against `mcpscript serve`
# with the demo server and server-everything, a hook that denies, and an
# audit trail: sign in, call tools through their forms, watch progress
# bars move, see a denial in the live traffic, read the hook counts, stop
# and start a server. Screenshots go to .cache/console-screenshots/.
# Needs node, npm, the npm fixtures and /usr/bin/chromium (CHROMIUM overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
log() { echo "console-test: $*" >&2; }

if [[ ! -d testdata/console/node_modules/playwright-core || testdata/console/package-lock.json -nt testdata/console/node_modules/.package-lock.json ]]; then
	(cd testdata/console && npm ci --no-audit --no-fund >&2)
fi
everything=$(scripts/npm-fixtures.sh | sed -n 's/^MCP_SERVER_EVERYTHING=//p' | tr -d "'\"")
mkdir -p bin .cache/console .cache/console-screenshots
go build -o bin/mcpscript ./cmd/mcpscript

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port=$(free_port)
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
dir=$root/.cache/console
rm -f "$dir/audit.jsonl"
cat > "$dir/deny.js" <<'JS'
// Refuses echo calls that carry a secret, so that the console shows a denial.
export function toolCall({ tool, arguments: args }) {
  if (tool === "echo" && String(args?.text ?? "").includes("secret")) {
    return { deny: "no secrets through the console" };
  }
}
JS
cat > "$dir/config.json" <<JSON
{
  "mcpServers": {
    "demo": {"command": "mcpscript", "args": ["demo-server"]},
    "everything": {"command": "node", "args": ["$everything"]}
  },
  "sseProxy": {"authenticate": {"bearer": {"token": "\${CONSOLE_TOKEN}"}}},
  "scripts": {"hooks": ["deny.js"]},
  "audit": {"file": "audit.jsonl"}
}
JSON

CONSOLE_TOKEN=$token PATH="$root/bin:$PATH" bin/mcpscript serve -c "$dir/config.json" --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
serve=$!
trap 'kill -INT $serve 2>/dev/null; wait $serve 2>/dev/null || true' EXIT
for _ in $(seq 150); do
	curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	sleep 0.2
done
if ! node testdata/console/console.mjs "http://127.0.0.1:$port" "$token" .cache/console-screenshots; then
	log "serve's log:"
	tail -50 "$dir/serve.log" >&2
	exit 1
fi
# The trail on disk has the denial the page showed.
grep -q '"decisions":\[{"by":"deny.js","kind":"deny","reason":"no secrets through the console"}\],"outcome":"denied"' "$dir/audit.jsonl" ||
	{ log "the audit file lacks the denial"; exit 1; }
log "ok"
