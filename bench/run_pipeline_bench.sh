#!/usr/bin/env bash
# Whole-pipeline benchmark (not a test): `hark try --json` on the reference
# workload (parse, rules, sentiment, customer join, scoring, serialization)
# for K = 10, 100, 1000 [, 10000] rules, against peers run in the same
# run on the same input: ripgrep (`rg -c -i -f rules-K.txt texts.txt`,
# Unicode as hark is, and with --no-unicode) and syslog-ng (json-parser +
# the generated filter of K pcre matches).
#
#   bash bench/run_pipeline_bench.sh [--posts N] [--with-10000]
#        [--no-syslog-ng] [--no-perf] [--cap CPU_S] [--sample N]
#        [--hark PATH] [--out DIR]
#
#   --posts N      corpus size (default 20000)
#   --with-10000   add K = 10000 (slow to compile and, for naive engines,
#                  to run; capped like everything else)
#   --cap CPU_S    a run whose estimated CPU time on the whole corpus is
#                  above this (default 60) is measured on the first
#                  --sample posts only (default 1000) and marked '*'
#   --hark PATH    use this hark binary instead of building build-bench/
#   --out DIR      workload and scratch files (default /tmp/hark-bench-pipeline)
#   --no-perf      skip the perf profile of K = 1000 and of the empty pack
#
# Rates are posts per CPU-second (user + sys of the measured process, from
# wait4), after subtracting the same command's CPU time on empty input
# (start-up: rule compilation, lexicon load), which is reported apart.
# The machine is shared and noisy: compare the ratios within one run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
out=/tmp/hark-bench-pipeline
posts=20000
ks="10,100,1000"
syslog=1
perf=1
cap=60
sample=1000
hark=""

while [ $# -gt 0 ]; do
    case "$1" in
        --posts) posts=$2; shift 2 ;;
        --with-10000) ks="10,100,1000,10000"; shift ;;
        --no-syslog-ng) syslog=0; shift ;;
        --no-perf) perf=0; shift ;;
        --cap) cap=$2; shift 2 ;;
        --sample) sample=$2; shift 2 ;;
        --hark) hark=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "run_pipeline_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then
        sudo "$@"; else echo "need root or sudo for: $*" >&2; return 1; fi
}

# Installs Debian package $1 (providing command $2) only if $2 is missing.
ensure_pkg() {
    local pkg=$1 cmd=$2
    command -v "$cmd" >/dev/null && return 0
    echo "== installing $pkg (for $cmd)"
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ "$pkg" = syslog-ng-core ] && [ ! -e "$policy" ]; then
        # Install the binary only: never start a system syslog daemon.
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
        made_policy=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" \
        >/dev/null 2>&1 ||
        { as_root apt-get update >/dev/null 2>&1 &&
          as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" \
              >/dev/null 2>&1; } || echo "   could not install $pkg" >&2
    if [ "$made_policy" -eq 1 ]; then as_root rm -f "$policy"; fi
    command -v "$cmd" >/dev/null
}

ensure_pkg ripgrep rg || { echo "ripgrep is required" >&2; exit 1; }
if [ "$syslog" -eq 1 ]; then
    ensure_pkg syslog-ng-core syslog-ng || syslog=0
fi

# The reference workload generator: bench/ copy first, else shared/.
gen=""
for g in "$root/bench/gen_workload.py" "$root/../shared/bench/gen_workload.py" \
         /work/shared/bench/gen_workload.py; do
    if [ -f "$g" ]; then gen=$g; break; fi
done
[ -n "$gen" ] || { echo "gen_workload.py not found" >&2; exit 1; }

bench_ingest=""
if [ -z "$hark" ]; then
    echo "== build (Release) into $build"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target hark >/dev/null
    hark="$build/hark"
    if cmake --build "$build" -j"$(nproc)" --target hark_bench_ingest \
        >/dev/null 2>&1; then
        bench_ingest="$build/hark_bench_ingest"
    fi
else
    b="$(dirname "$hark")/hark_bench_ingest"
    [ -x "$b" ] && bench_ingest=$b
fi

