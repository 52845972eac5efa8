#!/usr/bin/env python3
"""How well hark's sentiment labels agree with a human-labelled set.

Feeds bench/sentiment_labelled.tsv (label<TAB>text, '#' comments) through
`hark try --json` as NDJSON posts and prints the confusion matrix,
per-class precision/recall/F1, 3-class accuracy and macro-F1.

    bench/bench_sentiment.py [--hark build/hark] [-r rules/default.json]
                             [--lexicons rules/lexicons]
                             [--data bench/sentiment_labelled.tsv] [--errors]

It writes a temporary config with those rules and "keep_unmatched": true
(unmatched posts are otherwise filtered before they are scored).

The hark binary is --hark, else $HARK_BIN, else build/hark under the
repository. This is a benchmark, not a test: no test runs it and it
asserts nothing. Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = ["positive", "neutral", "negative"]


def read_labelled(path):
    rows = []
    with open(path, encoding="utf-8") as fp:
        for n, line in enumerate(fp, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            label, sep, text = line.partition("\t")
            if not sep or label not in LABELS:
                sys.exit("%s:%d: expected LABEL<TAB>TEXT with LABEL one of %s"
                         % (path, n, ", ".join(LABELS)))
            rows.append((label, text))
    return rows


def run_hark(hark, rules, lexicons, rows):
    posts = "".join(
        json.dumps({"id": "bench-%d" % i, "platform": "bench", "text": text,
                    "lang": "en"}) + "\n"
        for i, (_, text) in enumerate(rows))
    # Posts that match no rule are filtered before scoring, so the config
    # keeps them: every post of the set gets a sentiment.
    cfg = {"rules": [os.path.abspath(r) for r in rules],
           "keep_unmatched": True,
           "lexicons": os.path.abspath(lexicons)}
    with tempfile.NamedTemporaryFile("w", suffix=".json",
                                     prefix="bench-sentiment-") as fp:
        json.dump(cfg, fp)
        fp.flush()
        cmd = [hark, "try", "-c", fp.name, "--json"]
        proc = subprocess.run(cmd, input=posts.encode("utf-8"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
    if proc.returncode != 0:
        sys.exit("%s exited with %d:\n%s" % (" ".join(cmd), proc.returncode,
                                             proc.stderr.decode(errors="replace")))
    out = [json.loads(l) for l in proc.stdout.decode("utf-8").splitlines()
           if l.strip()]
    if len(out) != len(rows):
        sys.exit("hark try printed %d objects for %d posts"
                 % (len(out), len(rows)))
    return [o.get("sentiment") or {} for o in out]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hark", default=os.environ.get("HARK_BIN")
                    or os.path.join(REPO, "build", "hark"))
    ap.add_argument("-r", "--rules", action="append",
                    help="rule pack (default rules/default.json)")
    ap.add_argument("--data", default=os.path.join(REPO, "bench",
                                                   "sentiment_labelled.tsv"))
    ap.add_argument("--lexicons", default=os.path.join(REPO, "rules",
                                                       "lexicons"))
    ap.add_argument("--errors", action="store_true",
                    help="list the posts whose label disagrees")
    args = ap.parse_args()
    rules = args.rules or [os.path.join(REPO, "rules", "default.json")]

    rows = read_labelled(args.data)
    got = run_hark(args.hark, rules, args.lexicons, rows)

    # confusion[gold][predicted]; "unscored" counts as a miss
    cols = LABELS + ["unscored"]
    confusion = {g: {p: 0 for p in cols} for g in LABELS}
    misses = []
    for (gold, text), s in zip(rows, got):
        pred = s.get("label", "unscored")
        confusion[gold][pred if pred in cols else "unscored"] += 1
        if pred != gold:
            misses.append((gold, pred, s.get("score"), text, s.get("terms")))

    n = len(rows)
    correct = sum(confusion[l][l] for l in LABELS)
    print("%d posts from %s\n" % (n, os.path.relpath(args.data)))
    print("%-10s" % "gold\\pred" + "".join("%10s" % c for c in cols))
    for g in LABELS:
        print("%-10s" % g + "".join("%10d" % confusion[g][c] for c in cols))
    print()
    print("%-10s %9s %9s %9s %7s" % ("class", "precision", "recall", "f1",
                                     "n"))
    f1s = []
    for l in LABELS:
        tp = confusion[l][l]
        n_pred = sum(confusion[g][l] for g in LABELS)
        n_gold = sum(confusion[l].values())
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f1s.append(f1)
        print("%-10s %9.3f %9.3f %9.3f %7d" % (l, p, r, f1, n_gold))
    print()
    print("accuracy  %.3f  (%d/%d)" % (correct / n if n else 0.0, correct, n))
    print("macro-F1  %.3f" % (sum(f1s) / len(f1s)))
    if args.errors and misses:
        print("\ndisagreements (gold -> hark, score, text, terms):")
        for gold, pred, score, text, terms in misses:
            names = " ".join("%s=%+.2f" % (t.get("term"), t.get("valence", 0))
                             for t in (terms or []))
            print("  %-8s -> %-8s %7s  %s  [%s]"
                  % (gold, pred, "%.4f" % score if score is not None else "-",
                     text, names))


if __name__ == "__main__":
    main()
