#!/usr/bin/env bash
# The rules-engine benchmark (DESIGN.md "Performance budget"): builds
# hark_bench_rules (Release, no sanitizers), generates the reference
# workload with bench/gen_workload.py if it is not there yet, runs the
# bench once per K and ripgrep on the same texts as the same-run peer, and
# prints a markdown table. Not a test: numbers vary by +-30% between runs
# on a shared machine, so compare columns of one run.
#
#   bench/run_rules_bench.sh [--out DIR] [--posts N] [--ks 10,100,1000,10000]
#                            [--build DIR] [--naive-s S] [--cold-10k]
#                            [--verify] [--threads T]
#
#   --out DIR     workload, caches and results (default /tmp/hark-bench)
#   --naive-s S   CPU seconds for the naive run of each K (default 5; at
#                 10,000 rules naive PCRE2 does about 100 posts/s)
#   --cold-10k    also time a cold compile at 10,000 rules (tens of
#                 seconds); without it, K >= 10000 is cold only the first
#                 time (when DIR/cache is empty) and warm afterwards
#   --verify      run naive and prefilter on every post and compare the
#                 (post, rule) matches (slow at 10,000 rules: about
#                 posts / (100 x T) seconds)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=/tmp/hark-bench
POSTS=200000
KS=10,100,1000,10000
BUILD=/tmp/hark-bench-build
NAIVE_S=5
COLD10K=0
VERIFY=""
THREADS=$(nproc)

while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --posts) POSTS=$2; shift 2 ;;
    --ks) KS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --naive-s) NAIVE_S=$2; shift 2 ;;
    --cold-10k) COLD10K=1; shift ;;
    --verify) VERIFY=--verify; shift ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target hark_bench_rules -j"$(nproc)" >/dev/null

mkdir -p "$OUT"
if [ ! -f "$OUT/corpus.ndjson" ] || [ ! -f "$OUT/.posts-$POSTS" ]; then
  python3 "$ROOT/bench/gen_workload.py" --out "$OUT" --posts "$POSTS" --ks "$KS"
  touch "$OUT/.posts-$POSTS"
fi

RESULTS="$OUT/results.txt"
: > "$RESULTS"
IFS=, read -r -a ks <<< "$KS"
for k in "${ks[@]}"; do
  cold=--cold
  if [ "$k" -ge 10000 ] && [ "$COLD10K" = 0 ]; then
    cold=""
  fi
  echo "K=$k ..." >&2
  line=$("$BUILD/hark_bench_rules" --dir "$OUT" --k "$k" --naive-s "$NAIVE_S" \
         --threads "$THREADS" $cold $VERIFY)
  # The peer: ripgrep on the same texts, one thread. Its PCRE2 mode takes
  # the rules as one alternation (grep-K.txt) but PCRE2 refuses one that
  # large from K=1000 on; its own engine takes the rule file, is slow with
  # Unicode \b and runs out of memory at 10,000 rules. So: -P on 10,000
  # texts up to K=100, else the rule file on the first 200 texts.
  rg_pps=-
  rg_mode=-
  if command -v rg >/dev/null; then
    if [ "$k" -le 100 ]; then
      n=10000; rg_mode="-P grep-K.txt"
      set -- -P -f "$OUT/rules/grep-$k.txt"
    else
      n=200; rg_mode="-f rules-K.txt"
      set -- --regex-size-limit 2G --dfa-size-limit 2G -f "$OUT/rules/rules-$k.txt"
    fi
    head -n "$n" "$OUT/texts.txt" > "$OUT/texts-$n.txt"
    t0=$(date +%s.%N)
    if timeout 600 rg -j1 -c -i "$@" "$OUT/texts-$n.txt" >/dev/null 2>&1; then
      t1=$(date +%s.%N)
      rg_pps=$(python3 -c "print(round($n / ($t1 - $t0)))")
    else
      rg_pps=failed
    fi
    set --
  fi
  echo "$line rg_pps=$rg_pps rg_mode=${rg_mode// /_}" >> "$RESULTS"
done

python3 - "$RESULTS" <<'EOF'
import sys
rows = []
for line in open(sys.argv[1]):
    rows.append(dict(kv.split("=", 1) for kv in line.split()))
print("| K | naive posts/s | prefilter posts/s | speed-up | rg -j1 posts/s "
      "| candidates/post | compile cold s | load warm s | PCRE2-only load s "
      "| peak RSS cold / warm MiB | literal / regex / fallback conds "
      "| literals | shards | verify |")
print("|" + "---|" * 14)
base = None
for r in rows:
    pf = float(r["pf_pps"])
    base = base or pf
    cold = "%.2f" % float(r["cold_s"]) if float(r["cold_s"]) > 0 else "(cached)"
    rss_cold = "%.0f" % (int(r["cold_rss_kb"]) / 1024) if int(r["cold_rss_kb"]) else "-"
    verify = ("%s diffs / %s pairs" % (r["diffs"], r["pairs"])
              if r["verify"] == "yes" else "prefix: %s = %s" %
              (r["prefix_matches_naive"], r["prefix_matches_pf"]))
    print("| %s | %.0f | %.0f (%.2f x K=%s) | %.0f x | %s (%s) | %s | %s | %.2f "
          "| %.2f | %s / %.0f | %s / %s / %s | %s | %s | %s |" % (
              r["k"], float(r["naive_pps"]), pf, pf / base, rows[0]["k"],
              pf / float(r["naive_pps"]), r["rg_pps"],
              r["rg_mode"].replace("_", " "), r["cand_per_post"], cold,
              float(r["warm_s"]), float(r["pcre_load_s"]), rss_cold,
              int(r["warm_rss_kb"]) / 1024, r["literal_conds"],
              r["regex_conds"], r["fallback"], r["literals"], r["shards"],
              verify))
EOF