mkdir -p "$out"
stamp="$out/.workload"
want="posts=$posts ks=$ks gen=$(md5sum < "$gen" | cut -c1-12)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "== workload: $gen --posts $posts --ks $ks --out $out"
    python3 "$gen" --posts "$posts" --ks "$ks" --out "$out"
    echo "$want" > "$stamp"
fi

echo
echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(uname -n)  cpus: $(nproc)"
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== hark: $hark ($("$hark" --version 2>&1 | tr '\n' ' '))"
echo "== rg: $(rg --version | sed -n 1p)"
[ "$syslog" -eq 1 ] && echo "== syslog-ng: $(syslog-ng --version | sed -n 1p)"
echo

HARK="$hark" OUT="$out" POSTS="$posts" KS="$ks" SYSLOG="$syslog" \
PERF="$perf" CAP="$cap" SAMPLE="$sample" BENCH_INGEST="$bench_ingest" \
python3 - <<'PYEOF'
import json
import os
import shutil
import subprocess
import sys
import time

HARK = os.environ["HARK"]
OUT = os.environ["OUT"]
N = int(os.environ["POSTS"])
KS = [int(k) for k in os.environ["KS"].split(",")]
SYSLOG = os.environ["SYSLOG"] == "1"
PERF = os.environ["PERF"] == "1" and shutil.which("perf") is not None
CAP = float(os.environ["CAP"])
S = min(int(os.environ["SAMPLE"]), N)
BENCH_INGEST = os.environ.get("BENCH_INGEST") or None
R = os.path.join(OUT, "rules")
SCR = os.path.join(OUT, "scratch")
os.makedirs(SCR, exist_ok=True)

corpus = os.path.join(OUT, "corpus.ndjson")
texts = os.path.join(OUT, "texts.txt")


def head(src, dst, n):
    with open(src, "rb") as f, open(dst, "wb") as g:
        for i, line in enumerate(f):
            if i >= n:
                break
            g.write(line)
    return dst


INPUTS = {
    "empty": (os.path.join(SCR, "empty.ndjson"), os.path.join(SCR, "empty.txt")),
    "sample": (head(corpus, os.path.join(SCR, "sample.ndjson"), S),
               head(texts, os.path.join(SCR, "sample.txt"), S)),
    "full": (corpus, texts),
}
# hark caches compiled prefilter databases (HARK_CACHE_DIR): start cold.
CACHE = os.path.join(SCR, "hark-cache")
shutil.rmtree(CACHE, ignore_errors=True)
os.makedirs(CACHE)
open(INPUTS["empty"][0], "w").close()
open(INPUTS["empty"][1], "w").close()
with open(os.path.join(R, "rules-0.json"), "w") as f:
    f.write('{"rules": []}\n')


def run(argv, stdin=None, stdout=None, feed=None, timeout=None, ok_rc=(0,),
        env=None):
    """Runs argv; CPU and max RSS of that process alone (wait4)."""
    fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
    fout = open(stdout, "wb") if stdout else subprocess.DEVNULL
    ferr = open(os.path.join(SCR, "stderr.txt"), "wb")
    feeder = None
    if feed is not None:  # through a pipe (syslog-ng cannot poll a file)
        feeder = subprocess.Popen(["cat", feed], stdout=subprocess.PIPE)
        fin = feeder.stdout
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr,
                         env=dict(os.environ, **(env or {})))
    if feeder:
        feeder.stdout.close()
    timed_out = False
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if timeout and time.monotonic() - t0 > timeout:
            p.kill()
            timed_out = True
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.005)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if feeder:
        feeder.kill()
        feeder.wait()
    for fh in (fin, fout):
        if hasattr(fh, "close"):
            fh.close()
    ferr.close()
    if p.returncode not in ok_rc and not timed_out:
        err = open(os.path.join(SCR, "stderr.txt"), errors="replace").read()
        sys.stderr.write("command failed (%d): %s\n%s\n"
                         % (p.returncode, " ".join(argv), err[-2000:]))
    return {"cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime,
            "sys": ru.ru_stime, "rss_kb": ru.ru_maxrss, "wall": wall,
            "rc": p.returncode, "timed_out": timed_out}


# ---- the tools: each returns (argv, stdin, feed, count_fn) per input ----

