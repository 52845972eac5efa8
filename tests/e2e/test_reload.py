#!/usr/bin/env python3
"""Hot reload: SIGHUP swaps the rule set while posts flow; a broken set is
rejected and the running one stays; no post is lost or processed twice."""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check


def write_rules(path, rules):
    with open(path, "w") as f:
        json.dump({"rules": rules}, f)


def events(tmp):
    path = os.path.join(tmp, "out", "hark.posts.ndjson")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_sighup_swaps_rules_under_load():
    with H.ReplayServer(initial=10) as replay, H.temp_dir() as tmp:
        rules = os.path.join(tmp, "rules.json")
        write_rules(rules, [{"id": "v1", "match": {"any": [
            {"keywords": ["toot*"]}]}, "tags": ["v1"]}])
        cfg = H.write_config(tmp, {
            "sources": [{"name": "r", "type": "mastodon",
                         "base_url": replay.url, "timeline": "public",
                         "interval_s": 1}],
            "rules": ["rules.json"],
            "keep_unmatched": True,
        })
        hark = H.Hark(["run", "-c", cfg], cwd=tmp)
        H.wait_for(lambda: len(events(tmp)) > 0, 30, "first events")
        v1 = events(tmp)[0]["rules_version"]

        # A broken set is rejected with its position; the old one stays.
        with open(rules, "w") as f:
            f.write('{"rules": [{"id": "broken", "match": {"any": '
                    '[{"regex": "a(b"}]}}]}')
        hark.send_signal(signal.SIGHUP)
        H.wait_for(lambda: "rejected the new config" in hark.stderr_text(),
                   30, "the broken set is rejected")
        check("rules.json:1:" in hark.stderr_text(),
              "the rejection names the position", hark.stderr_text())

        # A good set is swapped in while posts are being released.
        write_rules(rules, [{"id": "v2", "match": {"any": [
            {"keywords": ["television"]}]}, "tags": ["v2"]}])
        replay.release(30)
        hark.send_signal(signal.SIGHUP)
        replay.release(200)
        H.wait_for(lambda: len(events(tmp)) >= len(visible(replay)), 60,
                   "every released post")
        res = hark.stop()
        check(res.returncode == 0, "exit 0", res)
        evs = events(tmp)
        ids = [e["post"]["id"] for e in evs]
        check(len(ids) == len(set(ids)), "no post processed twice")
        check(set(ids) == set(visible(replay)), "no post lost")
        versions = [e["rules_version"] for e in evs]
        check(versions[0] == v1 and versions[-1] != v1,
              "events carry the rules_version they were matched with: %r"
              % sorted(set(versions)))
        for e in evs:
            rules_matched = {m["rule"] for m in e["matches"]}
            if e["rules_version"] == v1:
                check(rules_matched <= {"v1"}, "v1 events match v1 rules")
            else:
                check(rules_matched <= {"v2"}, "v2 events match v2 rules")


def test_file_watch_reloads_an_included_pack():
    with H.ReplayServer(initial=10) as replay, H.temp_dir() as tmp:
        inc = os.path.join(tmp, "inc.json")
        write_rules(inc, [{"id": "w1", "match": {"any": [
            {"keywords": ["toot*"]}]}}])
        with open(os.path.join(tmp, "rules.json"), "w") as f:
            json.dump({"include": ["inc.json"]}, f)
        cfg = H.write_config(tmp, {
            "sources": [{"name": "r", "type": "mastodon",
                         "base_url": replay.url, "timeline": "public",
                         "interval_s": 1}],
            "rules": ["rules.json"],
            "keep_unmatched": True,
            "watch_s": 1,
        })
        hark = H.Hark(["run", "-c", cfg], cwd=tmp)
        H.wait_for(lambda: len(events(tmp)) > 0, 30, "first events")
        v1 = events(tmp)[0]["rules_version"]
        # Only the included file changes (no SIGHUP).
        write_rules(inc, [{"id": "w2", "match": {"any": [
            {"keywords": ["television"]}]}}])
        H.wait_for(lambda: "a watched file changed" in hark.stderr_text(),
                   30, "the watch noticed the included pack")
        replay.release(200)
        H.wait_for(lambda: any(e["rules_version"] != v1 for e in events(tmp)),
                   30, "events matched with the new set")
        res = hark.stop()
        check(res.returncode == 0, "exit 0", res)


def visible(replay):
    ids, max_id = [], None
    while True:
        path = "/api/v1/timelines/public?limit=40" + (
            "&max_id=%s" % max_id if max_id else "")
        _, _, body = replay.request("GET", path)
        page = json.loads(body)
        if not page:
            return ids
        ids += [s["id"] for s in page]
        max_id = page[-1]["id"]


if __name__ == "__main__":
    if not os.environ.get("HARK_BIN"):
        H.skip("HARK_BIN is not set")
    H.main([test_sighup_swaps_rules_under_load,
            test_file_watch_reloads_an_included_pack])
