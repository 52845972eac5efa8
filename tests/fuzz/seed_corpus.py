#!/usr/bin/env python3
"""Seeds tests/fuzz/corpus/<target>/ from the real samples in the tree.

    python3 tests/fuzz/seed_corpus.py            # (re)writes the seed-* files

Only files named seed-* are written; inputs found by fuzzing (crash-*,
timeout-*, leak-*, cov-*) are kept as they are. Every seed comes from a
recorded API response or a file the project ships (see tests/data/SOURCES.md);
the hand-written edge cases are in tests/fuzz/corpus/<target>/edge-*.
"""
import glob
import html as htmllib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_SEEDS = 60


def rel(*parts):
    return os.path.join(ROOT, *parts)


def slug(path):
    base = os.path.basename(path)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base)


class Target:
    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(CORPUS, name)
        os.makedirs(self.dir, exist_ok=True)
        for old in glob.glob(os.path.join(self.dir, "seed-*")):
            os.unlink(old)
        self.seen = set()
        self.n = 0

    def add(self, label, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        if data in self.seen or self.n >= MAX_SEEDS:
            return
        self.seen.add(data)
        self.n += 1
        with open(os.path.join(self.dir, "seed-" + label), "wb") as fp:
            fp.write(data)

    def add_file(self, path, label=None):
        with open(path, "rb") as fp:
            self.add(label or slug(path), fp.read())


def read_json(path):
    with open(path, encoding="utf-8") as fp:
        return json.load(fp)


def mastodon_bodies():
    return sorted(glob.glob(rel("tests", "data", "api", "mastodon", "*.json")))


def statuses(doc):
    """Every Status object of a Mastodon body (timelines, single, reblogs)."""
    items = doc if isinstance(doc, list) else [doc]
    for st in items:
        if isinstance(st, dict):
            yield st
            if isinstance(st.get("reblog"), dict):
                yield st["reblog"]
            if isinstance(st.get("quote"), dict) and isinstance(
                    st["quote"].get("quoted_status"), dict):
                yield st["quote"]["quoted_status"]


def seed_src_mastodon():
    t = Target("src_mastodon")
    for path in mastodon_bodies():
        if path.endswith(".headers.json"):
            continue
        t.add_file(path)
        doc = read_json(path)
        if isinstance(doc, dict):
            # A single Status, as a timeline holds it.
            t.add("array-" + slug(path), "[" + open(path, encoding="utf-8").read() + "]")
    t.add_file(rel("tests", "data", "api", "mastodon", "streaming_user.sse"))


def seed_html_text():
    t = Target("html_text")
    n = 0
    for path in mastodon_bodies():
        if path.endswith(".headers.json"):
            continue
        for st in statuses(read_json(path)):
            html = st.get("content")
            if isinstance(html, str) and html and n < 22:
                t.add("mastodon-%s-%s" % (slug(path)[:-5], st.get("id", n)), html)
                n += 1
    n = 0
    for path in sorted(glob.glob(rel("tests", "data", "api", "hackernews", "*.json"))):
        for hit in read_json(path).get("hits", []):
            for key in ("comment_text", "story_text"):
                html = hit.get(key)
                if isinstance(html, str) and html and n < 14:
                    t.add("hn-%s-%s" % (key, hit.get("objectID", n)), html)
                    n += 1


def seed_rules():
    t = Target("rules")
    for path in sorted(glob.glob(rel("rules", "*.json"))):
        t.add_file(path, "pack-" + slug(path))
    for path in sorted(glob.glob(rel("tests", "cases", "*", "rules.json"))):
        t.add_file(path, "case-" + os.path.basename(os.path.dirname(path)) + ".json")
    for path in sorted(glob.glob(rel("tests", "check", "*", "*.json"))):
        if os.path.basename(path) == "hark.json":
            continue
        t.add_file(path, "check-" + os.path.basename(os.path.dirname(path)) + "-" + slug(path))
    demo = rel("examples", "demo", "acme.json")
    if os.path.exists(demo):
        t.add_file(demo, "example-acme.json")


def seed_config():
    t = Target("config")
    for path in sorted(glob.glob(rel("tests", "check", "*", "hark.json"))):
        t.add_file(path, "check-" + os.path.basename(os.path.dirname(path)) + ".json")
    for path in sorted(glob.glob(rel("examples", "*", "hark.json"))):
        t.add_file(path, "example-" + os.path.basename(os.path.dirname(path)) + ".json")


def seed_customers_csv():
    t = Target("customers_csv")
    for path in sorted(glob.glob(rel("tests", "data", "customers", "*"))):
        t.add_file(path)
    t.add_file(rel("examples", "customers.csv"), "example-customers.csv")


def seed_match():
    t = Target("match")
    # text NUL title NUL spoiler_text NUL display name, as fuzz_match reads it
    for path in sorted(glob.glob(rel("tests", "cases", "*", "posts.ndjson"))):
        case = os.path.basename(os.path.dirname(path))
        with open(path, encoding="utf-8") as fp:
            for i, line in enumerate(fp):
                line = line.strip()
                if not line:
                    continue
                post = json.loads(line)
                parts = [post.get("text") or "", post.get("title") or "",
                         post.get("spoiler_text") or "",
                         (post.get("author") or {}).get("display_name") or ""]
                while len(parts) > 1 and not parts[-1]:
                    parts.pop()
                t.add("%s-%d" % (case, i + 1), "\0".join(parts))
    # Real statuses: their text (tags stripped), content warning, name.
    n = 0
    for path in mastodon_bodies():
        if path.endswith(".headers.json"):
            continue
        for st in statuses(read_json(path)):
            content = st.get("content")
            if not isinstance(content, str) or not content or n >= 12:
                continue
            text = htmllib.unescape(re.sub(r"<[^>]*>", " ", content)).strip()
            acct = st.get("account") or {}
            parts = [text, "", st.get("spoiler_text") or "",
                     acct.get("display_name") or ""]
            t.add("mastodon-%s" % st.get("id", n), "\0".join(parts))
            n += 1


def main():
    seed_src_mastodon()
    seed_html_text()
    seed_rules()
    seed_config()
    seed_customers_csv()
    seed_match()
    total = 0
    for d in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, d))
        size = sum(os.path.getsize(os.path.join(CORPUS, d, f)) for f in files)
        total += size
        print("%-14s %3d files %8d bytes" % (d, len(files), size))
    print("total %d bytes" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
