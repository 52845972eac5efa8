"""A fake Reddit for the replay server (tests/replay/replay_server.py).

Serves the t3 posts and t1 comments recorded in tests/data/api/reddit/
(found relative to this file) as one site's listings, with Reddit's own
semantics as far as hark relies on them:

    GET /r/SUB/new[.json]            posts of SUB, newest first
    GET /r/SUB/comments[.json]       comments of SUB, newest first
    GET /r/SUB/search[.json]?q=..&sort=new[&restrict_sr=1]
    GET /search[.json]?q=..&sort=new

  - SUB is a name ("AskReddit", any case), several joined with '+', or
    "all". The `.json` suffix is optional (oauth.reddit.com serves both);
    a trailing '/' is allowed.
  - `limit`: 25 by default, at most 100. `after=<fullname>`: the items
    older than that one; `before=<fullname>`: the `limit` items just newer
    than it (then `after` is null, as recorded in
    subreddit_all_new_before_page.json). An anchor that is not in the
    listing gives an empty listing. `count` is accepted and ignored.
  - The Listing: {"kind": "Listing", "data": {"after", "before", "dist",
    "modhash", "children": [{"kind": "t3", "data": {...}}]}}; `after` is
    the last child's fullname when older items exist, else null.
  - Depth: a listing holds only its newest 1000 items (configurable), so a
    walk back with `after` ends with after = null there, as on Reddit.
  - `raw_json=1` sends text as is; without it, '&', '<' and '>' in title,
    selftext, body and link_title are HTML-escaped, as Reddit does.
  - search matches every query word (case-insensitive) in title or
    selftext; results are posts (t3), newest first whatever `sort` says.
  - Rate limit: 1000 requests per 600 s window aligned to the clock;
    every answer carries x-ratelimit-used, x-ratelimit-remaining (a float,
    "996.0") and x-ratelimit-reset (seconds to the window's end); past the
    budget: 429 {"message": "Too Many Requests", "error": 429}.

OAuth (application-only, "client credentials"), off until configured:

    POST /api/v1/access_token    Authorization: Basic base64(id:secret),
        body grant_type=client_credentials
        -> {"access_token", "token_type": "bearer", "expires_in", "scope"}
        Wrong or missing credentials: 401 {"message": "Unauthorized",
        "error": 401}, as Reddit answers. The replay server drains request
        bodies before the fakes see them, so the body is checked by its
        Content-Type and Content-Length (a wrong one: 200 {"error":
        "unsupported_grant_type"}, as Reddit answers).
  - Once configured, the listing endpoints answer 401 {"message":
    "Unauthorized", "error": 401} (with WWW-Authenticate) unless the
    request carries "Authorization: Bearer <a live token>".

Items are ordered by (created_utc, id as a base-36 number). Nothing here
is synthetic: every item is a recorded one, served unchanged.

Control (POST unless noted), for tests:
    /_control/reddit/visible?n=N[&subreddit=S][&kind=t3|t1]
        of the matching items, only the N oldest are visible
    /_control/reddit/release?n=N[&subreddit=S][&kind=t3|t1]
        the N oldest hidden matching items become visible ("new posts")
    /_control/reddit/config?depth=N&rate_limit=N&window_s=S
    /_control/reddit/fault?kind=K&count=N   (K: 429, 500, 403, html200,
        truncated, forbidden200 = status 200 with {"message": "Forbidden",
        "error": 403}, none)
    /_control/reddit/oauth?client_id=ID&client_secret=S[&expires_in=N]
        [&lifetime_s=S][&revoke_after=N]
        turns OAuth on with the expected credentials. expires_in is what
        the token response says (default 86400); lifetime_s, how long a
        token really lives (default: expires_in). revoke_after=N: after N
        more listing requests served with a token, every token issued so
        far is revoked (the next request gets a 401).
    /_control/reddit/oauth?revoke=1     revoke every token now
    /_control/reddit/oauth?off=1        OAuth off again
    GET /_control/reddit/state          includes "oauth": counters and the
        tokens issued (so tests can check they were never logged)
Standard library only.
"""

import base64
import binascii
import json
import os
import re
import secrets
import threading
import time

import fake_common  # noqa: E402 (this folder; response plumbing)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(os.path.dirname(HERE), "data", "api", "reddit")
FILES = ("subreddit_new.json", "subreddit_all_new_before_page.json",
         "subreddit_comments.json", "info_deleted_comment.json",
         "comment_context_deleted.json")

JSON_TYPE = "application/json; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
DEFAULT_DEPTH = 1000
RATE_LIMIT = 1000
WINDOW_S = 600.0
ESCAPED_FIELDS = ("title", "selftext", "body", "link_title")
FAULT_KINDS = ("429", "500", "403", "html200", "truncated", "forbidden200")
HTML_PAGE = ("<!doctype html><html><head><title>reddit.com: over "
             "capacity</title></head><body><h1>all of our servers are busy "
             "right now</h1></body></html>")

