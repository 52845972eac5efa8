#!/usr/bin/env python3
"""Relationship signals end to end: a recommendation by a known customer
raises a `recommendation` signal on hark.signals and adds to the
customer's relational capital, once per post, even when the same posts are
fetched again after a restart."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check

RULES = {"rules": [
    {"id": "rec", "match": {"any": [{"keywords": ["best editor"]}]},
     "tags": ["signal:recommendation"]},
    {"id": "any", "match": {"any": [{"regex": "."}]}, "tags": ["seen"]},
]}

# mastodonpy_test_2 wrote "the best editor? why, of course it is the KDE
# Advanced Text Editor, Kate" (timeline_public.json).
CUSTOMERS = ("customer_id,name,tier,clv,recommendations,identities\n"
             "c-7,Quinn Tester,gold,5000,2,mastodon:@mastodonpy_test_2@127.0.0.1\n")


def read(tmp, topic):
    path = os.path.join(tmp, "out", "hark.%s.ndjson" % topic)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_recommendation_signal_counts_once():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        with open(os.path.join(tmp, "rules.json"), "w") as f:
            json.dump(RULES, f)
        with open(os.path.join(tmp, "customers.csv"), "w") as f:
            f.write(CUSTOMERS)
        cfg = H.write_config(tmp, {
            "sources": [{"name": "s", "type": "mastodon",
                         "base_url": replay.url, "timeline": "public"}],
            "rules": ["rules.json"],
            "customers": {"path": "customers.csv"},
        })
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60, cwd=tmp)
        check(res.returncode == 0, "first run", res)
        sigs = read(tmp, "signals")
        recs = [s for s in sigs if s["signal"] == "recommendation"]
        check(len(recs) == 1, "one recommendation signal: %r" %
              [s["signal"] for s in sigs])
        sig = recs[0]
        check(sig["schema"] == "hark.signal/1", "schema: %r" % sig["schema"])
        check(sig["customer"]["id"] == "c-7", "names the customer: %r" %
              sig["customer"])
        posts = {e["post"]["id"]: e for e in read(tmp, "posts")}
        rec_post = [e for e in posts.values() if "best editor" in
                    e["post"]["text"]][0]
        rel1 = rec_post["relationship"]
        check(rel1["monetary"] == 5000, "monetary = clv: %r" % rel1)
        check(rel1["relational"] > 0, "relational capital: %r" % rel1)

        # Forget the cursor (as if it had not been committed): the same
        # posts are fetched and emitted again; the state must not count
        # the recommendation twice.
        os.remove(os.path.join(tmp, "state", "s.cursor.json"))
        shutil.rmtree(os.path.join(tmp, "out"))
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60, cwd=tmp)
        check(res.returncode == 0, "second run", res)
        again = [e for e in read(tmp, "posts")
                 if e["post"]["id"] == rec_post["post"]["id"]]
        check(len(again) == 1, "the post was emitted again")
        check(again[0]["relationship"] == rel1,
              "the replay did not count twice: %r vs %r" %
              (again[0]["relationship"], rel1))
        recs2 = [s for s in read(tmp, "signals")
                 if s["signal"] == "recommendation"]
        check([s["event_id"] for s in recs2] == [sig["event_id"]],
              "a repeated signal carries the same event_id")


if __name__ == "__main__":
    if not os.environ.get("HARK_BIN"):
        H.skip("HARK_BIN is not set")
    H.main([test_recommendation_signal_counts_once])
