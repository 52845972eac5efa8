#!/usr/bin/env python3
"""A fake Mastodon instance built from the recorded statuses.

It serves tests/data/api/mastodon/ (found relative to this file, never from
anywhere else) as one instance's timelines, with Mastodon's own pagination
(limit, max_id, since_id, min_id), Link headers, rate-limit headers and 429s,
plus a control API that tests use to make new posts appear and to inject
faults.  Standard library only.  See tests/replay/README.md.

    python3 tests/replay/replay_server.py --port 0 [--initial N]
        [--rate-limit N] [--window-s S] [--watch-stdin]

Tests that need statuses the recordings lack (a brand's reply, a customer's
follow-up) POST them to /_control/inject: they join the instance as the
newest statuses, as if just posted.

Prints exactly one line "READY http://127.0.0.1:PORT" on stdout once it is
listening, logs one line per request on stderr and exits 0 on SIGTERM or
SIGINT (or on stdin EOF with --watch-stdin).
"""

import argparse
import datetime
import email.utils
import glob
import json
import os
import random
import re
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fake_bluesky  # noqa: E402 (this folder; Bluesky XRPC routes)
import fake_common  # noqa: E402 (this folder; response plumbing)
import fake_json  # noqa: E402 (this folder; X-style JSON search routes)
import fake_hackernews  # noqa: E402 (this folder; Algolia HN search)
import fake_reddit  # noqa: E402 (this folder; Reddit listings)
import fake_streams  # noqa: E402 (this folder; Mastodon SSE, X stream)

# Other platforms' fakes: each route() serves its own paths only.
FAKES = (fake_bluesky, fake_json, fake_reddit, fake_hackernews,
         fake_streams)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DATA_DIR = os.path.join(REPO_ROOT, "tests", "data", "api", "mastodon")

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
FAULT_KINDS = ("429", "500", "503", "html200", "truncated", "garbage",
               "slow", "huge", "deep")
HUGE_BYTES = 60 * 1024 * 1024
DEEP_LEVELS = 10000
SLOW_TOTAL_S = 3.0
SLOW_CHUNKS = 10
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

HTML_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>We're sorry, but something went wrong (500)</title>\n</head>\n"
    "<body>\n<div class=\"dialog\">\n<h1>We're sorry, but something went "
    "wrong.</h1>\n<p>The page you were looking for is temporarily "
    "unavailable. Please try again later.</p>\n</div>\n</body>\n</html>\n")
NGINX_503_PAGE = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title>"
    "</head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable"
    "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def load_statuses(data_dir):
    """Every status in timeline_*.json arrays and status_*.json objects,
    deduplicated by id, sorted oldest first (ids compared as integers)."""
    by_id = {}
    for path in sorted(glob.glob(os.path.join(data_dir, "*.json"))):
        name = os.path.basename(path)
        if name.endswith(".headers.json"):
            continue
        if not (name.startswith("timeline_") or name.startswith("status_")):
            continue
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
        items = doc if isinstance(doc, list) else [doc]
        for st in items:
            # status_edit_history.json is a list of edits, not statuses.
            if not isinstance(st, dict) or "id" not in st \
                    or "account" not in st:
                continue
            if not str(st["id"]).isdigit():
                continue
            by_id.setdefault(str(st["id"]), st)
    return sorted(by_id.values(), key=lambda s: int(s["id"]))


def truthy(value):
    """Rails' ActiveModel::Type::Boolean, as Mastodon reads `local`."""
    if value is None:
        return False
    return value.strip().lower() not in ("", "0", "f", "false", "off", "no",
                                         "n")


def ruby_to_i(value):
    """String#to_i: leading digits (with a sign), else 0."""
    m = re.match(r"\s*([+-]?\d+)", value or "")
    return int(m.group(1)) if m else 0


