#!/usr/bin/env python3
"""How well hark's sentiment labels agree with human-labelled sets.

Feeds each labelled set through `hark try --json` as NDJSON posts and
prints, per set, the confusion matrix, per-class precision/recall/F1, n,
accuracy and macro-F1, then one summary table.

    bench/bench_sentiment.py [--hark build/hark] [-r rules/default.json]
                             [--lexicons rules/lexicons]
                             [--data FILE ...] [--errors]

The sets (default: all of them, see bench/data/README.md):

  bench/sentiment_labelled.tsv   hark's own 150 customer-care posts, three
                                 classes: LABEL<TAB>TEXT, '#' comments
                                 (a '#' line with no tab)
  bench/data/*_labelled.txt      UCI "Sentiment Labelled Sentences"
                                 (Kotzias et al. 2015, CC BY 4.0): amazon,
                                 imdb, yelp, 1,000 each, TEXT<TAB>0|1

The UCI sets have two classes only (the authors picked sentences with no
neutral reading), so for them the table says "2-class" and shows:
  accuracy      hark's 3-class label against the gold label; a "neutral"
                is a miss (the strict figure)
  macro-F1      over the two gold classes, with the same labels
  sign-acc      the sign of the compound (> 0 positive, < 0 negative, 0 a
                miss): what a forced binary decision gets
  coverage      the share of sentences hark did not call neutral
  sign>=0       compound >= 0 positive, else negative: the rule of the npm
                `sentiment` package's test/benchmark/validate.js, whose
                README reports 0.726 / 0.765 / 0.696 (amazon / imdb / yelp)
                for its AFINN scorer on the same files

It writes a temporary config with those rules and "keep_unmatched": true
(unmatched posts are otherwise filtered before they are scored).

The hark binary is --hark, else $HARK_BIN, else build/hark under the
repository. This is a benchmark, not a test: no test runs it and it
asserts nothing. Standard library only.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = ["positive", "neutral", "negative"]
BINARY = {"0": "negative", "1": "positive"}


def read_labelled(path):
    """Rows (gold, text) and the gold classes of `path`, either format."""
    rows = []
    with open(path, "rb") as fp:
        data = fp.read().decode("utf-8")
    # split on "\n" only: the IMDB file has U+0085 inside sentences
    for n, line in enumerate(data.split("\n"), 1):
        line = line.rstrip("\r")
        if not line or (line.startswith("#") and "\t" not in line):
            continue
        head, sep, tail = line.partition("\t")
        text, sep2, score = line.rpartition("\t")
        if sep and head in LABELS:
            rows.append((head, tail))
        elif sep2 and score.strip() in BINARY:
            rows.append((BINARY[score.strip()], text.strip()))
        else:
            sys.exit("%s:%d: expected LABEL<TAB>TEXT (LABEL one of %s) or "
                     "TEXT<TAB>0|1" % (path, n, ", ".join(LABELS)))
    classes = [l for l in LABELS if any(g == l for g, _ in rows)]
    return rows, classes


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
    # "\n" only: texts may hold U+0085 or U+2028, which splitlines() splits
    out = [json.loads(l) for l in proc.stdout.decode("utf-8").split("\n")
           if l.strip()]
    if len(out) != len(rows):
        sys.exit("hark try printed %d objects for %d posts"
                 % (len(out), len(rows)))
    return [o.get("sentiment") or {} for o in out]


def evaluate(name, path, rows, classes, got, show_errors):
    """Prints the tables for one set; returns its summary row."""
    # confusion[gold][predicted]; "unscored" counts as a miss
    cols = LABELS + ["unscored"]
    confusion = {g: {p: 0 for p in cols} for g in classes}
    misses = []
    n_sign = 0
    n_sign0 = 0
    n_decided = 0
    for (gold, text), s in zip(rows, got):
        pred = s.get("label", "unscored")
        confusion[gold][pred if pred in cols else "unscored"] += 1
        if pred in ("positive", "negative"):
            n_decided += 1
        score = s.get("score") or 0.0
        if (score > 0 and gold == "positive") or \
           (score < 0 and gold == "negative"):
            n_sign += 1
        if (score >= 0) == (gold == "positive"):
            n_sign0 += 1
        if pred != gold:
            misses.append((gold, pred, s.get("score"), text, s.get("terms")))

    n = len(rows)
    is_binary = "neutral" not in classes
    print("== %s: %d %s from %s (%d-class gold)\n"
          % (name, n, "posts" if not is_binary else "sentences",
             os.path.relpath(path), len(classes)))
    print("%-10s" % "gold\\pred" + "".join("%10s" % c for c in cols))
    for g in classes:
        print("%-10s" % g + "".join("%10d" % confusion[g][c] for c in cols))
    print()
    print("%-10s %9s %9s %9s %7s" % ("class", "precision", "recall", "f1",
                                     "n"))
    f1s = []
    for l in classes:
        tp = confusion[l][l]
        n_pred = sum(confusion[g][l] for g in classes)
        n_gold = sum(confusion[l].values())
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f1s.append(f1)
        print("%-10s %9.3f %9.3f %9.3f %7d" % (l, p, r, f1, n_gold))
    correct = sum(confusion[l][l] for l in classes)
    acc = correct / n if n else 0.0
    macro = sum(f1s) / len(f1s) if f1s else 0.0
    print()
    print("accuracy  %.3f  (%d/%d)%s" % (acc, correct, n,
                                         "  (neutral counts as a miss)"
                                         if is_binary else ""))
    print("macro-F1  %.3f  (%d classes)" % (macro, len(classes)))
    sign_acc = coverage = None
    if is_binary:
        sign_acc = n_sign / n if n else 0.0
        coverage = n_decided / n if n else 0.0
        print("sign-acc  %.3f  (compound > 0 positive, < 0 negative, "
              "0 a miss)" % sign_acc)
        print("coverage  %.3f  (%d/%d not called neutral)"
              % (coverage, n_decided, n))
        print("sign>=0   %.3f  (compound >= 0 positive: how the npm "
              "'sentiment' package's validate.js counts)" % (n_sign0 / n))
    if show_errors and misses:
        print("\ndisagreements (gold -> hark, score, text, terms):")
        for gold, pred, score, text, terms in misses:
            names = " ".join("%s=%+.2f" % (t.get("term"), t.get("valence", 0))
                             for t in (terms or []))
            print("  %-8s -> %-8s %7s  %s  [%s]"
                  % (gold, pred, "%.4f" % score if score is not None else "-",
                     text, names))
    print()
    return (name, n, len(classes), acc, macro, sign_acc, coverage)


def set_name(path):
    base = os.path.basename(path)
    if base == "sentiment_labelled.tsv":
        return "hark care (own)"
    if base.endswith("_labelled.txt"):
        return "UCI " + base[:-len("_labelled.txt")].split("_")[0]
    return base


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hark", default=os.environ.get("HARK_BIN")
                    or os.path.join(REPO, "build", "hark"))
    ap.add_argument("-r", "--rules", action="append",
                    help="rule pack (default rules/default.json)")
    ap.add_argument("--data", action="append",
                    help="labelled set, repeatable (default: "
                         "bench/sentiment_labelled.tsv and "
                         "bench/data/*_labelled.txt)")
    ap.add_argument("--lexicons", default=os.path.join(REPO, "rules",
                                                       "lexicons"))
    ap.add_argument("--errors", action="store_true",
                    help="list the posts whose label disagrees")
    args = ap.parse_args()
    rules = args.rules or [os.path.join(REPO, "rules", "default.json")]
    paths = args.data or (
        [os.path.join(REPO, "bench", "sentiment_labelled.tsv")] +
        sorted(glob.glob(os.path.join(REPO, "bench", "data",
                                      "*_labelled.txt"))))

    summary = []
    for path in paths:
        rows, classes = read_labelled(path)
        got = run_hark(args.hark, rules, args.lexicons, rows)
        summary.append(evaluate(set_name(path), path, rows, classes, got,
                                args.errors))

    print("== summary (rules: %s)\n"
          % ", ".join(os.path.relpath(r) for r in rules))
    print("%-18s %6s %8s %9s %9s %9s %9s" % ("set", "n", "classes",
                                             "accuracy", "macro-F1",
                                             "sign-acc", "coverage"))
    for name, n, k, acc, macro, sign_acc, coverage in summary:
        print("%-18s %6d %8d %9.3f %9.3f %9s %9s"
              % (name, n, k, acc, macro,
                 "-" if sign_acc is None else "%.3f" % sign_acc,
                 "-" if coverage is None else "%.3f" % coverage))


if __name__ == "__main__":
    main()
