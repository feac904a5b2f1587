#!/usr/bin/env bash
# Runs each fuzz target of the parsers that face untrusted input for a
# bounded time (FUZZTIME, default 10s each), starting from its checked-in
# corpus (testdata/fuzz/<Target>/). A failing input is written to that
# folder by go test: commit it with the fix, so it stays a regression test.
#
#   scripts/fuzz.sh                 # every target, 10s each
#   FUZZTIME=1m scripts/fuzz.sh     # longer
#   scripts/fuzz.sh FuzzParse       # the targets whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
# package  target: the framing of a server's output, the JSON-RPC envelope,
# the byte-preserving JSON scanner, the config, the proxy's session headers,
# access tokens, a remote's answers, quotas, and JSON handed to scripts.
targets=(
	"./engine FuzzConnOutput"
	"./internal/wire FuzzParse"
	"./internal/rawjson FuzzValid"
	"./internal/rawjson FuzzMembers"
	"./internal/rawjson FuzzEachValid"
	"./engine/config FuzzParse"
	"./proxy FuzzSessionHeaders"
	"./internal/oauthrs FuzzVerify"
	"./internal/remote FuzzEventReader"
	"./internal/remote FuzzParseMessages"
	"./internal/limits FuzzParseQuota"
	"./scripting FuzzParseObject"
	"./scripting FuzzJSONToJS"
)
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [[ $# -gt 0 && "$name" != *"$1"* ]]; then
		continue
	fi
	echo "fuzz: $name ($pkg) for $FUZZTIME"
	go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel 2
done
