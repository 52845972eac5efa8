#!/usr/bin/env python3
"""End to end: the replay server's Bluesky and X-style JSON fakes
(tests/replay/fake_bluesky.py, fake_json.py over the recorded responses)
-> hark run --once -> the NDJSON file sink.

What users rely on: every post the platform shows arrives exactly once
with its fields (facet mentions, links, reposts, replies); a second run
repeats nothing and asks the platform only for what is new; posts that
appear later are caught up by walking back to the committed mark; the
json adapter's headers_env sends a header from the environment and never
writes the secret anywhere.
"""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check

SEARCH = "/xrpc/app.bsky.feed.searchPosts"
FEED = "/xrpc/app.bsky.feed.getAuthorFeed"
X_SEARCH = "/2/tweets/search/recent"
ACTOR = "chriskenny.bsky.social"
KENNY = "at://did:plc:wpe35pganb6d4pg4ekmfy6u5/app.bsky.feed.post/"


def control(replay, path):
    status, _, body = replay.request("POST", path)
    check(status == 200, "control %s: %s %r" % (path, status, body[:200]))
    return json.loads(body)


def get_json(replay, path, params):
    status, _, body = replay.request("GET", path + "?" +
                                     urllib.parse.urlencode(params))
    check(status == 200, "GET %s: %s %r" % (path, status, body[:300]))
    return json.loads(body)


def all_search(replay, q):
    """Every post searchPosts shows now, walked with its cursor."""
    out, cursor = [], None
    while True:
        params = {"q": q, "limit": 100, "sort": "latest"}
        if cursor:
            params["cursor"] = cursor
        page = get_json(replay, SEARCH, params)
        out += page["posts"]
        cursor = page.get("cursor")
        if not cursor or not page["posts"]:
            return out


