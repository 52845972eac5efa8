#!/usr/bin/env python3
"""End to end: the replay server's Reddit and Algolia HN fakes (recorded
listings and hits) -> hark run --once -> the NDJSON file sink.

What users rely on: a first run reads the newest pages; after new items
appear, the next run walks back from the newest to the committed cursor
and delivers every new item exactly once, with its title, text, kind and
URL as the platform gave them; the committed cursor names the newest item;
a run with nothing new emits nothing; Reddit's depth limit is reported as
a gap; Algolia's 1000-hit window does not lose hits; an error body goes to
the DLQ and the source recovers. With Reddit client credentials hark
fetches its own token, refreshes it once after a 401 and goes on; wrong
credentials stop the source loudly (exit code 3) and no secret is
written anywhere.

Expected values are computed here from the fixture files in
tests/data/api/{reddit,hackernews}/, not from hark.
"""

import base64
import html
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check

REDDIT_DIR = H.data_path("api", "reddit")
HN_DIR = H.data_path("api", "hackernews")
REDDIT_SRC = "e2e-reddit"
HN_SRC = "e2e-hn"


# -- fixtures, read independently of hark -------------------------------------

def askreddit_posts():
    """r/AskReddit's recorded posts, oldest first."""
    with open(os.path.join(REDDIT_DIR, "subreddit_new.json"),
              encoding="utf-8") as f:
        doc = json.load(f)
    posts = [c["data"] for c in doc["data"]["children"]]
    return sorted(posts, key=lambda d: (int(d["created_utc"]),
                                        int(d["id"], 36)))


def hn_hits():
    """Every recorded hit, oldest first."""
    by_id = {}
    for name in ("search_by_date_stories.json",
                 "search_by_date_comments_query_apple.json"):
        with open(os.path.join(HN_DIR, name), encoding="utf-8") as f:
            for h in json.load(f)["hits"]:
                by_id[h["objectID"]] = h
    return sorted(by_id.values(), key=lambda h: (h["created_at_i"],
                                                 int(h["objectID"])))


def hn_text(value):
    """HN's HTML as plain text: <p> starts a paragraph, tags go, entities
    are decoded."""
    if not value:
        return ""
    paras = re.split(r"<p>", value)
    out = [html.unescape(re.sub(r"<[^>]*>", "", p)).strip() for p in paras]
    return "\n\n".join(p for p in out if p)


# -- helpers -----------------------------------------------------------------

def control(replay, path, **params):
    q = urllib.parse.urlencode(params)
    status, _, body = replay.request("POST", path + ("?" + q if q else ""))
    check(status == 200, "control %s: %s %r" % (path, status, body[:200]))
    return json.loads(body)


def setup(tmp, url, reddit=None, hn=None):
    sources = []
    if reddit is not None:
        src = {"name": REDDIT_SRC, "type": "reddit", "base_url": url,
               "subreddit": "AskReddit", "interval_s": 1}
        src.update(reddit)
        sources.append(src)
    if hn is not None:
        src = {"name": HN_SRC, "type": "hackernews", "base_url": url,
               "interval_s": 1}
        src.update(hn)
        sources.append(src)
    rules = os.path.join(tmp, "rules.json")
    with open(rules, "w") as f:
        json.dump({"rules": [{"id": "e2e-apple",
                              "match": {"any": [{"keywords": ["apple"]}]},
                              "tags": ["topic:apple"]}]}, f)
    return H.write_config(tmp, {
        "sources": sources,
        "rules": ["rules.json"],
        "sinks": {"file": {"dir": "out"}},
        "state_dir": "state",
        "keep_unmatched": True,
    })


def run_once(cfg, tmp, what):
    res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90, cwd=tmp)
    check(res.returncode == 0, "%s: hark run --once exits 0" % what, res)
    return res


def events(tmp, topic="posts"):
    path = os.path.join(tmp, "out", "hark.%s.ndjson" % topic)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def posts_of(tmp, source):
    return [e["post"] for e in events(tmp) if e["post"]["source"] == source]


