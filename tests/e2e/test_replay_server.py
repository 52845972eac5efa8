#!/usr/bin/env python3
"""Self-test of tests/replay/replay_server.py (needs no hark binary).

Checks Mastodon's pagination semantics (limit, max_id, since_id, min_id),
the Link header, the rate-limit headers and 429, new posts appearing on
release, and every fault kind, against the recorded statuses in
tests/data/api/mastodon/.
"""

import email.utils
import datetime
import glob
import http.client
import json
import os
import re
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check
PUBLIC = "/api/v1/timelines/public"


def recorded_statuses():
    """The statuses as the fixture files hold them, independently of the
    server's loader."""
    d = H.data_path("api", "mastodon")
    seen = {}
    for path in glob.glob(os.path.join(d, "timeline_*.json")) + \
            glob.glob(os.path.join(d, "status_*.json")):
        if path.endswith(".headers.json"):
            continue
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for st in doc if isinstance(doc, list) else [doc]:
            if isinstance(st, dict) and "id" in st and "account" in st:
                seen[st["id"]] = st
    return seen


def in_public(st):
    if st["visibility"] != "public" or st.get("reblog"):
        return False
    return not (st.get("in_reply_to_id") and
                st.get("in_reply_to_account_id") != st["account"]["id"])


ALL = recorded_statuses()
PUBLIC_IDS = sorted((int(i) for i, s in ALL.items() if in_public(s)),
                    reverse=True)

srv = None


def get(path, server=None):
    status, headers, body = (server or srv).request("GET", path)
    return status, headers, body


def get_page(path, server=None):
    status, headers, body = get(path, server)
    check(status == 200, "GET %s: status %s, body %r" % (path, status,
                                                          body[:200]))
    check(headers.get("content-type") == "application/json; charset=utf-8",
          "GET %s: content-type %r" % (path, headers.get("content-type")))
    page = json.loads(body)
    check(isinstance(page, list), "GET %s: not a JSON array" % path)
    return page, headers


def ids(page):
    return [int(s["id"]) for s in page]


def links(headers):
    """{'next': url, 'prev': url} from a Link header."""
    out = {}
    for m in re.finditer(r'<([^>]*)>;\s*rel="([^"]+)"',
                         headers.get("link", "")):
        out[m.group(2)] = m.group(1)
    return out


def test_fixtures_loaded():
    check(len(ALL) >= 50, "expected the recorded statuses, found %d"
          % len(ALL))
    st = srv.state()
    check(st["total"] == len(ALL), "server has %d statuses, fixtures %d"
          % (st["total"], len(ALL)))
    check(st["visible"] == st["total"], "all visible by default: %r" % st)


def test_limit_default_and_max():
    page, _ = get_page(PUBLIC)
    check(ids(page) == PUBLIC_IDS[:20],
          "default page is the 20 newest public statuses, newest first "
          "(integer order): got %r" % ids(page))
    page, _ = get_page(PUBLIC + "?limit=100")
    check(len(page) == 40, "limit is capped at 40, got %d" % len(page))
    check(ids(page) == PUBLIC_IDS[:40], "limit=100 page order")
    page, _ = get_page(PUBLIC + "?limit=3")
    check(ids(page) == PUBLIC_IDS[:3], "limit=3")


def test_max_id_is_strictly_older():
    pivot = PUBLIC_IDS[5]
    page, _ = get_page(PUBLIC + "?limit=4&max_id=%d" % pivot)
    check(ids(page) == PUBLIC_IDS[6:10],
          "max_id=%d: want %r got %r" % (pivot, PUBLIC_IDS[6:10], ids(page)))


def test_since_id_is_newest_page_above():
    oldest = PUBLIC_IDS[-1]
    page, _ = get_page(PUBLIC + "?limit=5&since_id=%d" % oldest)
    check(ids(page) == PUBLIC_IDS[:5],
          "since_id gives the NEWEST page above it: %r" % ids(page))
    page, _ = get_page(PUBLIC + "?since_id=%d" % PUBLIC_IDS[2])
    check(ids(page) == PUBLIC_IDS[:2], "since_id near the top: %r"
          % ids(page))


