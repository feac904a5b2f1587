#!/usr/bin/env bash
# Runs the whole test suite, as CI does: the npm fixture servers (and, as
# root, Debian's chromium) are installed when missing; then go vet, go test
# -race, the examples run as a user would run them, the MCP conformance suite
# through the proxy, a web page and the web console in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/npm-fixtures.sh >/dev/null
# Debian packages the tests need: chromium (browser tests), redis-server
# (shared state and limits). Installed when missing and running as root.
need=()
[[ -n ${CHROMIUM:-} ]] || command -v chromium >/dev/null || need+=(chromium)
command -v redis-server >/dev/null || need+=(redis-server)
if ((${#need[@]})); then
	if [[ $(id -u) == 0 ]]; then
		echo "== installing Debian's ${need[*]} for the tests" >&2
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	else
		echo "scripts/test.sh: the tests need Debian's ${need[*]}: sudo apt-get install ${need[*]}" >&2
		exit 1
	fi
fi
# Tests that need real infrastructure fail, rather than skip, when it is missing.
export MCPSCRIPT_REQUIRE_REDIS=1 MCPSCRIPT_REQUIRE_OIDC=1
go vet ./...
go test -race -count=1 -timeout 20m ./...

# go test above replays every fuzz corpus (testdata/fuzz/) as ordinary,
# deterministic tests. Fresh mutation is random, so it runs only when asked
# (FUZZTIME=30s scripts/test.sh, or scripts/fuzz.sh): a gate that can fail on
# one run and pass on the next proves nothing either way.
if [[ -n ${FUZZTIME:-} ]]; then
	echo "== fuzzing the parsers that face untrusted input for $FUZZTIME each"
	scripts/fuzz.sh
fi

echo "== examples"
mkdir -p bin
go build -o bin/mcpscript ./cmd/mcpscript
PATH="$PWD/bin:$PATH" go run ./examples/simple_client
PATH="$PWD/bin:$PATH" bin/mcpscript tools --config examples/demo.json
PATH="$PWD/bin:$PATH" go run ./examples/quickstart
# The example configs read their bearer tokens from variables without defaults.
export MCP_PROXY_TOKEN ADMIN_TOKEN CI_TOKEN
MCP_PROXY_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
CI_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PATH="$PWD/bin:$PATH" go run ./examples/sse_proxy -listen 127.0.0.1:0 -for 2s
# A workflow, and a WebAssembly filter built from source redacting a result.
PATH="$PWD/bin:$PATH" bin/mcpscript run examples/workflows/knowledge-graph.js -c examples/workflows/config.json >/dev/null
scripts/build-filters.sh
# Every example config is valid and its servers can start from the repo root.
for c in examples/*.json examples/*/*.json; do
	PATH="$PWD/bin:$PATH" bin/mcpscript check -c "$c" >/dev/null
done
# A config mixing local and remote servers: its remote is the demo server
# behind mcpscript's own proxy.
serve_out=$(mktemp)
PATH="$PWD/bin:$PATH" bin/mcpscript serve -c examples/demo.json --listen 127.0.0.1:0 >"$serve_out" &
serve_pid=$!
for _ in $(seq 100); do grep -q 'serving' "$serve_out" && break; sleep 0.1; done
DEMO_PORT=$(sed -n 's|.*serving .* on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$serve_out")
out=$(DEMO_PORT=$DEMO_PORT PATH="$PWD/bin:$PATH" bin/mcpscript call proxied remote_echo '{"text":"far away"}' -c examples/mixed.json)
kill -INT "$serve_pid"; wait "$serve_pid" || true; rm -f "$serve_out"
if [[ $out != "far away" ]]; then
	echo "examples/mixed.json: the remote server did not answer: $out" >&2
	exit 1
fi
out=$(PATH="$PWD/bin:$PATH" bin/mcpscript call demo echo '{"text":"key sk-abcdefghijklmnopqrstuvwx"}' -c examples/filters/config.json)
if [[ $out == *sk-abcdef* || $out != *REDACTED* ]]; then
	echo "the example filter did not redact: $out" >&2
	exit 1
fi

echo "== MCP conformance through the proxy"
scripts/conformance.sh

echo "== a web page in headless Chromium"
scripts/browser-test.sh

echo "== the web console in headless Chromium"
scripts/console-test.sh
