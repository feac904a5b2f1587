#!/usr/bin/env bash
# Builds the example WebAssembly filters: every examples/filters/NAME/ with
# Go files becomes examples/filters/NAME.wasm, a WASI reactor built with
#
#   GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o examples/filters/NAME.wasm ./examples/filters/NAME
#
# A module newer than its sources (its folder, the guest SDK, go.mod and
# go.sum) is left alone; FORCE=1 rebuilds anyway. Give filter names to build
# only those:  scripts/build-filters.sh redact
set -euo pipefail
cd "$(dirname "$0")/.."

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for dir in examples/filters/*/; do
    names+=("$(basename "$dir")")
  done
fi

for name in "${names[@]}"; do
  dir="examples/filters/$name"
  out="examples/filters/$name.wasm"
  if ! compgen -G "$dir/*.go" >/dev/null; then
    echo "skip $dir: no Go files" >&2
    continue
  fi
  if [ "${FORCE:-}" != 1 ] && [ -f "$out" ] &&
    [ -z "$(find "$dir" scripting/wasm/guest go.mod go.sum -newer "$out" \( -name '*.go' -o -name go.mod -o -name go.sum \) -print -quit)" ]; then
    echo "up to date: $out"
    continue
  fi
  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$out" "./$dir"
  echo "built $out ($(du -h "$out" | cut -f1))"
done