def iso_utc(ts):
    dt = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class PageError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Instance:
    """The shared state: statuses, visibility, rate limiter, faults, log.
    Every method takes the lock; handlers run on many threads."""

    def __init__(self, statuses, initial, rate_limit, window_s):
        self.lock = threading.Lock()
        self.statuses = statuses
        n = len(statuses) if initial is None else initial
        self.n_visible = max(0, min(n, len(statuses)))
        self.rate_limit = rate_limit
        self.window_s = window_s
        self.window_end = 0.0
        self.n_used = 0
        self.faults = []  # FIFO of [kind, remaining, options]
        self.requests = []
        self.n_over_budget = 0  # requests refused for the budget (not faults)
        self.account_ids = {s["account"]["id"] for s in statuses}

    def record(self, path, query):
        with self.lock:
            self.requests.append({"path": path, "query": query,
                                  "time": time.time()})

    def take_fault(self):
        with self.lock:
            if not self.faults:
                return None, None
            head = self.faults[0]
            head[1] -= 1
            if head[1] <= 0:
                self.faults.pop(0)
            return head[0], head[2]

    def arm_fault(self, kind, count, options):
        with self.lock:
            if kind == "none":
                self.faults = []
            else:
                self.faults.append([kind, count, options])
            return [[k, c] for k, c, _ in self.faults]

    def release(self, n):
        with self.lock:
            self.n_visible = min(len(self.statuses), self.n_visible + n)
            return self.n_visible

    def inject(self, statuses, hidden):
        """Appends `statuses` (validated dicts) as the newest statuses.
        Visible at once unless `hidden`; then /_control/release shows them.
        Returns (visible, total), or raises PageError and changes nothing."""
        with self.lock:
            newest = int(self.statuses[-1]["id"]) if self.statuses else 0
            fresh = sorted(statuses, key=lambda st: int(st["id"]))
            for st in fresh:
                if int(st["id"]) <= newest:
                    raise PageError(400, "status id %s is not newer than %d "
                                    "(ids must be unique and increase, as "
                                    "new posts' ids do)" % (st["id"],
                                                            newest))
                newest = int(st["id"])
            if not hidden and self.n_visible < len(self.statuses):
                raise PageError(409, "%d statuses are still hidden; inject "
                                "with hidden=1 and release them in order"
                                % (len(self.statuses) - self.n_visible))
            self.statuses.extend(fresh)
            self.account_ids.update(st["account"]["id"] for st in fresh)
            if not hidden:
                self.n_visible = len(self.statuses)
            return self.n_visible, len(self.statuses)

    def charge(self):
        """Counts one request against the window. Returns (allowed,
        remaining, reset_ts)."""
        with self.lock:
            now = time.time()
            if now >= self.window_end:
                # Windows are aligned like Mastodon's (xx:00, xx:05, ...).
                start = now - (now % self.window_s)
                self.window_end = start + self.window_s
                self.n_used = 0
            if self.n_used >= self.rate_limit:
                return False, 0, self.window_end
            self.n_used += 1
            return True, self.rate_limit - self.n_used, self.window_end

    def state(self):
        with self.lock:
            return {"visible": self.n_visible, "total": len(self.statuses),
                    "over_budget": self.n_over_budget,
                    "visible_max_id": (self.statuses[self.n_visible - 1]["id"]
                                       if self.n_visible else None),
                    "rate_limit": self.rate_limit,
                    "rate_remaining": (self.rate_limit - self.n_used
                                       if time.time() < self.window_end
                                       else self.rate_limit),
                    "faults_pending": [[k, c] for k, c, _ in self.faults],
                    "requests": list(self.requests)}

    def clear_requests(self):
        with self.lock:
            self.requests = []

    def visible(self):
        with self.lock:
            return self.statuses[:self.n_visible]

    def has_account(self, account_id):
        return account_id in self.account_ids


def is_local(st):
    return "@" not in st["account"].get("acct", "")


def public_filter(params):
    local = truthy(params.get("local"))
    remote = truthy(params.get("remote"))
    only_media = truthy(params.get("only_media"))

    def keep(st):
        # PublicFeed: public visibility, no reblogs, no replies to others.
        if st.get("visibility") != "public" or st.get("reblog"):
            return False
        if st.get("in_reply_to_id") and \
                st.get("in_reply_to_account_id") != st["account"]["id"]:
            return False
        if local and not is_local(st):
            return False
        if remote and is_local(st):
            return False
        if only_media and not st.get("media_attachments"):
            return False
        return True
    return keep


def tag_filter(tag, params):
    tag = tag.lower()
    local = truthy(params.get("local"))
    remote = truthy(params.get("remote"))
    only_media = truthy(params.get("only_media"))

    def keep(st):
        # TagFeed: public visibility, replies included; reblogs carry no
        # tags of their own so they never match.
        if st.get("visibility") != "public" or st.get("reblog"):
            return False
        names = [str(t.get("name", "")).lower() for t in st.get("tags") or []]
        if tag not in names:
            return False
        if local and not is_local(st):
            return False
        if remote and is_local(st):
            return False
        if only_media and not st.get("media_attachments"):
            return False
        return True
    return keep


