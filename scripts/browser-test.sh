#!/usr/bin/env bash
# Web pages in real headless Chromium use mcpscript serve with auth on
# (driven by playwright-core, see testdata/browser/browser.mjs): our test
# page (query token, EventSource /sse, CORS POST), the mcp-runner README's
# JavaScript recipe and mcpscript's own README recipe as written, with
# reloads and a second tab, and a page of an origin CORS does not list.
# Needs Debian's chromium (/usr/bin/chromium; CHROMIUM overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
log() { echo "browser-test: $*" >&2; }

if [[ ! -d testdata/browser/node_modules/playwright-core || testdata/browser/package-lock.json -nt testdata/browser/node_modules/.package-lock.json ]]; then
	(cd testdata/browser && npm ci --no-audit --no-fund >&2)
fi
mkdir -p bin .cache/browser
go build -o bin/mcpscript ./cmd/mcpscript

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
page_port=$(free_port)
other_port=$(free_port)
proxy_port=$(free_port)
token=browser-test-secret
cfg=$root/.cache/browser/config.json
# "fetch" stands in for the reference recipe's mcp-server-fetch (see
# testdata/browser/fetch-as-echo.js); the READMEs' hard-coded addresses
# (localhost:3000, 127.0.0.1:3000) reach this proxy through Chromium's
# host mapping, so they are allowed Host values.
cat > "$cfg" <<JSON
{
  "mcpServers": {
    "demo": {"command": "mcpscript", "args": ["demo-server"]},
    "fetch": {"command": "mcpscript", "args": ["demo-server"]}
  },
  "sseProxy": {
    "authenticate": {"bearer": {"token": "$token"}, "queryTokens": true, "tokenlessStreams": true},
    "cors": {"allowedOrigins": ["http://127.0.0.1:$page_port"]},
    "allowedHosts": ["localhost:3000", "127.0.0.1:3000"]
  },
  "scripts": {"hooks": ["$root/testdata/browser/fetch-as-echo.js"]}
}
JSON

PATH="$root/bin:$PATH" bin/mcpscript serve -c "$cfg" --listen "127.0.0.1:$proxy_port" >.cache/browser/serve.log 2>&1 &
serve=$!
trap 'kill -INT $serve 2>/dev/null; wait $serve 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$proxy_port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
node testdata/browser/browser.mjs "$page_port" "$other_port" "http://127.0.0.1:$proxy_port" "$token" .cache/browser/serve.log .cache/browser/page.png
