"""Helpers for hark's end-to-end tests: real peers on loopback.

    import harklib as H

    with H.temp_dir() as tmp, H.ReplayServer(initial=20) as mastodon, \\
            H.KafkaMock() as kafka:
        cfg = H.write_config(tmp, {...  mastodon.url ... kafka.bootstrap})
        res = H.run_hark(["run", "-c", cfg, "--once"])
        H.check(res.returncode == 0, "hark run failed", res)
        msgs = H.kcat_consume(kafka.bootstrap, "hark.posts",
                              expect_at_least=3)

Everything here polls with deadlines and never sleeps a fixed time to wait
for something. Deadlines are multiplied by 3 when hark runs under a
sanitizer (HARK_SANITIZED=1 in the environment, or a HARK_BIN built with
ASan/TSan). Tests exit 77 (ctest SKIP_RETURN_CODE) when a tool they need is
missing: kcat, the mock binary (HARK_KAFKA_MOCK) or hark (HARK_BIN).

Processes started here are tracked and killed (by their own pid) at exit
if a test did not stop them; the replay server and the Kafka mock also exit
by themselves when our end of their stdin closes.
"""

import atexit
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SKIP = 77

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("HARK_SOURCE_DIR") or \
    os.path.dirname(os.path.dirname(HERE))
REPLAY_SERVER = os.path.join(SOURCE_DIR, "tests", "replay",
                             "replay_server.py")
DEFAULT_TOPICS = ("hark.posts", "hark.engagement", "hark.dlq")

_live = []
_live_lock = threading.Lock()


# -- outcome -----------------------------------------------------------------

def skip(message):
    """Ends the test as skipped (exit 77) with a message."""
    print("SKIP: " + message, flush=True)
    sys.exit(SKIP)


class TestFailure(AssertionError):
    pass


class TestSkipped(Exception):
    pass


def skip_test(reason):
    """Ends the current test function as skipped (main() prints "skip NAME:
    reason" and goes on with the next test)."""
    raise TestSkipped(reason)


def check(cond, message, detail=None):
    """Raises TestFailure(message) unless cond; `detail` (a
    CompletedProcess, a string or anything printable) is appended."""
    if cond:
        return
    if isinstance(detail, subprocess.CompletedProcess):
        detail = "exit %s\n--- stdout\n%s\n--- stderr\n%s" % (
            detail.returncode, detail.stdout, detail.stderr)
    raise TestFailure(message if detail is None
                      else "%s\n%s" % (message, detail))


def main(tests):
    """Runs `tests` (a list of functions), prints one line per test and
    exits 0 if all pass, 1 otherwise."""
    failed = 0
    skipped = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
        except SystemExit:
            raise
        except TestSkipped as e:
            skipped += 1
            print("skip %s: %s" % (t.__name__, e), flush=True)
        except BaseException as e:  # noqa: BLE001 (report every failure)
            failed += 1
            print("FAIL %s (%.2fs): %s: %s" % (t.__name__,
                                               time.monotonic() - t0,
                                               type(e).__name__, e),
                  flush=True)
            import traceback
            traceback.print_exc()
        else:
            print("ok   %s (%.2fs)" % (t.__name__, time.monotonic() - t0),
                  flush=True)
    print("%d/%d passed%s" % (len(tests) - failed - skipped, len(tests),
                              " (%d skipped)" % skipped if skipped else ""),
          flush=True)
    sys.exit(1 if failed else 0)


def known_bug(reason, symptom):
    """Marks a test that checks what users rely on but fails because of a
    known bug in hark (`reason` says which). While it fails with a
    TestFailure whose message contains `symptom` (the check that shows the
    bug), main() prints "XFAIL name: reason" and counts it as passed; any
    other failure is a failure. Once it passes, it fails with "XPASS": the
    bug is fixed, remove the marker."""
    def wrap(fn):
        def run():
            try:
                fn()
            except TestFailure as e:
                if symptom not in str(e):
                    raise
                print("XFAIL %s: known bug: %s\n      (failed as expected: "
                      "%s)" % (fn.__name__, reason, str(e).splitlines()[0]),
                      flush=True)
                return
            raise TestFailure("XPASS: %s passes now; the known bug (%s) "
                              "seems fixed: remove @known_bug" % (
                                  fn.__name__, reason))
        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        return run
    return wrap


# -- time --------------------------------------------------------------------

_sanitized = None


def is_sanitized():
    """True when hark runs under a sanitizer: HARK_SANITIZED set, or the
    HARK_BIN executable carries ASan/TSan runtime symbols."""
    global _sanitized
    if _sanitized is None:
        flag = os.environ.get("HARK_SANITIZED", "")
        _sanitized = flag not in ("", "0", "no", "false")
        binary = os.environ.get("HARK_BIN", "")
        if not _sanitized and binary and os.path.isfile(binary):
            try:
                with open(binary, "rb") as f:
                    data = f.read()
                _sanitized = b"__asan_init" in data or b"__tsan_init" in data
            except OSError:
                pass
    return _sanitized