TOKEN_PATH = "/api/v1/access_token"
TOKEN_BODY = b"grant_type=client_credentials"
DEFAULT_EXPIRES_IN = 86400
UNAUTHORIZED = {"message": "Unauthorized", "error": 401}

ROUTE = re.compile(r"^(?:/r/(?P<sub>[A-Za-z0-9_+]+))?/"
                   r"(?P<what>new|comments|search)(?:\.json)?/?$")


def things(doc):
    """Every {kind, data} child of a Listing, or of a list of them."""
    docs = doc if isinstance(doc, list) else [doc]
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "Listing":
            for child in d["data"].get("children") or []:
                if child.get("kind") in ("t1", "t3"):
                    yield child


def sort_key(child):
    d = child["data"]
    return (int(d["created_utc"]), int(d["id"], 36))


def load_items(data_dir=DATA_DIR):
    by_name = {}
    for name in FILES:
        with open(os.path.join(data_dir, name), encoding="utf-8") as f:
            doc = json.load(f)
        for child in things(doc):
            by_name.setdefault(child["data"]["name"], child)
    return sorted(by_name.values(), key=sort_key)


def words(text):
    return re.findall(r"[0-9a-z]+", (text or "").lower())


def escaped(child):
    """The child as Reddit sends it without raw_json=1."""
    data = dict(child["data"])
    for k in ESCAPED_FIELDS:
        if isinstance(data.get(k), str):
            data[k] = (data[k].replace("&", "&amp;").replace("<", "&lt;")
                       .replace(">", "&gt;"))
    return {"kind": child["kind"], "data": data}


def matches(child, subs, kind):
    if kind and child["kind"] != kind:
        return False
    if subs is None:
        return True
    return str(child["data"].get("subreddit", "")).lower() in subs


def subs_of(name):
    """None for every subreddit ("all"), else a set of lowercased names."""
    if not name or name.lower() == "all":
        return None
    return {s.lower() for s in name.split("+") if s}


