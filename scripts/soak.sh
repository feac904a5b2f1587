#!/usr/bin/env bash
# Soak test (not in CI): load through the proxy (8 callers, two servers,
# answers on SSE streams) while a child is SIGKILLed every KILL_EVERY, for
# DURATION; prints calls, errors, lost responses (must be 0), and the
# process's RSS, goroutines and fds every 10s. Fails if a response is lost
# or goroutines/fds do not come back to their baseline at the end.
#
#   scripts/soak.sh            # 5 minutes, a kill every 3s
#   scripts/soak.sh 30m 1s
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5m}
KILL_EVERY=${2:-3s}
MCPSCRIPT_SOAK=$DURATION MCPSCRIPT_SOAK_KILL_EVERY=$KILL_EVERY \
	go test ./proxy -run '^TestSoak$' -count=1 -timeout 0 -v 2>&1 | grep -E '^soak:|^(--- |ok|FAIL|PASS)|answers, err|leak:'