def cursor_of(tmp, source):
    with open(os.path.join(tmp, "state", "%s.cursor.json" % source)) as f:
        return json.load(f)["cursor"]


def stats(stderr, source):
    lines = [l for l in stderr.splitlines()
             if "stats source=%s " % source in l]
    check(lines, "hark logged a stats line for %s" % source, stderr)
    return dict(kv.split("=", 1) for kv in lines[-1].split() if "=" in kv)


def check_once_each(posts, want_ids, what):
    ids = [p["id"] for p in posts]
    check(len(ids) == len(set(ids)), "%s: no item twice (%d events, %d ids)"
          % (what, len(ids), len(set(ids))))
    check(set(ids) == set(want_ids), "%s: missing %r, extra %r" % (
        what, sorted(set(want_ids) - set(ids))[:5],
        sorted(set(ids) - set(want_ids))[:5]))


def check_reddit_fields(posts, by_name):
    for p in posts:
        d = by_name[p["id"]]
        check(p["platform"] == "reddit" and p["kind"] == "post",
              "reddit kind: %r" % p)
        check(p["title"] == d["title"], "title of %s: %r != %r" % (
            p["id"], p["title"], d["title"]))
        check(p["text"] == d["selftext"], "text of %s: %r != %r" % (
            p["id"], p["text"], d["selftext"]))
        check(p["url"] == "https://www.reddit.com" + d["permalink"],
              "url of %s: %r" % (p["id"], p["url"]))
        check(p["author"]["handle"] == d["author"], "author of %s" % p["id"])
        check(p["metrics"]["likes"] == d["score"] and
              p["metrics"]["replies"] == d["num_comments"],
              "metrics of %s: %r" % (p["id"], p["metrics"]))


def check_hn_fields(posts, by_id):
    for p in posts:
        h = by_id[p["id"]]
        is_comment = "comment" in h["_tags"]
        check(p["platform"] == "hackernews", "platform: %r" % p)
        check(p["kind"] == ("comment" if is_comment else "post"),
              "kind of %s: %r" % (p["id"], p["kind"]))
        want_title = h["story_title"] if is_comment else h["title"]
        check(p["title"] == want_title, "title of %s: %r != %r" % (
            p["id"], p["title"], want_title))
        want_text = hn_text(h["comment_text"] if is_comment
                            else h["story_text"])
        check(p["text"] == want_text, "text of %s:\n%r\n!=\n%r" % (
            p["id"], p["text"], want_text))
        check(p["url"] == "https://news.ycombinator.com/item?id=" +
              h["objectID"], "url of %s: %r" % (p["id"], p["url"]))
        check(p["author"]["handle"] == h["author"], "author of %s" % p["id"])
        if is_comment:
            check(p["in_reply_to"] == str(h["parent_id"]) and
                  p["conversation_id"] == str(h["story_id"]),
                  "thread of %s: %r" % (p["id"], p))


def oauth_state(replay):
    status, _, body = replay.request("GET", "/_control/reddit/state")
    check(status == 200, "reddit state: %s" % status)
    return json.loads(body)["oauth"]


def files_under(tmp):
    for root, _, names in os.walk(tmp):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                yield path, f.read()


def check_no_secret(res, tmp, secrets, what):
    """None of `secrets` in hark's stdout, stderr or any file it wrote."""
    for sec in secrets:
        check(sec not in res.stderr and sec not in res.stdout,
              "%s: a secret (%d chars, starts %r) is in hark's output"
              % (what, len(sec), sec[:3]))
        for path, data in files_under(tmp):
            check(sec.encode() not in data,
                  "%s: a secret (starts %r) is in %s" % (what, sec[:3], path))


# -- tests --------------------------------------------------------------------

