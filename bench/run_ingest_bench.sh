#!/usr/bin/env bash
# Ingest parsing benchmark (not a test): builds a Release hark and
# hark_bench_ingest into build-bench/, then
#   1. parses the recorded API pages (tests/data/api/) in memory through
#      every registered adapter, against hark_json_parse and
#      yajl_tree_parse of the same bodies (posts per CPU-second);
#   2. the input side of `hark try` on the reference workload's NDJSON;
#   3. once, the end-to-end fetch rate of `hark run --once` against the
#      local replay server: replay server bound, NOT a load test.
#
#   bash bench/run_ingest_bench.sh [-t CPU_SECONDS] [-r ROUNDS] [--posts N]
#                                  [--hark PATH]
#
#   -t, -r     CPU seconds per measurement (default 3) and rounds (3)
#   --posts N  size of the NDJSON workload for part 2 (default 20000)
#   --hark P   use this hark binary for part 3 (then only
#              hark_bench_ingest is built)
#
# Environment: BENCH_DIR (default /tmp/hark-bench-ingest) for generated
# files, BUILD_DIR (default build-bench/ in the repo).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
out=${BENCH_DIR:-/tmp/hark-bench-ingest}
cpu_s=3
rounds=3
posts=20000
hark=""

while [ $# -gt 0 ]; do
    case "$1" in
        -t) cpu_s=$2; shift 2 ;;
        -r) rounds=$2; shift 2 ;;
        --posts) posts=$2; shift 2 ;;
        --hark) hark=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "run_ingest_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# The reference workload generator: bench/ copy first, else shared/.
gen=""
for g in "$root/bench/gen_workload.py" "$root/../shared/bench/gen_workload.py" \
         /work/shared/bench/gen_workload.py; do
    if [ -f "$g" ]; then gen=$g; break; fi
done

echo "== build (Release) into $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ -z "$hark" ]; then
    cmake --build "$build" -j"$(nproc)" --target hark hark_bench_ingest >/dev/null
    hark="$build/hark"
else
    cmake --build "$build" -j"$(nproc)" --target hark_bench_ingest >/dev/null
fi

mkdir -p "$out"
nd_args=()
if [ -n "$gen" ]; then
    if [ ! -f "$out/corpus.ndjson" ] ||
       [ "$(wc -l < "$out/corpus.ndjson")" -ne "$posts" ]; then
        echo "== workload: $gen --posts $posts --ks 10 --out $out"
        python3 "$gen" --posts "$posts" --ks 10 --out "$out"
    fi
    nd_args=(--ndjson "$out/corpus.ndjson")
else
    echo "(gen_workload.py not found: skipping the NDJSON part)"
fi

echo
echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(uname -n)  cpus: $(nproc)"
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
(cd "$root" && HARK_SOURCE_DIR="$root" "$build/hark_bench_ingest" \
    -t "$cpu_s" -r "$rounds" "${nd_args[@]}")

# ---- end to end, once: replay server -> hark run --once -> NDJSON files ----
echo
echo "== end to end: hark run --once against tests/replay/replay_server.py"
echo "   (replay server bound, not a load test: a Python test fake serving"
echo "    ~94 recorded statuses; the figure includes start-up and HTTP)"
e2e=$(mktemp -d /tmp/hark-bench-e2e.XXXXXX)
python3 "$root/tests/replay/replay_server.py" --port 0 --rate-limit 100000 \
    > "$e2e/replay.out" 2> "$e2e/replay.log" &
replay_pid=$!
cleanup() {
    kill "$replay_pid" 2>/dev/null || true
    wait "$replay_pid" 2>/dev/null || true
    rm -rf "$e2e"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
url=""
for _ in $(seq 100); do
    url=$(sed -n 's/^READY //p' "$e2e/replay.out")
    [ -n "$url" ] && break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "replay server did not start:" >&2
    cat "$e2e/replay.log" >&2
    exit 1
fi
cat > "$e2e/hark.json" <<EOF
{
  "sources": [
    {"name": "bench-public", "type": "mastodon", "base_url": "$url",
     "timeline": "public", "interval_s": 60, "page_limit": 40,
     "backfill_pages": 1000},
    {"name": "bench-local", "type": "mastodon", "base_url": "$url",
     "timeline": "local", "interval_s": 60, "page_limit": 40,
     "backfill_pages": 1000},
    {"name": "bench-tag", "type": "mastodon", "base_url": "$url",
     "timeline": "tag/mastodon", "interval_s": 60, "page_limit": 40,
     "backfill_pages": 1000}
  ],
  "rules": ["$root/rules/default.json"],
  "keep_unmatched": true,
  "sinks": {"file": {"dir": "$e2e/out"}},
  "state_dir": "$e2e/state"
}
EOF
t0=$(date +%s.%N)
HARK_CACHE_DIR="$e2e/cache" /usr/bin/time -f "%U %S %M" -o "$e2e/time" \
    "$hark" run -c "$e2e/hark.json" --once > "$e2e/run.out" 2> "$e2e/run.err" ||
    { echo "hark run --once failed:" >&2; cat "$e2e/run.err" >&2; exit 1; }
t1=$(date +%s.%N)
read -r user sys rss_kb < "$e2e/time"
fetched=$(grep -o 'fetched=[0-9]*' "$e2e/run.err" | cut -d= -f2 |
          awk '{s += $1} END {print s + 0}')
requests=$(grep -o 'requests=[0-9]*' "$e2e/run.err" | cut -d= -f2 |
           awk '{s += $1} END {print s + 0}')
python3 - "$fetched" "$requests" "$t0" "$t1" "$user" "$sys" "$rss_kb" <<'EOF'
import sys
fetched, requests = int(sys.argv[1]), int(sys.argv[2])
t0, t1, user, sys_s, rss = (float(x) for x in sys.argv[3:8])
wall = t1 - t0
cpu = user + sys_s
print("%-34s %d posts in %d requests" % ("fetched (3 sources)", fetched, requests))
print("%-34s %.2f s wall, %.2f CPU-s (user %.2f, sys %.2f), max RSS %.0f MiB"
      % ("hark run --once", wall, cpu, user, sys_s, rss / 1024))
if fetched and wall > 0:
    print("%-34s %.0f posts/s wall, %.0f posts per hark CPU-s"
          % ("replay-server-bound rate", fetched / wall,
             fetched / cpu if cpu > 0 else 0))
print("(replay server bound, not a load test: do not compare with the "
      "in-memory figures above)")
EOF