def all_feed(replay):
    out, cursor = [], None
    while True:
        params = {"actor": ACTOR, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = get_json(replay, FEED, params)
        out += page["feed"]
        cursor = page.get("cursor")
        if not cursor or not page["feed"]:
            return out


def feed_ids(items):
    ids = []
    for it in items:
        reason = it.get("reason") or {}
        if reason.get("$type") == "app.bsky.feed.defs#reasonRepost":
            ids.append("%s#repost/%s/%s" % (it["post"]["uri"],
                                            reason["by"]["did"],
                                            reason["indexedAt"]))
        else:
            ids.append(it["post"]["uri"])
    return ids


def all_tweets(replay, query):
    out, token = [], None
    while True:
        params = {"query": query, "max_results": 100}
        if token:
            params["pagination_token"] = token
        page = get_json(replay, X_SEARCH, params)
        out += page.get("data", [])
        token = page["meta"].get("next_token")
        if not token:
            return out


def setup(tmp, url, x_extra=None):
    cfg = {
        "sources": [
            {"name": "bsky-search", "type": "bluesky", "base_url": url,
             "query": "redistricting", "page_limit": 10,
             "backfill_pages": 5, "interval_s": 1},
            {"name": "bsky-feed", "type": "bluesky", "base_url": url,
             "actor": ACTOR, "page_limit": 20, "backfill_pages": 5,
             "interval_s": 1},
            {"name": "x-search", "type": "json",
             "url": url + X_SEARCH + "?query=the", "items": "/data",
             "fields": {"id": "/id", "text": "/text"},
             "cursor": {"param": "pagination_token",
                        "from": "/meta/next_token",
                        "since_param": "since_id"},
             "limit_param": "max_results", "page_limit": 10,
             "backfill_pages": 10, "platform": "x", "interval_s": 1},
        ],
        "rules": ["rules.json"],
        "sinks": {"file": {"dir": "out"}},
        "state_dir": "state",
        "keep_unmatched": True,
    }
    if x_extra:
        cfg["sources"][2].update(x_extra)
    with open(os.path.join(tmp, "rules.json"), "w") as f:
        json.dump({"rules": [{"id": "e2e-redistricting",
                              "match": {"any": [{"keywords":
                                                 ["redistricting"]}]},
                              "tags": ["topic:maps"]}]}, f)
    return H.write_config(tmp, cfg)


def read_posts(tmp):
    path = os.path.join(tmp, "out", "hark.posts.ndjson")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def by_source(events, source):
    return [e["post"] for e in events if e["post"]["source"] == source]


def requests_of(replay, prefix):
    return [r for r in replay.state()["requests"]
            if r["path"].startswith(prefix)]


def check_once(ids, want, what):
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    check(not dupes, "%s: no post twice: %r" % (what, dupes[:5]))
    check(sorted(ids) == sorted(want),
          "%s: every post arrived: missing %r, extra %r" % (
              what, sorted(set(want) - set(ids))[:5],
              sorted(set(ids) - set(want))[:5]))


def test_once_delivers_every_post_then_nothing_again():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url)
        want_search = [p["uri"] for p in all_search(replay, "redistricting")]
        want_feed = feed_ids(all_feed(replay))
        want_x = [t["id"] for t in all_tweets(replay, "the")]
        check(len(want_search) == 25 and len(want_feed) == 50 and
              len(want_x) > 30, "the fakes serve the recordings: %d %d %d"
              % (len(want_search), len(want_feed), len(want_x)))
        replay.clear_requests()

        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90)
        check(res.returncode == 0, "hark run --once exits 0", res)
        events = read_posts(tmp)
        search = by_source(events, "bsky-search")
        feed = by_source(events, "bsky-feed")
        xs = by_source(events, "x-search")
        check_once([p["id"] for p in search], want_search, "bsky-search")
        check_once([p["id"] for p in feed], want_feed, "bsky-feed")
        check_once([p["id"] for p in xs], want_x, "x-search")

        # The walks went back page by page with the response cursors.
        q = [urllib.parse.parse_qs(r["query"])
             for r in requests_of(replay, SEARCH)]
        check([x.get("cursor", [None])[0] for x in q] == [None, "10", "20"],
              "searchPosts walked with offsets: %r" % q)
        check(all(x["limit"] == ["10"] and x["sort"] == ["latest"]
                  for x in q), "limit and sort sent: %r" % q)
        xq = [urllib.parse.parse_qs(r["query"])
              for r in requests_of(replay, X_SEARCH)]
        check(len(xq) >= 4 and "pagination_token" in xq[1],
              "the json source followed meta.next_token: %r" % xq)

        # Fields as the recordings have them.
        post = {p["id"]: p for p in feed}
        p = post[KENNY + "3lo7irc7njk2p"]
        check(p["platform"] == "bluesky", "platform: %r" % p["platform"])
        check(p["mentions"] == ["typst.app", "quarto.org"],
              "facet mentions sliced by bytes: %r" % p["mentions"])
        check(p["links"] == ["https://github.com/christopherkenny/"
                             "harvard-diss"], "links: %r" % p["links"])
        check(p["url"] == "https://bsky.app/profile/chriskenny.bsky.social/"
              "post/3lo7irc7njk2p", "url: %r" % p["url"])
        check(p["author"]["handle"] == ACTOR and
              p["author"]["id"] == "did:plc:wpe35pganb6d4pg4ekmfy6u5",
              "author: %r" % p["author"])
        reposts = [p for p in feed if p["is_repost"]]
        check(len(reposts) == 7, "7 reposts: %d" % len(reposts))
        r = [p for p in reposts if p["repost_of"].endswith("3lnneysi3ps2c")]
        check(r and r[0]["kind"] == "repost" and
              r[0]["reposted_by"] == ACTOR and
              r[0]["author"]["handle"] == "mickael.canouil.fr" and
              r[0]["created_at"] == "2025-04-25T18:43:12.048Z",
              "the repost keeps the original's author: %r" % r)
        s = {p["id"]: p for p in search}
        reply = s["at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/"
                  "3lpjzka2pzc2l"]
        check(reply["kind"] == "reply" and reply["in_reply_to"].endswith(
            "3lpjzgltpa22l") and reply["conversation_id"].endswith(
            "3lpjy3eabqs2l"), "reply thread: %r" % reply)
        x = {p["id"]: p for p in xs}
        some = next(iter(x.values()))
        check(some["platform"] == "x" and some["text"], "x post: %r" % some)

        # A second run: nothing new, one request per source.
        replay.clear_requests()
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90)
        check(res.returncode == 0, "second run exits 0", res)
        check(len(read_posts(tmp)) == len(events),
              "the second run repeated nothing: %d events after %d" % (
                  len(read_posts(tmp)), len(events)))
        check(len(requests_of(replay, SEARCH)) == 1 and
              len(requests_of(replay, FEED)) == 1,
              "the walks stopped at the mark on the first page: %r" %
              replay.state()["requests"])
        xq = [urllib.parse.parse_qs(r["query"])
              for r in requests_of(replay, X_SEARCH)]
        check(len(xq) == 1 and xq[0]["since_id"] == [max(want_x, key=int)],
              "the json source asked for newer ids only: %r" % xq)


