#!/usr/bin/env bash
# The README's demo command: installs what is missing, builds hark, starts
# the local replay server (recorded Mastodon timelines) and runs
# `hark run --once` on examples/demo, then summarizes what it produced.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
BUILD_TARGET=hark bash "$root/scripts/build.sh"
hark="${BUILD_DIR:-$root/build}/hark"
demo="$root/examples/demo"
port=${HARK_DEMO_PORT:-8765}
rm -rf "$demo/out" "$demo/state"

python3 "$root/tests/replay/replay_server.py" --port "$port" >"$demo/.replay.out" 2>"$demo/.replay.log" &
replay=$!
trap 'kill $replay 2>/dev/null || true; rm -f "$demo/.replay.out"' EXIT
for _ in $(seq 1 100); do
  grep -q READY "$demo/.replay.out" 2>/dev/null && break
  kill -0 $replay 2>/dev/null || { echo "demo: the replay server did not start (is port $port free?)" >&2; cat "$demo/.replay.log" >&2; exit 1; }
  sleep 0.1
done

echo "== hark check"
"$hark" check -c "$demo/hark.json"
echo "== hark run --once (replay server at http://127.0.0.1:$port)"
"$hark" run -c "$demo/hark.json" --once
echo
python3 "$root/scripts/summarize.py" "$demo/out"