class Reddit:
    """The shared state; every method takes the lock."""

    def __init__(self, items):
        self.lock = threading.Lock()
        self.items = items
        self.visible = {c["data"]["name"] for c in items}
        self.depth = DEFAULT_DEPTH
        self.rate_limit = RATE_LIMIT
        self.window_s = WINDOW_S
        self.window_end = 0.0
        self.used = 0
        self.faults = []
        self.oauth = None  # None: off; else the expected credentials etc.
        self.tokens = {}   # live access token -> expiry (time.time())
        self.issued = []   # every token handed out, in order
        self.n_token_requests = 0
        self.n_token_refused = 0
        self.n_unauthorized = 0  # listing requests answered 401
        self.n_authorized = 0    # listing requests with a live token
        self.revoke_after = None

    # -- OAuth --------------------------------------------------------

    def configure_oauth(self, params):
        with self.lock:
            if params.get("off"):
                self.oauth = None
                self.tokens = {}
            elif params.get("revoke"):
                self.tokens = {}
            else:
                if "client_id" not in params or \
                        "client_secret" not in params:
                    raise BadRequest("client_id and client_secret are "
                                     "required")
                expires_in = int(params.get("expires_in",
                                            DEFAULT_EXPIRES_IN))
                self.oauth = {
                    "client_id": params["client_id"],
                    "client_secret": params["client_secret"],
                    "expires_in": expires_in,
                    "lifetime_s": float(params.get("lifetime_s",
                                                   expires_in)),
                }
            if "revoke_after" in params:
                self.revoke_after = max(1, int(params["revoke_after"]))
            return self._oauth_state()

    def _oauth_state(self):
        return {"on": self.oauth is not None,
                "token_requests": self.n_token_requests,
                "token_refused": self.n_token_refused,
                "issued": list(self.issued),
                "live": len(self.tokens),
                "unauthorized": self.n_unauthorized,
                "authorized": self.n_authorized,
                "revoke_after": self.revoke_after}

    def grant(self, authorization):
        """A new token for a Basic `authorization` header value, or None
        when the credentials are wrong. Raises LookupError when OAuth is
        off."""
        with self.lock:
            if self.oauth is None:
                raise LookupError("oauth is off")
            self.n_token_requests += 1
            want = (self.oauth["client_id"], self.oauth["client_secret"])
            if basic_credentials(authorization) != want:
                self.n_token_refused += 1
                return None
            token = "fake-%s" % secrets.token_urlsafe(24)
            self.tokens[token] = time.time() + self.oauth["lifetime_s"]
            self.issued.append(token)
            return {"access_token": token, "token_type": "bearer",
                    "expires_in": self.oauth["expires_in"], "scope": "*"}

    def authorize(self, authorization):
        """Whether a listing request may be served (always, with OAuth
        off). Counts and applies revoke_after."""
        with self.lock:
            if self.oauth is None:
                return True
            token = None
            if authorization and authorization.startswith("Bearer "):
                token = authorization[len("Bearer "):].strip()
            expiry = self.tokens.get(token)
            if expiry is None or expiry <= time.time():
                self.tokens.pop(token, None)
                self.n_unauthorized += 1
                return False
            self.n_authorized += 1
            if self.revoke_after is not None:
                self.revoke_after -= 1
                if self.revoke_after <= 0:
                    self.revoke_after = None
                    self.tokens = {}  # this request is still served
            return True

    def charge(self):
        """(allowed, used, remaining, reset_s) for one more request."""
        with self.lock:
            now = time.time()
            if now >= self.window_end:
                self.window_end = now - (now % self.window_s) + self.window_s
                self.used = 0
            reset_s = max(0, int(self.window_end - now))
            if self.used >= self.rate_limit:
                return False, self.used, 0, reset_s
            self.used += 1
            return (True, self.used, self.rate_limit - self.used, reset_s)

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

    def set_visible(self, n, subs, kind):
        with self.lock:
            chosen = [c for c in self.items if matches(c, subs, kind)]
            for i, c in enumerate(chosen):
                if i < n:
                    self.visible.add(c["data"]["name"])
                else:
                    self.visible.discard(c["data"]["name"])
            return self._counts()

    def release(self, n, subs, kind):
        with self.lock:
            for c in self.items:
                if n <= 0:
                    break
                name = c["data"]["name"]
                if matches(c, subs, kind) and name not in self.visible:
                    self.visible.add(name)
                    n -= 1
            return self._counts()

    def configure(self, params):
        with self.lock:
            if "depth" in params:
                self.depth = max(1, int(params["depth"]))
            if "rate_limit" in params:
                self.rate_limit = max(0, int(params["rate_limit"]))
            if "window_s" in params:
                self.window_s = max(0.1, float(params["window_s"]))
                self.window_end = 0.0
            return self._counts()

    def _counts(self):
        shown = [c for c in self.items if c["data"]["name"] in self.visible]
        return {"visible": len(shown), "total": len(self.items),
                "visible_newest": (shown[-1]["data"]["name"] if shown
                                   else None),
                "depth": self.depth, "rate_limit": self.rate_limit,
                "used": self.used,
                "faults_pending": [list(f) for f in self.faults],
                "oauth": self._oauth_state()}

    def state(self):
        with self.lock:
            return self._counts()

    def listing(self, keep):
        """The visible items `keep` accepts, newest first, cut at depth."""
        with self.lock:
            rows = [c for c in self.items
                    if c["data"]["name"] in self.visible and keep(c)]
            depth = self.depth
        rows.reverse()
        return rows[:depth]


fake = fake_common.lazy(lambda: Reddit(load_items()))


class BadRequest(Exception):
    pass


