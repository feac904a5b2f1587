#!/usr/bin/env bash
# Measures what mcpscript's proxy costs per forwarded tools/call, next to
# calling the same echo server directly over stdio and through the peer
# proxies (supergateway, punkpeye's mcp-proxy, TBXark's mcp-proxy), in one
# run, and prints markdown tables (docs/benchmarks.md explains them).
#
#   scripts/bench.sh                the full matrix: every target, C = 1, 8, 32, 128
#                                   callers, payloads 100 B, 64 KiB, 1 MiB (about 20 min)
#   scripts/bench.sh --quick        every target at C = 8 and 100 B (about a minute)
#   scripts/bench.sh --smoke        direct stdio and mcpscript's /servers/demo/mcp, C = 1,
#                                   100 B, 1 s; exits 1 on any failure (fit for CI)
#   scripts/bench.sh --idle         1000 idle Streamable HTTP sessions against mcpscript:
#                                   how much its memory grows
#
# Flags after the mode go to `mcpload bench` (or `mcpload idle`), e.g.
#   scripts/bench.sh -targets mcpscript,supergateway-http -c 8,32 -s 64KiB -d 5s -out report.md -json cells.jsonl
#   bin/mcpload bench -h     lists them; bin/mcpload bench -list lists the targets
#
# TBXARK=/path/to/mcp-proxy  a TBXark/mcp-proxy binary (built from its source,
#                            see docs/benchmarks.md); without it those targets are skipped.
#
# It builds bin/mcpscript and bin/mcpload, and for the full and quick runs
# the redact filter (scripts/build-filters.sh) and the npm peers
# (testdata/bench, npm ci when node_modules is missing or stale).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
case "${1:-}" in
--full | --quick | --smoke | --idle)
	mode=${1#--}
	shift
	;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
esac

mkdir -p bin
go build -o bin/mcpscript ./cmd/mcpscript
go build -o bin/mcpload ./cmd/mcpload

# npm_peers installs the pinned peers unless they are there and up to date.
npm_peers() {
	local dir=testdata/bench
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "bench: no node/npm: the npm peers will be skipped" >&2
		return 0
	fi
	if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
		echo "bench: npm ci in $dir" >&2
		(cd "$dir" && npm ci --no-audit --no-fund >&2)
	fi
}

if [[ $mode == full || $mode == quick ]]; then
	scripts/build-filters.sh redact >&2
	npm_peers
fi

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	rev+="+changes"
fi

case $mode in
smoke) exec bin/mcpload bench -rev "$rev" -targets direct,mcpscript-http -c 1 -s 100 -d 1s -warmup 200ms -strict "$@" ;;
quick) exec bin/mcpload bench -rev "$rev" -c 8 -s 100 -d 2s -warmup 500ms "$@" ;;
full) exec bin/mcpload bench -rev "$rev" "$@" ;;
idle) exec bin/mcpload idle "$@" ;;
esac