def test_min_id_is_page_immediately_newer():
    pivot = PUBLIC_IDS[-10]
    page, _ = get_page(PUBLIC + "?limit=3&min_id=%d" % pivot)
    # PUBLIC_IDS is newest first: the three just above the pivot are
    # [-13], [-12], [-11], and they come back newest first.
    want = PUBLIC_IDS[-13:-10]
    check(ids(page) == want,
          "min_id=%d: want %r (newest first) got %r" % (pivot, want,
                                                        ids(page)))
    page, headers = get_page(PUBLIC + "?min_id=%d" % PUBLIC_IDS[0])
    check(page == [] and "link" not in headers,
          "min_id at the newest: empty page, no Link")


def test_min_id_walk_forward_sees_everything_once():
    cursor = 0
    seen = []
    for _ in range(100):
        page, _ = get_page(PUBLIC + "?limit=7&min_id=%d" % cursor)
        if not page:
            break
        check(ids(page) == sorted(ids(page), reverse=True),
              "page newest first")
        seen += ids(page)
        cursor = max(ids(page))
    check(sorted(seen, reverse=True) == PUBLIC_IDS and
          len(set(seen)) == len(seen),
          "walking min_id forward reads every status exactly once")


def test_link_header_follows_back_through_everything():
    page, headers = get_page(PUBLIC + "?limit=9&local=true")
    lk = links(headers)
    check(set(lk) == {"next", "prev"}, "Link has next and prev: %r"
          % headers.get("link"))
    nxt = urllib.parse.urlsplit(lk["next"])
    prev = urllib.parse.urlsplit(lk["prev"])
    check("%s://%s" % (nxt.scheme, nxt.netloc) == srv.url,
          "Link uses the server's own base URL: %r" % lk["next"])
    nq = dict(urllib.parse.parse_qsl(nxt.query))
    pq = dict(urllib.parse.parse_qsl(prev.query))
    check(nq == {"limit": "9", "local": "true",
                 "max_id": page[-1]["id"]},
          "next keeps limit/local, max_id = oldest on page: %r" % nq)
    check(pq == {"limit": "9", "local": "true", "min_id": page[0]["id"]},
          "prev min_id = newest on page: %r" % pq)
    walked = list(ids(page))
    url = lk["next"]
    for _ in range(50):
        p = urllib.parse.urlsplit(url)
        page, headers = get_page(p.path + "?" + p.query)
        if not page:
            check("link" not in headers, "no Link header on an empty page")
            break
        walked += ids(page)
        url = links(headers)["next"]
    else:
        check(False, "next links never reached an empty page")
    for i in walked:
        check("@" not in ALL[str(i)]["account"]["acct"],
              "local=true returns local accounts only")
    local = [i for i in PUBLIC_IDS
             if "@" not in ALL[str(i)]["account"]["acct"]]
    check(walked == local, "following next visits every local status")


def test_tag_timeline_case_insensitive():
    lower, _ = get_page("/api/v1/timelines/tag/mastodon?limit=40")
    upper, _ = get_page("/api/v1/timelines/tag/MaStOdOn?limit=40")
    check(lower and ids(lower) == ids(upper), "tag match ignores case")
    for st in lower:
        check("mastodon" in [t["name"].lower() for t in st["tags"]],
              "every status carries the tag")
    want = sorted((int(i) for i, s in ALL.items()
                   if s["visibility"] == "public" and
                   "mastodon" in [t["name"].lower() for t in s["tags"]]),
                  reverse=True)
    check(ids(lower) == want[:40], "tag timeline = tagged statuses")
    tag = urllib.parse.quote("公式アカウント")
    page, _ = get_page("/api/v1/timelines/tag/%s" % tag)
    check(len(page) >= 1, "a non-ASCII tag (percent-encoded) matches")
    page, headers = get_page("/api/v1/timelines/tag/nosuchtagatall")
    check(page == [] and "link" not in headers, "unknown tag: empty, no Link")


def test_account_statuses():
    acct = ALL["117020593378945190"]["account"]["id"]
    page, _ = get_page("/api/v1/accounts/%s/statuses?limit=40" % acct)
    check(page and all(s["account"]["id"] == acct for s in page),
          "only that account's statuses")
    check(ids(page) == sorted(ids(page), reverse=True), "newest first")
    status, _, _ = get("/api/v1/accounts/999999999/statuses")
    check(status == 404, "unknown account is 404, got %s" % status)


def test_bad_ids_and_routes():
    status, _, _ = get(PUBLIC + "?max_id=abc")
    check(status == 400, "non-numeric max_id is 400, got %s" % status)
    status, _, _ = get("/api/v1/nothing")
    check(status == 404, "unknown route is 404, got %s" % status)