def account_filter(account_id, params):
    exclude_replies = truthy(params.get("exclude_replies"))
    exclude_reblogs = truthy(params.get("exclude_reblogs"))
    only_media = truthy(params.get("only_media"))
    tagged = (params.get("tagged") or "").lower()

    def keep(st):
        if st["account"]["id"] != account_id:
            return False
        # Unauthenticated callers see public and unlisted posts.
        if st.get("visibility") not in ("public", "unlisted"):
            return False
        if exclude_reblogs and st.get("reblog"):
            return False
        if exclude_replies and st.get("in_reply_to_id") and \
                st.get("in_reply_to_account_id") != account_id:
            return False
        if only_media and not st.get("media_attachments"):
            return False
        if tagged and tagged not in [str(t.get("name", "")).lower()
                                     for t in st.get("tags") or []]:
            return False
        return True
    return keep


def parse_injected(body):
    """The statuses of a /_control/inject body: one status object or an
    array of them, each with a numeric string id, an account with an id and
    a created_at. Raises PageError(400) on anything else."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise PageError(400, "the body is not JSON: %s" % e)
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise PageError(400, "no statuses in the body")
    seen = set()
    for st in items:
        if not isinstance(st, dict):
            raise PageError(400, "a status must be a JSON object")
        sid = st.get("id")
        if not isinstance(sid, str) or not sid.isdigit():
            raise PageError(400, "a status needs a numeric string \"id\", "
                            "got %r" % (sid,))
        if sid in seen:
            raise PageError(400, "status id %s appears twice" % sid)
        seen.add(sid)
        acct = st.get("account")
        if not isinstance(acct, dict) or not isinstance(acct.get("id"), str):
            raise PageError(400, "status %s needs an \"account\" with a "
                            "string \"id\"" % sid)
        if not isinstance(st.get("created_at"), str):
            raise PageError(400, "status %s needs a \"created_at\"" % sid)
    return items


def pagination_id(params, name):
    value = params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise PageError(400, "%s must be a numeric id, got %r" % (name, value))
    return int(value)


def paginate(statuses_asc, params):
    """Mastodon's to_a_paginated_by_id: returns the page, newest first."""
    if "limit" in params:
        limit = min(abs(ruby_to_i(params["limit"])), MAX_LIMIT)
    else:
        limit = DEFAULT_LIMIT
    max_id = pagination_id(params, "max_id")
    since_id = pagination_id(params, "since_id")
    min_id = pagination_id(params, "min_id")
    rows = statuses_asc
    if max_id is not None:
        rows = [s for s in rows if int(s["id"]) < max_id]
    if min_id is not None:
        # The page immediately newer than min_id (since_id is ignored, as
        # paginate_by_min_id does).
        rows = [s for s in rows if int(s["id"]) > min_id]
        page = rows[:limit]
        page.reverse()
        return page
    if since_id is not None:
        rows = [s for s in rows if int(s["id"]) > since_id]
    page = rows[-limit:] if limit > 0 else []
    page.reverse()
    return page


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Mastodon"
    sys_version = ""

    def version_string(self):
        return self.server_version

    # -- plumbing ---------------------------------------------------------

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        sys.stderr.write("replay: %s %s\n" % (self.address_string(),
                                               format % args))
        sys.stderr.flush()

    def send_body(self, code, body, content_type=JSON_TYPE):
        fake_common.send(self, code, body, content_type)

    def send_json(self, code, doc, headers=()):
        fake_common.send(self, code, doc, JSON_TYPE, headers)

    def rate_headers(self, remaining, reset_ts):
        inst = self.server.instance
        return [("X-RateLimit-Limit", str(inst.rate_limit)),
                ("X-RateLimit-Remaining", str(remaining)),
                ("X-RateLimit-Reset", iso_utc(reset_ts))]

    def drain_request_body(self):
        """Reads the request body (kept as self.body for control requests
        that take one)."""
        n = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(n) if n > 0 else b""

    # -- dispatch ---------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.drain_request_body()
        self.dispatch("POST")

    def dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        params = dict(urllib.parse.parse_qsl(url.query,
                                             keep_blank_values=True))
        try:
            qlist = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            for fake in FAKES:
                if fake.route(self, method, path, url.query, params, qlist):
                    return
            if path.startswith("/_control/"):
                self.control(method, path, params)
                return
            self.server.instance.record(path, url.query)
            if method != "GET":
                self.send_json(404, {"error": "Record not found"})
                return
            self.api(path, url.query, params)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def control(self, method, path, params):
        inst = self.server.instance
        if path == "/_control/state" and method == "GET":
            self.send_json(200, inst.state())
        elif path == "/_control/release" and method == "POST":
            n = ruby_to_i(params.get("n", "1"))
            visible = inst.release(max(0, n))
            self.send_json(200, {"visible": visible,
                                 "total": len(inst.statuses)})
        elif path == "/_control/fault" and method == "POST":
            try:
                kind = fake_common.fault_kind(params, FAULT_KINDS)
            except ValueError as e:
                self.send_json(400, {"error": str(e)})
                return
            count = max(1, ruby_to_i(params.get("count", "1")))
            pending = inst.arm_fault(kind, count, params)
            self.send_json(200, {"faults_pending": pending})
        elif path == "/_control/clear_requests" and method == "POST":
            inst.clear_requests()
            self.send_json(200, {"requests": []})
        elif path == "/_control/inject" and method == "POST":
            try:
                statuses = parse_injected(getattr(self, "body", b""))
                visible, total = inst.inject(statuses,
                                             truthy(params.get("hidden")))
            except PageError as e:
                self.send_json(e.code, {"error": e.message})
                return
            self.send_json(200, {"visible": visible, "total": total,
                                 "ids": [st["id"] for st in statuses]})
        else:
            self.send_json(404, {"error": "no such control endpoint"})

    def api(self, path, query, params):
        inst = self.server.instance
        keep = None
        m_tag = re.fullmatch(r"/api/v1/timelines/tag/([^/]+)", path)
        m_acct = re.fullmatch(r"/api/v1/accounts/([^/]+)/statuses", path)
        m_status = re.fullmatch(r"/api/v1/statuses/(\d+)", path)
        if path == "/api/v1/timelines/public":
            keep = public_filter(params)
        elif m_tag:
            keep = tag_filter(urllib.parse.unquote(m_tag.group(1)), params)
        elif m_acct:
            if not inst.has_account(m_acct.group(1)):
                self.send_json(404, {"error": "Record not found"})
                return
            keep = account_filter(m_acct.group(1), params)
        elif m_status:
            allowed, remaining, reset = inst.charge()
            if not allowed:
                self.too_many(reset, reset - time.time())
                return
            hdrs = self.rate_headers(remaining, reset)
            for st in inst.visible():
                if st["id"] == m_status.group(1):
                    self.send_json(200, st, hdrs)
                    return
            self.send_json(404, {"error": "Record not found"}, hdrs)
            return
        else:
            self.send_json(404, {"error": "Record not found"})
            return

        kind, options = inst.take_fault()
        if kind is not None:
            self.fault(kind, options, keep, params)
            return
        allowed, remaining, reset = inst.charge()
        if not allowed:
            with inst.lock:
                inst.n_over_budget += 1
            self.too_many(reset, reset - time.time())
            return
        try:
            page = paginate([s for s in inst.visible() if keep(s)], params)
        except PageError as e:
            self.send_json(e.code, {"error": e.message},
                           self.rate_headers(remaining, reset))
            return
        headers = self.rate_headers(remaining, reset)
        link = self.link_header(path, params, page)
        if link:
            headers.append(("Link", link))
        headers.append(("Cache-Control", "private, no-store"))
        self.send_json(200, page, headers)

    def link_header(self, path, params, page):
        if not page:
            return None
        base = self.server.base_url + path
        rest = {k: v for k, v in params.items()
                if k not in ("max_id", "min_id", "since_id")}

        def url(extra):
            q = dict(rest)
            q.update(extra)
            # Rails' url_for sorts the query keys.
            return base + "?" + urllib.parse.urlencode(sorted(q.items()))
        return '<%s>; rel="next", <%s>; rel="prev"' % (
            url({"max_id": page[-1]["id"]}), url({"min_id": page[0]["id"]}))

    def too_many(self, reset_ts, retry_after_s, date_form=False):
        if date_form:
            retry = email.utils.formatdate(time.time() + retry_after_s,
                                           usegmt=True)
        else:
            retry = str(max(0, int(retry_after_s + 0.999)))
        headers = self.rate_headers(0, reset_ts)
        headers.append(("Retry-After", retry))
        self.send_json(429, {"error": "Too many requests"}, headers)

    # -- faults -----------------------------------------------------------

    def fault(self, kind, options, keep, params):
        inst = self.server.instance
        if kind == "429":
            ra = options.get("retry_after", "2")
            if ra == "http-date":
                # HTTP dates have one-second resolution: round up so the
                # client never retries early.
                self.too_many(time.time() + 3, 3, date_form=True)
            else:
                secs = ruby_to_i(ra)
                self.too_many(time.time() + secs, secs)
            return
        if kind == "500":
            self.send_body(500, HTML_ERROR_PAGE, HTML_TYPE)
            return
        if kind == "503":
            self.send_body(503, NGINX_503_PAGE, HTML_TYPE)
            return
        if kind == "html200":
            self.send_body(200, HTML_ERROR_PAGE, HTML_TYPE)
            return
        if kind == "garbage":
            rng = random.Random()
            body = bytes(rng.randrange(256) for _ in range(4096))
            self.send_body(200, body, JSON_TYPE)
            return
        if kind == "deep":
            body = "[" * DEEP_LEVELS + "]" * DEEP_LEVELS
            self.send_body(200, body, JSON_TYPE)
            return
        if kind == "huge":
            self.send_huge()
            return
        # truncated and slow carry a real page.
        try:
            page = paginate([s for s in inst.visible() if keep(s)], params)
        except PageError:
            page = []
        text = fake_common.compact(page)
        if kind == "truncated":
            fake_common.send_truncated(self, text, JSON_TYPE)
            return
        if kind == "slow":
            body = text.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", JSON_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            step = max(1, (len(body) + SLOW_CHUNKS - 1) // SLOW_CHUNKS)
            for off in range(0, len(body), step):
                self.wfile.write(body[off:off + step])
                self.wfile.flush()
                if off + step < len(body):
                    time.sleep(SLOW_TOTAL_S / SLOW_CHUNKS)
            return
        raise AssertionError("unhandled fault kind " + kind)

    def send_huge(self):
        """A valid JSON array of ~60 MB (copies of one status), streamed,
        so a client must enforce its own size cap."""
        inst = self.server.instance
        one = fake_common.compact(inst.statuses[-1] if inst.statuses
                                  else {"id": "1"}).encode("utf-8")
        n_items = HUGE_BYTES // (len(one) + 1) + 1
        total = 2 + n_items * len(one) + (n_items - 1)
        self.send_response(200)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(total))
        self.end_headers()
        per_chunk = max(1, (1 << 20) // (len(one) + 1))
        chunk = b",".join([one] * per_chunk)
        self.wfile.write(b"[")
        left = n_items
        first = True
        while left > 0:
            take = min(per_chunk, left)
            piece = chunk if take == per_chunk else b",".join([one] * take)
            if not first:
                self.wfile.write(b",")
            self.wfile.write(piece)
            first = False
            left -= take
        self.wfile.write(b"]")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1; the "
                    "docker-compose service uses 0.0.0.0)")
    ap.add_argument("--public-url", default=None,
                    help="base URL to put in Link headers (default "
                    "http://HOST:PORT)")
    ap.add_argument("--port", type=int, default=0,
                    help="port to listen on (0 picks a free one)")
    ap.add_argument("--initial", type=int, default=None,
                    help="how many of the oldest statuses are visible at "
                    "start (default: all)")
    ap.add_argument("--rate-limit", type=int, default=300,
                    help="requests per window (default 300)")
    ap.add_argument("--window-s", type=float, default=300.0,
                    help="rate-limit window in seconds (default 300)")
    ap.add_argument("--watch-stdin", action="store_true",
                    help="exit when stdin reaches EOF")
    args = ap.parse_args(argv)

    statuses = load_statuses(DATA_DIR)
    if not statuses:
        sys.stderr.write("replay: no statuses under %s\n" % DATA_DIR)
        return 1
    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]
    server.base_url = args.public_url or "http://%s:%d" % (
        "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host, port)
    server.instance = Instance(statuses, args.initial, args.rate_limit,
                               args.window_s)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.watch_stdin:
        def watch():
            # os.read, not sys.stdin: a daemon thread blocked inside a
            # buffered reader makes interpreter shutdown abort.
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            stop.set()
        threading.Thread(target=watch, daemon=True).start()

    loop = threading.Thread(target=server.serve_forever,
                            kwargs={"poll_interval": 0.1}, daemon=True)
    loop.start()
    sys.stderr.write("replay: %d statuses (%d visible) from %s\n" % (
        len(statuses), server.instance.n_visible, DATA_DIR))
    sys.stdout.write("READY %s\n" % server.base_url)
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    sys.stderr.write("replay: stopped\n")
    sys.stdout.flush()
    sys.stderr.flush()
    # Handler threads may still be streaming a slow or huge body; they are
    # daemons and die with us.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
