"""A fake Algolia HN Search API for the replay server
(tests/replay/replay_server.py).

Serves the hits recorded in tests/data/api/hackernews/ (found relative to
this file; 20 stories and 20 comments of 2014-06-05) through

    GET /api/v1/search_by_date?query=..&tags=..&numericFilters=..
        &hitsPerPage=..&page=..

with Algolia's semantics as far as hark relies on them:

  - Hits newest first by created_at_i (then objectID, as a number).
  - `tags`: comma-separated filters that must all hold (AND); a group in
    parentheses holds when one of its tags does (OR): "(story,comment)".
    A hit's tags are its `_tags` ("story", "comment", "author_pg",
    "story_123").
  - `numericFilters`: comma-separated conditions that must all hold, each
    `attr op value` with op one of < <= = != >= > on created_at_i, points,
    num_comments, story_id, parent_id (a hit without the attribute fails);
    a malformed one answers 400 {"message": ..., "status": 400}.
  - `query`: every word must match a word of title, url, author,
    story_text, comment_text, story_title or story_url (HTML stripped,
    case-insensitive); the last word may match as a prefix; typos are
    tolerated as Algolia does by default (1 for words of 4+ letters, 2 for
    8+, transpositions count as one). The recorded "apple" comments match
    this way ("wouldn't appeal" is within one typo of a prefix).
  - `hitsPerPage` 20 by default (1..1000), `page` from 0; nbHits counts
    every match, nbPages = ceil(nbHits / hitsPerPage) capped by Algolia's
    paginationLimitedTo (1000 hits; configurable), so no query reaches
    past its 1000th hit; a page past the end has no hits.
  - No rate-limit headers (none recorded); past 10,000 requests an hour a
    429 {"message": ..., "status": 429}.

The hits are served as recorded (with their _highlightResult). Nothing is
synthetic.

Control (POST unless noted), for tests:
    /_control/hackernews/visible?n=N[&tags=story|comment]
        of the matching hits, only the N oldest are visible
    /_control/hackernews/release?n=N[&tags=story|comment]
        the N oldest hidden matching hits become visible
    /_control/hackernews/config?max_hits=N&rate_limit=N&window_s=S
    /_control/hackernews/fault?kind=K&count=N  (K: 429, 500, html200,
        truncated, none)
    GET /_control/hackernews/state
Standard library only.
"""

import html
import json
import math
import os
import re
import threading
import time
import urllib.parse

import fake_common  # noqa: E402 (this folder; response plumbing)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(os.path.dirname(HERE), "data", "api", "hackernews")
FILES = ("search_by_date_stories.json",
         "search_by_date_comments_query_apple.json")
PATH = "/api/v1/search_by_date"

JSON_TYPE = "application/json; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"
DEFAULT_HITS_PER_PAGE = 20
MAX_HITS_PER_PAGE = 1000
PAGINATION_LIMIT = 1000
RATE_LIMIT = 10000
WINDOW_S = 3600.0
SEARCHABLE = ("title", "url", "author", "story_text", "comment_text",
              "story_title", "story_url")
NUMERIC = ("created_at_i", "points", "num_comments", "story_id", "parent_id")
FAULT_KINDS = ("429", "500", "html200", "truncated")
HTML_PAGE = ("<html><head><title>502 Bad Gateway</title></head><body>"
             "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx"
             "</center></body></html>")
NUMERIC_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|!=|<|>|=)"
                        r"\s*(-?\d+(?:\.\d+)?)\s*$")


def sort_key(hit):
    return (int(hit["created_at_i"]), int(hit["objectID"]))


def load_hits(data_dir=DATA_DIR):
    by_id = {}
    for name in FILES:
        with open(os.path.join(data_dir, name), encoding="utf-8") as f:
            doc = json.load(f)
        for hit in doc["hits"]:
            by_id.setdefault(hit["objectID"], hit)
    return sorted(by_id.values(), key=sort_key)


class BadRequest(Exception):
    pass


# -- query matching ------------------------------------------------------

def words(text):
    text = html.unescape(re.sub(r"<[^>]*>", " ", text or ""))
    return re.findall(r"[0-9a-z]+", text.lower())