def test_new_posts_are_caught_up_by_walking_back():
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        control(replay, "/_control/bluesky/visible?n=5")
        control(replay, "/_control/json/visible?n=20")
        cfg = setup(tmp, replay.url)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90)
        check(res.returncode == 0, "first run", res)
        first = read_posts(tmp)
        check(len(by_source(first, "bsky-search")) == 5,
              "the first run saw the 5 visible posts")

        control(replay, "/_control/bluesky/release?n=100")
        control(replay, "/_control/json/release?n=200")
        want_search = [p["uri"] for p in all_search(replay, "redistricting")]
        want_feed = feed_ids(all_feed(replay))
        want_x = [t["id"] for t in all_tweets(replay, "the")]
        replay.clear_requests()
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90)
        check(res.returncode == 0, "second run", res)
        events = read_posts(tmp)
        check_once([p["id"] for p in by_source(events, "bsky-search")],
                   want_search, "bsky-search after the release")
        check_once([p["id"] for p in by_source(events, "bsky-feed")],
                   want_feed, "bsky-feed after the release")
        check_once([p["id"] for p in by_source(events, "x-search")],
                   want_x, "x-search after the release")
        # 20 new search posts at 10 a page: pages 0 and 1 are all new, the
        # third holds the mark.
        q = [urllib.parse.parse_qs(r["query"]).get("cursor", [None])[0]
             for r in requests_of(replay, SEARCH)]
        check(q == [None, "10", "20"], "walked back to the mark: %r" % q)


def everything_written(tmp, res):
    """stdout, stderr and every file hark wrote under tmp."""
    parts = [res.stdout, res.stderr]
    for root, _, files in os.walk(tmp):
        for name in files:
            with open(os.path.join(root, name), encoding="utf-8",
                      errors="replace") as f:
                parts.append(f.read())
    return "\n".join(parts)


def test_json_headers_env_sends_the_secret_and_never_writes_it():
    secret = "s3cr3t-e2e-9f4c"
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url,
                    {"headers_env": {"X-Api-Key": "HARK_E2E_X_KEY"}})
        want_x = [t["id"] for t in all_tweets(replay, "the")]
        control(replay, "/_control/json/require?header=X-Api-Key&value=" +
                secret)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90,
                         env={"HARK_E2E_X_KEY": secret,
                              "HARK_LOG_LEVEL": "debug"})
        check(res.returncode == 0, "hark run with the header", res)
        check_once([p["id"] for p in by_source(read_posts(tmp), "x-search")],
                   want_x, "x-search behind the API key")
        check(secret not in everything_written(tmp, res),
              "the secret appears in no log line, event or state file")

    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        control(replay, "/_control/json/require?header=X-Api-Key&value=" +
                secret)
        cfg = setup(tmp, replay.url,
                    {"headers_env": {"X-Api-Key": "HARK_E2E_X_KEY"}})
        check("HARK_E2E_X_KEY" not in os.environ, "the variable is unset")
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=120)
        check(res.returncode != 0, "a source that cannot send its header "
              "fails the --once run", res)
        check("HARK_E2E_X_KEY" in res.stderr and "not set" in res.stderr,
              "the log names the missing variable", res)
        check(not requests_of(replay, X_SEARCH),
              "no request went out without the header: %r" %
              requests_of(replay, X_SEARCH))
        check(len(by_source(read_posts(tmp), "bsky-search")) == 25,
              "the other sources were not held up")


def test_json_params_env_puts_the_key_in_the_query_and_never_writes_it():
    secret = "qk-e2e-77d1"
    with H.ReplayServer() as replay, H.temp_dir() as tmp:
        cfg = setup(tmp, replay.url,
                    {"params_env": {"api_key": "HARK_E2E_Q_KEY"}})
        want_x = [t["id"] for t in all_tweets(replay, "the")]
        control(replay, "/_control/json/require?param=api_key&value=" +
                secret)
        res = H.run_hark(["run", "-c", cfg, "--once"], timeout=90,
                         env={"HARK_E2E_Q_KEY": secret,
                              "HARK_LOG_LEVEL": "debug"})
        check(res.returncode == 0, "hark run with the key in the query", res)
        check_once([p["id"] for p in by_source(read_posts(tmp), "x-search")],
                   want_x, "x-search behind the query key")
        check(any("api_key=" in str(r.get("query")) for r in
                  requests_of(replay, X_SEARCH)),
              "the key went out in the query")
        gets = [l for l in res.stderr.splitlines()
                if " GET " in l and X_SEARCH in l]
        check(gets and not any("api_key" in l for l in gets),
              "debug logs show each request without its secret parameter",
              res)
        check(secret not in everything_written(tmp, res),
              "the key appears in no log line, event or state file")


if __name__ == "__main__":
    H.main([
        test_once_delivers_every_post_then_nothing_again,
        test_new_posts_are_caught_up_by_walking_back,
        test_json_headers_env_sends_the_secret_and_never_writes_it,
        test_json_params_env_puts_the_key_in_the_query_and_never_writes_it,
    ])