def test_first_run_then_catch_up_delivers_each_item_once():
    posts = askreddit_posts()
    by_name = {d["name"]: d for d in posts}
    hits = hn_hits()
    by_id = {h["objectID"]: h for h in hits}
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        control(replay, "/_control/reddit/visible", n=60,
                subreddit="AskReddit", kind="t3")
        control(replay, "/_control/hackernews/visible", n=12)
        cfg = setup(tmp, replay.url,
                    reddit={"page_limit": 20, "backfill_pages": 2},
                    hn={"page_limit": 5, "backfill_pages": 2})

        # First run: the newest backfill_pages pages of each.
        res = run_once(cfg, tmp, "first run")
        want_r1 = [d["name"] for d in posts[20:60]]
        want_h1 = [h["objectID"] for h in hits[2:12]]
        check_once_each(posts_of(tmp, REDDIT_SRC), want_r1, "reddit run 1")
        check_once_each(posts_of(tmp, HN_SRC), want_h1, "hn run 1")
        newest = posts[59]
        check(cursor_of(tmp, REDDIT_SRC) == "%s@%d" % (
            newest["name"], int(newest["created_utc"])),
            "reddit cursor names the newest post: %r" %
            cursor_of(tmp, REDDIT_SRC))
        check(cursor_of(tmp, HN_SRC) == "%d:%s" % (
            hits[11]["created_at_i"], hits[11]["objectID"]),
            "hn cursor: %r" % cursor_of(tmp, HN_SRC))
        s = stats(res.stderr, REDDIT_SRC)
        check(s["emitted"] == "40", "reddit emitted 40: %r" % s)

        # New items appear; the second run walks back to the cursors.
        control(replay, "/_control/reddit/release", n=35,
                subreddit="AskReddit", kind="t3")
        control(replay, "/_control/hackernews/release", n=20)
        replay.clear_requests()
        res = run_once(cfg, tmp, "second run")
        want_r = want_r1 + [d["name"] for d in posts[60:95]]
        want_h = want_h1 + [h["objectID"] for h in hits[12:32]]
        got_r = posts_of(tmp, REDDIT_SRC)
        got_h = posts_of(tmp, HN_SRC)
        check_once_each(got_r, want_r, "reddit after catch-up")
        check_once_each(got_h, want_h, "hn after catch-up")
        check_reddit_fields(got_r, by_name)
        check_hn_fields(got_h, by_id)
        newest = posts[94]
        check(cursor_of(tmp, REDDIT_SRC) == "%s@%d" % (
            newest["name"], int(newest["created_utc"])),
            "reddit cursor moved to the newest post: %r" %
            cursor_of(tmp, REDDIT_SRC))
        check(cursor_of(tmp, HN_SRC) == "%d:%s" % (
            hits[31]["created_at_i"], hits[31]["objectID"]),
            "hn cursor moved: %r" % cursor_of(tmp, HN_SRC))
        reqs = replay.requests("/r/")
        check(len(reqs) == 2 and "after=" not in reqs[0]["query"] and
              "after=" + posts[75]["name"] in reqs[1]["query"],
              "reddit walked back one page with after=: %r" % reqs)
        reqs = replay.requests("/api/v1/search_by_date")
        check(len(reqs) == 5 and all("numericFilters=" in r["query"]
                                     for r in reqs) and
              "page=4" in reqs[-1]["query"],
              "hn walked pages 0..4 above the cursor: %r" % reqs)
        check("gap" not in res.stderr, "no gap reported", res.stderr)

        # Nothing new: nothing emitted, cursors unchanged.
        before = (cursor_of(tmp, REDDIT_SRC), cursor_of(tmp, HN_SRC))
        res = run_once(cfg, tmp, "third run")
        check(stats(res.stderr, REDDIT_SRC)["emitted"] == "0" and
              stats(res.stderr, HN_SRC)["emitted"] == "0",
              "third run emits nothing", res.stderr)
        check((cursor_of(tmp, REDDIT_SRC), cursor_of(tmp, HN_SRC)) == before,
              "cursors unchanged")
        check(len(events(tmp)) == len(want_r) + len(want_h),
              "no repeats after the third run")


