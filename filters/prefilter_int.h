/*
 * prefilter: a Hyperscan multi-pattern scan that picks, per post, the
 * rules that can possibly match (DESIGN.md "Performance budget"), so the
 * PCRE2 evaluation in rules_match.c runs on those candidates only and the
 * matching cost does not grow with the rule count.
 *
 Every text test of a rule set is looked for in one of two tiers:
 *
 *   - literal: when its pattern (`pf_pattern`) requires one of a few
 *     literals (hark_prefilter_literals()), those literals, compiled with
 *     Hyperscan's literal API (CASELESS | SINGLEMATCH): fast to compile,
 *     fast to scan, thousands in one database;
 *   - regex: otherwise the pattern itself, compiled with PREFILTER |
 *     CASELESS | UTF8 | UCP | SINGLEMATCH.
 *
 * Either way a hit is a superset of what PCRE2 would find, never less.
 * Tests that run on the original text go into the ORIG databases, keyword
 * tests that run on the normalized copy into the NORM ones. Each tier's
 * entries are cut into shards (boundaries chosen by the entries' own
 * hashes, so inserting or editing a rule changes one shard), each shard
 * one Hyperscan database, cached serialized on disk under a key that
 * covers its entries, flags, the Hyperscan version and the CPU it was
 * built for. Every shard costs one pass over the text, so shards are
 * large: see HARK_PREFILTER_*_DEFAULT.
 *
 * A rule is a candidate when its match tree can hold given which of its
 * text tests hit: an "all" needs every child to be able to hold, an "any"
 * one of them; "none", numeric and set tests never rule anything out. A
 * pattern Hyperscan rejects even in prefilter mode counts as always hit.
 * The (post, rule) matches are exactly those of trying every rule.
 *
 * Thread: build on any thread (off the hot path); a built prefilter is
 * immutable and shared by every worker; each worker owns one scratch.
 */
#ifndef HARK_PREFILTER_INT_H
#define HARK_PREFILTER_INT_H

#include <stdint.h>

#include "hark/common.h"
#include "hark/post.h"

struct hark_rules;
struct hark_prefilter;
struct hark_prefilter_scratch;

enum hark_prefilter_db {
    HARK_PREFILTER_DB_ORIG = 0, /* regexes and "case" keywords */
    HARK_PREFILTER_DB_NORM,     /* keywords on the normalized copy */
    HARK_PREFILTER_DB_COUNT
};

/*
 * Average entries per shard. A regex shard of 500 takes about 5 s to
 * compile here; 50,000 literals about 10 s; a scan costs about a
 * microsecond per shard and post whatever its size.
 */
#define HARK_PREFILTER_SHARD_DEFAULT     500
#define HARK_PREFILTER_LIT_SHARD_DEFAULT 50000
/* A shard is cached when it has this many entries or took this long. */
#define HARK_PREFILTER_CACHE_MIN_DEFAULT 64
#define HARK_PREFILTER_CACHE_MIN_S       0.05
/* Shortest literal worth a prefilter entry (bytes). */
#define HARK_PREFILTER_LITERAL_MIN 3

struct hark_prefilter_opts {
    bool is_enabled;
    bool is_literals;          /* the literal tier (else regexes only) */
    size_t shard_patterns;     /* average regexes per shard (>= 2) */
    size_t shard_literals;     /* average literals per shard (>= 2) */
    size_t cache_min_patterns; /* smaller, fast shards are not cached */
    unsigned n_threads;        /* compile threads; 0: one per CPU */
    char cache_dir[4096];      /* "": no cache */
};

struct hark_prefilter_stats {
    size_t n_conds;        /* text tests in the set */
    size_t n_literal;      /* of which found through literals */
    size_t n_regex;        /* of which found through their regex */
    size_t n_fallback;     /* of which Hyperscan rejected: always hit */
    size_t n_literals;     /* literal entries */
    size_t n_always_rules; /* rules that are candidates on every post */
    size_t n_shards;
    size_t n_compiled; /* shards compiled by this build */
    size_t n_cached;   /* shards read from the cache */
    size_t n_cache_written;
    size_t db_bytes; /* all databases, in memory */
    double build_s;  /* wall time of hark_prefilter_build() */
};

