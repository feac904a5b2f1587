#!/usr/bin/env bash
# Runs the whole test suite, as CI does: the npm fixture servers are installed
# when missing, then go vet, go test -race, and the examples run as a user
# would run them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/npm-fixtures.sh >/dev/null
go vet ./...
go test -race -count=1 -timeout 20m ./...

echo "== examples"
mkdir -p bin
go build -o bin/mcpscript ./cmd/mcpscript
PATH="$PWD/bin:$PATH" go run ./examples/simple_client
PATH="$PWD/bin:$PATH" bin/mcpscript tools --config examples/demo.json
PATH="$PWD/bin:$PATH" go run ./examples/quickstart
PATH="$PWD/bin:$PATH" go run ./examples/sse_proxy -listen 127.0.0.1:0 -for 2s

echo "== MCP conformance through the proxy"
scripts/conformance.sh