def test_reddit_depth_limit_is_reported_as_a_gap():
    posts = askreddit_posts()
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        control(replay, "/_control/reddit/visible", n=20,
                subreddit="AskReddit", kind="t3")
        control(replay, "/_control/reddit/config", depth=30)
        cfg = setup(tmp, replay.url, reddit={"page_limit": 10})
        run_once(cfg, tmp, "first run")
        control(replay, "/_control/reddit/release", n=60,
                subreddit="AskReddit", kind="t3")
        res = run_once(cfg, tmp, "second run")
        check("gap: the listing ended" in res.stderr,
              "the depth limit is logged as a gap", res.stderr)
        # What the listing could still show arrived; the cursor moved on.
        want = [d["name"] for d in posts[10:20]] + \
            [d["name"] for d in posts[50:80]]
        check_once_each(posts_of(tmp, REDDIT_SRC), want, "reddit with a gap")
        check(cursor_of(tmp, REDDIT_SRC).startswith(posts[79]["name"] + "@"),
              "cursor at the newest post")


def test_hn_walk_passes_algolia_hit_cap():
    hits = hn_hits()
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        control(replay, "/_control/hackernews/visible", n=5)
        control(replay, "/_control/hackernews/config", max_hits=10)
        cfg = setup(tmp, replay.url, hn={"page_limit": 5})
        run_once(cfg, tmp, "first run")
        control(replay, "/_control/hackernews/release", n=30)
        res = run_once(cfg, tmp, "second run")
        check("gap" not in res.stderr, "no gap: the window moved", res.stderr)
        check_once_each(posts_of(tmp, HN_SRC),
                        [h["objectID"] for h in hits[0:35]],
                        "hn past the hit cap")
        check(any("%3C%3D" in r["query"] or "<=" in
                  urllib.parse.unquote(r["query"])
                  for r in replay.requests("/api/v1/search_by_date")),
              "the walk restarted under an upper bound")


def test_error_body_goes_to_dlq_and_source_recovers():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        control(replay, "/_control/reddit/visible", n=30,
                subreddit="AskReddit", kind="t3")
        control(replay, "/_control/reddit/fault", kind="forbidden200")
        control(replay, "/_control/hackernews/fault", kind="html200")
        cfg = setup(tmp, replay.url, reddit={"page_limit": 100}, hn={})
        res = run_once(cfg, tmp, "run with faults")
        dlq = events(tmp, "dlq")
        reasons = sorted((d["source"], d["reason"]) for d in dlq)
        check(len(dlq) == 2 and reasons[0][0] == HN_SRC and
              "not JSON" in reasons[0][1] and reasons[1][0] == REDDIT_SRC and
              "reddit reported error 403 \"Forbidden\"" in reasons[1][1],
              "one DLQ record per bad body: %r" % reasons)
        check(len(posts_of(tmp, REDDIT_SRC)) == 30, "reddit recovered")
        check(len(posts_of(tmp, HN_SRC)) == 40, "hn recovered")


CLIENT_ID = "e2e-client-Id_42"
CLIENT_SECRET = "e2e-Secret-9f3Kq7zXw2"
ID_ENV = "HARK_E2E_REDDIT_CLIENT_ID"
SECRET_ENV = "HARK_E2E_REDDIT_CLIENT_SECRET"


def oauth_source(replay):
    return {"client_id_env": ID_ENV, "client_secret_env": SECRET_ENV,
            "token_url": replay.url + "/api/v1/access_token"}


def basic_of(client_id, secret):
    return base64.b64encode(("%s:%s" % (client_id, secret)).encode()) \
        .decode()


