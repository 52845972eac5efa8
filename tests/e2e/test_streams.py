#!/usr/bin/env python3
"""End to end: the streaming sources against the replay server's fake
streams (tests/replay/fake_streams.py) -> hark run -> the NDJSON file sink.

What users rely on: a Mastodon source with "stream": true delivers new
statuses live (edits and deletes too) instead of polling; when the stream
drops in the middle of a line, hark reconnects, catches up through REST and
every status arrives exactly once; the X filtered stream delivers the
tweets, and a disconnection, which X cannot replay, leaves a `gap` record
with the time range on the DLQ; SIGTERM while streaming exits 0 and
commits the cursor.
"""

import datetime
import json
import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check

# The fake instance shows the 86 oldest statuses at start: the recorded
# stream events (ids 117024236332527350, 117024236559579118) fall between
# index 84 and 86, so every status released later is newer than them.
INITIAL = 86
RECORDED_A = "117024236332527350"  # update, status.update, delete
RECORDED_B = "117024236559579118"  # update (a direct message)
X_TWEETS = ["1377650090978992134", "1377650093109743620",
            "1377650277642338305", "1377650387579248643",
            "1377650459033280516", "1377650500687044618",
            "1377650529766154240"]
X_ENV = {"HARK_TEST_X_BEARER": "test-bearer-token"}


def setup(tmp, source):
    rules = os.path.join(tmp, "rules.json")
    with open(rules, "w") as f:
        json.dump({"rules": [{"id": "e2e-dogs",
                              "match": {"any": [{"keywords": ["dog*"]}]},
                              "tags": ["topic:dogs"]}]}, f)
    cfg = {
        "sources": [source],
        "rules": ["rules.json"],
        "sinks": {"file": {"dir": "out"}},
        "state_dir": "state",
        "keep_unmatched": True,
    }
    return H.write_config(tmp, cfg)


def mastodon_source(url):
    return {"name": "m-stream", "type": "mastodon", "base_url": url,
            "timeline": "public", "stream": True, "interval_s": 1}


def x_source(url):
    return {"name": "x-stream", "type": "x_stream", "base_url": url,
            "token_env": "HARK_TEST_X_BEARER", "interval_s": 1}


def read_events(tmp, topic):
    path = os.path.join(tmp, "out", "hark.%s.ndjson" % topic)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    # The last line may be half written while hark runs.
    out = []
    for line in lines:
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def posts(tmp):
    return [e for e in read_events(tmp, "posts") if "post" in e]


def live_ids(tmp):
    """Ids of the posts that are neither edits nor tombstones."""
    return [e["post"]["id"] for e in posts(tmp)
            if not e.get("deleted") and not e["post"].get("edited_at")]


def stream_state(replay):
    return replay._control("GET", "/_control/stream/state")


def stream_fault(replay, kind, target, **opts):
    q = {"kind": kind, "target": target}
    q.update(opts)
    return replay._control("POST", "/_control/stream_fault?" +
                           urllib.parse.urlencode(q))


def x_posted(replay, n):
    return replay._control("POST", "/_control/stream/x_posted?n=%d" % n)


def x_release(replay, n):
    return replay._control("POST", "/_control/stream/x_release?n=%d" % n)


def public_ids(replay):
    """Ids of every visible status the public timeline shows (asked with
    "by=test", so hark_rest() can tell hark's requests apart)."""
    ids, max_id = [], None
    while True:
        path = "/api/v1/timelines/public?limit=40&by=test" + (
            "&max_id=%s" % max_id if max_id else "")
        status, _, body = replay.request("GET", path)
        check(status == 200, "replay public timeline: %s" % status)
        page = json.loads(body)
        if not page:
            return ids
        ids += [s["id"] for s in page]
        max_id = page[-1]["id"]


def hark_rest(replay):
    """The REST timeline requests hark made."""
    return [r for r in replay.requests("/api/v1/timelines/")
            if "by=test" not in r["query"]]


def released_public(replay, before):
    """Public ids visible now that were not in `before`, oldest first."""
    return sorted(set(public_ids(replay)) - set(before), key=int)


def wait(hark, pred, deadline_s, what):
    """H.wait_for(pred), failing at once with hark's log if hark exits."""
    def alive_pred():
        value = pred()
        if not value and not hark.is_running():
            raise H.TestFailure("hark exited (%s) while waiting for %s\n%s"
                                % (hark.proc.returncode, what,
                                   hark.stderr_text()[-4000:]))
        return value
    return H.wait_for(alive_pred, deadline_s, what)


def wait_open(hark, replay, target, connections, what):
    def is_open():
        st = stream_state(replay)[target]
        return st["open"] == 1 and st["connections"] == connections
    wait(hark, is_open, 30, what)


def exactly_once(tmp, ids):
    got = live_ids(tmp)
    return all(got.count(i) == 1 for i in ids)


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


# -- Mastodon ----------------------------------------------------------------

