"""What the fakes in this folder share: how a response goes out, the lazy
per-module state and the check of a fault kind.  Standard library only.

Each fake keeps its own content types, headers and error bodies, so the
bytes it serves are its platform's; only the mechanics live here.
"""

import json
import socket
import threading


def compact(doc):
    """`doc` as compact JSON text, not ASCII-escaped."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def send(handler, code, body, content_type, headers=()):
    """One whole response with Content-Length.  `body` is bytes, text
    (sent as UTF-8) or a JSON document (sent compact()).  `headers` follow
    Content-Type and Content-Length, in order."""
    if not isinstance(body, bytes):
        if not isinstance(body, str):
            body = compact(body)
        body = body.encode("utf-8")
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for k, v in headers:
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)


def send_truncated(handler, body, content_type, headers=()):
    """Status 200 with the Content-Length of the whole of `body` (text), then
    half of it, then the connection is closed."""
    body = body.encode("utf-8")
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for k, v in headers:
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body[:len(body) // 2])
    handler.wfile.flush()
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def lazy(factory):
    """A getter that calls factory() on its first call (under a lock, since
    the server is threaded) and returns that same object ever after."""
    lock = threading.Lock()
    made = []

    def get():
        with lock:
            if not made:
                made.append(factory())
            return made[0]
    return get


def fault_kind(params, kinds):
    """The `kind` parameter of a /_control/.../fault request, which must be
    one of `kinds` or "none"; else ValueError with the message the control
    endpoints answer 400 with."""
    kind = params.get("kind", "")
    if kind not in kinds and kind != "none":
        raise ValueError("unknown fault kind %r; one of %s or none"
                         % (kind, ", ".join(kinds)))
    return kind