def test_reddit_client_credentials_refresh_after_401():
    posts = askreddit_posts()
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        control(replay, "/_control/reddit/visible", n=60,
                subreddit="AskReddit", kind="t3")
        # The first listing page is served; then the token is revoked, so
        # the second page gets a 401 in the middle of the walk.
        control(replay, "/_control/reddit/oauth", client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET, revoke_after=1)
        src = {"page_limit": 20, "backfill_pages": 3}
        src.update(oauth_source(replay))
        cfg = setup(tmp, replay.url, reddit=src)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90, cwd=tmp,
                         env={ID_ENV: CLIENT_ID, SECRET_ENV: CLIENT_SECRET})
        check(res.returncode == 0, "hark run --once exits 0", res)

        st = oauth_state(replay)
        check(st["token_requests"] == 2 and st["token_refused"] == 0,
              "one token, then one refresh after the 401: %r" % st)
        check(st["unauthorized"] == 1 and st["authorized"] == 3,
              "3 pages read with a token, one 401: %r" % st)
        reqs = replay.requests("/r/")
        check(len(reqs) == 4 and "after=" not in reqs[0]["query"] and
              reqs[1]["query"] == reqs[2]["query"] and
              "after=" + posts[40]["name"] in reqs[1]["query"] and
              "after=" + posts[20]["name"] in reqs[3]["query"],
              "the page refused with 401 was retried once: %r" % reqs)
        check("refreshing the token" in res.stderr and
              "STOPPED" not in res.stderr,
              "the 401 led to a refresh, not a stop", res.stderr)
        check_once_each(posts_of(tmp, REDDIT_SRC),
                        [d["name"] for d in posts[0:60]],
                        "reddit with a refreshed token")
        check_no_secret(res, tmp, [CLIENT_SECRET,
                                   basic_of(CLIENT_ID, CLIENT_SECRET)] +
                        st["issued"], "refresh run")


def test_reddit_wrong_credentials_stop_loudly():
    wrong = "e2e-Wrong-Secret-55tT"
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        control(replay, "/_control/reddit/visible", n=20,
                subreddit="AskReddit", kind="t3")
        control(replay, "/_control/reddit/oauth", client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET)
        cfg = setup(tmp, replay.url, reddit=oauth_source(replay))
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90, cwd=tmp,
                         env={ID_ENV: CLIENT_ID, SECRET_ENV: wrong})
        check(res.returncode == 3, "wrong credentials: exit code 3 (got %d)"
              % res.returncode, res)
        check(re.search(r"error ingest/%s STOPPED: .*client credentials "
                        r"status=401" % REDDIT_SRC, res.stderr),
              "the log says the source STOPPED", res.stderr)
        st = oauth_state(replay)
        check(st["token_requests"] == 1 and st["token_refused"] == 1 and
              not st["issued"], "one refused token request: %r" % st)
        check(replay.requests("/r/") == [], "no listing was requested")
        check(posts_of(tmp, REDDIT_SRC) == [], "nothing emitted")
        check_no_secret(res, tmp, [wrong, basic_of(CLIENT_ID, wrong)],
                        "wrong credentials")

        # A variable that is not set: the error names it, the source stops.
        env = {ID_ENV: CLIENT_ID}
        saved = os.environ.pop(SECRET_ENV, None)
        try:
            res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90,
                             cwd=tmp, env=env)
        finally:
            if saved is not None:
                os.environ[SECRET_ENV] = saved
        check(res.returncode == 3, "missing secret: exit code 3 (got %d)"
              % res.returncode, res)
        check("environment variable %s (client_secret_env) is not set"
              % SECRET_ENV in res.stderr and
              stats(res.stderr, REDDIT_SRC)["state"] == "stopped",
              "the missing variable is named, the source stopped",
              res.stderr)
        check(CLIENT_ID not in res.stderr, "the client id is not logged",
              res.stderr)


if __name__ == "__main__":
    if not os.environ.get("HARK_BIN"):
        H.skip("HARK_BIN is not set")
    H.main([
        test_first_run_then_catch_up_delivers_each_item_once,
        test_reddit_depth_limit_is_reported_as_a_gap,
        test_hn_walk_passes_algolia_hit_cap,
        test_error_body_goes_to_dlq_and_source_recovers,
        test_reddit_client_credentials_refresh_after_401,
        test_reddit_wrong_credentials_stop_loudly,
    ])
