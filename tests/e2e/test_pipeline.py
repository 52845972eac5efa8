#!/usr/bin/env python3
"""End to end: replay server (recorded Mastodon timelines) -> hark -> the
librdkafka mock cluster and NDJSON files, read back with kcat.

What users rely on: every recorded post arrives once with its fields and
its text as extracted from the HTML; a restart catches up from the
committed cursor without losing or repeating posts; SIGTERM drains and
commits; kill -9 loses nothing (repeats carry the same event_id); bad
responses go to the DLQ and the source keeps going.
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check

RULES = {
    "rules": [
        {"id": "e2e-television", "match": {"any": [{"keywords": ["television"]}]},
         "tags": ["topic:tv"], "action": "engage", "priority": 20,
         "route": "care"},
        {"id": "e2e-toot", "match": {"any": [{"keywords": ["toot*"]}]},
         "tags": ["topic:toot"]},
    ]
}


def setup(tmp, replay_url, bootstrap=None, keep_unmatched=True, extra=None):
    rules = os.path.join(tmp, "rules.json")
    with open(rules, "w") as f:
        json.dump(RULES, f)
    sinks = {"file": {"dir": "out"}}
    if bootstrap:
        sinks["kafka"] = {"brokers": bootstrap,
                          "properties": {"message.timeout.ms": "30000"}}
    cfg = {
        "sources": [{"name": "e2e-public", "type": "mastodon",
                     "base_url": replay_url, "timeline": "public",
                     "interval_s": 1}],
        "rules": ["rules.json"],
        "sinks": sinks,
        "state_dir": "state",
        "keep_unmatched": keep_unmatched,
    }
    if extra:
        cfg.update(extra)
    return H.write_config(tmp, cfg)


def visible_public(replay):
    """Every status the public timeline shows now, walked with max_id."""
    ids, max_id = [], None
    while True:
        path = "/api/v1/timelines/public?limit=40" + (
            "&max_id=%s" % max_id if max_id else "")
        status, _, body = replay.request("GET", path)
        check(status == 200, "replay public timeline: %s" % status)
        page = json.loads(body)
        if not page:
            return ids
        ids += [s["id"] for s in page]
        max_id = page[-1]["id"]


def read_file_events(tmp, topic):
    path = os.path.join(tmp, "out", "hark.%s.ndjson" % topic)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def stats_line(stderr, source="e2e-public"):
    lines = [l for l in stderr.splitlines()
             if "stats source=%s " % source in l]
    check(lines, "hark logged a stats line", stderr)
    fields = dict(kv.split("=", 1) for kv in lines[-1].split() if "=" in kv)
    return fields


def test_once_delivers_newest_page_to_kafka_and_files():
    with H.ReplayServer() as replay, H.KafkaMock() as kafka, \
            H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url, kafka.bootstrap)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60)
        check(res.returncode == 0, "hark run --once exits 0", res)
        newest = visible_public(replay)[:40]
        got = H.kcat_consume(kafka.bootstrap, "hark.posts",
                             expect_at_least=len(newest), timeout_s=30)
        ids = [v["post"]["id"] for _, v in got]
        check(sorted(ids) == sorted(newest),
              "hark.posts holds the newest page (%d posts), once each: got %d"
              % (len(newest), len(ids)))
        check(len(set(v["event_id"] for _, v in got)) == len(got),
              "event ids are unique")
        by_id = {v["post"]["id"]: (k, v) for k, v in got}
        # Text as extracted from the recorded HTML: "<p>you can&#39;t say
        # that on television</p>" (timeline_public.json).
        tv = [v for _, v in got if "television" in v["post"]["text"]]
        check(tv, "the television status arrived")
        check(tv[0]["post"]["text"] == "you can't say that on television",
              "entities decoded, tags stripped: %r" % tv[0]["post"]["text"])
        for key, v in by_id.values():
            check(v["schema"] == "hark.post/1", "schema: %r" % v["schema"])
            check(v["post"]["platform"] == "mastodon", "platform")
            check(v["post"]["source"] == "e2e-public", "source")
            check(v["rules_version"].startswith("r-"), "rules_version")
            check("@" in (v["post"]["author"]["handle"] or ""),
                  "handles are user@host: %r" % v["post"]["author"])
            want_key = "mastodon:%s" % v["post"]["author"]["id"]
            check(key == want_key, "key %r == %r" % (key, want_key))
            check(v["post"]["created_at"], "created_at")
        eng = H.kcat_consume(kafka.bootstrap, "hark.engagement",
                             expect_at_least=1, timeout_s=30)
        eng_posts = [v["post"]["id"] for _, v in eng]
        want_eng = [i for i in ids
                    if "television" in by_id[i][1]["post"]["text"].lower()]
        check(sorted(eng_posts) == sorted(want_eng),
              "engagement holds exactly the engage-rule matches")
        for _, v in eng:
            check(v["schema"] == "hark.engagement/1", "engagement schema")
            check(v["route"]["queue"] == "care", "route queue")
            check(v["route"]["sla_due"], "sla_due")
            check(v["matches"][0]["rule"] == "e2e-television", "matches")
            sp = v["matches"][0]["spans"][0]
            text = v["post"]["text"].encode()
            check(text[sp["start"]:sp["end"]].decode().lower() == "television",
                  "span points at the matched bytes: %r" % sp)
            check(v["priority"]["level"] in ("p1", "p2", "p3", "p4"), "level")
            check(abs(sum(r["points"] for r in v["priority"]["reasons"]) -
                      v["priority"]["score"]) < 0.01 or
                  v["priority"]["clamped"], "reasons add up to the score")
        files = read_file_events(tmp, "posts")
        check(sorted(e["post"]["id"] for e in files) == sorted(newest),
              "the NDJSON file holds the same posts")
        s = stats_line(res.stderr)
        check(int(s["fetched"]) == int(s["emitted"]) + int(s["filtered"]) +
              int(s["dropped"]) + int(s["deduped"]) + int(s["dlq"]),
              "accounting adds up: %r" % s)
        check(int(s["emitted"]) == len(newest), "emitted count: %r" % s)


def test_restart_catches_up_without_loss_or_repeats():
    with H.ReplayServer(initial=20) as replay, H.KafkaMock() as kafka, \
            H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url, kafka.bootstrap)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60)
        check(res.returncode == 0, "first run", res)
        first = visible_public(replay)
        check(0 < len(first) <= 20, "first run saw the initial posts")
        replay.release(200)  # everything else appears, newer than before
        allv = visible_public(replay)
        check(len(allv) > len(first) + 40,
              "enough new posts to need several pages: %d" % len(allv))
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60)
        check(res.returncode == 0, "second run", res)
        got = H.kcat_consume(kafka.bootstrap, "hark.posts",
                             expect_at_least=len(allv), timeout_s=30)
        ids = [v["post"]["id"] for _, v in got]
        check(len(ids) == len(set(ids)), "no post was emitted twice: %d vs %d"
              % (len(ids), len(set(ids))))
        check(sorted(ids) == sorted(allv),
              "every visible post arrived: missing %r, extra %r" % (
                  sorted(set(allv) - set(ids))[:5],
                  sorted(set(ids) - set(allv))[:5]))
        mins = [r for r in replay.requests() if "min_id=" in r["query"]]
        check(len(mins) >= 2, "the catch-up walked forward with min_id "
              "over several pages: %r" % mins)
        # A third run with nothing new emits nothing.
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60)
        check(res.returncode == 0, "third run", res)
        s = stats_line(res.stderr)
        check(s["emitted"] == "0", "nothing new, nothing emitted: %r" % s)
        again = H.kcat_consume(kafka.bootstrap, "hark.posts", timeout_s=10)
        check(len(again) == len(got), "no repeats after the third run")


def test_sigterm_drains_and_commits():
    with H.ReplayServer(initial=30) as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url)
        hark = H.Hark(["run", "-c", cfg], cwd=tmp)
        H.wait_for(lambda: len(read_file_events(tmp, "posts")) > 0, 30,
                   "first events in the file sink")
        replay.release(20)
        H.wait_for(lambda: len(read_file_events(tmp, "posts")) >=
                   len(visible_public(replay)), 30, "the released posts")
        t0 = time.monotonic()
        res = hark.stop(timeout_s=H.scaled(30), sig=signal.SIGTERM)
        check(res.returncode == 0, "SIGTERM: exit 0", res)
        check(time.monotonic() - t0 < H.scaled(20), "stopped promptly")
        state = os.path.join(tmp, "state", "e2e-public.cursor.json")
        check(os.path.exists(state), "cursor committed to %s" % state)
        with open(state) as f:
            cur = json.load(f)["cursor"]
        check(cur == max(visible_public(replay), key=int),
              "the cursor is the newest delivered post: %r" % cur)
        n = len(read_file_events(tmp, "posts"))
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60, cwd=tmp)
        check(res.returncode == 0, "restart", res)
        check(len(read_file_events(tmp, "posts")) == n,
              "a clean restart repeats nothing")


def test_kill_9_loses_nothing():
    with H.ReplayServer(initial=10) as replay, H.KafkaMock() as kafka, \
            H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url, kafka.bootstrap)
        hark = H.Hark(["run", "-c", cfg], cwd=tmp)
        # A source that never committed starts again from the newest page
        # (DESIGN.md "First run"): crash after the first commit.
        state = os.path.join(tmp, "state", "e2e-public.cursor.json")
        H.wait_for(lambda: os.path.exists(state), 30, "the first commit")
        for _ in range(4):
            replay.release(15)
            time.sleep(0.3)
        hark.proc.kill()  # SIGKILL: no drain, no commit
        hark.proc.wait()
        replay.release(200)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60, cwd=tmp)
        check(res.returncode == 0, "restart after kill -9", res)
        allv = visible_public(replay)
        got = H.kcat_consume(kafka.bootstrap, "hark.posts",
                             expect_at_least=len(allv), timeout_s=30)
        ids = {v["post"]["id"] for _, v in got}
        check(ids >= set(allv), "nothing lost: missing %r" %
              sorted(set(allv) - ids)[:5])
        by_post = {}
        for _, v in got:
            by_post.setdefault(v["post"]["id"], set()).add(v["event_id"])
        check(all(len(e) == 1 for e in by_post.values()),
              "a repeated post carries the same event_id")


def test_bad_responses_go_to_dlq_and_the_source_recovers():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url)
        replay.fault("garbage", 1)
        replay.fault("html200", 1)
        replay.fault("429", 1)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90, cwd=tmp)
        check(res.returncode == 0, "the source recovered", res)
        dlq = read_file_events(tmp, "dlq")
        check(len(dlq) == 2, "two unparseable responses in the DLQ: %r" %
              [d.get("reason") for d in dlq])
        for d in dlq:
            check(d["schema"] == "hark.dlq/1" and d["source"] == "e2e-public"
                  and d["reason"] and "raw" in d, "DLQ record shape: %r" % d)
        check("status=429" in res.stderr, "the 429 was logged", res.stderr)
        posts = read_file_events(tmp, "posts")
        check(len(posts) == 40, "then the newest page arrived: %d" %
              len(posts))
        s = stats_line(res.stderr)
        check(s["bad_pages"] == "2", "bad pages counted: %r" % s)


def test_server_errors_truncation_and_slow_bodies_are_retried():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url)
        replay.fault("500", 1)
        replay.fault("truncated", 1)
        replay.fault("slow", 1)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90, cwd=tmp)
        check(res.returncode == 0, "the source recovered", res)
        check(len(read_file_events(tmp, "posts")) == 40,
              "the newest page arrived once")
        check(read_file_events(tmp, "dlq") == [],
              "a 500 or a cut connection is retried, not dead-lettered")
        s = stats_line(res.stderr)
        check(int(s["requests"]) >= 3, "retried: %r" % s)


def test_huge_and_deeply_nested_bodies_go_to_dlq():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url)
        replay.fault("huge", 1)
        replay.fault("deep", 1)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=120, cwd=tmp)
        check(res.returncode == 0, "the source recovered", res)
        reasons = [d["reason"] for d in read_file_events(tmp, "dlq")]
        check(len(reasons) == 2, "two DLQ records: %r" % reasons)
        check(any("larger than" in r for r in reasons),
              "the 60 MB body was refused at the limit: %r" % reasons)
        check(any("nested deeper" in r for r in reasons),
              "the 10,000-deep body was refused: %r" % reasons)
        for d in read_file_events(tmp, "dlq"):
            check(len(d["raw"]) <= 4096, "raw bytes are bounded")
        check(len(read_file_events(tmp, "posts")) == 40,
              "then the newest page arrived")


def test_sink_down_holds_the_cursor_and_shutdown_still_ends():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        # Kafka is unreachable: nothing can be acknowledged.
        cfg = setup(tmp, replay.url, "127.0.0.1:1")
        hark = H.Hark(["run", "-c", cfg], cwd=tmp)
        # The file sink takes the posts while Kafka cannot: once they are
        # there, they are in flight (a first request alone is not enough:
        # SIGTERM could come before its response).
        posts = os.path.join(tmp, "out", "hark.posts.ndjson")
        H.wait_for(lambda: os.path.exists(posts) and
                   os.path.getsize(posts) > 0, 30,
                   "the first page handed to the sinks")
        t0 = time.monotonic()
        res = hark.stop(timeout_s=H.scaled(90))
        took = time.monotonic() - t0
        check(res.returncode == 0, "SIGTERM with a sink down: exit 0", res)
        check(took < H.scaled(60), "gave up on the sink in time: %.0fs" % took)
        state = os.path.join(tmp, "state", "e2e-public.cursor.json")
        cur = None
        if os.path.exists(state):
            with open(state) as f:
                cur = json.load(f)["cursor"]
        check(cur is None, "the cursor did not pass unacknowledged posts: %r"
              % cur)
        check("will be fetched again" in res.stderr, "said so", res.stderr)
        # With Kafka back, a restart delivers them.
        with H.KafkaMock() as kafka:
            cfg = setup(tmp, replay.url, kafka.bootstrap)
            res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60, cwd=tmp)
            check(res.returncode == 0, "restart", res)
            got = H.kcat_consume(kafka.bootstrap, "hark.posts",
                                 expect_at_least=40, timeout_s=30)
            check(len({v["post"]["id"] for _, v in got}) == 40,
                  "the newest page arrived after all: %d" % len(got))


def test_check_reports_positions():
    with H.temp_dir() as tmp:
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{\n  "sources": [\n    {"name": "x", "type": "mastodon",,}\n  ]\n}\n')
        res = H.run_hark(["check", "-c", bad])
        check(res.returncode == 1, "syntax error: exit 1", res)
        check(res.stderr.startswith(bad + ":3:"), "file:line:column", res)
        rules = os.path.join(tmp, "r.json")
        with open(rules, "w") as f:
            f.write('{"rules": [\n {"id": "bad", "match": {"any": '
                    '[{"regex": "refund(s"}]}}\n]}\n')
        cfg = H.write_config(tmp, {"rules": ["r.json"]})
        res = H.run_hark(["check", "-c", cfg])
        check(res.returncode == 1, "bad regex: exit 1", res)
        check((rules + ":2:") in res.stderr and "rule 'bad'" in res.stderr,
              "bad regex located", res)


if __name__ == "__main__":
    if not os.environ.get("HARK_BIN"):
        H.skip("HARK_BIN is not set")
    H.main([
        test_once_delivers_newest_page_to_kafka_and_files,
        test_restart_catches_up_without_loss_or_repeats,
        test_sigterm_drains_and_commits,
        test_kill_9_loses_nothing,
        test_bad_responses_go_to_dlq_and_the_source_recovers,
        test_server_errors_truncation_and_slow_bodies_are_retried,
        test_huge_and_deeply_nested_bodies_go_to_dlq,
        test_sink_down_holds_the_cursor_and_shutdown_still_ends,
        test_check_reports_positions,
    ])