def scaled(seconds):
    """A deadline in seconds, tripled under sanitizers."""
    return seconds * (3 if is_sanitized() else 1)


class Timeout(TestFailure):
    pass


def wait_for(predicate, deadline_s, what=None, interval_s=0.05,
             raise_on_timeout=True):
    """Polls predicate() until it returns something truthy, and returns
    that. After scaled(deadline_s) seconds raises Timeout (or returns the
    last falsy value when raise_on_timeout is False). Exceptions from
    predicate propagate."""
    end = time.monotonic() + scaled(deadline_s)
    delay = interval_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            if raise_on_timeout:
                raise Timeout("timed out after %.1fs waiting for %s" % (
                    scaled(deadline_s),
                    what or getattr(predicate, "__name__", "a condition")))
            return value
        time.sleep(min(delay, max(0.0, end - time.monotonic())))
        delay = min(delay * 1.5, 0.5)


# -- files -------------------------------------------------------------------

@contextlib.contextmanager
def temp_dir(prefix="hark-e2e-"):
    """A fresh directory, removed afterwards unless HARK_KEEP_TMP is set
    (then its path is printed)."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        if os.environ.get("HARK_KEEP_TMP"):
            print("kept temp dir " + path, flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


def write_config(directory, config, name="hark.json"):
    """Writes `config` (a dict) as JSON to directory/name; returns the
    path."""
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return path


def data_path(*parts):
    """A path under tests/data/ of the source tree."""
    return os.path.join(SOURCE_DIR, "tests", "data", *parts)


# -- processes ---------------------------------------------------------------

def _track(proc):
    with _live_lock:
        _live.append(proc)


def _untrack(proc):
    with _live_lock:
        if proc in _live:
            _live.remove(proc)


@atexit.register
def _reap():
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def _stop_process(proc, timeout_s=10, sig=signal.SIGTERM):
    """Signals proc (our own child), waits, kills it if it lingers;
    returns its exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=scaled(timeout_s))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdin:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    _untrack(proc)
    return proc.returncode


