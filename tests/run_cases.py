#!/usr/bin/env python3
"""Runs the data cases in tests/cases/<name>/ through `hark try --json`.

Each case folder holds the rules (rules.json, or rules.path naming a
repo-relative pack such as rules/default.json), optional customers.csv,
posts.ndjson (one normalized post per line) and expected.ndjson (one JSON
object per post). Every key of an expected object must equal the same key of
hark's output; objects compare recursively as subsets, lists exactly.
Rule authors add cases without writing C (jq.test style).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("HARK_SOURCE_DIR") or os.path.dirname(HERE)


def subset(want, got, path="$"):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: expected an object, got %r" % (path, got)
        for k, v in want.items():
            if k not in got:
                return "%s: missing key %r" % (path, k)
            err = subset(v, got[k], "%s.%s" % (path, k))
            if err:
                return err
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(want) != len(got):
            return "%s: expected %r, got %r" % (path, want, got)
        for i, (w, g) in enumerate(zip(want, got)):
            err = subset(w, g, "%s[%d]" % (path, i))
            if err:
                return err
        return None
    if want != got:
        return "%s: expected %r, got %r" % (path, want, got)
    return None


def run_case(hark, case):
    d = os.path.join(ROOT, "tests", "cases", case)
    if os.path.exists(os.path.join(d, "rules.path")):
        with open(os.path.join(d, "rules.path")) as f:
            rules = os.path.join(ROOT, f.read().strip())
    else:
        rules = os.path.join(d, "rules.json")
    args = [hark, "try", "-r", rules, "--json"]
    if os.path.exists(os.path.join(d, "customers.csv")):
        args += ["-k", os.path.join(d, "customers.csv")]
    with open(os.path.join(d, "posts.ndjson"), "rb") as f:
        posts = f.read()
    res = subprocess.run(args, input=posts, capture_output=True, timeout=120)
    if res.returncode != 0:
        return ["hark try exited %d: %s" % (res.returncode,
                                            res.stderr.decode(errors="replace"))]
    got = [json.loads(l) for l in res.stdout.decode().splitlines() if l.strip()]
    with open(os.path.join(d, "expected.ndjson"), encoding="utf-8") as f:
        want = [json.loads(l) for l in f if l.strip()]
    if len(got) != len(want):
        return ["%d outputs for %d expected objects" % (len(got), len(want))]
    errors = []
    for i, (w, g) in enumerate(zip(want, got)):
        err = subset(w, g)
        if err:
            errors.append("post %d (line %d): %s" % (i + 1, i + 1, err))
    return errors


def main():
    hark = sys.argv[1]
    cases = sorted(os.listdir(os.path.join(ROOT, "tests", "cases")))
    failed = 0
    for case in cases:
        errors = run_case(hark, case)
        if errors:
            failed += 1
            print("FAIL %s" % case)
            for e in errors:
                print("     " + e)
        else:
            print("ok   %s" % case)
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
