#!/usr/bin/env bash
# Installs the pinned third-party MCP servers that the integration tests run
# (testdata/npm: server-everything, server-filesystem, server-memory) and
# prints where their entry points are.
#
# Idempotent: `npm ci` runs only when node_modules is missing, incomplete or
# older than package-lock.json. npm's own output goes to stderr; stdout is
# only shell assignments of the entry points' absolute paths, so that
#   eval "$(scripts/npm-fixtures.sh)"
# sets MCP_SERVER_EVERYTHING, MCP_SERVER_FILESYSTEM and MCP_SERVER_MEMORY.
#
# How to start them (stdio):
#   node "$MCP_SERVER_EVERYTHING"                  (optional arg: stdio, the default)
#   node "$MCP_SERVER_FILESYSTEM" DIR [DIR...]     (the allowed directories)
#   MEMORY_FILE_PATH=FILE node "$MCP_SERVER_MEMORY"  (the knowledge-graph file)
set -euo pipefail

cd "$(dirname "$0")/../testdata/npm"
dir=$PWD

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "npm-fixtures: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
	exit 1
fi

servers=(everything filesystem memory)
entry() { echo "$dir/node_modules/@modelcontextprotocol/server-$1/dist/index.js"; }

need=false
# npm writes node_modules/.package-lock.json on every install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
	need=true
fi
for s in "${servers[@]}"; do
	[[ -f "$(entry "$s")" ]] || need=true
done

if $need; then
	echo "npm-fixtures: npm ci in $dir" >&2
	npm ci --no-audit --no-fund >&2
	touch node_modules/.package-lock.json
fi

# Other npm folders the tests use, each with its own lockfile: the
# TypeScript SDK v2 client (MCP 2026-07-28), a real OpenID provider.
for extra in tsv2 oidc; do
	d=$dir/../$extra
	if [[ ! -f $d/node_modules/.package-lock.json || $d/package-lock.json -nt $d/node_modules/.package-lock.json ]]; then
		echo "npm-fixtures: npm ci in $d" >&2
		(cd "$d" && npm ci --no-audit --no-fund >&2)
		touch "$d/node_modules/.package-lock.json"
	fi
done

for s in "${servers[@]}"; do
	f=$(entry "$s")
	if [[ ! -f "$f" ]]; then
		echo "npm-fixtures: missing $f after npm ci" >&2
		exit 1
	fi
	name=${s^^}
	echo "MCP_SERVER_$name=$f"
done