def count_hark(path):
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if json.loads(line).get("matches"):
                n += 1
    return n


def count_rg(path):
    s = open(path).read().strip()
    return int(s) if s else 0


def count_lines(path):
    return sum(1 for _ in open(path, "rb"))


def tool_hark(k, which):
    nd, _ = INPUTS[which]
    return {"argv": [HARK, "try", "-r", os.path.join(R, "rules-%d.json" % k),
                     "--json"], "stdin": nd, "count": count_hark,
            "env": {"HARK_CACHE_DIR": CACHE}}


def tool_rg(k, which, ascii_only=False):
    _, tx = INPUTS[which]
    argv = ["rg", "-c", "-i"] + (["--no-unicode"] if ascii_only else []) + \
        ["--regex-size-limit", "1G", "--dfa-size-limit", "1G",
         "-f", os.path.join(R, "rules-%d.txt" % k), tx]
    return {"argv": argv, "count": count_rg, "ok_rc": (0, 1)}


SNG_OUT = os.path.join(SCR, "syslog-ng.out")


def tool_sng(k, which):
    nd, _ = INPUTS[which]
    conf = os.path.join(SCR, "syslog-ng-%d.conf" % k)
    with open(conf, "w") as f:
        f.write("@version: 3.38\n"
                "options { stats-freq(0); log-msg-size(1048576); };\n"
                "source s_in { stdin(flags(no-parse) log-msg-size(1048576)); };\n"
                "parser p_json { json-parser(prefix(\".json.\")); };\n"
                "@include \"%s\"\n"
                "destination d_out { file(\"%s\" template(\"${.json.id}\\n\")); };\n"
                "log { source(s_in); parser(p_json); filter(f_rules); "
                "destination(d_out); };\n"
                % (os.path.join(R, "syslog-ng-%d.conf" % k), SNG_OUT))
    argv = ["syslog-ng", "-F", "--no-caps", "-f", conf,
            "-R", os.path.join(SCR, "syslog-ng.persist"),
            "-p", os.path.join(SCR, "syslog-ng.pid"),
            "-c", os.path.join(SCR, "syslog-ng.ctl")]
    return {"argv": argv, "feed": nd, "count": lambda _p: count_lines(SNG_OUT),
            "pre": lambda: [os.path.exists(p) and os.remove(p) for p in
                            (SNG_OUT, os.path.join(SCR, "syslog-ng.persist"))]}


TOOLS = [("hark", tool_hark),
         ("rg", lambda k, w: tool_rg(k, w)),
         ("rg-ascii", lambda k, w: tool_rg(k, w, True))]
if SYSLOG:
    TOOLS.append(("syslog-ng", tool_sng))


def once(spec, stdout, timeout):
    if spec.get("pre"):
        spec["pre"]()
    return run(spec["argv"], stdin=spec.get("stdin"), stdout=stdout,
               feed=spec.get("feed"), timeout=timeout,
               ok_rc=spec.get("ok_rc", (0,)), env=spec.get("env"))