def test_mastodon_stream_delivers_live():
    with H.ReplayServer(initial=INITIAL) as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, mastodon_source(replay.url))
        before = public_ids(replay)
        with H.Hark(["run", "-c", cfg], cwd=tmp) as hark:
            wait_open(hark, replay, "mastodon", 1, "the stream connected")
            # The recorded events: update, status.update, delete of A, and
            # an update of B.
            wait(hark, lambda: any(e.get("deleted") for e in posts(tmp)), 30,
                       "the recorded events")
            # Workers finish out of order: sort A's events by revision
            # (the original, its edit, then the tombstone).
            a = sorted([e for e in posts(tmp) if e["post"]["id"] == RECORDED_A],
                       key=lambda e: (bool(e.get("deleted")),
                                      bool(e["post"].get("edited_at"))))
            check(len(a) == 3, "A: the status, its edit and its tombstone: "
                  "%r" % a)
            check(a[0]["post"]["text"] == "only real cars respond." and
                  not a[0]["post"].get("edited_at"), "A as posted: %r" % a[0])
            check(a[1]["post"]["text"] == "only real animals respond." and
                  a[1]["post"]["edited_at"] == "2026-08-02T05:22:24.192Z",
                  "A's edit is a new revision: %r" % a[1])
            check(a[2].get("deleted") is True, "A deleted: %r" % a[2])
            check(len(set(e["event_id"] for e in a)) == 3,
                  "three distinct events for A")
            check(live_ids(tmp).count(RECORDED_B) == 1, "B arrived once")
            n_rest = len(hark_rest(replay))

            replay.release(3)
            fresh = released_public(replay, before)
            check(len(fresh) == 3, "three new public statuses: %r" % fresh)
            wait(hark, lambda: exactly_once(tmp, fresh), 30,
                       "the released statuses, live")
            check(len(hark_rest(replay)) == n_rest,
                  "streaming, not polling: no REST request after the "
                  "stream opened")
            check(stream_state(replay)["mastodon"]["connections"] == 1,
                  "one connection all along")
            res = hark.stop()
        check(res.returncode == 0, "SIGTERM: exit 0", res)
        state = os.path.join(tmp, "state", "m-stream.cursor.json")
        with open(state) as f:
            cur = json.load(f)["cursor"]
        # Only REST walks move the cursor; the dedup window (persisted with
        # it) holds what the stream delivered since, so a restart repeats
        # nothing.
        check(cur is not None and int(cur) <= int(fresh[-1]),
              "a cursor no newer than what was delivered: %r" % cur)
        n = len(posts(tmp))
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60, cwd=tmp)
        check(res.returncode == 0, "restart --once", res)
        check(len(posts(tmp)) == n, "the restart repeated nothing")


def test_mastodon_drop_mid_line_catches_up_exactly_once():
    with H.ReplayServer(initial=INITIAL) as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, mastodon_source(replay.url))
        before = public_ids(replay)
        with H.Hark(["run", "-c", cfg], cwd=tmp) as hark:
            wait_open(hark, replay, "mastodon", 1, "the stream connected")
            replay.release(2)
            first = released_public(replay, before)
            wait(hark, lambda: exactly_once(tmp, first), 30,
                       "two statuses live")
            replay.clear_requests()

            # The next status is cut in the middle of its data line.
            stream_fault(replay, "drop", "mastodon")
            replay.release(3)
            dropped = released_public(replay, before + first)
            check(len(dropped) == 3, "three more released: %r" % dropped)
            wait_open(hark, replay, "mastodon", 2, "hark reconnected")
            check(stream_state(replay)["mastodon"]["drops"] == 1,
                  "the fake dropped once")
            wait(hark, lambda: exactly_once(tmp, first + dropped), 30,
                       "the statuses released around the drop")
            # Streamed posts do not move the cursor (only walks do), so the
            # catch-up starts at the last walk's cursor, at or before them.
            catch_up = [r for r in hark_rest(replay)
                        if "min_id=" in r["query"]]
            check(catch_up, "the catch-up walked REST forward with min_id: "
                  "%r" % replay.requests("/api/"))
            start = min(int(urllib.parse.parse_qs(r["query"])["min_id"][0])
                        for r in catch_up)
            check(start <= int(first[-1]), "from at or before the last "
                  "streamed status: %s > %s" % (start, first[-1]))

            # And the new connection streams again.
            replay.release(3)
            after = released_public(replay, before + first + dropped)
            wait(hark, lambda: exactly_once(tmp, after), 30,
                       "statuses after the reconnection")
            check(stream_state(replay)["mastodon"]["connections"] == 2,
                  "no extra reconnection")
            res = hark.stop()
        check(res.returncode == 0, "SIGTERM: exit 0", res)
        allv = first + dropped + after
        got = live_ids(tmp)
        check(all(got.count(i) == 1 for i in allv),
              "every released status exactly once: %r" %
              {i: got.count(i) for i in allv})
        check(len(got) == len(set(got)), "no status twice: %r" %
              [i for i in set(got) if got.count(i) > 1])