/*
 * Options from the environment: HARK_PREFILTER=0 disables the prefilter,
 * HARK_PREFILTER=regex keeps only the regex tier, HARK_PREFILTER_SHARD and
 * HARK_PREFILTER_LIT_SHARD set the shard sizes, and the cache directory is
 * $HARK_CACHE_DIR (empty: no cache), else $XDG_CACHE_HOME/hark, else
 * $HOME/.cache/hark.
 */
void hark_prefilter_opts_default(struct hark_prefilter_opts *opts);

/*
 * Builds the prefilter of `rules` (borrowed for the call; the result is
 * used with the same set).
 * Never fails because of a pattern (those fall back to "always hit", and
 * are logged once); a cache that cannot be read or written is ignored.
 * Success: *out is owned by the caller. Failure: HARK_EINVAL when the CPU
 * cannot run Hyperscan, HARK_EINTERNAL when Hyperscan fails as a whole;
 * *out is NULL. Thread: any; starts and joins its own compile threads.
 */
HARK_MUST_CHECK hark_err_t
hark_prefilter_build(const struct hark_rules *rules,
                     const struct hark_prefilter_opts *opts,
                     struct hark_prefilter **out);
void hark_prefilter_free(struct hark_prefilter *pf);

/* Borrowed; valid as long as `pf`. */
const struct hark_prefilter_stats *
hark_prefilter_stats(const struct hark_prefilter *pf);

/* The cache file of shard `i` (< n_shards) into buf; false when none. */
bool hark_prefilter_shard_path(const struct hark_prefilter *pf,
                               size_t i,
                               char *buf,
                               size_t buf_len);

/* Most literal groups one condition requires (all of them). */
#define HARK_PREFILTER_GROUPS_MAX 4

/*
 * What every match of `pattern` contains: groups[0..n) (n returned, at
 * most HARK_PREFILTER_GROUPS_MAX, each empty on entry and owned by the
 * caller after) such that every match contains one literal of each group.
 * Literals are at least HARK_PREFILTER_LITERAL_MIN bytes, to be matched
 * ASCII-case-insensitively; on the original text (`is_folded` false)
 * they are ASCII, to be matched against the text with U+212A and U+017F
 * folded to k and s (the only case partners of ASCII letters outside
 * ASCII). 0 when the parser does not know a construct or the pattern
 * requires no usable literal. Thread: any.
 */
size_t hark_prefilter_literals(const char *pattern,
                               bool is_folded,
                               struct hark_strv groups[]);

/* ---- per post (Thread: the scratch's owner) ---- */

struct hark_prefilter_scratch *hark_prefilter_scratch_new(void);
void hark_prefilter_scratch_free(struct hark_prefilter_scratch *pfs);

/*
 * Starts a post: sizes the scratch for `pf` if needed and forgets the
 * previous post's hits. False when Hyperscan cannot allocate its scratch
 * (the caller then tries every rule).
 */
bool hark_prefilter_begin(const struct hark_prefilter *pf,
                          struct hark_prefilter_scratch *pfs);

/* Bits of enum hark_rules_tfield that the `db` databases look at. */
unsigned hark_prefilter_fields(const struct hark_prefilter *pf,
                               enum hark_prefilter_db db);

/*
 * Scans one field's text (valid UTF-8; the normalized copy for NORM) with
 * every `db` shard that looks at `field`. False when a scan failed.
 */
bool hark_prefilter_scan(const struct hark_prefilter *pf,
                         struct hark_prefilter_scratch *pfs,
                         enum hark_prefilter_db db,
                         unsigned field,
                         const char *s,
                         size_t len);

/*
 * The candidate rules of the post scanned since hark_prefilter_begin(),
 * as indices into rules->rules in ascending order; *out is borrowed from
 * the scratch until the next begin.
 */
size_t hark_prefilter_candidates(const struct hark_prefilter *pf,
                                 const struct hark_rules *rules,
                                 struct hark_prefilter_scratch *pfs,
                                 const uint32_t **out);

#endif /* HARK_PREFILTER_INT_H */