def distance(a, b):
    """Damerau-Levenshtein (optimal string alignment) distance."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and \
                    a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def typos_allowed(word):
    return 0 if len(word) < 4 else (1 if len(word) < 8 else 2)


def word_matches(q, w, is_prefix):
    k = typos_allowed(q)
    if not is_prefix:
        return distance(q, w) <= k
    lo = max(1, len(q) - k)
    hi = min(len(w), len(q) + k)
    return any(distance(q, w[:n]) <= k for n in range(lo, hi + 1))


def query_matcher(query):
    terms = words(query)
    if not terms:
        return lambda hit: True

    def keep(hit):
        have = [w for f in SEARCHABLE for w in words(hit.get(f))]
        return all(any(word_matches(t, w, i == len(terms) - 1) for w in have)
                   for i, t in enumerate(terms))
    return keep


# -- filters --------------------------------------------------------------

def split_top(text):
    """Splits at commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest("unbalanced parentheses")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise BadRequest("unbalanced parentheses")
    parts.append(cur)
    return [p.strip() for p in parts]


def or_group(term):
    term = term.strip()
    if term.startswith("(") and term.endswith(")"):
        return [t.strip() for t in term[1:-1].split(",")]
    return [term]


def tags_matcher(tags):
    if not tags:
        return lambda hit: True
    try:
        groups = [or_group(t) for t in split_top(tags)]
    except BadRequest as e:
        raise BadRequest("invalid tags %r: %s" % (tags, e))
    for g in groups:
        if not all(g):
            raise BadRequest("invalid tags %r: empty tag" % tags)

    def keep(hit):
        have = set(hit.get("_tags") or [])
        return all(any(t in have for t in g) for g in groups)
    return keep


def numeric_matcher(filters):
    if not filters:
        return lambda hit: True
    conds = []
    for group in split_top(filters):
        alts = []
        for cond in or_group(group):
            m = NUMERIC_RE.match(cond)
            if not m or m.group(1) not in NUMERIC:
                raise BadRequest("invalid numericFilters %r" % filters)
            alts.append((m.group(1), m.group(2), float(m.group(3))))
        conds.append(alts)
    ops = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
           "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
           ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}

    def holds(hit, attr, op, value):
        v = hit.get(attr)
        return isinstance(v, (int, float)) and ops[op](v, value)

    def keep(hit):
        return all(any(holds(hit, *alt) for alt in alts) for alts in conds)
    return keep


def int_param(params, name, default):
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest("%s must be an integer, got %r" % (name, value))


# -- state ----------------------------------------------------------------

class HackerNews:
    """The shared state; every method takes the lock."""

    def __init__(self, hits):
        self.lock = threading.Lock()
        self.hits = hits
        self.visible = {h["objectID"] for h in hits}
        self.max_hits = PAGINATION_LIMIT
        self.rate_limit = RATE_LIMIT
        self.window_s = WINDOW_S
        self.window_end = 0.0
        self.used = 0
        self.faults = []

    def charge(self):
        with self.lock:
            now = time.time()
            if now >= self.window_end:
                self.window_end = now - (now % self.window_s) + self.window_s
                self.used = 0
            if self.used >= self.rate_limit:
                return False
            self.used += 1
            return True

    def take_fault(self):
        with self.lock:
            if not self.faults:
                return None
            head = self.faults[0]
            head[1] -= 1
            if head[1] <= 0:
                self.faults.pop(0)
            return head[0]

    def arm_fault(self, kind, count):
        with self.lock:
            if kind == "none":
                self.faults = []
            else:
                self.faults.append([kind, count])
            return [list(f) for f in self.faults]

    def set_visible(self, n, keep):
        with self.lock:
            chosen = [h for h in self.hits if keep(h)]
            for i, h in enumerate(chosen):
                if i < n:
                    self.visible.add(h["objectID"])
                else:
                    self.visible.discard(h["objectID"])
            return self._counts()

    def release(self, n, keep):
        with self.lock:
            for h in self.hits:
                if n <= 0:
                    break
                if keep(h) and h["objectID"] not in self.visible:
                    self.visible.add(h["objectID"])
                    n -= 1
            return self._counts()

    def configure(self, params):
        with self.lock:
            if "max_hits" in params:
                self.max_hits = max(1, int(params["max_hits"]))
            if "rate_limit" in params:
                self.rate_limit = max(0, int(params["rate_limit"]))
            if "window_s" in params:
                self.window_s = max(0.1, float(params["window_s"]))
                self.window_end = 0.0
            return self._counts()

    def _counts(self):
        shown = [h for h in self.hits if h["objectID"] in self.visible]
        return {"visible": len(shown), "total": len(self.hits),
                "visible_newest": (shown[-1]["objectID"] if shown else None),
                "max_hits": self.max_hits, "used": self.used,
                "faults_pending": [list(f) for f in self.faults]}

    def state(self):
        with self.lock:
            return self._counts()

    def search(self, keep):
        with self.lock:
            rows = [h for h in self.hits
                    if h["objectID"] in self.visible and keep(h)]
            cap = self.max_hits
        rows.reverse()
        return rows, cap


