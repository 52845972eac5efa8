"""A fake X API v2 recent search for the replay server, the real-world
input of hark's generic `json` adapter (tests/replay/README.md).

    GET /2/tweets/search/recent?query=..&max_results=10..100
        [&since_id=..][&pagination_token=..]

The corpus is every tweet recorded in tests/data/api/x/
search_recent_2022-10-07.json and home_timeline_reverse_chronological_
2022-10-07.json (found relative to this file), newest first by id, as
the API answers: {"data": [{id, text, edit_history_tweet_ids}],
"meta": {newest_id, oldest_id, result_count, next_token?}}, or only
{"meta": {"result_count": 0}} when nothing matches. `query` terms must
all occur in the text (case-insensitive; "-term" excludes). The
next_token is opaque and names the page's oldest id, so it stays right
while new tweets arrive. Bad parameters answer 400 with X's problem
shape; every answer carries x-rate-limit-limit/-remaining/-reset (epoch
seconds), 450 requests per 900 s.

Control (POST): /_control/json/visible?n=N shows only the N oldest
tweets, /_control/json/release?n=N shows N more,
/_control/json/require?header=NAME&value=V makes every request without
that exact header answer 401 (value "" turns it off), and
/_control/json/require?param=NAME&value=V the same for a query parameter
(an API key in the URL, as some APIs take it);
GET /_control/json/state. Standard library only.
"""

import json
import os
import threading
import time

import fake_common  # noqa: E402 (this folder; response plumbing)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(os.path.dirname(HERE), "data", "api", "x")
FILES = ("search_recent_2022-10-07.json",
         "home_timeline_reverse_chronological_2022-10-07.json")
PATH = "/2/tweets/search/recent"
TOKEN_PREFIX = "b26v89c19zqg"

RATE_LIMIT = 450
WINDOW_S = 900
JSON_TYPE = "application/json; charset=utf-8"


def to36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


class X:
    def __init__(self):
        self.lock = threading.Lock()
        by_id = {}
        for name in FILES:
            with open(os.path.join(DATA_DIR, name), encoding="utf-8") as f:
                for t in json.load(f)["data"]:
                    by_id.setdefault(t["id"], t)
        self.tweets = sorted(by_id.values(), key=lambda t: int(t["id"]))
        self.n_visible = len(self.tweets)
        self.window_end = 0.0
        self.n_used = 0
        self.required = None  # (header name, value)
        self.required_param = None  # (query parameter, value)

    def state_locked(self):
        return {"visible": self.n_visible, "total": len(self.tweets),
                "require": self.required[0] if self.required else None}

    def state(self):
        with self.lock:
            return self.state_locked()

    def set_visible(self, n):
        with self.lock:
            self.n_visible = max(0, min(n, len(self.tweets)))
            return self.state_locked()

    def release(self, n):
        with self.lock:
            self.n_visible = min(len(self.tweets), self.n_visible + n)
            return self.state_locked()

    def require(self, header, value, param=""):
        with self.lock:
            if param:
                self.required_param = (param, value) if value else None
            else:
                self.required = (header, value) if header and value else None
            return self.state_locked()

    def visible(self):
        """Newest first."""
        with self.lock:
            return list(reversed(self.tweets[:self.n_visible]))

    def charge(self):
        with self.lock:
            now = time.time()
            if now >= self.window_end:
                self.window_end = now - (now % WINDOW_S) + WINDOW_S
                self.n_used = 0
            self.n_used += 1
            return (self.n_used <= RATE_LIMIT,
                    max(0, RATE_LIMIT - self.n_used), int(self.window_end))


fake = fake_common.lazy(X)


class Invalid(Exception):
    def __init__(self, param, value, message):
        super().__init__(message)
        self.param = param
        self.value = value
        self.message = message


