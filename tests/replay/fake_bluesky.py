"""A fake Bluesky AppView for the replay server (tests/replay/README.md).

Serves the recorded PostViews of tests/data/api/bluesky/ (found relative
to this file) through the two XRPC queries hark's bluesky adapter uses:

    GET /xrpc/app.bsky.feed.searchPosts?q=..&limit=..&cursor=..&sort=..
        [&lang=..&author=..&mentions=..&domain=..&tag=..]
    GET /xrpc/app.bsky.feed.getAuthorFeed?actor=..&limit=..&cursor=..
        [&filter=..]

As the AppView does: results newest first by sortAt (min(indexedAt,
createdAt); a repost sorts at its reason.indexedAt); searchPosts' cursor
is an offset ("25"), getAuthorFeed's the sortAt of the page's last item;
`q` terms must all occur in the post text (case-insensitive; "-term"
excludes); limit 1..100 (default 25 for search, 50 for feeds); invalid
parameters answer 400 {"error": "InvalidRequest", "message": ...}; every
answer carries RateLimit-Limit/-Remaining/-Reset (epoch seconds) and
RateLimit-Policy, counted over a 300 s window of 3000 requests.

Control (POST): /_control/bluesky/visible?n=N shows only the N oldest
posts of each corpus, /_control/bluesky/release?n=N shows N more;
GET /_control/bluesky/state. Standard library only.
"""

import datetime
import json
import os
import threading
import time

import fake_common  # noqa: E402 (this folder; response plumbing)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(os.path.dirname(HERE), "data", "api", "bluesky")
SEARCH_FILE = "search_posts_redistricting_2025-05-19.json"
FEED_FILE = "author_feed.json"

RATE_LIMIT = 3000
WINDOW_S = 300
JSON_TYPE = "application/json; charset=utf-8"
REPOST = "app.bsky.feed.defs#reasonRepost"


def parse_time(s):
    s = s.replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(s)


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def post_sort_at(pv):
    indexed = parse_time(pv["indexedAt"])
    created = parse_time(pv["record"].get("createdAt", pv["indexedAt"]))
    return min(indexed, created)


def item_sort_at(item):
    reason = item.get("reason")
    if reason and reason.get("$type") == REPOST:
        return parse_time(reason["indexedAt"])
    return post_sort_at(item["post"])