fake = fake_common.lazy(lambda: HackerNews(load_hits()))


def search_by_date(params, query_string):
    hpp = int_param(params, "hitsPerPage", DEFAULT_HITS_PER_PAGE)
    if hpp < 1 or hpp > MAX_HITS_PER_PAGE:
        raise BadRequest("hitsPerPage must be between 1 and %d" %
                         MAX_HITS_PER_PAGE)
    page = int_param(params, "page", 0)
    if page < 0:
        raise BadRequest("page must be positive")
    keep_q = query_matcher(params.get("query", ""))
    keep_t = tags_matcher(params.get("tags", ""))
    keep_n = numeric_matcher(params.get("numericFilters", ""))
    rows, cap = fake().search(lambda h: keep_t(h) and keep_n(h) and
                              keep_q(h))
    reachable = rows[:cap]
    n_pages = min(math.ceil(len(rows) / hpp), math.ceil(cap / hpp))
    hits = reachable[page * hpp:(page + 1) * hpp] if page < n_pages else []
    return {"hits": hits, "nbHits": len(rows), "page": page,
            "nbPages": n_pages, "hitsPerPage": hpp,
            "exhaustiveNbHits": True, "query": params.get("query", ""),
            "params": query_string, "processingTimeMS": 1}


# -- HTTP -----------------------------------------------------------------

def send(handler, code, body, content_type=JSON_TYPE):
    fake_common.send(handler, code, body, content_type,
                     [("Access-Control-Allow-Origin", "*")])


def control(handler, method, path, params):
    hn = fake()
    what = path[len("/_control/hackernews/"):]
    try:
        keep = tags_matcher(params.get("tags", ""))
        if what == "state" and method == "GET":
            send(handler, 200, hn.state())
        elif what == "visible" and method == "POST":
            send(handler, 200, hn.set_visible(int_param(params, "n", 0),
                                              keep))
        elif what == "release" and method == "POST":
            send(handler, 200, hn.release(int_param(params, "n", 1), keep))
        elif what == "config" and method == "POST":
            send(handler, 200, hn.configure(params))
        elif what == "fault" and method == "POST":
            kind = fake_common.fault_kind(params, FAULT_KINDS)
            count = max(1, int_param(params, "count", 1))
            send(handler, 200, {"faults_pending": hn.arm_fault(kind, count)})
        else:
            send(handler, 404, {"error": "no such control endpoint"})
    except (BadRequest, ValueError) as e:
        send(handler, 400, {"error": str(e)})


def route(handler, method, path, query, params, qlist):
    """Serves `path` if it is ours; returns whether it was."""
    if path.startswith("/_control/hackernews/"):
        control(handler, method, path, params)
        return True
    if path != PATH:
        return False
    handler.server.instance.record(path, query)
    hn = fake()
    if not hn.charge():
        send(handler, 429, {"message": "You have exceeded your hourly "
                            "request limit", "status": 429})
        return True
    if method != "GET":
        send(handler, 404, {"message": "Not Found", "status": 404})
        return True
    fault = hn.take_fault()
    if fault == "429":
        send(handler, 429, {"message": "Too many requests", "status": 429})
        return True
    if fault == "500":
        send(handler, 500, HTML_PAGE, HTML_TYPE)
        return True
    if fault == "html200":
        send(handler, 200, HTML_PAGE, HTML_TYPE)
        return True
    try:
        body = search_by_date(params, urllib.parse.unquote(query))
    except BadRequest as e:
        send(handler, 400, {"message": str(e), "status": 400})
        return True
    if fault == "truncated":
        fake_common.send_truncated(handler, fake_common.compact(body),
                                   JSON_TYPE)
        return True
    send(handler, 200, body)
    return True
