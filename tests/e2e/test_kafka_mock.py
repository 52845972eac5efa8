#!/usr/bin/env python3
"""Self-test of tests/kafka_mock (hark_kafka_mock) with kcat; needs no hark.

Starts the mock cluster, produces messages with `kcat -P -K:` and reads
them back with harklib.kcat_consume, comparing keys and values; checks the
topics exist as asked and that the mock exits on SIGTERM and on stdin EOF.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harklib as H  # noqa: E402

check = H.check


def test_produce_and_consume_roundtrip():
    with H.KafkaMock() as kafka:
        check(kafka.bootstrap.startswith("127.0.0.1:"),
              "bootstrap is a loopback address: %r" % kafka.bootstrap)
        sent = [("cust-%d" % i,
                 {"n": i, "text": "caf\u00e9 \u2615 #%d: broken" % i})
                for i in range(5)]
        lines = "".join("%s:%s\n" % (k, json.dumps(v, ensure_ascii=False))
                        for k, v in sent)
        res = subprocess.run([H.kcat_path(), "-P", "-b", kafka.bootstrap,
                              "-t", "hark.posts", "-K:"],
                             input=lines.encode("utf-8"),
                             capture_output=True, timeout=H.scaled(20))
        check(res.returncode == 0, "kcat -P failed: %s" % res.stderr)
        got = H.kcat_consume(kafka.bootstrap, "hark.posts",
                             expect_at_least=5, timeout_s=20)
        check(got == sent, "consumed %r\nwanted %r" % (got, sent))
        others = H.kcat_consume(kafka.bootstrap, "hark.dlq")
        check(others == [], "hark.dlq is empty: %r" % others)


def test_topics_created_as_asked():
    with H.KafkaMock(topics=("hark.posts", "hark.engagement", "hark.dlq"),
                     brokers=3, partitions=2) as kafka:
        check(kafka.bootstrap.count(",") == 2,
              "three brokers in bootstrap: %r" % kafka.bootstrap)
        res = subprocess.run([H.kcat_path(), "-L", "-J", "-b",
                              kafka.bootstrap], capture_output=True,
                             timeout=H.scaled(20))
        check(res.returncode == 0, "kcat -L failed: %s" % res.stderr)
        meta = json.loads(res.stdout)
        topics = {t["topic"]: len(t["partitions"]) for t in meta["topics"]}
        check(topics == {"hark.posts": 2, "hark.engagement": 2,
                         "hark.dlq": 2},
              "topics and partition counts: %r" % topics)
        check(len(meta["brokers"]) == 3, "3 brokers: %r" % meta["brokers"])
        H.kcat_produce(kafka.bootstrap, "hark.engagement",
                       [("k%d" % i, {"i": i}) for i in range(20)])
        got = H.kcat_consume(kafka.bootstrap, "hark.engagement",
                             expect_at_least=20, timeout_s=20)
        check(sorted(v["i"] for _, v in got) == list(range(20)),
              "all 20 messages across partitions: %r" % got)


def test_non_json_payload_is_reported():
    with H.KafkaMock() as kafka:
        H.kcat_produce(kafka.bootstrap, "hark.dlq", [("k", "not json")])
        raw = H.kcat_consume(kafka.bootstrap, "hark.dlq",
                             expect_at_least=1, parse_json=False)
        check(raw == [("k", "not json")], "raw read: %r" % raw)
        try:
            H.kcat_consume(kafka.bootstrap, "hark.dlq")
        except H.TestFailure as e:
            check("not JSON" in str(e), "message says why: %s" % e)
        else:
            check(False, "a non-JSON payload must fail kcat_consume")


def test_sigterm_exits_cleanly():
    kafka = H.KafkaMock()
    rc = kafka.stop()
    check(rc == 0, "SIGTERM exits 0, got %r\n%s" % (rc, kafka.log_text()))


def test_stdin_eof_exits():
    kafka = H.KafkaMock()
    kafka.proc.stdin.close()
    try:
        kafka.proc.wait(timeout=H.scaled(10))
    except subprocess.TimeoutExpired:
        pass
    rc = kafka.proc.poll()
    kafka.stop()
    check(rc == 0, "stdin EOF makes the mock exit 0, got %r\n%s"
          % (rc, kafka.log_text()))


if __name__ == "__main__":
    H.kcat_path()
    H.kafka_mock_path()
    H.main([
        test_produce_and_consume_roundtrip,
        test_topics_created_as_asked,
        test_non_json_payload_is_reported,
        test_sigterm_exits_cleanly,
        test_stdin_eof_exits,
    ])
