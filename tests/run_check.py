#!/usr/bin/env python3
"""Pins `hark check` messages byte for byte.

tests/check/<name>/ holds hark.json (plus whatever files it names) and
expected.txt: the exact stderr of `hark check -c hark.json`, run from that
folder with the config given as "hark.json", and the exit code on the first
line as "exit N".
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("HARK_SOURCE_DIR") or os.path.dirname(HERE)


def main():
    hark = os.path.abspath(sys.argv[1])
    base = os.path.join(ROOT, "tests", "check")
    cases = sorted(d for d in os.listdir(base)
                   if os.path.isdir(os.path.join(base, d)))
    failed = 0
    for case in cases:
        d = os.path.join(base, case)
        res = subprocess.run([hark, "check", "-c", "hark.json"], cwd=d,
                             capture_output=True, timeout=60)
        got = "exit %d\n%s" % (res.returncode,
                               res.stderr.decode("utf-8", "replace"))
        with open(os.path.join(d, "expected.txt"), encoding="utf-8") as f:
            want = f.read()
        if got != want:
            failed += 1
            print("FAIL %s\n--- expected\n%s--- got\n%s" % (case, want, got))
        else:
            print("ok   %s" % case)
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