class Bluesky:
    """The corpora (oldest first) and what is visible; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        with open(os.path.join(DATA_DIR, SEARCH_FILE), encoding="utf-8") as f:
            posts = json.load(f)["posts"]
        with open(os.path.join(DATA_DIR, FEED_FILE), encoding="utf-8") as f:
            feed = json.load(f)["feed"]
        self.posts = sorted(posts, key=post_sort_at)
        self.feed = sorted(feed, key=item_sort_at)
        self.n_posts = len(self.posts)
        self.n_feed = len(self.feed)
        self.window_end = 0.0
        self.n_used = 0

    def set_visible(self, n):
        with self.lock:
            self.n_posts = max(0, min(n, len(self.posts)))
            self.n_feed = max(0, min(n, len(self.feed)))
            return self.state_locked()

    def release(self, n):
        with self.lock:
            self.n_posts = min(len(self.posts), self.n_posts + n)
            self.n_feed = min(len(self.feed), self.n_feed + n)
            return self.state_locked()

    def state_locked(self):
        return {"posts_visible": self.n_posts, "posts_total": len(self.posts),
                "feed_visible": self.n_feed, "feed_total": len(self.feed)}

    def state(self):
        with self.lock:
            return self.state_locked()

    def visible_posts(self):
        """Newest first."""
        with self.lock:
            return list(reversed(self.posts[:self.n_posts]))

    def visible_feed(self):
        with self.lock:
            return list(reversed(self.feed[:self.n_feed]))

    def charge(self):
        with self.lock:
            now = time.time()
            if now >= self.window_end:
                self.window_end = now - (now % WINDOW_S) + WINDOW_S
                self.n_used = 0
            self.n_used += 1
            return (self.n_used <= RATE_LIMIT,
                    max(0, RATE_LIMIT - self.n_used), int(self.window_end))


fake = fake_common.lazy(Bluesky)


class BadRequest(Exception):
    pass


def int_param(params, name, default, lo, hi):
    v = params.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise BadRequest("%s must be an integer" % name)
    if n < lo:
        raise BadRequest("%s can not be less than %d" % (name, lo))
    if n > hi:
        raise BadRequest("%s can not be greater than %d" % (name, hi))
    return n


def facet_values(record, kind):
    out = []
    for facet in record.get("facets") or []:
        for feat in facet.get("features") or []:
            if feat.get("$type") == "app.bsky.richtext.facet#" + kind:
                out.append(feat)
    return out


def matches_query(pv, terms):
    text = (pv["record"].get("text") or "").lower()
    for t in terms:
        if t.startswith("-") and len(t) > 1:
            if t[1:] in text:
                return False
        elif t not in text:
            return False
    return True


def search_filter(params, qlist):
    q = params.get("q")
    if q is None or not q.strip():
        raise BadRequest('Error: Params must have the property "q"')
    terms = [t.lower() for t in q.split()]
    lang = params.get("lang")
    author = params.get("author")
    mentions = params.get("mentions")
    domain = params.get("domain")
    tags = [t.lower() for t in qlist.get("tag", [])]

    def keep(pv):
        rec = pv["record"]
        if not matches_query(pv, terms):
            return False
        if lang and lang not in (rec.get("langs") or []):
            return False
        if author and author not in (pv["author"]["did"],
                                     pv["author"]["handle"]):
            return False
        if mentions and mentions not in [f.get("did") for f in
                                         facet_values(rec, "mention")]:
            return False
        if domain:
            hosts = [f.get("uri", "").split("/")[2]
                     for f in facet_values(rec, "link")
                     if f.get("uri", "").count("/") >= 2]
            if domain.lower() not in [h.lower() for h in hosts]:
                return False
        post_tags = [f.get("tag", "").lower()
                     for f in facet_values(rec, "tag")]
        return all(t in post_tags for t in tags)
    return keep


def search_posts(params, qlist):
    keep = search_filter(params, qlist)
    limit = int_param(params, "limit", 25, 1, 100)
    cursor = params.get("cursor")
    offset = 0
    if cursor:
        if not cursor.isdigit():
            raise BadRequest("invalid cursor")
        offset = int(cursor)
    sort = params.get("sort", "latest")
    if sort not in ("latest", "top"):
        raise BadRequest("sort must be one of latest, top")
    hits = [p for p in fake().visible_posts() if keep(p)]
    page = hits[offset:offset + limit]
    body = {"posts": page}
    if offset + limit < len(hits):
        body["cursor"] = str(offset + limit)
    body["hitsTotal"] = len(hits)
    return body


def feed_filter(name):
    def has_media(pv):
        t = (pv.get("embed") or {}).get("$type", "")
        return t.startswith("app.bsky.embed.images") or \
            t.startswith("app.bsky.embed.video") or \
            t.startswith("app.bsky.embed.recordWithMedia")
    if name in (None, "", "posts_with_replies", "posts_and_author_threads"):
        return lambda item: True
    if name == "posts_no_replies":
        return lambda item: "reply" not in item["post"]["record"] or \
            item.get("reason") is not None
    if name == "posts_with_media":
        return lambda item: has_media(item["post"]) and not item.get("reason")
    if name == "posts_with_video":
        return lambda item: (item["post"].get("embed") or {}).get(
            "$type", "").startswith("app.bsky.embed.video")
    raise BadRequest("filter must be one of posts_with_replies, "
                     "posts_no_replies, posts_with_media, "
                     "posts_and_author_threads, posts_with_video")


def author_feed(params):
    actor = params.get("actor")
    if not actor:
        raise BadRequest('Error: Params must have the property "actor"')
    limit = int_param(params, "limit", 50, 1, 100)
    keep = feed_filter(params.get("filter"))
    items = fake().visible_feed()
    owners = set()
    for it in fake().feed:
        if not it.get("reason"):
            owners.add(it["post"]["author"]["did"])
            owners.add(it["post"]["author"]["handle"])
    if actor not in owners:
        raise BadRequest("Profile not found")
    cursor = params.get("cursor")
    if cursor:
        try:
            before = parse_time(cursor)
        except ValueError:
            raise BadRequest("Malformed cursor")
        items = [it for it in items if item_sort_at(it) < before]
    page = [it for it in items if keep(it)][:limit]
    body = {"feed": page}
    if page:
        body["cursor"] = iso(item_sort_at(page[-1]))
    return body


def send_json(handler, code, doc, headers=()):
    fake_common.send(handler, code, doc, JSON_TYPE, headers)


def control(handler, method, path, params):
    if path == "/_control/bluesky/state" and method == "GET":
        send_json(handler, 200, fake().state())
    elif path == "/_control/bluesky/visible" and method == "POST":
        send_json(handler, 200, fake().set_visible(int(params.get("n", "0"))))
    elif path == "/_control/bluesky/release" and method == "POST":
        send_json(handler, 200, fake().release(int(params.get("n", "1"))))
    else:
        send_json(handler, 404, {"error": "no such control endpoint"})


def route(handler, method, path, query, params, qlist):
    """Serves `path` if it is ours; returns whether it was."""
    if path.startswith("/_control/bluesky/"):
        control(handler, method, path, params)
        return True
    if path not in ("/xrpc/app.bsky.feed.searchPosts",
                    "/xrpc/app.bsky.feed.getAuthorFeed"):
        return False
    handler.server.instance.record(path, query)
    allowed, remaining, reset = fake().charge()
    headers = [("RateLimit-Limit", str(RATE_LIMIT)),
               ("RateLimit-Remaining", str(remaining)),
               ("RateLimit-Reset", str(reset)),
               ("RateLimit-Policy", "%d;w=%d" % (RATE_LIMIT, WINDOW_S))]
    if not allowed:
        send_json(handler, 429, {"error": "RateLimitExceeded",
                                 "message": "Rate Limit Exceeded"}, headers)
        return True
    if method != "GET":
        send_json(handler, 405, {"error": "InvalidRequest",
                                 "message": "Method Not Allowed"}, headers)
        return True
    try:
        if path.endswith("searchPosts"):
            body = search_posts(params, qlist)
        else:
            body = author_feed(params)
    except BadRequest as e:
        send_json(handler, 400, {"error": "InvalidRequest",
                                 "message": str(e)}, headers)
        return True
    send_json(handler, 200, body, headers)
    return True