def test_requests_are_recorded():
    srv.clear_requests()
    get_page(PUBLIC + "?limit=2&min_id=5")
    reqs = srv.requests()
    check(len(reqs) == 1 and reqs[0]["path"] == PUBLIC and
          reqs[0]["query"] == "limit=2&min_id=5" and
          abs(reqs[0]["time"] - time.time()) < 60,
          "state.requests records path, query, time: %r" % reqs)


def test_release_makes_new_posts_appear():
    with H.ReplayServer(initial=10) as s:
        st = s.state()
        check(st["visible"] == 10, "--initial 10: %r" % st["visible"])
        page, _ = get_page(PUBLIC + "?limit=40", s)
        visible_ids = sorted((int(i) for i in ALL), key=int)[:10]
        check(set(ids(page)) <= set(visible_ids),
              "only the 10 oldest are visible")
        newest = max(ids(page))
        empty, headers = get_page(PUBLIC + "?min_id=%d" % newest, s)
        check(empty == [] and "link" not in headers, "nothing newer yet")
        check(s.release(30) == 40, "release adds 30")
        fresh, _ = get_page(PUBLIC + "?limit=40&min_id=%d" % newest, s)
        check(fresh and min(ids(fresh)) > newest,
              "released statuses appear above the cursor")
        check(s.release(10 ** 6) == len(ALL), "release caps at total")


