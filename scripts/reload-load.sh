#!/usr/bin/env bash
# Reload under load (not in CI): mcpload calls the demo server through
# serve, on its own endpoint and through the aggregate, while the config
# file is rewritten RELOADS times, every INTERVAL seconds: another server
# is added, changed (restarted) and removed, and a hook comes and goes.
# The demo server is never touched: every call must succeed. Prints both
# loads' tables, the reloads applied (from /metrics) and the verdict.
#
#   scripts/reload-load.sh          # 20 reloads, one a second
#   scripts/reload-load.sh 50 0.5
set -euo pipefail
cd "$(dirname "$0")/.."
RELOADS=${1:-20}
INTERVAL=${2:-1}
mkdir -p bin
go build -o bin/mcpscript ./cmd/mcpscript
go build -o bin/mcpload ./cmd/mcpload
self=$PWD/bin/mcpscript
tmp=$(mktemp -d)
serve_pid=""
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# variant N writes the Nth config of a cycle of four.
variant() {
	local demo='"demo": {"command": "'$self'", "args": ["demo-server"]}'
	case $(($1 % 4)) in
	0) echo '{"mcpServers": {'"$demo"', "extra": {"command": "'$self'", "args": ["demo-server"], "env": {"V": "a"}}}}' ;;
	1) echo '{"mcpServers": {'"$demo"', "extra": {"command": "'$self'", "args": ["demo-server"], "env": {"V": "b"}}}}' ;;
	2) echo '{"mcpServers": {'"$demo"'}, "scripts": {"hooks": [{"path": "tag.js"}]}}' ;;
	3) echo '{"mcpServers": {'"$demo"'}}' ;;
	esac
}
echo 'export function toolResult({ result }) {}' >"$tmp/tag.js"
variant 3 >"$tmp/cfg.json"
"$self" serve -c "$tmp/cfg.json" --listen "127.0.0.1:$port" 2>"$tmp/serve.log" >/dev/null &
serve_pid=$!
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done

window=$(python3 -c "print(int($RELOADS * $INTERVAL + 3))")
bin/mcpload -c 4 -d "${window}s" -warmup 1s "http://127.0.0.1:$port/servers/demo/mcp" >"$tmp/view.txt" 2>&1 &
view=$!
bin/mcpload -c 4 -d "${window}s" -warmup 1s -tool demo__echo "http://127.0.0.1:$port/mcp" >"$tmp/aggregate.txt" 2>&1 &
agg=$!
sleep 2
for i in $(seq 0 $((RELOADS - 1))); do
	variant "$i" >"$tmp/cfg.json.new"
	mv "$tmp/cfg.json.new" "$tmp/cfg.json" # as editors save: a new file renamed over the old
	sleep "$INTERVAL"
done
status=0
wait "$view" || status=1
wait "$agg" || status=1
echo "== /servers/demo/mcp (4 callers, a session each)"
cat "$tmp/view.txt"
echo "== /mcp, demo__echo (4 callers, a session each)"
cat "$tmp/aggregate.txt"
applied=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^mcpscript_config_reloads_total\{result="applied"\}/ {print $2}')
refused=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^mcpscript_config_reloads_total\{result=/ && !/applied/ {s += $2} END {print s + 0}')
echo "== reloads: ${applied:-0} applied, $refused refused or partial (config rewritten $RELOADS times)"
failed=$(awk '$1 ~ /^http/ {s += $5} END {print s + 0}' "$tmp/view.txt" "$tmp/aggregate.txt")
echo "== failed calls: $failed"
[ "$failed" = 0 ] || status=1
[ "${applied:-0}" = "$RELOADS" ] || status=1
if grep -qE 'ERROR|panic' "$tmp/serve.log"; then
	echo "== serve logged errors:"; grep -E 'ERROR|panic' "$tmp/serve.log" | head -20
	status=1
fi
exit $status