def test_sigterm_while_streaming_exits_and_commits():
    with H.ReplayServer(initial=INITIAL) as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, mastodon_source(replay.url))
        before = public_ids(replay)
        hark = H.Hark(["run", "-c", cfg], cwd=tmp)
        wait_open(hark, replay, "mastodon", 1, "the stream connected")
        replay.release(2)
        fresh = released_public(replay, before)
        wait(hark, lambda: exactly_once(tmp, fresh), 30, "two statuses")
        # A silent stream: no data, no heartbeats, the connection open.
        stream_fault(replay, "stall", "mastodon")
        wait(hark, lambda: stream_state(replay)["mastodon"]["stalls"] == 1,
                   30, "the stream stalled")
        t0 = time.monotonic()
        res = hark.stop(timeout_s=H.scaled(30), sig=signal.SIGTERM)
        check(res.returncode == 0, "SIGTERM: exit 0", res)
        check(time.monotonic() - t0 < H.scaled(15), "stopped promptly")
        state = os.path.join(tmp, "state", "m-stream.cursor.json")
        with open(state) as f:
            cur = json.load(f)["cursor"]
        check(cur is not None and int(cur) <= int(fresh[-1]),
              "committed a cursor no newer than what was delivered: %r" % cur)
        n = len(posts(tmp))
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=60, cwd=tmp)
        check(res.returncode == 0, "restart --once", res)
        check(len(posts(tmp)) == n, "a clean restart repeats nothing")


# -- X -----------------------------------------------------------------------

def gap_records(tmp):
    return [d for d in read_events(tmp, "dlq")
            if str(d.get("reason", "")).startswith("gap:")]


def gap_range(record):
    words = record["reason"].split()
    at = words.index("from")
    check(words[at + 2] == "to", "gap reason: %r" % record["reason"])
    return parse_time(words[at + 1]), parse_time(words[at + 3])


def test_x_stream_delivers_recorded_tweets():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, x_source(replay.url))
        with H.Hark(["run", "-c", cfg], cwd=tmp, env=X_ENV) as hark:
            wait(hark, lambda: exactly_once(tmp, X_TWEETS), 30,
                       "the recorded tweets")
            # The recorded operational disconnect: X closes the stream,
            # hark says so on the DLQ and reconnects.
            wait(hark, lambda: [d for d in read_events(tmp, "dlq")
                                if "operational-disconnect" in
                                str(d.get("reason"))], 30,
                       "the stream's error on the DLQ")
            wait(hark, lambda: gap_records(tmp), 30, "a gap record")
            res = hark.stop()
        check(res.returncode == 0, "SIGTERM: exit 0", res)
        got = live_ids(tmp)
        check(sorted(got) == sorted(X_TWEETS),
              "every recorded tweet once (the repeated line deduplicated): "
              "%r" % got)
        by_id = {e["post"]["id"]: e["post"] for e in posts(tmp)}
        p = by_id["1377650093109743620"]
        check(p["platform"] == "x" and p["source"] == "x-stream", "ids: %r"
              % p)
        check(p["author"]["handle"] == "sheelaghb18" and
              p["author"]["followers"] == 837, "author: %r" % p["author"])
        check(p["kind"] == "reply" and
              p["in_reply_to"] == "1377266697850257410", "a reply: %r" % p)
        check(p["url"] == "https://x.com/sheelaghb18/status/"
              "1377650093109743620", "url: %r" % p["url"])
        check(stream_state(replay)["x"]["refused"] == 0,
              "the bearer token from token_env was sent")


def test_x_stream_drop_leaves_a_gap_record():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        x_posted(replay, 4)
        cfg = setup(tmp, x_source(replay.url))
        with H.Hark(["run", "-c", cfg], cwd=tmp, env=X_ENV) as hark:
            wait(hark, lambda: exactly_once(tmp, X_TWEETS[:4]), 30,
                       "the first four tweets")
            check(not gap_records(tmp), "no gap before any disconnection")
            t_drop = datetime.datetime.now(datetime.timezone.utc)
            stream_fault(replay, "drop", "x")
            x_release(replay, 1)  # the next line is cut in the middle
            wait_open(hark, replay, "x", 2, "hark reconnected")
            x_release(replay, 4)
            wait(hark, lambda: exactly_once(tmp, X_TWEETS), 30,
                       "the tweets after the reconnection")
            gaps = wait(hark, lambda: gap_records(tmp), 30, "a gap record")
            t_end = datetime.datetime.now(datetime.timezone.utc)
            res = hark.stop()
        check(res.returncode == 0, "SIGTERM: exit 0", res)
        check(len(gaps) == 1, "one gap: %r" % gaps)
        start, end = gap_range(gaps[0])
        slack = datetime.timedelta(seconds=1)
        check(t_drop - slack <= start <= end <= t_end + slack,
              "the gap covers the disconnection: %s..%s within %s..%s" %
              (start, end, t_drop, t_end))
        check(gaps[0]["source"] == "x-stream", "gap source: %r" % gaps[0])
        got = live_ids(tmp)
        check(len(got) == len(set(got)), "no tweet twice: %r" % got)


if __name__ == "__main__":
    H.hark_bin()
    H.main([test_mastodon_stream_delivers_live,
            test_mastodon_drop_mid_line_catches_up_exactly_once,
            test_sigterm_while_streaming_exits_and_commits,
            test_x_stream_delivers_recorded_tweets,
            test_x_stream_drop_leaves_a_gap_record])
