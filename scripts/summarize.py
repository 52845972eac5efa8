#!/usr/bin/env python3
"""Prints a short summary of the NDJSON files a hark file sink wrote."""
import collections
import json
import os
import sys

out = sys.argv[1]
files = sorted(f for f in os.listdir(out) if f.endswith(".ndjson")) if os.path.isdir(out) else []
if not files:
    print("no output files in %s" % out)
    sys.exit(1)
print("hark wrote %d file(s) to %s/:" % (len(files), out))
for f in files:
    events = [json.loads(l) for l in open(os.path.join(out, f), encoding="utf-8") if l.strip()]
    print("  %-24s %4d events" % (f, len(events)))
eng = os.path.join(out, "hark.engagement.ndjson")
if os.path.exists(eng):
    items = [json.loads(l) for l in open(eng, encoding="utf-8") if l.strip()]
    items.sort(key=lambda e: -e["priority"]["score"])
    queues = collections.Counter(e["route"]["queue"] for e in items)
    print("\nengagement queue: %d item(s) (%s)" % (len(items), ", ".join("%s %d" % kv for kv in sorted(queues.items()))))
    for e in items[:8]:
        p = e["post"]
        who = (e["customer"] or {}).get("name") or "@" + (p["author"]["handle"] or "?")
        text = p["text"].replace("\n", " ")
        print("  %s %5.1f %-10s %-22s %s" % (e["priority"]["level"], e["priority"]["score"],
                                           e["route"]["queue"], who[:22], text[:60]))
        print("      rules: %s; sentiment %s %+.2f" % (", ".join(m["rule"] for m in e["matches"]),
                                                     e["sentiment"]["label"], e["sentiment"]["score"]))
sig = os.path.join(out, "hark.signals.ndjson")
if os.path.exists(sig):
    sigs = [json.loads(l) for l in open(sig, encoding="utf-8") if l.strip()]
    kinds = collections.Counter(s["signal"] for s in sigs)
    print("\nrelationship signals: %d (%s)" % (len(sigs), ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    for s in sigs[:5]:
        who = (s.get("customer") or {}).get("id") or s["author"].get("handle")
        print("  %-15s %-28s relationship %s" % (s["signal"], who, s.get("relationship", {}).get("total")))