def test_rate_limit_headers_decrement():
    with H.ReplayServer(rate_limit=3) as s:
        seen = []
        for _ in range(3):
            _, headers = get_page(PUBLIC + "?limit=1", s)
            check(headers.get("x-ratelimit-limit") == "3", "limit header")
            seen.append(int(headers["x-ratelimit-remaining"]))
            reset = headers["x-ratelimit-reset"]
            check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",
                               reset), "reset is ISO 8601: %r" % reset)
            when = datetime.datetime.strptime(
                reset, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            check(time.time() - 1 < when <= time.time() + 301,
                  "reset ends the 5-minute window: %r" % reset)
        check(seen == [2, 1, 0], "remaining decrements: %r" % seen)
        status, headers, body = get(PUBLIC, s)
        check(status == 429, "budget exhausted: 429, got %s" % status)
        check(headers.get("retry-after", "").isdigit() and
              0 <= int(headers["retry-after"]) <= 301,
              "429 has Retry-After seconds: %r" % headers.get("retry-after"))
        check(headers.get("x-ratelimit-remaining") == "0", "remaining 0")
        check(json.loads(body).get("error"), "429 body is a JSON error")


def test_rate_limit_window_resets():
    with H.ReplayServer(rate_limit=1, window_s=1) as s:
        H.wait_for(lambda: get(PUBLIC, s)[0] == 200, 5, "a 200")
        H.wait_for(lambda: get(PUBLIC, s)[0] == 429, 5, "a 429")
        H.wait_for(lambda: get(PUBLIC, s)[0] == 200, 5,
                   "the window to reset")


def arm(kind, count=1, **opts):
    srv.fault(kind, count, **opts)


def test_fault_429():
    arm("429")
    status, headers, _ = get(PUBLIC)
    check(status == 429 and headers.get("retry-after") == "2",
          "429 with Retry-After: 2, got %s %r" % (status,
                                                  headers.get("retry-after")))
    arm("429", retry_after="http-date")
    status, headers, _ = get(PUBLIC)
    check(status == 429, "429 (http-date)")
    when = email.utils.parsedate_to_datetime(headers["retry-after"])
    check(0 < when.timestamp() - time.time() <= 4,
          "Retry-After is an HTTP date a few seconds ahead: %r"
          % headers["retry-after"])
    page, _ = get_page(PUBLIC)
    check(len(page) == 20, "the fault is used up; next request is normal")


def test_fault_5xx_and_count():
    arm("500", count=2)
    arm("503")
    got = [get(PUBLIC)[0] for _ in range(4)]
    check(got == [500, 500, 503, 200],
          "faults apply to the next C requests, in order: %r" % got)


def test_fault_control_requests_do_not_consume():
    arm("500")
    srv.state()
    status, _, _ = get(PUBLIC)
    check(status == 500, "control requests do not use up faults")
    arm("none")


def test_fault_html200():
    arm("html200")
    status, headers, body = get(PUBLIC)
    check(status == 200 and headers["content-type"].startswith("text/html")
          and body.lstrip().startswith(b"<!DOCTYPE html>"),
          "html200 is an HTML page with 200: %s %r" % (
              status, headers.get("content-type")))


def test_fault_truncated():
    arm("truncated")
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    conn.request("GET", PUBLIC)
    resp = conn.getresponse()
    declared = int(resp.getheader("Content-Length"))
    try:
        body = resp.read()
        check(False, "read %d of %d bytes without an error" % (len(body),
                                                                declared))
    except http.client.IncompleteRead as e:
        check(0 < len(e.partial) < declared,
              "truncated: %d of %d bytes" % (len(e.partial), declared))
    finally:
        conn.close()
    page, _ = get_page(PUBLIC)
    check(len(page) == 20, "server still fine after a truncated reply")


def test_fault_garbage():
    arm("garbage")
    status, headers, body = get(PUBLIC)
    check(status == 200 and headers["content-type"].startswith(
        "application/json"), "garbage is 200 application/json")
    try:
        json.loads(body)
        parsed = True
    except ValueError:
        parsed = False
    check(not parsed and len(body) > 0, "garbage does not parse as JSON")


def test_fault_slow():
    arm("slow")
    t0 = time.monotonic()
    page, _ = get_page(PUBLIC)
    took = time.monotonic() - t0
    check(2.0 <= took <= 10, "slow takes ~3 s, took %.2f" % took)
    check(len(page) == 20, "slow still sends the full page")


def test_fault_huge():
    arm("huge")
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    conn.request("GET", PUBLIC)
    resp = conn.getresponse()
    declared = int(resp.getheader("Content-Length"))
    n = 0
    first = resp.read(1)
    n += len(first)
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        n += len(chunk)
    conn.close()
    check(first == b"[" and declared >= 60 * 1024 * 1024 and n == declared,
          "huge: %d bytes of %d declared" % (n, declared))


def test_fault_huge_client_hangs_up():
    arm("huge")
    sock = socket.create_connection((srv.host, srv.port), timeout=10)
    sock.sendall(b"GET /api/v1/timelines/public HTTP/1.1\r\n"
                 b"Host: x\r\n\r\n")
    sock.recv(65536)
    sock.close()
    page, _ = get_page(PUBLIC)
    check(len(page) == 20, "server survives a client that hangs up")


def test_fault_deep():
    arm("deep")
    status, _, body = get(PUBLIC)
    check(status == 200 and body.startswith(b"[" * 10000) and
          body.endswith(b"]" * 10000), "deep is 10,000 nested arrays")


def test_sigterm_exits_cleanly():
    s = H.ReplayServer()
    rc = s.stop()
    check(rc == 0, "SIGTERM exits 0, got %r\n%s" % (rc, s.log_text()))


def test_stdin_eof_exits():
    s = H.ReplayServer()
    s.proc.stdin.close()
    try:
        s.proc.wait(timeout=H.scaled(10))
    except Exception:  # noqa: BLE001
        pass
    rc = s.proc.poll()
    s.stop()
    check(rc == 0, "stdin EOF makes the server exit 0, got %r" % rc)


def main():
    global srv
    if not os.path.isdir(H.data_path("api", "mastodon")):
        H.skip("no fixtures in tests/data/api/mastodon")
    srv = H.ReplayServer()
    try:
        H.main([
            test_fixtures_loaded,
            test_limit_default_and_max,
            test_max_id_is_strictly_older,
            test_since_id_is_newest_page_above,
            test_min_id_is_page_immediately_newer,
            test_min_id_walk_forward_sees_everything_once,
            test_link_header_follows_back_through_everything,
            test_tag_timeline_case_insensitive,
            test_account_statuses,
            test_bad_ids_and_routes,
            test_requests_are_recorded,
            test_release_makes_new_posts_appear,
            test_rate_limit_headers_decrement,
            test_rate_limit_window_resets,
            test_fault_429,
            test_fault_5xx_and_count,
            test_fault_control_requests_do_not_consume,
            test_fault_html200,
            test_fault_truncated,
            test_fault_garbage,
            test_fault_slow,
            test_fault_huge,
            test_fault_huge_client_hangs_up,
            test_fault_deep,
            test_sigterm_exits_cleanly,
            test_stdin_eof_exits,
        ])
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