class _ReadyProcess:
    """A helper process that prints "<PREFIX> <value>" on stdout when it is
    ready. Its stderr goes to a log file (see log_text())."""

    name = "process"

    def _start(self, argv, prefix, deadline_s):
        self._log = tempfile.NamedTemporaryFile(
            prefix="hark-%s-" % self.name, suffix=".log", delete=False)
        self.log_path = self._log.name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self._log)
        _track(self.proc)
        ready = {}
        got = threading.Event()

        def reader():
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if not got.is_set() and line.startswith(prefix + " "):
                    ready["value"] = line[len(prefix) + 1:].strip()
                    got.set()
            got.set()
        threading.Thread(target=reader, daemon=True).start()
        if not got.wait(scaled(deadline_s)) or "value" not in ready:
            self.stop()
            raise TestFailure("%s did not print %s within %.0fs\n%s" % (
                self.name, prefix, scaled(deadline_s), self.log_text()))
        return ready["value"]

    def log_text(self):
        """Its stderr so far (after stop(), what it wrote in all)."""
        if getattr(self, "last_log", None) is not None:
            return self.last_log
        try:
            with open(self.log_path, "r", encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def stop(self, timeout_s=10):
        """SIGTERM, wait, kill if needed; returns the exit code."""
        rc = _stop_process(self.proc, timeout_s)
        self._log.close()
        self.last_log = self.log_text()
        if not os.environ.get("HARK_KEEP_TMP"):
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class ReplayServer(_ReadyProcess):
    """tests/replay/replay_server.py on a free loopback port.

    .url is the base URL (http://127.0.0.1:PORT). initial, rate_limit and
    window_s map to --initial, --rate-limit and --window-s."""

    name = "replay"

    def __init__(self, initial=None, rate_limit=None, window_s=None,
                 extra_args=(), deadline_s=15):
        argv = [sys.executable, REPLAY_SERVER, "--port", "0", "--watch-stdin"]
        if initial is not None:
            argv += ["--initial", str(initial)]
        if rate_limit is not None:
            argv += ["--rate-limit", str(rate_limit)]
        if window_s is not None:
            argv += ["--window-s", str(window_s)]
        argv += list(extra_args)
        self.url = self._start(argv, "READY", deadline_s)
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port

    def request(self, method, path, timeout_s=30, body=None, headers=None):
        """One HTTP request (with an optional `body`, bytes or str, and
        request `headers`); returns (status, headers dict with lowercased
        names, body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=scaled(timeout_s))
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return (resp.status,
                    {k.lower(): v for k, v in resp.getheaders()}, body)
        finally:
            conn.close()

    def _control(self, method, path):
        status, _, body = self.request(method, path)
        check(status == 200, "replay control %s %s: %s %r" % (
            method, path, status, body[:200]))
        return json.loads(body)

    def state(self):
        """{visible, total, requests: [{path, query, time}], ...}"""
        return self._control("GET", "/_control/state")

    def release(self, n):
        """Makes n more statuses visible (oldest first); returns the
        visible count."""
        return self._control("POST", "/_control/release?n=%d" % n)["visible"]

    def fault(self, kind, count=1, **options):
        """Arms a fault for the next `count` timeline requests (queued
        after any already armed); kind "none" clears them."""
        q = {"kind": kind, "count": count}
        q.update(options)
        return self._control("POST", "/_control/fault?" +
                             urllib.parse.urlencode(q))

    def clear_requests(self):
        self._control("POST", "/_control/clear_requests")

    def inject(self, statuses, hidden=False):
        """Adds statuses (a dict or a list of dicts, ids newer than every
        status the server has) as the instance's newest posts: visible at
        once, or with hidden=True only after release(). Returns the
        server's {visible, total, ids}."""
        body = json.dumps(statuses, ensure_ascii=False).encode("utf-8")
        status, _, resp = self.request(
            "POST", "/_control/inject" + ("?hidden=1" if hidden else ""),
            body=body, headers={"Content-Type": "application/json"})
        check(status == 200, "replay inject: %s %r" % (status, resp[:300]))
        return json.loads(resp)

    def recorded_status(self, status_id):
        """A deep copy of the status with that id, as the server serves it
        (visible or not), for building new statuses from a real one."""
        for st in _recorded_mastodon_statuses():
            if st["id"] == str(status_id):
                return json.loads(json.dumps(st))
        raise TestFailure("no recorded status %s" % status_id)

    def requests(self, path_prefix="/api/"):
        return [r for r in self.state()["requests"]
                if r["path"].startswith(path_prefix)]


_recorded_cache = []


def _recorded_mastodon_statuses():
    """The recorded statuses, loaded with the replay server's own loader."""
    if not _recorded_cache:
        sys.path.insert(0, os.path.dirname(REPLAY_SERVER))
        try:
            import replay_server  # noqa: E402 (tests/replay)
        finally:
            sys.path.pop(0)
        _recorded_cache.extend(replay_server.load_statuses(
            replay_server.DATA_DIR))
    return _recorded_cache


def start_replay(**kwargs):
    """Starts a ReplayServer; returns it (its .url is the base URL)."""
    return ReplayServer(**kwargs)


def stop_replay(server):
    return server.stop()


def kafka_mock_path():
    path = os.environ.get("HARK_KAFKA_MOCK", "")
    if not path or not os.access(path, os.X_OK):
        skip("the Kafka mock is not built (HARK_KAFKA_MOCK=%r)" % path)
    return path


class KafkaMock(_ReadyProcess):
    """The hark_kafka_mock cluster; .bootstrap is its bootstrap.servers."""

    name = "kafka-mock"

    def __init__(self, topics=DEFAULT_TOPICS, brokers=1, partitions=1,
                 deadline_s=15):
        argv = [kafka_mock_path(), "-b", str(brokers), "-p", str(partitions)]
        argv += list(topics)
        self.bootstrap = self._start(argv, "BOOTSTRAP", deadline_s)


def start_kafka_mock(**kwargs):
    """Starts a KafkaMock; returns it (its .bootstrap is the servers)."""
    return KafkaMock(**kwargs)


def stop_kafka_mock(mock):
    return mock.stop()


# -- kcat --------------------------------------------------------------------

def kcat_path():
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if not path:
        skip("kcat is not installed")
    return path


def kcat_messages(bootstrap, topic, timeout_s=10):
    """Every message now on `topic`, from the beginning, as kcat -J dicts
    (topic, partition, offset, key, payload, headers...). A topic that does
    not exist yet reads as empty."""
    argv = [kcat_path(), "-C", "-b", bootstrap, "-t", topic,
            "-o", "beginning", "-e", "-J", "-q",
            "-m", str(max(1, int(timeout_s)))]
    try:
        res = subprocess.run(argv, stdin=subprocess.DEVNULL,
                             capture_output=True,
                             timeout=scaled(timeout_s) + 5)
    except subprocess.TimeoutExpired as e:
        raise Timeout("kcat did not finish reading %s: %s" % (topic, e))
    err = res.stderr.decode("utf-8", "replace")
    if res.returncode != 0:
        if "Unknown topic" in err or "UNKNOWN_TOPIC" in err:
            return []
        raise TestFailure("kcat -C %s failed (exit %d): %s" % (
            topic, res.returncode, err))
    out = []
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def kcat_consume(bootstrap, topic, expect_at_least=None, timeout_s=10,
                 parse_json=True):
    """Reads `topic` from the beginning with kcat and returns a list of
    (key, value): value is the payload parsed as JSON (None for a null
    payload; the raw string when parse_json is False).

    With expect_at_least, re-reads until that many messages are there or
    scaled(timeout_s) passes (then raises Timeout). A payload that is not
    JSON raises TestFailure: every hark message must be JSON."""
    deadline = time.monotonic() + scaled(timeout_s)
    while True:
        left = max(1.0, deadline - time.monotonic())
        msgs = kcat_messages(bootstrap, topic, timeout_s=min(left, 10))
        if expect_at_least is None or len(msgs) >= expect_at_least:
            break
        if time.monotonic() >= deadline:
            raise Timeout("%s has %d message(s), wanted at least %d "
                          "within %.1fs" % (topic, len(msgs),
                                            expect_at_least,
                                            scaled(timeout_s)))
        time.sleep(0.2)
    pairs = []
    for m in msgs:
        value = m.get("payload")
        if parse_json and value is not None:
            try:
                value = json.loads(value)
            except ValueError as e:
                raise TestFailure("%s [%s] offset %s is not JSON (%s): %.200r"
                                  % (topic, m.get("partition"),
                                     m.get("offset"), e, value))
        pairs.append((m.get("key"), value))
    return pairs


def kcat_produce(bootstrap, topic, pairs, timeout_s=10):
    """Produces (key, value) pairs (value: str, or anything else as
    compact JSON) with kcat -P -K '\\t'. Keys and values must not contain
    newlines; keys must not contain tabs."""
    lines = []
    for key, value in pairs:
        if not isinstance(value, str):
            value = json.dumps(value, separators=(",", ":"),
                               ensure_ascii=False)
        check("\n" not in value and "\n" not in key and "\t" not in key,
              "kcat_produce: bad key/value %r" % key)
        lines.append("%s\t%s\n" % (key, value))
    res = subprocess.run([kcat_path(), "-P", "-b", bootstrap, "-t", topic,
                          "-K", "\t"],
                         input="".join(lines).encode("utf-8"),
                         capture_output=True, timeout=scaled(timeout_s))
    check(res.returncode == 0, "kcat -P %s failed: %s" % (
        topic, res.stderr.decode("utf-8", "replace")))


# -- hark --------------------------------------------------------------------

def hark_bin():
    path = os.environ.get("HARK_BIN", "")
    if not path or not os.access(path, os.X_OK):
        skip("the hark binary is not built (HARK_BIN=%r)" % path)
    return path


def _env(env):
    full = dict(os.environ)
    if env:
        full.update({k: str(v) for k, v in env.items()})
    return full


def run_hark(args, env=None, timeout=60, cwd=None, input=None):
    """Runs HARK_BIN with args to completion; returns a CompletedProcess
    with text stdout/stderr. `env` is merged over os.environ. After
    scaled(timeout) seconds the process is killed and Timeout raised
    with its output so far."""
    argv = [hark_bin()] + list(args)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(env), cwd=cwd or SOURCE_DIR, text=True)
    _track(proc)
    try:
        out, err = proc.communicate(input=input, timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        _untrack(proc)
        raise Timeout("hark %s did not exit within %.0fs\n--- stdout\n%s\n"
                      "--- stderr\n%s" % (" ".join(args), scaled(timeout),
                                          out, err))
    _untrack(proc)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


class Hark:
    """A long-running hark (e.g. `run` without --once). Its stdout and
    stderr go to files; stop() sends SIGTERM and returns a
    CompletedProcess."""

    def __init__(self, args, env=None, cwd=None):
        self.args = list(args)
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([hark_bin()] + self.args,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err,
                                     env=_env(env), cwd=cwd or SOURCE_DIR)
        _track(self.proc)

    def _read(self, f):
        f.flush()
        f.seek(0)
        return f.read().decode("utf-8", "replace")

    def stderr_text(self):
        return self._read(self._err)

    def stdout_text(self):
        return self._read(self._out)

    def is_running(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout_s=30, sig=signal.SIGTERM):
        rc = _stop_process(self.proc, timeout_s, sig)
        return subprocess.CompletedProcess(self.args, rc, self.stdout_text(),
                                           self.stderr_text())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()
        return False


def start_hark(args, env=None, cwd=None):
    return Hark(args, env=env, cwd=cwd)
