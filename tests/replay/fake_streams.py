"""Fake streaming APIs for the replay server (tests/replay/README.md):
Mastodon's server-sent events and the X API v2 filtered stream.

    GET /api/v1/streaming/public | /public/local | /hashtag?tag=..
        | /list?list=.. | /user
        text/event-stream, chunked. Opens with the ":)" comment; the first
        connection of the server's life then gets the events recorded in
        tests/data/api/mastodon/streaming_user.sse (update, notification,
        status.update, delete); after that, every status the replay
        instance releases (/_control/release) that the timeline shows (the
        same filters as the REST timelines) as `event: update`, and a
        ":thump" heartbeat every second. Like Mastodon, a stream only sends
        what happens while it is connected.
    GET /2/tweets/search/stream?...
        chunked NDJSON from tests/data/api/x/filtered_stream_2021-04-01.jsonl
        (found relative to this file): each "posted" line once, to the
        connection open when it is posted (or to the next one), ended by
        "\\r\\n", and "\\r\\n" keep-alives every second. A line with
        "errors" (the recorded operational disconnect) is followed by the
        server closing the stream, as X does. Needs an Authorization:
        Bearer header (401 otherwise, in X's problem shape).

Control:
    POST /_control/stream_fault?kind=drop|stall|401|none
            [&target=mastodon|x|any][&count=N][&seconds=S]
        drop:  the next message written on a stream (a status or a tweet,
               not a heartbeat) is cut in the middle and the connection
               closed, no final chunk;
        stall: the stream sends nothing more (no heartbeats either) but
               keeps the connection open, for S seconds (default: until the
               client goes away or kind=none);
        401:   the next stream request is refused with 401;
        none:  clears every armed stream fault and ends stalls.
    POST /_control/stream/x_posted?n=N   only the first N recorded lines are
                                         posted (default: all)
    POST /_control/stream/x_release?n=N  posts N more
    POST /_control/stream/recorded?on=0|1  whether the next first connection
                                           gets the recorded Mastodon events
    GET  /_control/stream/state
        {"mastodon": {open, connections, drops, stalls, refused}, "x": {..},
         "x_posted", "x_sent", "x_total", "faults_pending"}

Standard library only.
"""

import json
import os
import select
import socket
import sys
import threading
import time

import fake_common  # noqa: E402 (this folder; response plumbing)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(os.path.dirname(HERE), "data", "api")
SSE_FILE = os.path.join(DATA_DIR, "mastodon", "streaming_user.sse")
X_FILE = os.path.join(DATA_DIR, "x", "filtered_stream_2021-04-01.jsonl")
X_PATH = "/2/tweets/search/stream"
M_PREFIX = "/api/v1/streaming"

HEARTBEAT_S = 1.0
TICK_S = 0.05
SSE_TYPE = "text/event-stream"
NDJSON_TYPE = "application/json; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
KINDS = ("drop", "stall", "401")
TARGETS = ("mastodon", "x", "any")


def load_recorded_sse():
    """The recorded body up to its last complete line (it ends with a
    heartbeat cut short: ":")."""
    with open(SSE_FILE, "rb") as f:
        body = f.read()
    cut = body.rfind(b"\n")
    return body[:cut + 1] if cut >= 0 else b""


def load_x_lines():
    with open(X_FILE, "rb") as f:
        return [line.rstrip(b"\r\n") for line in f if line.strip()]