def measure(name, maker, k):
    """startup, then the sample, then the whole corpus if it fits the cap."""
    res = {"name": name, "k": k}
    # The first run on empty input is the cold start (hark compiles and
    # caches its prefilter databases); the second is the start-up that
    # every later run pays, and the one subtracted.
    c = once(maker(k, "empty"), None, timeout=max(CAP * 10, 1200))
    res["cold"] = c["cpu"]
    e = once(maker(k, "empty"), None, timeout=max(CAP * 5, 600))
    res["startup"] = e["cpu"]
    if e["rc"] not in maker(k, "empty").get("ok_rc", (0,)):
        res["error"] = "failed (exit %d)" % e["rc"]
        return res
    spec = maker(k, "sample")
    outp = os.path.join(SCR, "%s-%d.sample.out" % (name, k))
    s = once(spec, outp, timeout=CAP)
    if s["timed_out"]:
        res["timeout"] = s["wall"]
        res["rate"] = None
        res["bound"] = S / max(s["cpu"] - e["cpu"], 1e-9)
        return res
    if s["rc"] not in spec.get("ok_rc", (0,)):
        res["error"] = "failed (exit %d)" % s["rc"]
        return res
    res["matched_sample"] = spec["count"](outp)
    per_post = max(s["cpu"] - e["cpu"], 1e-9) / S
    est_full = e["cpu"] + per_post * N
    if N > S and est_full <= CAP:
        # Short runs are repeated (median of 3): noise is per run.
        reps = 3 if est_full * 3 <= CAP else 1
        fs = sorted((once(maker(k, "full"), None, timeout=CAP * 3)
                     for _ in range(reps)), key=lambda f: f["cpu"])
        f = fs[len(fs) // 2]
        res["rate"] = N / max(f["cpu"] - e["cpu"], 1e-9)
        res["rss_kb"] = f["rss_kb"]
        res["cpu"] = f["cpu"]
        res["posts"] = N
        res["reps"] = reps
    else:
        res["rate"] = 1 / per_post
        res["rss_kb"] = s["rss_kb"]
        res["cpu"] = s["cpu"]
        res["posts"] = S
    return res


def fmt_rate(r):
    if r is None:
        return "-"
    if r.get("error"):
        return r["error"]
    if r.get("timeout") is not None:
        return "<%s (t/o)" % fmt_n(r["bound"])
    return fmt_n(r["rate"]) + ("*" if r["posts"] < N else "")


def fmt_n(x):
    if x >= 1e6:
        return "%.2fM" % (x / 1e6)
    if x >= 1e4:
        return "%.0fk" % (x / 1e3)
    if x >= 1e3:
        return "%.1fk" % (x / 1e3)
    return "%.0f" % x


def ratio(a, b):
    if (not a or not b or a.get("error") or b.get("error") or
            a.get("rate") is None or b.get("rate") is None):
        return "-"
    return "%.2f" % (a["rate"] / b["rate"])


results = {}
for k in KS:
    for name, maker in TOOLS:
        r = measure(name, maker, k)
        results[(name, k)] = r
        sys.stderr.write("  measured %-9s K=%-5d %s\n" % (name, k, fmt_rate(r)))

# The empty pack: everything `hark try` does except matching rules.
zero = measure("hark", tool_hark, 0)
parse_only = None
if BENCH_INGEST:
    p = subprocess.run([BENCH_INGEST, "-t", "1.5", "-r", "3", "-d", "/nonexistent",
                        "--ndjson", corpus], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("hark_json_parse + hark_post_from_json"):
            parse_only = float(line.split()[3].replace(",", ""))

mean_b = os.path.getsize(corpus) / N
print("whole pipeline: `hark try -r rules-K.json --json < corpus.ndjson > /dev/null`")
print("reference workload: %d posts, %.0f B/post; posts per CPU-second of the "
      "measured process, start-up subtracted" % (N, mean_b))
print("whole-corpus runs shorter than a third of the cap: median of 3 runs")
print("'*' = measured on the first %d posts (the whole corpus was estimated above "
      "%.0f CPU-s); 't/o' = the %d-post sample did not finish in %.0f s\n"
      % (S, CAP, S, CAP))
hdr = ("%6s | %10s %7s %7s | %10s %12s %10s | %7s %9s %9s"
       % ("K", "hark", "RSS MiB", "start s", "rg", "rg-ascii", "syslog-ng",
          "hark/rg", "hark/rg-a", "hark/sng"))
print(hdr)
print("-" * len(hdr))
for k in KS:
    h = results[("hark", k)]
    rg = results[("rg", k)]
    ra = results[("rg-ascii", k)]
    sn = results.get(("syslog-ng", k))
    print("%6d | %10s %7s %7.2f | %10s %12s %10s | %7s %9s %9s"
          % (k, fmt_rate(h), ("%.0f" % (h["rss_kb"] / 1024)) if h.get("rss_kb") else "-",
             h["startup"], fmt_rate(rg), fmt_rate(ra),
             fmt_rate(sn) if sn else "n/a", ratio(h, rg), ratio(h, ra),
             ratio(h, sn) if sn else "-"))
print()
print("start-up CPU-s on empty input (hark: first run, compiling and caching "
      "its databases / later runs): " + "; ".join(
    "K=%d: hark %.2f/%.2f, rg %.2f, rg-ascii %.2f%s" % (
        k, results[("hark", k)]["cold"], results[("hark", k)]["startup"],
        results[("rg", k)]["startup"],
        results[("rg-ascii", k)]["startup"],
        (", syslog-ng %.2f" % results[("syslog-ng", k)]["startup"]) if SYSLOG else "")
    for k in KS))
print("hark including start-up (posts / CPU-s of the whole run): " + "; ".join(
    "K=%d: %s" % (k, fmt_n(results[("hark", k)]["posts"] /
                           results[("hark", k)]["cpu"]))
    for k in KS if results[("hark", k)].get("cpu")))
print("matched posts in the first %d (same set expected): " % S + "; ".join(
    "K=%d: " % k + ", ".join(
        "%s %s" % (name, results[(name, k)].get("matched_sample", "-"))
        for name, _ in TOOLS) for k in KS))
print()
if zero.get("rate"):
    print("hark try, empty rule pack (JSON parse + sentiment + scoring + "
          "serialization, no rules): %s posts/CPU-s (%.2f us/post)"
          % (fmt_rate(zero), 1e6 / zero["rate"]))
if parse_only:
    print("  of which input parsing (hark_json_parse + hark_post_from_json, "
          "hark_bench_ingest --ndjson): %s posts/CPU-s (%.2f us/post)"
          % (fmt_n(parse_only), 1e6 / parse_only))
    if zero.get("rate") and 1 / zero["rate"] > 1 / parse_only:
        rest = 1 / (1 / zero["rate"] - 1 / parse_only)
        print("  the rest (sentiment, scoring, serialization, output): "
              "%s posts/CPU-s (%.2f us/post)" % (fmt_n(rest), 1e6 / rest))
for k in KS:
    h = results[("hark", k)]
    if h.get("rate") and zero.get("rate") and 1 / h["rate"] > 1 / zero["rate"]:
        print("  K=%d: rules alone cost %.2f us/post (%s posts/CPU-s)"
              % (k, 1e6 / h["rate"] - 1e6 / zero["rate"],
                 fmt_n(1 / (1 / h["rate"] - 1 / zero["rate"]))))
print()
h1000 = results.get(("hark", 1000))
if h1000 and h1000.get("rate"):
    print("budget (DESIGN.md): >= 100,000 posts/CPU-s with 1,000 rules: "
          "%s (%.1f%% of budget)" % (fmt_rate(h1000), h1000["rate"] / 1e3))
if ("hark", 10000) in results and results[("hark", 10000)].get("rate"):
    r10 = results[("hark", 10)]["rate"]
    r10k = results[("hark", 10000)]["rate"]
    print("budget: K=10000 >= half of K=10: %.2f of K=10" % (r10k / r10))

if PERF:
    # Profile K=1000 on as many posts as fit ~15 CPU-s, and the empty pack.
    def profile(k, label):
        r = results.get(("hark", k)) if k else zero
        if not r or not r.get("rate"):
            return
        n = int(max(min(N, r["rate"] * 15), min(S, N)))
        inp = head(corpus, os.path.join(SCR, "perf-input.ndjson"), n)
        data = os.path.join(SCR, "perf-%d.data" % k)
        rec = subprocess.run(["perf", "record", "-q", "-F", "999", "-o", data,
                              "--", HARK, "try", "-r",
                              os.path.join(R, "rules-%d.json" % k), "--json"],
                             stdin=open(inp, "rb"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE,
                             env=dict(os.environ, HARK_CACHE_DIR=CACHE))
        if rec.returncode != 0:
            print("perf record failed: %s" % rec.stderr.decode()[-300:])
            return
        print("\nperf profile, %s (%d posts), self time by object:" % (label, n))
        for sort, limit, count in (("dso", "1", 8), ("sym", "0.7", 15)):
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio",
                                  "--no-children", "--sort", sort,
                                  "--percent-limit", limit],
                                 capture_output=True, text=True)
            lines = [l for l in rep.stdout.splitlines()
                     if l.strip() and not l.startswith("#")]
            if sort == "sym":
                print("top functions (self):")
            for l in lines[:count]:
                print("  " + l.strip())
    profile(1000, "K=1000")
    profile(0, "empty rule pack (no rules)")
PYEOF