def problem(e):
    return {"errors": [{"parameters": {e.param: [e.value]},
                        "message": e.message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"}


def search(params):
    query = params.get("query")
    if not query or not query.strip():
        raise Invalid("query", query or "",
                      "The `query` query parameter can not be empty")
    terms = [t.lower() for t in query.split()]
    raw = params.get("max_results", "10")
    if not raw.isdigit() or not 10 <= int(raw) <= 100:
        raise Invalid("max_results", raw,
                      "The `max_results` query parameter value [%s] is not "
                      "between 10 and 100" % raw)
    limit = int(raw)
    since = params.get("since_id")
    if since is not None and not since.isdigit():
        raise Invalid("since_id", since,
                      "The `since_id` query parameter value [%s] is not "
                      "valid" % since)
    token = params.get("pagination_token")
    until = None
    if token is not None:
        if not token.startswith(TOKEN_PREFIX) or len(token) <= \
                len(TOKEN_PREFIX):
            raise Invalid("pagination_token", token,
                          "The `pagination_token` query parameter value "
                          "[%s] is not valid" % token)
        try:
            until = int(token[len(TOKEN_PREFIX):], 36)
        except ValueError:
            raise Invalid("pagination_token", token,
                          "The `pagination_token` query parameter value "
                          "[%s] is not valid" % token)

    def keep(t):
        text = t["text"].lower()
        for term in terms:
            if term.startswith("-") and len(term) > 1:
                if term[1:] in text:
                    return False
            elif term not in text:
                return False
        if since is not None and int(t["id"]) <= int(since):
            return False
        if until is not None and int(t["id"]) >= until:
            return False
        return True

    hits = [t for t in fake().visible() if keep(t)]
    page = hits[:limit]
    if not page:
        return {"meta": {"result_count": 0}}
    meta = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"],
            "result_count": len(page)}
    if len(hits) > limit:
        meta["next_token"] = TOKEN_PREFIX + to36(int(page[-1]["id"]))
    return {"data": page, "meta": meta}


def send_json(handler, code, doc, headers=()):
    fake_common.send(handler, code, doc, JSON_TYPE, headers)


def control(handler, method, path, params):
    if path == "/_control/json/state" and method == "GET":
        send_json(handler, 200, fake().state())
    elif path == "/_control/json/visible" and method == "POST":
        send_json(handler, 200, fake().set_visible(int(params.get("n", "0"))))
    elif path == "/_control/json/release" and method == "POST":
        send_json(handler, 200, fake().release(int(params.get("n", "1"))))
    elif path == "/_control/json/require" and method == "POST":
        send_json(handler, 200, fake().require(params.get("header", ""),
                                               params.get("value", ""),
                                               params.get("param", "")))
    else:
        send_json(handler, 404, {"error": "no such control endpoint"})


def route(handler, method, path, query, params, qlist):
    """Serves `path` if it is ours; returns whether it was."""
    if path.startswith("/_control/json/"):
        control(handler, method, path, params)
        return True
    if path != PATH:
        return False
    handler.server.instance.record(path, query)
    allowed, remaining, reset = fake().charge()
    headers = [("x-rate-limit-limit", str(RATE_LIMIT)),
               ("x-rate-limit-remaining", str(remaining)),
               ("x-rate-limit-reset", str(reset))]
    if not allowed:
        send_json(handler, 429, {"title": "Too Many Requests",
                                 "detail": "Too Many Requests",
                                 "type": "about:blank", "status": 429},
                  headers)
        return True
    need = fake().required
    need_param = fake().required_param
    if (need and handler.headers.get(need[0]) != need[1]) or (
            need_param and params.get(need_param[0]) != need_param[1]):
        send_json(handler, 401, {"title": "Unauthorized",
                                 "type": "about:blank", "status": 401,
                                 "detail": "Unauthorized"}, headers)
        return True
    if need_param:
        params = {k: v for k, v in params.items() if k != need_param[0]}
    if method != "GET":
        send_json(handler, 405, {"title": "Method Not Allowed",
                                 "status": 405}, headers)
        return True
    try:
        body = search(params)
    except Invalid as e:
        send_json(handler, 400, problem(e), headers)
        return True
    send_json(handler, 200, body, headers)
    return True
