#!/usr/bin/env bash
# Runs the end-to-end demo (replay server -> hark run --once) under valgrind
# on a build without sanitizers and fails on any leak or invalid access.
# Uninitialised-value reports are off: PCRE2's JIT-compiled code trips them
# (a known false positive of running JIT code under valgrind).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$root/build}
BUILD_TARGET=hark bash "$root/scripts/build.sh"
demo="$root/examples/demo"
port=${HARK_DEMO_PORT:-8765}
rm -rf "$demo/out" "$demo/state"
python3 "$root/tests/replay/replay_server.py" --port "$port" --watch-stdin >"$demo/.replay.out" 2>/dev/null < <(sleep 600) &
trap 'kill %1 2>/dev/null || true; rm -f "$demo/.replay.out"' EXIT
for _ in $(seq 1 100); do grep -q READY "$demo/.replay.out" 2>/dev/null && break; sleep 0.1; done
valgrind --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --undef-value-errors=no \
  --error-exitcode=9 "$BUILD_DIR/hark" run -c "$demo/hark.json" --once
echo "valgrind: no leaks, no invalid accesses"
