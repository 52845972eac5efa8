#!/usr/bin/env python3
"""Politeness: hark stays inside the platform's advertised rate budget and
shares one limiter between sources on the same host and credential."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check


def test_stays_within_the_advertised_budget():
    # 8 requests per 4 s window; two sources on one host poll every second:
    # left alone they would make ~16 requests per window.
    with H.ReplayServer(rate_limit=8, window_s=4) as replay, \
            H.temp_dir() as tmp:
        cfg = H.write_config(tmp, {
            "sources": [
                {"name": "a", "type": "mastodon", "base_url": replay.url,
                 "timeline": "public", "interval_s": 1},
                {"name": "b", "type": "mastodon", "base_url": replay.url,
                 "timeline": "tag/mastodon", "interval_s": 1}],
            "rules": [],
            "keep_unmatched": True,
        })
        hark = H.Hark(["run", "-c", cfg], cwd=tmp)
        t0 = time.time()
        # Time is what this test is about: two windows and a half.
        H.wait_for(lambda: time.time() - t0 > 10, 12, "ten seconds of polling")
        res = hark.stop()
        check(res.returncode == 0, "exit 0", res)
        st = replay.state()
        reqs = [r for r in st["requests"] if r["path"].startswith("/api/")]
        check(len(reqs) >= 8, "hark kept polling: %d requests" % len(reqs))
        check(st["over_budget"] == 0,
              "never refused for the budget: %d refusals in %d requests"
              % (st["over_budget"], len(reqs)))


if __name__ == "__main__":
    if not os.environ.get("HARK_BIN"):
        H.skip("HARK_BIN is not set")
    H.main([test_stays_within_the_advertised_budget])