def basic_credentials(authorization):
    """(id, secret) from "Basic base64(id:secret)", or None."""
    if not authorization or not authorization.startswith("Basic "):
        return None
    try:
        raw = base64.b64decode(authorization[len("Basic "):].strip(),
                               validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if ":" not in raw:
        return None
    client_id, secret = raw.split(":", 1)
    return client_id, secret


def token_endpoint(handler, method):
    handler.server.instance.record(TOKEN_PATH, "")
    if method != "POST":
        send(handler, 405, {"message": "Method Not Allowed", "error": 405})
        return
    ctype = (handler.headers.get("Content-Type") or "").split(";")[0]
    length = handler.headers.get("Content-Length") or ""
    try:
        grant = fake().grant(handler.headers.get("Authorization"))
    except LookupError:
        send(handler, 404, {"message": "Not Found", "error": 404})
        return
    if grant is None:
        send(handler, 401, UNAUTHORIZED)
        return
    if ctype.strip().lower() != "application/x-www-form-urlencoded" or \
            length != str(len(TOKEN_BODY)):
        send(handler, 200, {"error": "unsupported_grant_type"})
        return
    send(handler, 200, grant)


def int_param(params, name, default):
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest("%s must be a number" % name)


def page_of(rows, params):
    """Reddit's listing paging: (children, after, before)."""
    limit = int_param(params, "limit", DEFAULT_LIMIT)
    limit = max(1, min(MAX_LIMIT, limit))
    after = params.get("after") or None
    before = params.get("before") or None
    names = [c["data"]["name"] for c in rows]
    if before:
        if before not in names:
            return [], None, None
        i = names.index(before)
        start = max(0, i - limit)
        page = rows[start:i]
        return page, None, (page[0]["data"]["name"]
                            if page and start > 0 else None)
    start = 0
    if after:
        if after not in names:
            return [], None, None
        start = names.index(after) + 1
    page = rows[start:start + limit]
    more = start + limit < len(rows)
    return page, (page[-1]["data"]["name"] if page and more else None), None


def search_keep(query, subs, restrict):
    terms = words(query)

    def keep(c):
        if c["kind"] != "t3":
            return False
        if restrict and not matches(c, subs, None):
            return False
        have = set(words(c["data"].get("title")) +
                   words(c["data"].get("selftext")))
        return all(t in have for t in terms)
    return keep


def send(handler, code, body, headers=(), content_type=JSON_TYPE):
    fake_common.send(handler, code, body, content_type, headers)


def control(handler, method, path, params):
    r = fake()
    what = path[len("/_control/reddit/"):]
    subs = subs_of(params.get("subreddit"))
    kind = params.get("kind") or None
    try:
        if what == "state" and method == "GET":
            send(handler, 200, r.state())
        elif what == "visible" and method == "POST":
            send(handler, 200, r.set_visible(int_param(params, "n", 0), subs,
                                             kind))
        elif what == "release" and method == "POST":
            send(handler, 200, r.release(int_param(params, "n", 1), subs,
                                         kind))
        elif what == "config" and method == "POST":
            send(handler, 200, r.configure(params))
        elif what == "oauth" and method == "POST":
            send(handler, 200, r.configure_oauth(params))
        elif what == "fault" and method == "POST":
            fk = fake_common.fault_kind(params, FAULT_KINDS)
            count = max(1, int_param(params, "count", 1))
            send(handler, 200, {"faults_pending": r.arm_fault(fk, count)})
        else:
            send(handler, 404, {"error": "no such control endpoint"})
    except (BadRequest, ValueError) as e:
        send(handler, 400, {"error": str(e)})


def route(handler, method, path, query, params, qlist):
    """Serves `path` if it is ours; returns whether it was."""
    if path.startswith("/_control/reddit/"):
        control(handler, method, path, params)
        return True
    if path == TOKEN_PATH:
        token_endpoint(handler, method)
        return True
    m = ROUTE.match(path)
    if not m or (m.group("what") != "search" and not m.group("sub")):
        return False
    handler.server.instance.record(path, query)
    r = fake()
    if not r.authorize(handler.headers.get("Authorization")):
        send(handler, 401, UNAUTHORIZED,
             [("WWW-Authenticate",
               'Bearer realm="reddit", error="invalid_token"')])
        return True
    allowed, used, remaining, reset_s = r.charge()
    headers = [("x-ratelimit-used", str(used)),
               ("x-ratelimit-remaining", "%.1f" % remaining),
               ("x-ratelimit-reset", str(reset_s)),
               ("cache-control",
                "private, s-maxage=0, max-age=0, must-revalidate, no-store")]
    if not allowed:
        send(handler, 429, {"message": "Too Many Requests", "error": 429},
             headers)
        return True
    if method != "GET":
        send(handler, 405, {"message": "Method Not Allowed", "error": 405},
             headers)
        return True
    fault = r.take_fault()
    if fault == "429":
        send(handler, 429, {"message": "Too Many Requests", "error": 429},
             headers + [("Retry-After", "1")])
        return True
    if fault == "500":
        send(handler, 500, HTML_PAGE, headers, HTML_TYPE)
        return True
    if fault == "403":
        send(handler, 403, {"message": "Forbidden", "error": 403}, headers)
        return True
    if fault == "html200":
        send(handler, 200, HTML_PAGE, headers, HTML_TYPE)
        return True
    if fault == "forbidden200":
        send(handler, 200, {"message": "Forbidden", "error": 403}, headers)
        return True

    sub, what = m.group("sub"), m.group("what")
    subs = subs_of(sub)
    if what == "new":
        keep = lambda c: c["kind"] == "t3" and matches(c, subs, None)  # noqa
    elif what == "comments":
        keep = lambda c: c["kind"] == "t1" and matches(c, subs, None)  # noqa
    else:
        restrict = sub is not None and params.get("restrict_sr", "") in (
            "1", "on", "true")
        keep = search_keep(params.get("q", ""), subs, restrict)
    try:
        children, after, before = page_of(r.listing(keep), params)
    except BadRequest as e:
        send(handler, 400, {"message": str(e), "error": 400}, headers)
        return True
    if params.get("raw_json") != "1":
        children = [escaped(c) for c in children]
    body = {"kind": "Listing",
            "data": {"after": after, "dist": len(children), "modhash": "",
                     "geo_filter": "", "children": children,
                     "before": before}}
    if fault == "truncated":
        fake_common.send_truncated(handler, fake_common.compact(body),
                                   JSON_TYPE, headers)
        return True
    send(handler, 200, body, headers)
    return True