class Streams:
    """Shared state of the fake streams; every method takes the lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.recorded_sse = load_recorded_sse()
        self.x_lines = load_x_lines()
        self.x_posted = len(self.x_lines)
        self.x_sent = 0
        self.send_recorded = True
        self.faults = []  # [kind, count, target, seconds]
        self.unstall = 0  # bumped by kind=none
        self.stats = {t: {"open": 0, "connections": 0, "drops": 0,
                          "stalls": 0, "refused": 0}
                      for t in ("mastodon", "x")}

    def arm(self, kind, count, target, seconds):
        with self.lock:
            if kind == "none":
                self.faults = []
                self.unstall += 1
            else:
                self.faults.append([kind, count, target, seconds])
            return self.pending_locked()

    def pending_locked(self):
        return [[k, c, t] for k, c, t, _ in self.faults]

    def take(self, kinds, target):
        """The first armed fault of one of `kinds` for `target`, consumed
        once: (kind, seconds) or (None, None)."""
        with self.lock:
            for f in self.faults:
                if f[0] in kinds and f[2] in (target, "any"):
                    f[1] -= 1
                    if f[1] <= 0:
                        self.faults.remove(f)
                    return f[0], f[3]
            return None, None

    def count(self, target, key, delta=1):
        with self.lock:
            self.stats[target][key] += delta

    def first_connection(self):
        """Whether this connection gets the recorded Mastodon events."""
        with self.lock:
            if self.send_recorded:
                self.send_recorded = False
                return True
            return False

    def next_x_line(self):
        with self.lock:
            if self.x_sent >= min(self.x_posted, len(self.x_lines)):
                return None
            line = self.x_lines[self.x_sent]
            self.x_sent += 1
            return line

    def state(self):
        with self.lock:
            return {"mastodon": dict(self.stats["mastodon"]),
                    "x": dict(self.stats["x"]),
                    "x_posted": self.x_posted, "x_sent": self.x_sent,
                    "x_total": len(self.x_lines),
                    "recorded_pending": self.send_recorded,
                    "faults_pending": self.pending_locked()}


streams = fake_common.lazy(Streams)


# -- plumbing ----------------------------------------------------------------

class Gone(Exception):
    """The client closed the connection."""


def send_json(handler, code, doc, headers=()):
    # ASCII-escaped, unlike the other fakes' JSON.
    fake_common.send(handler, code, json.dumps(doc, separators=(",", ":")),
                     JSON_TYPE, headers)


def start_chunked(handler, content_type):
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Cache-Control", "private, no-store")
    handler.end_headers()
    handler.wfile.flush()


def write_chunk(handler, data):
    if not data:
        return
    try:
        handler.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError, OSError):
        raise Gone()


def client_gone(handler, timeout_s):
    """Waits up to timeout_s; True when the client closed its end."""
    try:
        ready, _, _ = select.select([handler.connection], [], [], timeout_s)
        if not ready:
            return False
        return handler.connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def cut_and_close(handler, message, target):
    """Sends the first half of `message` and closes without the final
    chunk: a stream that dies in the middle of a line."""
    streams().count(target, "drops")
    write_chunk(handler, message[:max(1, len(message) // 2)])
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def stall(handler, target, seconds):
    """Sends nothing, keeps the connection; returns when the client left
    (True), or when the stall ended (False)."""
    st = streams()
    st.count(target, "stalls")
    with st.lock:
        mark = st.unstall
    end = time.monotonic() + seconds if seconds else None
    while end is None or time.monotonic() < end:
        if client_gone(handler, 0.2):
            return True
        with st.lock:
            if st.unstall != mark:
                return False
    return False


def log(msg):
    sys.stderr.write("replay: streams: %s\n" % msg)
    sys.stderr.flush()


# -- Mastodon ----------------------------------------------------------------

def replay_module(handler):
    """The module that defines the replay server's Handler (its filters);
    it runs as __main__, so it is found through the handler's class."""
    return sys.modules[type(handler).__module__]


def mastodon_filter(handler, path, params):
    """The status filter of a streaming path, or None when unknown."""
    rs = replay_module(handler)
    sub = path[len(M_PREFIX):]
    if sub in ("/public", "/public/"):
        return rs.public_filter(params)
    if sub == "/public/local":
        return rs.public_filter(dict(params, local="true"))
    if sub == "/public/remote":
        return rs.public_filter(dict(params, remote="true"))
    if sub in ("/hashtag", "/hashtag/local"):
        tag = params.get("tag", "")
        if not tag:
            return None
        extra = {"local": "true"} if sub.endswith("/local") else {}
        return rs.tag_filter(tag, dict(params, **extra))
    if sub in ("/list", "/user", "/direct"):
        return lambda st: True
    return None


def mastodon_stream(handler, path, params):
    st = streams()
    inst = handler.server.instance
    keep = mastodon_filter(handler, path, params)
    if keep is None:
        send_json(handler, 404, {"error": "Unknown stream type"})
        return
    kind, _ = st.take(("401",), "mastodon")
    if kind == "401":
        st.count("mastodon", "refused")
        send_json(handler, 401, {"error": "Error processing request: Missing "
                                 "access token"})
        return
    start_chunked(handler, SSE_TYPE)
    st.count("mastodon", "connections")
    st.count("mastodon", "open")
    with inst.lock:
        sent_upto = inst.n_visible
    try:
        if st.first_connection():
            write_chunk(handler, st.recorded_sse)  # opens with ":)" too
        else:
            write_chunk(handler, b":)\n")
        last_beat = time.monotonic()
        while True:
            kind, seconds = st.take(("stall",), "mastodon")
            if kind == "stall":
                if stall(handler, "mastodon", seconds):
                    return
                last_beat = time.monotonic()
            with inst.lock:
                fresh = inst.statuses[sent_upto:inst.n_visible]
                sent_upto = inst.n_visible
            for status in fresh:
                if not keep(status):
                    continue
                msg = ("event: update\ndata: %s\n\n" % json.dumps(
                    status, ensure_ascii=False,
                    separators=(",", ":"))).encode("utf-8")
                kind, _ = st.take(("drop",), "mastodon")
                if kind == "drop":
                    log("drop in the middle of status %s" % status["id"])
                    cut_and_close(handler, msg, "mastodon")
                    return
                write_chunk(handler, msg)
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                write_chunk(handler, b":thump\n")
                last_beat = time.monotonic()
            if client_gone(handler, TICK_S):
                return
    except Gone:
        handler.close_connection = True
    finally:
        st.count("mastodon", "open", -1)


# -- X -----------------------------------------------------------------------

X_UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank",
                  "status": 401, "detail": "Unauthorized"}


def x_stream(handler, params):
    st = streams()
    auth = handler.headers.get("Authorization", "")
    kind, _ = st.take(("401",), "x")
    if kind == "401" or not auth.startswith("Bearer ") or \
            not auth[len("Bearer "):].strip():
        st.count("x", "refused")
        send_json(handler, 401, X_UNAUTHORIZED)
        return
    start_chunked(handler, NDJSON_TYPE)
    st.count("x", "connections")
    st.count("x", "open")
    try:
        last_beat = time.monotonic()
        while True:
            kind, seconds = st.take(("stall",), "x")
            if kind == "stall":
                if stall(handler, "x", seconds):
                    return
                last_beat = time.monotonic()
            line = st.next_x_line()
            while line is not None:
                msg = line + b"\r\n"
                kind, _ = st.take(("drop",), "x")
                if kind == "drop":
                    log("drop in the middle of a stream line")
                    cut_and_close(handler, msg, "x")
                    return
                write_chunk(handler, msg)
                if line.startswith(b'{"errors"'):
                    # An operational disconnect: X closes the stream.
                    handler.wfile.write(b"0\r\n\r\n")
                    handler.wfile.flush()
                    handler.close_connection = True
                    return
                line = st.next_x_line()
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                write_chunk(handler, b"\r\n")
                last_beat = time.monotonic()
            if client_gone(handler, TICK_S):
                return
    except (Gone, BrokenPipeError, ConnectionResetError):
        handler.close_connection = True
    finally:
        st.count("x", "open", -1)


# -- control and routing -----------------------------------------------------

def control(handler, method, path, params):
    st = streams()
    if path == "/_control/stream_fault" and method == "POST":
        kind = params.get("kind", "")
        target = params.get("target", "any")
        if kind not in KINDS and kind != "none":
            send_json(handler, 400, {"error": "unknown stream fault %r; one "
                                     "of %s or none" % (kind,
                                                        ", ".join(KINDS))})
            return
        if target not in TARGETS:
            send_json(handler, 400, {"error": "unknown target %r; one of %s"
                                     % (target, ", ".join(TARGETS))})
            return
        try:
            count = max(1, int(params.get("count", "1")))
            seconds = max(0.0, float(params.get("seconds", "0")))
        except ValueError:
            send_json(handler, 400, {"error": "count and seconds are "
                                     "numbers"})
            return
        send_json(handler, 200, {"faults_pending": st.arm(kind, count, target,
                                                          seconds)})
    elif path == "/_control/stream/state" and method == "GET":
        send_json(handler, 200, st.state())
    elif path in ("/_control/stream/x_posted", "/_control/stream/x_release") \
            and method == "POST":
        try:
            n = int(params.get("n", "1"))
        except ValueError:
            send_json(handler, 400, {"error": "n is a number"})
            return
        with st.lock:
            if path.endswith("x_posted"):
                st.x_posted = max(0, min(n, len(st.x_lines)))
            else:
                st.x_posted = min(len(st.x_lines), st.x_posted + max(0, n))
        send_json(handler, 200, st.state())
    elif path == "/_control/stream/recorded" and method == "POST":
        with st.lock:
            st.send_recorded = params.get("on", "1") not in ("0", "false")
        send_json(handler, 200, st.state())
    else:
        send_json(handler, 404, {"error": "no such control endpoint"})


def route(handler, method, path, query, params, qlist):
    """Serves `path` if it is ours; returns whether it was."""
    if path == "/_control/stream_fault" or \
            path.startswith("/_control/stream/"):
        control(handler, method, path, params)
        return True
    if path == X_PATH:
        handler.server.instance.record(path, query)
        if method != "GET":
            send_json(handler, 405, {"title": "Method Not Allowed",
                                     "status": 405})
            return True
        x_stream(handler, params)
        return True
    if path == M_PREFIX or path.startswith(M_PREFIX + "/"):
        handler.server.instance.record(path, query)
        if method != "GET":
            send_json(handler, 404, {"error": "Record not found"})
            return True
        mastodon_stream(handler, path, params)
        return True
    return False

